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

import hashlib
import platform
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import jsii
from aws_cdk import AssetHashType, BundlingOptions, DockerImage, ILocalBundling
from aws_cdk import aws_lambda as lambda_

from infra.declarations import PROJECT_ROOT

SKIPPED_PARTS = frozenset({"__pycache__", ".pytest_cache", ".mypy_cache"})
SKIPPED_SUFFIXES = frozenset({".pyc", ".pyo"})

# The dependency layer's wheels are built for CPython 3.11 (scripts/build_lambda_deps.py).
LAMBDA_RUNTIME = lambda_.Runtime.PYTHON_3_11

# Never pulled: bundling always happens locally, but CDK's BundlingOptions requires an image.
_UNUSED_IMAGE = DockerImage.from_registry("cairn/local-bundling-only")


def lambda_architecture() -> lambda_.Architecture:
    """The architecture of this machine: build/lambda-deps holds wheels for it."""
    machine = platform.machine().lower()
    if machine in {"x86_64", "amd64"}:
        return lambda_.Architecture.X86_64
    if machine in {"aarch64", "arm64"}:
        return lambda_.Architecture.ARM_64
    raise RuntimeError(f"Lambda has no architecture for machine {machine!r}")


def _source_files(root: Path) -> Iterator[Path]:
    for path in sorted(root.rglob("*")):
        relative = path.relative_to(root)
        if path.is_file() and not SKIPPED_PARTS & set(relative.parts) and path.suffix not in SKIPPED_SUFFIXES:
            yield path


@jsii.implements(ILocalBundling)
class _CopyTrees:
    """Copies source trees into `<output>/python/<name>/`."""

    def __init__(self, trees: dict[str, Path]) -> None:
        self._trees = trees

    def try_bundle(self, output_dir: str, *_options: Any, **_props: Any) -> bool:
        # jsii passes the BundlingOptions positionally; nothing in them applies to a local copy.
        for name, root in self._trees.items():
            for path in _source_files(root):
                target = Path(output_dir, "python", name, path.relative_to(root))
                target.parent.mkdir(parents=True, exist_ok=True)
                shutil.copy2(path, target)
        return True


def cairn_layer_code() -> lambda_.Code:
    """The Cairn layer: the domain core and the tenancy package, importable as `cairn` and
    `multitenant` from /opt/python."""
    trees = {"cairn": PROJECT_ROOT / "layers" / "cairn", "multitenant": PROJECT_ROOT / "multitenant"}
    digest = hashlib.sha256()
    for name, root in trees.items():
        for path in _source_files(root):
            digest.update(f"{name}/{path.relative_to(root).as_posix()}\0".encode())
            digest.update(path.read_bytes())
    return lambda_.Code.from_asset(
        str(PROJECT_ROOT / "layers"),
        asset_hash_type=AssetHashType.CUSTOM,
        asset_hash=digest.hexdigest(),
        bundling=BundlingOptions(image=_UNUSED_IMAGE, local=_CopyTrees(trees)),
    )


DEPENDENCIES_DIR = PROJECT_ROOT / "build" / "lambda-deps"
DEPENDENCIES_MANIFEST = "cairn-manifest.json"


def dependency_layer_code(directory: Path = DEPENDENCIES_DIR) -> lambda_.Code:
    """The dependency layer: build/lambda-deps (made by scripts/build_lambda_deps.py from
    pyproject's runtime dependencies, as manylinux2014 wheels for the Lambda runtime) under python/.

    Its manifest names the requirements, platform and pinned versions, and is the asset hash.
    """
    manifest = directory / DEPENDENCIES_MANIFEST
    if not manifest.is_file():
        raise RuntimeError(
            f"{directory} is missing: build the Lambda dependency layer first with "
            "`make lambda-deps` (.venv/bin/python scripts/build_lambda_deps.py)"
        )
    return lambda_.Code.from_asset(
        str(PROJECT_ROOT / "layers"),
        asset_hash_type=AssetHashType.CUSTOM,
        asset_hash=hashlib.sha256(manifest.read_bytes()).hexdigest(),
        bundling=BundlingOptions(image=_UNUSED_IMAGE, local=_CopyTrees({"": directory})),
    )
