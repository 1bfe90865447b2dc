"""What goes into Cairn's two Lambda layers, as plain files (no CDK, no boto3).

infra/bundling.py copies these files into CDK assets; devkit/provision.py zips the same files
and publishes them as layers into an external emulator. Both import this module, so a layer
deployed by `cdk deploy` and one published by `cairn dev` hold the same code.
"""

from __future__ import annotations

import hashlib
import platform
from collections.abc import Iterator, Mapping
from pathlib import Path

from infra.declarations import PROJECT_ROOT

SKIPPED_PARTS = frozenset({"__pycache__", ".pytest_cache", ".mypy_cache"})
SKIPPED_SUFFIXES = frozenset({".pyc", ".pyo"})
LAYER_PREFIX = "python"  # Lambda puts /opt/python on sys.path for Python runtimes

# The Cairn layer: importable as `cairn` and `multitenant` from /opt/python.
CAIRN_LAYER_TREES: Mapping[str, Path] = {
    "cairn": PROJECT_ROOT / "layers" / "cairn",
    "multitenant": PROJECT_ROOT / "multitenant",
}
DEPENDENCIES_DIR = PROJECT_ROOT / "build" / "lambda-deps"
DEPENDENCIES_MANIFEST = "cairn-manifest.json"


class MissingDependencyLayer(RuntimeError):
    """build/lambda-deps has not been built; the message says how to build it."""


def source_files(root: Path, *, bytecode: bool = False) -> Iterator[Path]:
    """The files under `root` that ship, sorted, without tool caches; bytecode only if asked
    for (the dependency tree's is precompiled for Lambda; a source tree's is a local cache)."""
    skipped_parts = SKIPPED_PARTS - {"__pycache__"} if bytecode else SKIPPED_PARTS
    skipped_suffixes = frozenset() if bytecode else SKIPPED_SUFFIXES
    for path in sorted(root.rglob("*")):
        relative = path.relative_to(root)
        if path.is_file() and not skipped_parts & set(relative.parts) and path.suffix not in skipped_suffixes:
            yield path


def layer_entries(trees: Mapping[str, Path], *, bytecode: bool = False) -> Iterator[tuple[str, Path]]:
    """(path inside the layer, source file) for every file of `trees` ({name: root}).

    A tree named "" lands directly under python/ (the dependency layer's site-packages).
    """
    for name, root in trees.items():
        for path in source_files(root, bytecode=bytecode):
            inside = Path(LAYER_PREFIX, name, path.relative_to(root)) if name else Path(
                LAYER_PREFIX, path.relative_to(root))
            yield inside.as_posix(), path


def cairn_layer_hash(trees: Mapping[str, Path] = CAIRN_LAYER_TREES) -> str:
    """sha256 over the Cairn layer's file names and contents: equal hash, equal layer."""
    digest = hashlib.sha256()
    for name, root in trees.items():
        for path in source_files(root):
            digest.update(f"{name}/{path.relative_to(root).as_posix()}\0".encode())
            digest.update(path.read_bytes())
    return digest.hexdigest()


def dependency_trees(directory: Path = DEPENDENCIES_DIR) -> dict[str, Path]:
    """The dependency layer's single tree, or MissingDependencyLayer if it was never built.
    Ship it with its bytecode (`bytecode=True`): scripts/build_lambda_deps.py precompiles it
    hash-based, because /opt is read-only and a cold start would otherwise compile every import."""
    if not (directory / DEPENDENCIES_MANIFEST).is_file():
        raise MissingDependencyLayer(
            f"{directory} is missing: build the Lambda dependency layer first with "
            "`make lambda-deps` (.venv/bin/python scripts/build_lambda_deps.py)"
        )
    return {"": directory}


def dependency_layer_hash(directory: Path = DEPENDENCIES_DIR) -> str:
    """sha256 of the manifest, which names the requirements, platform and pinned versions."""
    dependency_trees(directory)
    return hashlib.sha256((directory / DEPENDENCIES_MANIFEST).read_bytes()).hexdigest()


def lambda_architecture_name() -> str:
    """Lambda's name for this machine's architecture: build/lambda-deps holds wheels for it."""
    machine = platform.machine().lower()
    if machine in {"x86_64", "amd64"}:
        return "x86_64"
    if machine in {"aarch64", "arm64"}:
        return "arm64"
    raise RuntimeError(f"Lambda has no architecture for machine {machine!r}")
