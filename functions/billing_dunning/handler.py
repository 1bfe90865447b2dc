"""The steps of the dunning workflow (stepfunctions/dunning.asl.json): one per invocation.

The machine passes {"step": <name>, "run": <the DunningRun input>}; each step re-reads the tenant
and its invoice, so a payment that raced the workflow is honoured. Logs carry tenant ids only.
"""

from __future__ import annotations

import os
from functools import cache
from typing import Any

from aws_lambda_powertools import Logger, Metrics, Tracer
from aws_lambda_powertools.metrics import MetricUnit

from cairn.billing.dunning import STEPS, DunningSteps
from cairn.billing.services import BillingRuntime
from cairn.billing.workflows import DunningPhase, DunningRun
from cairn.errors import MalformedRequest

ACTOR = "billing-dunning"
logger = Logger(service=ACTOR)
tracer = Tracer(service=ACTOR)
metrics = Metrics(namespace="Cairn", service=ACTOR)
PHASES = (DunningPhase.PAYMENT_FAILED, DunningPhase.CANCELLED)


@cache
def steps() -> DunningSteps:
    """Built once per process (cold start)."""
    return BillingRuntime(os.environ).dunning_steps()


def parse_run(raw: Any) -> DunningRun:
    """The run's input; MalformedRequest naming what is missing."""
    if (
        not isinstance(raw, dict)
        or not raw.get("tenant_id")
        or raw.get("phase") not in PHASES
        or not raw.get("reference")
        or not isinstance(raw.get("schedule"), dict)
    ):
        raise MalformedRequest(
            f"a dunning run needs tenant_id, phase ({', '.join(PHASES)}), reference and schedule"
        )
    return DunningRun(
        str(raw["tenant_id"]),
        str(raw["phase"]),
        str(raw["reference"]),
        {str(k): str(v) for k, v in raw["schedule"].items()},
    )


@logger.inject_lambda_context(clear_state=True)
@tracer.capture_lambda_handler(capture_response=False)
@metrics.log_metrics
def handler(event: dict[str, Any], _context: Any) -> dict[str, Any]:
    """Run `event["step"]` of `event["run"]`; answers {"step", "result"}."""
    step = str(event.get("step"))
    if step not in STEPS:
        raise MalformedRequest(f"unknown dunning step {step!r}: use one of {', '.join(STEPS)}")
    run = parse_run(event.get("run"))
    logger.append_keys(tenant_id=run.tenant_id, step=step, phase=run.phase)
    metrics.add_metric(name="DunningSteps", unit=MetricUnit.Count, value=1)
    return {"step": step, "result": STEPS[step](steps(), run)}
