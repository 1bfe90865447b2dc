#!/usr/bin/env python3
"""Cairn's CDK app: builds the data, API and workflows stacks of one stage from infra/.

Run by the CDK CLI (`cdk synth -c stage=prod`, with cdk.json) or directly (`python app.py
[-c stage=prod]`), which reads cdk.json's context itself and writes to $CDK_OUTDIR or ./cdk.out.
Synthesis makes no AWS calls and needs no credentials: the stacks are environment-agnostic.
"""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import aws_cdk as cdk

from infra import names
from infra.nag import acknowledge_grant_wildcards, apply_nag_packs
from infra.stacks.api import ApiStack
from infra.stacks.data import DataStack
from infra.stacks.workflows import WorkflowsStack
from infra.stage import DEFAULT_STAGE, StageConfig

PROJECT_ROOT = Path(__file__).resolve().parent
# Set by the CDK CLI when it runs the app: the context is then already merged (cdk.json, -c, cache).
CLI_CONTEXT_VARIABLES = frozenset({"CDK_CONTEXT_JSON", "CONTEXT_OVERFLOW_LOCATION_ENV"})


def cli_context(argv: Sequence[str], cdk_json: Path = PROJECT_ROOT / "cdk.json") -> dict[str, Any]:
    """cdk.json's context plus `-c key=value` arguments, as the CDK CLI would pass them."""
    context: dict[str, Any] = dict(json.loads(cdk_json.read_text(encoding="utf-8")).get("context", {}))
    arguments = list(argv)
    for index, argument in enumerate(arguments):
        if argument in {"-c", "--context"} and index + 1 < len(arguments):
            key, _, value = arguments[index + 1].partition("=")
            context[key] = value
    return context


def build_app(outdir: str | None = None, context: dict[str, Any] | None = None) -> cdk.App:
    """The app with every stack of the stage named by context `stage` (default "dev"), nag applied.

    Under the CDK CLI the context comes from the CLI (CDK_CONTEXT_JSON); otherwise pass it
    (see `cli_context`). Call `.synth()` on the result to write the cloud assembly.
    """
    app = cdk.App(outdir=outdir, context=context)
    stage = StageConfig.from_context(
        app.node.try_get_context("stage") or DEFAULT_STAGE, app.node.try_get_context("stages")
    )
    cdk.Tags.of(app).add("Application", "Cairn")
    cdk.Tags.of(app).add("Stage", stage.name)

    data = DataStack(
        app,
        "Data",
        stack_name=names.stack_name(stage.name, names.DATA_STACK),
        stage=stage,
        description=f"Cairn {stage.name}: KMS keys, tables, buckets and backups (PHI at rest)",
        termination_protection=stage.termination_protection,
    )
    cdk.Tags.of(data).add("DataClassification", "PHI")
    keys = data.encryption.keys
    api = ApiStack(
        app,
        "Api",
        stack_name=names.stack_name(stage.name, names.API_STACK),
        stage=stage,
        keys=keys,
        description=f"Cairn {stage.name}: user directory, functions and REST API",
        termination_protection=stage.termination_protection,
    )
    api.add_stack_dependency(data, "functions use the tables and buckets by name")
    workflows = WorkflowsStack(
        app,
        "Workflows",
        stack_name=names.stack_name(stage.name, names.WORKFLOWS_STACK),
        stage=stage,
        keys=keys,
        description=f"Cairn {stage.name}: Step Functions workflows",
        termination_protection=stage.termination_protection,
    )
    workflows.add_stack_dependency(api, "state machines invoke the functions by name")

    for stack in (data, api, workflows):
        acknowledge_grant_wildcards(stack)
    apply_nag_packs(app)
    return app


def main(argv: Sequence[str]) -> None:
    """Synthesize: under the CDK CLI with its context, otherwise with cdk.json's and argv's."""
    if CLI_CONTEXT_VARIABLES & set(os.environ):
        build_app().synth()  # the CLI passes cdk.json's and -c context, and CDK_OUTDIR
    else:
        build_app(
            outdir=os.environ.get("CDK_OUTDIR", str(PROJECT_ROOT / "cdk.out")), context=cli_context(argv)
        ).synth()


if __name__ == "__main__":
    main(sys.argv[1:])
