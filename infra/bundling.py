"""Lambda layer assets built on this machine, without Docker and without the network.

Two layers ship Cairn's code to its functions:
  - the Cairn layer: `layers/cairn` and `multitenant`, copied under `python/`;
  - the dependency layer: the installed distributions of pyproject's runtime `dependencies` and
    their transitive requirements, copied file by file (from each distribution's RECORD) out of
    the environment that runs the synth.

CDK calls `try_bundle` (jsii `ILocalBundling`) before it would fall back to Docker; both bundlers
always succeed locally, so Docker is never needed. Asset hashes are computed from what goes in,
so an unchanged layer is not copied again into an existing cloud assembly.
"""

from __future__ import annotations

import hashlib
import platform
import re
import shutil
import sys
import tomllib
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path
from typing import Any

import jsii
from aws_cdk import AssetHashType, BundlingOptions, DockerImage, ILocalBundling
from aws_cdk import aws_lambda as lambda_
from packaging.markers import Marker
from packaging.requirements import Requirement

from infra.declarations import PROJECT_ROOT

SKIPPED_PARTS = frozenset({"__pycache__", ".pytest_cache", ".mypy_cache"})
SKIPPED_SUFFIXES = frozenset({".pyc", ".pyo"})

# Distributions whose own code is all the functions use at runtime: their declared
# requirements serve a CLI or a packager, not the library. chalice.app imports only the stdlib.
NO_RUNTIME_REQUIREMENTS = frozenset({"chalice"})

# The Lambda python3.11 runtime runs on Amazon Linux 2, whose glibc is 2.26: a binary wheel
# tagged only for a newer manylinux will not load there.
LAMBDA_GLIBC = {(3, 11): (2, 26)}
LAMBDA_RUNTIMES = {(3, 11): lambda_.Runtime.PYTHON_3_11}

# Never pulled: bundling always happens locally, but CDK's BundlingOptions requires an image.
_UNUSED_IMAGE = DockerImage.from_registry("cairn/local-bundling-only")


def lambda_runtime() -> lambda_.Runtime:
    """The Lambda runtime matching the interpreter that builds the layers (binary wheels are per ABI)."""
    version = sys.version_info[:2]
    if version not in LAMBDA_RUNTIMES:
        raise RuntimeError(
            f"the dependency layer is copied from this Python {version[0]}.{version[1]} environment, "
            f"but Cairn deploys {', '.join(r.name for r in LAMBDA_RUNTIMES.values())}: "
            "synthesize with the project's Python"
        )
    return LAMBDA_RUNTIMES[version]


def lambda_architecture() -> lambda_.Architecture:
    """The architecture of this machine: the copied binary wheels were built for it."""
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


@dataclass(frozen=True)
class LayerDistribution:
    """One installed distribution going into the dependency layer."""

    name: str
    version: str
    files: tuple[Path, ...]  # absolute paths inside site-packages
    site_packages: Path
    platform_tags: tuple[str, ...]  # from its WHEEL file; empty for pure or unknown


def _normalize(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def runtime_requirements(pyproject: Path = PROJECT_ROOT / "pyproject.toml") -> list[str]:
    """pyproject's `[project] dependencies`: what Cairn's functions import at runtime."""
    with pyproject.open("rb") as handle:
        return list(tomllib.load(handle)["project"]["dependencies"])


def _applies(marker: Marker | None, extras: Iterable[str]) -> bool:
    if marker is None:
        return True
    return any(marker.evaluate({"extra": extra}) for extra in ("", *extras))


def resolve_distributions(requirements: Iterable[str]) -> list[LayerDistribution]:
    """The installed distributions that satisfy `requirements`, transitively, sorted by name.

    Fails if a requirement is not installed or its installed version does not satisfy it, so the
    layer cannot silently ship something other than what pyproject asks for.
    """
    found: dict[str, LayerDistribution] = {}
    pending = [Requirement(text) for text in requirements]
    while pending:
        requirement = pending.pop()
        name = _normalize(requirement.name)
        if name in found or not _applies(requirement.marker, ()):
            continue
        try:
            distribution = metadata.distribution(requirement.name)
        except metadata.PackageNotFoundError:
            raise RuntimeError(
                f"{requirement} is not installed in {sys.prefix}: install the project first"
            ) from None
        if requirement.specifier and not requirement.specifier.contains(
            distribution.version, prereleases=True
        ):
            raise RuntimeError(f"installed {name} {distribution.version} does not satisfy {requirement}")
        found[name] = _layer_distribution(name, distribution)
        if name in NO_RUNTIME_REQUIREMENTS:
            continue
        for text in distribution.requires or []:
            sub = Requirement(text)
            if _applies(sub.marker, requirement.extras):
                pending.append(sub)
    return [found[name] for name in sorted(found)]


def _layer_distribution(name: str, distribution: metadata.Distribution) -> LayerDistribution:
    site_packages = Path(str(distribution.locate_file(""))).resolve()
    files = []
    for record in distribution.files or []:
        parts = Path(str(record)).parts
        # Scripts live outside site-packages (../../bin); compiled bytecode is per interpreter.
        if ".." in parts or SKIPPED_PARTS & set(parts) or Path(str(record)).suffix in SKIPPED_SUFFIXES:
            continue
        path = Path(str(distribution.locate_file(record)))
        if path.is_file():
            files.append(path)
    wheel = distribution.read_text("WHEEL") or ""
    tags = tuple(
        line.split(":", 1)[1].strip().split("-")[-1] for line in wheel.splitlines() if line.startswith("Tag:")
    )
    return LayerDistribution(name, distribution.version, tuple(sorted(files)), site_packages, tags)


_MANYLINUX = re.compile(r"manylinux_(\d+)_(\d+)_")
_LEGACY_MANYLINUX = {"manylinux1": (2, 5), "manylinux2010": (2, 12), "manylinux2014": (2, 17)}


def incompatible_with_lambda(distributions: Iterable[LayerDistribution]) -> list[str]:
    """Distributions whose binary wheel needs a newer glibc than the Lambda runtime has."""
    glibc = LAMBDA_GLIBC[sys.version_info[:2]]
    problems = []
    for dist in distributions:
        needed = []
        for tag in dist.platform_tags:
            if tag == "any":
                break
            legacy = next((v for prefix, v in _LEGACY_MANYLINUX.items() if tag.startswith(prefix)), None)
            match = _MANYLINUX.match(tag)
            version = legacy or ((int(match[1]), int(match[2])) if match else None)
            if version is None or version <= glibc:
                break
            needed.append(version)
        else:
            if needed:
                lowest = min(needed)
                problems.append(f"{dist.name} {dist.version} (needs glibc {lowest[0]}.{lowest[1]})")
    return problems


@jsii.implements(ILocalBundling)
class _CopyDistributions:
    """Copies installed distributions into `<output>/python/`, as pip would have laid them out."""

    def __init__(self, distributions: list[LayerDistribution]) -> None:
        self._distributions = distributions

    def try_bundle(self, output_dir: str, *_options: Any, **_props: Any) -> bool:
        python = Path(output_dir, "python")
        for dist in self._distributions:
            for path in dist.files:
                target = python / path.relative_to(dist.site_packages)
                target.parent.mkdir(parents=True, exist_ok=True)
                shutil.copy2(path, target)
        return True


def dependency_layer_code(distributions: list[LayerDistribution]) -> lambda_.Code:
    """The dependency layer: `distributions` copied from this environment under python/."""
    identity = "\n".join(
        [f"{sys.implementation.cache_tag} {platform.machine()}"]
        + [f"{d.name}=={d.version} {','.join(d.platform_tags)}" for d in distributions]
    )
    return lambda_.Code.from_asset(
        str(PROJECT_ROOT / "layers"),
        asset_hash_type=AssetHashType.CUSTOM,
        asset_hash=hashlib.sha256(identity.encode()).hexdigest(),
        bundling=BundlingOptions(image=_UNUSED_IMAGE, local=_CopyDistributions(distributions)),
    )
