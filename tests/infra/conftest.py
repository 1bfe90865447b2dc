"""One synthesis of the CDK app per test session, shared by every infra test (~20 s)."""

from __future__ import annotations

import importlib.util
import json
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

pytest.importorskip("aws_cdk", reason="the cdk extra is not installed (pip install -e '.[cdk]')")

import aws_cdk as cdk
from aws_cdk.assertions import Template

STACKS = ("Data", "Api", "Workflows")
APP_PY = Path(__file__).resolve().parents[2] / "app.py"


def load_cdk_app_module() -> ModuleType:
    """The project's app.py, loaded by path (it is a script at the root, not a package module)."""
    spec = importlib.util.spec_from_file_location("cairn_cdk_app", APP_PY)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@dataclass(frozen=True)
class Synthesis:
    """The synthesized dev stage: the app, its templates, and CDK's validation report."""

    app: cdk.App
    outdir: Path
    templates: dict[str, dict[str, Any]]
    validation_error: str | None

    def template(self, stack: str) -> Template:
        return Template.from_json(self.templates[stack])

    def resources(self, resource_type: str) -> dict[str, tuple[str, dict[str, Any]]]:
        """Every resource of `resource_type` in every stack: logical id -> (stack, resource)."""
        found = {}
        for stack, template in self.templates.items():
            for logical_id, resource in template["Resources"].items():
                if resource["Type"] == resource_type:
                    found[logical_id] = (stack, resource)
        return found

    def validation_report(self) -> dict[str, Any]:
        return json.loads((self.outdir / "validation-report.json").read_text(encoding="utf-8"))


@pytest.fixture(scope="session")
def synthesis(tmp_path_factory: pytest.TempPathFactory) -> Synthesis:
    """`app.build_app()` for the dev stage with cdk.json's context, synthesized once.

    A nag finding fails synthesis after the templates and the report are written, so the
    failure is kept for the nag test to report instead of erroring every test.
    """
    cdk_app = load_cdk_app_module()
    outdir = tmp_path_factory.mktemp("cdk.out")
    app = cdk_app.build_app(outdir=str(outdir), context=cdk_app.cli_context(["-c", "stage=dev"]))
    validation_error = None
    try:
        app.synth()
    except RuntimeError as error:
        if "ValidationFailed" not in str(error):
            raise
        validation_error = str(error)
    templates = {
        stack: json.loads((outdir / f"{stack}.template.json").read_text(encoding="utf-8")) for stack in STACKS
    }
    return Synthesis(app, outdir, templates, validation_error)
