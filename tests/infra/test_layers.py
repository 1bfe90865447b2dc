"""The layers the functions run on: what they contain, and that Lambda's runtime can load it."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.infra.conftest import Synthesis

pytestmark = pytest.mark.infra

# python3.11 on Lambda runs Amazon Linux 2 (glibc 2.26): manylinux2014 (glibc 2.17) loads there,
# a manylinux_2_34-only wheel does not.
LOADABLE_TAGS = ("manylinux2014_", "manylinux_2_17_", "manylinux1_", "manylinux2010_")


def _layer_dirs(synthesis: Synthesis) -> dict[str, Path]:
    """Each layer's logical id -> its bundled asset folder (found through the asset manifest)."""
    layers = {}
    for logical_id, (stack, resource) in synthesis.resources("AWS::Lambda::LayerVersion").items():
        object_key = resource["Properties"]["Content"]["S3Key"]
        manifest = json.loads((synthesis.outdir / f"{stack}.assets.json").read_text(encoding="utf-8"))
        (source,) = [asset["source"]["path"] for asset in manifest["files"].values()
                     if any(d["objectKey"] == object_key for d in asset["destinations"].values())]
        layers[logical_id] = synthesis.outdir / source
    return layers


def _dependency_layer(synthesis: Synthesis) -> Path:
    found = [path for logical_id, path in _layer_dirs(synthesis).items() if "DependencyLayer" in logical_id]
    assert len(found) == 1
    return found[0]


def test_cairn_layer_ships_the_core_and_tenancy_packages(synthesis: Synthesis) -> None:
    (cairn_layer,) = [p for i, p in _layer_dirs(synthesis).items() if "CairnLayer" in i]

    assert (cairn_layer / "python" / "cairn" / "runtime.py").is_file()
    assert (cairn_layer / "python" / "multitenant" / "identity.py").is_file()
    assert not list(cairn_layer.rglob("*.pyc"))


def test_dependency_layer_holds_what_the_functions_import(synthesis: Synthesis) -> None:
    python = _dependency_layer(synthesis) / "python"

    for package in ("aws_lambda_powertools", "pynamodb", "chalice", "cryptography", "fhir", "jwt"):
        assert (python / package).is_dir(), package


def test_dependency_layer_binary_wheels_load_on_the_lambda_runtime(synthesis: Synthesis) -> None:
    python = _dependency_layer(synthesis) / "python"
    binary = {}
    for wheel in python.glob("*.dist-info/WHEEL"):
        tags = [line.split(":", 1)[1].strip() for line in wheel.read_text().splitlines()
                if line.startswith("Tag:")]
        platforms = {tag.rsplit("-", 1)[-1] for tag in tags}
        if platforms != {"any"}:
            binary[wheel.parent.name] = platforms

    assert any(name.startswith("cryptography-") for name in binary)
    for name, platforms in binary.items():
        assert any(p.startswith(LOADABLE_TAGS) for p in platforms), f"{name}: {sorted(platforms)}"


def test_dependency_layer_leaves_out_chalice_cli_requirements(synthesis: Synthesis) -> None:
    python = _dependency_layer(synthesis) / "python"

    assert not list(python.glob("inquirer-*.dist-info"))
    assert not (python / "bin").exists()
