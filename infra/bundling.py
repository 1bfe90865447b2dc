"""Lambda layer assets built on this machine, without Docker and without the network.

Two layers ship Cairn's code to its functions:
  - the Cairn layer: `layers/cairn` and `multitenant`, copied under `python/`;
  - the dependency layer: build/lambda-deps, copied under `python/`. `make` builds that folder
    with pip from PyPI (manylinux2014 wheels the Lambda runtime can load, at the versions the
    tests ran with); the synth itself only copies it, so it needs no network.

CDK calls `try_bundle` (jsii `ILocalBundling`) before it would fall back to Docker; both bundlers
always succeed locally, so Docker is never needed. Asset hashes are computed from what goes in,
so an unchanged layer is not copied again into an existing cloud assembly.
"""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import jsii
from aws_cdk import AssetHashType, BundlingOptions, DockerImage, ILocalBundling
from aws_cdk import aws_lambda as lambda_

from infra.declarations import PROJECT_ROOT
from infra.layer_contents import (
    CAIRN_LAYER_TREES,
    DEPENDENCIES_DIR,
    cairn_layer_hash,
    dependency_layer_hash,
    dependency_trees,
    lambda_architecture_name,
    layer_entries,
)

# The dependency layer's wheels are built for CPython 3.11 (scripts/build_lambda_deps.py).
LAMBDA_RUNTIME = lambda_.Runtime.PYTHON_3_11

# Never pulled: bundling always happens locally, but CDK's BundlingOptions requires an image.
_UNUSED_IMAGE = DockerImage.from_registry("cairn/local-bundling-only")


def lambda_architecture() -> lambda_.Architecture:
    """The architecture of this machine: build/lambda-deps holds wheels for it."""
    if lambda_architecture_name() == "arm64":
        return lambda_.Architecture.ARM_64
    return lambda_.Architecture.X86_64


@jsii.implements(ILocalBundling)
class _CopyTrees:
    """Copies source trees into `<output>/python/<name>/`."""

    def __init__(self, trees: dict[str, Path], *, bytecode: bool = False) -> None:
        self._trees = trees
        self._bytecode = bytecode

    def try_bundle(self, output_dir: str, *_options: Any, **_props: Any) -> bool:
        # jsii passes the BundlingOptions positionally; nothing in them applies to a local copy.
        for inside, path in layer_entries(self._trees, bytecode=self._bytecode):
            target = Path(output_dir, inside)
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(path, target)
        return True


def cairn_layer_code() -> lambda_.Code:
    """The Cairn layer: the domain core and the tenancy package, importable as `cairn` and
    `multitenant` from /opt/python."""
    return lambda_.Code.from_asset(
        str(PROJECT_ROOT / "layers"),
        asset_hash_type=AssetHashType.CUSTOM,
        asset_hash=cairn_layer_hash(CAIRN_LAYER_TREES),
        bundling=BundlingOptions(image=_UNUSED_IMAGE, local=_CopyTrees(dict(CAIRN_LAYER_TREES))),
    )


def dependency_layer_code(directory: Path = DEPENDENCIES_DIR) -> lambda_.Code:
    """The dependency layer: build/lambda-deps (made by scripts/build_lambda_deps.py from
    pyproject's runtime dependencies, as manylinux2014 wheels for the Lambda runtime) under python/.

    Its manifest names the requirements, platform and pinned versions, and is the asset hash.
    """
    return lambda_.Code.from_asset(
        str(PROJECT_ROOT / "layers"),
        asset_hash_type=AssetHashType.CUSTOM,
        asset_hash=dependency_layer_hash(directory),
        bundling=BundlingOptions(
            image=_UNUSED_IMAGE, local=_CopyTrees(dependency_trees(directory), bytecode=True)
        ),
    )
