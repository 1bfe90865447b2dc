"""The steps of the claims workflow (stepfunctions/claims.asl.json).

Called by the workflow only, so each step acts as the system context of the claim's clinic. A
step's event and result carry ids, numbers and codes only; nothing here logs claim content.
"""

from __future__ import annotations

import os
from functools import cache
from typing import Any

from aws_lambda_powertools import Logger, Metrics, Tracer
from aws_lambda_powertools.metrics import MetricUnit

from cairn.claims.services import ClaimServices
from cairn.claims.steps import ClaimSteps
from cairn.errors import MalformedRequest
from cairn.runtime import ClinicalRuntime
from multitenant.context import TenantContext

ACTOR = "claims"
logger = Logger(service=ACTOR)
tracer = Tracer(service=ACTOR)
metrics = Metrics(namespace="Cairn", service=ACTOR)


@cache
def services() -> ClaimServices:
    """Built once per process (cold start)."""
    return ClaimServices(ClinicalRuntime.from_environ(os.environ), os.environ)


@logger.inject_lambda_context(clear_state=True)
@tracer.capture_lambda_handler(capture_response=False)
@metrics.log_metrics
def handler(event: dict[str, Any], _context: Any) -> Any:
    """{"step", "tenant_id", "claim_id", "attempt", "mode", ...} -> the step's result."""
    step = str(event.get("step"))
    tenant_id, claim_id = str(event.get("tenant_id") or ""), str(event.get("claim_id") or "")
    if not tenant_id or not claim_id:
        raise MalformedRequest("the step needs a tenant_id and a claim_id")
    logger.append_keys(tenant_id=tenant_id, claim_id=claim_id, step=step, attempt=event.get("attempt"))
    steps = services().steps(TenantContext.system(tenant_id, ACTOR))
    result = _run(steps, step, claim_id, event)
    metrics.add_metric(name=f"ClaimStep_{step}", unit=MetricUnit.Count, value=1)
    return result


def _run(steps: ClaimSteps, step: str, claim_id: str, event: dict[str, Any]) -> Any:
    match step:
        case "build":
            return steps.build(claim_id, int(event.get("attempt") or 1), str(event.get("mode") or "submit"))
        case "scrub":
            return steps.scrub(claim_id)
        case "generate":
            return steps.generate(claim_id)
        case "submit":
            return steps.submit(claim_id)
        case "await":
            return steps.wait(claim_id, str(event.get("what")), str(event.get("token")))
        case "rejected":
            return steps.rejected(claim_id, str(event.get("what")))
        case "overdue":
            return steps.overdue(claim_id, str(event.get("what")))
        case "stalled":
            return steps.stalled(claim_id)
        case "post":
            return steps.post(claim_id)
        case "voided":
            return steps.voided(claim_id)
        case "failed":
            return steps.failed(claim_id, event.get("error") or {})
    raise MalformedRequest(f"no claims step called {step[:40]!r}")
