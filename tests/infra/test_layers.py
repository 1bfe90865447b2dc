"""The layers the functions run on: what they contain, and that Lambda's runtime can load it."""

from __future__ import annotations

import json
import subprocess
import sys
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


def _function_dirs(synthesis: Synthesis) -> dict[str, tuple[Path, str]]:
    """Each function's logical id -> (its bundled code folder, its handler string)."""
    functions = {}
    for logical_id, (stack, resource) in synthesis.resources("AWS::Lambda::Function").items():
        properties = resource["Properties"]
        object_key = properties["Code"]["S3Key"]
        manifest = json.loads((synthesis.outdir / f"{stack}.assets.json").read_text(encoding="utf-8"))
        (source,) = [asset["source"]["path"] for asset in manifest["files"].values()
                     if any(d["objectKey"] == object_key for d in asset["destinations"].values())]
        functions[logical_id] = (synthesis.outdir / source, properties["Handler"])
    return functions


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


def test_dependency_layer_ships_bytecode_lambda_uses_without_checking_sources(synthesis: Synthesis) -> None:
    python = _dependency_layer(synthesis) / "python"
    compiled = list((python / "cryptography").rglob("*.cpython-311.pyc"))

    assert compiled
    for pyc in compiled[:20]:
        flags = int.from_bytes(pyc.read_bytes()[4:8], "little")
        assert flags == 0b01, f"{pyc.name}: hash-based and unchecked (PEP 552), not timestamp-based"


def test_dependency_layer_leaves_out_chalice_cli_requirements(synthesis: Synthesis) -> None:
    python = _dependency_layer(synthesis) / "python"

    assert not list(python.glob("inquirer-*.dist-info"))
    assert not (python / "bin").exists()


# What Lambda does at a cold start, in an isolated interpreter with nothing but the standard
# library, the function's code and the layers' python/ folders on the path.
_COLD_START = """
import importlib, sys
code, handler, *layers = sys.argv[1:]
sys.path[:0] = [code, *layers]
module_name, attribute = handler.rsplit(".", 1)
assert callable(getattr(importlib.import_module(module_name), attribute))
"""


def test_every_function_imports_its_handler_from_its_code_and_the_layers_alone(synthesis: Synthesis) -> None:
    layers = [str(path / "python") for path in _layer_dirs(synthesis).values()]
    functions = _function_dirs(synthesis)
    assert functions
    for logical_id, (code, handler) in functions.items():
        started = subprocess.run(
            [sys.executable, "-I", "-S", "-c", _COLD_START, str(code), handler, *layers],
            capture_output=True, text=True, timeout=120, env={"PATH": "/usr/bin:/bin"}, check=False,
        )
        assert started.returncode == 0, f"{logical_id} ({handler}): {started.stderr[-2000:]}"
