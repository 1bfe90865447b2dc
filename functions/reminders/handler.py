"""The steps of the reminder workflow (stepfunctions/reminders.asl.json).

Called by the workflow only, so each step acts as the system context of the reminder's clinic.
A provider's failure (MessageNotDelivered) is retried by the workflow; after the retries, or on
any other failure, the workflow records the reminder as not sent and opens a Task for the
clinic. Nothing here logs an address, a name or a message: ids, kinds and outcomes only.
"""

from __future__ import annotations

import os
from functools import cache
from typing import Any

from aws_lambda_powertools import Logger, Metrics, Tracer
from aws_lambda_powertools.metrics import MetricUnit

from cairn.errors import MalformedRequest
from cairn.reminders.services import ReminderServices

ACTOR = "reminders"
logger = Logger(service=ACTOR)
tracer = Tracer(service=ACTOR)
metrics = Metrics(namespace="Cairn", service=ACTOR)
OUTCOME_METRICS = {"sent": "RemindersSent", "skipped": "RemindersSkipped", "refused": "RemindersRefused"}


@cache
def services() -> ReminderServices:
    """Built once per process (cold start): the environment is validated here."""
    return ReminderServices.from_environ(os.environ)


@logger.inject_lambda_context(clear_state=True)
@tracer.capture_lambda_handler(capture_response=False)
@metrics.log_metrics
def handler(event: dict[str, Any], _context: Any) -> Any:
    """{"step", "tenant_id", "subject", "planned_for", ...} -> the step's result (ids and outcomes)."""
    step, tenant_id = str(event.get("step")), str(event.get("tenant_id") or "")
    subject, planned_for = str(event.get("subject") or ""), str(event.get("planned_for") or "")
    if not tenant_id or not subject:
        raise MalformedRequest("the step needs a tenant_id and a subject")
    logger.append_keys(tenant_id=tenant_id, subject=subject, step=step)
    steps = services().steps(tenant_id)
    match step:
        case "plan":
            planned = steps.plan(subject, planned_for)
            metrics.add_metric(
                name="RemindersPlanned", unit=MetricUnit.Count, value=len(planned["reminders"])
            )
            return planned
        case "send":
            sent = steps.send(subject, planned_for, event.get("reminder") or {})
            logger.info("reminder handled", extra={"outcome": sent["outcome"]})
            metrics.add_metric(name=OUTCOME_METRICS[sent["outcome"]], unit=MetricUnit.Count, value=1)
            return sent
        case "send_failed":
            metrics.add_metric(name="RemindersFailed", unit=MetricUnit.Count, value=1)
            return steps.send_failed(
                subject, planned_for, event.get("reminder") or {}, event.get("error") or {}
            )
        case "plan_failed":
            metrics.add_metric(name="RemindersNotPlanned", unit=MetricUnit.Count, value=1)
            return steps.plan_failed(subject, planned_for, event.get("error") or {})
        case "finish":
            finished = steps.finish(subject, planned_for, event.get("results") or [])
            metrics.add_metric(name="ReminderPlansFinished", unit=MetricUnit.Count, value=1)
            return finished
    raise MalformedRequest(f"unknown step {step!r}")
