"""Cairn's two Lambda layers, published into an external emulator (LocalStack, a moto server).

The embedded runtime imports Cairn in-process and needs no layers; functions running in an
emulator's own Lambda containers import `cairn`, `multitenant` and their dependencies from
/opt/python, as they do in AWS. Each layer version carries the hash of its content in its
description, so an unchanged layer is reused instead of zipped and published again.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cairn.aws import AwsClients
from devkit.packaging import layer_zip
from infra.layer_contents import (
    CAIRN_LAYER_TREES,
    cairn_layer_hash,
    dependency_layer_hash,
    dependency_trees,
    lambda_architecture_name,
)

LOGGER = logging.getLogger("cairn.dev")
LAMBDA_RUNTIME = "python3.11"
HASH_MARKER = "sha256:"


@dataclass(frozen=True)
class LayerSource:
    """One layer: its name suffix, what it holds, and how to hash it without zipping it."""

    key: str
    description: str
    trees: Callable[[], Mapping[str, Path]]
    content_hash: Callable[[], str]
    bytecode: bool = False  # ship the tree's precompiled bytecode (the dependency layer's)


def layer_sources(
    dependencies_dir: Path, cairn_trees: Mapping[str, Path] = CAIRN_LAYER_TREES
) -> list[LayerSource]:
    """The Cairn layer and the dependency layer, with the same contents CDK bundles."""
    return [
        LayerSource("core", "Cairn's domain core (cairn) and tenancy (multitenant) packages",
                    lambda: cairn_trees, lambda: cairn_layer_hash(cairn_trees)),
        LayerSource("dependencies", "Cairn's runtime dependencies from pyproject",
                    lambda: dependency_trees(dependencies_dir),
                    lambda: dependency_layer_hash(dependencies_dir), bytecode=True),
    ]


def publish_layers(clients: AwsClients, layer_name: Callable[[str], str], artifacts_bucket: str,
                   sources: list[LayerSource]) -> list[str]:
    """The version ARN of each layer in `sources`, published only if its content changed.

    Zips go through S3 (`artifacts_bucket`): the dependency layer is larger than the 50 MB that
    PublishLayerVersion accepts inline in AWS.
    """
    return [_publish(clients, layer_name(source.key), artifacts_bucket, source) for source in sources]


def _publish(clients: AwsClients, name: str, bucket: str, source: LayerSource) -> str:
    aws_lambda = clients.lambda_()
    content_hash = source.content_hash()
    existing = _version_with_hash(aws_lambda, name, content_hash)
    if existing is not None:
        LOGGER.info("layer %s is up to date", name)
        return existing
    LOGGER.info("publishing layer %s", name)
    key = f"layers/{name}/{content_hash}.zip"
    clients.s3().put_object(Bucket=bucket, Key=key, Body=layer_zip(source.trees(), bytecode=source.bytecode))
    published = aws_lambda.publish_layer_version(
        LayerName=name,
        Description=f"{source.description} ({HASH_MARKER}{content_hash})",
        Content={"S3Bucket": bucket, "S3Key": key},
        CompatibleRuntimes=[LAMBDA_RUNTIME],
        CompatibleArchitectures=[lambda_architecture_name()],
    )
    return str(published["LayerVersionArn"])


def _version_with_hash(aws_lambda: Any, name: str, content_hash: str) -> str | None:
    marker = f"{HASH_MARKER}{content_hash}"
    try:
        versions = aws_lambda.list_layer_versions(LayerName=name).get("LayerVersions", [])
    except aws_lambda.exceptions.ResourceNotFoundException:
        return None
    for version in versions:
        if marker in version.get("Description", ""):
            return str(version["LayerVersionArn"])
    return None
