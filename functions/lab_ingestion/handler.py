"""The steps of the lab-ingestion workflow (stepfunctions/lab_ingestion.asl.json).

Called by the workflow only, so each step acts as the system context of the message's clinic.
A step that finds the message at fault raises LabMessageError (the workflow quarantines the
message and sends the lab an AE/AR); any other failure is retried by the workflow, then
quarantined with the error's type only. Nothing here logs message content.
"""

from __future__ import annotations

import os
from functools import cache
from typing import Any
from urllib.parse import unquote_plus

from aws_lambda_powertools import Logger, Metrics, Tracer
from aws_lambda_powertools.metrics import MetricUnit

from cairn.errors import InvalidResource, MalformedRequest
from cairn.labs.directory import LabNotFound, find_lab
from cairn.labs.inbox_files import UnknownClinic, inbox_location
from cairn.labs.ingestion import LabMessageError, MessageRef
from cairn.labs.model import MalformedMessage
from cairn.labs.services import LabServices
from cairn.labs.workflow import workflow_items
from cairn.runtime import ClinicalRuntime
from multitenant.context import TenantContext
from multitenant.provisioning import DynamoTenantSettings

ACTOR = "lab-ingestion"
logger = Logger(service=ACTOR)
tracer = Tracer(service=ACTOR)
metrics = Metrics(namespace="Cairn", service=ACTOR)


@cache
def services() -> LabServices:
    """Built once per process (cold start)."""
    return LabServices(ClinicalRuntime.from_environ(os.environ), os.environ)


@logger.inject_lambda_context(clear_state=True)
@tracer.capture_lambda_handler(capture_response=False)
@metrics.log_metrics
def handler(event: dict[str, Any], _context: Any) -> Any:
    """{"step": ..., "tenant_id": ..., "lab": ..., ...} -> the step's result (ids and codes)."""
    step = str(event.get("step"))
    tenant_id = str(event.get("tenant_id") or "")
    if not tenant_id:
        raise MalformedRequest("the step needs a tenant_id")
    logger.append_keys(tenant_id=tenant_id, lab=event.get("lab"), step=step)
    caller = TenantContext.system(tenant_id, ACTOR)
    try:
        return _run(step, caller, event)
    except MalformedMessage as exc:
        metrics.add_metric(name="LabMessagesRefused", unit=MetricUnit.Count, value=1)
        raise LabMessageError.of(exc) from None
    except InvalidResource as exc:  # diagnostics name elements, never values
        raise LabMessageError.of(MalformedMessage(f"the results cannot be filed: {exc}", "207")) from None
    except LabNotFound as exc:
        raise LabMessageError.of(MalformedMessage(str(exc), "207", reject=True)) from None


def _run(step: str, caller: TenantContext, event: dict[str, Any]) -> Any:
    labs = services()
    if step == "receive_file":
        return receive_file(labs, caller, event)
    ref = MessageRef.from_event(event)
    if step == "quarantine":
        return labs.ingestion(caller, ref.lab_id, require_lab=False).quarantine(ref, event.get("error") or {})
    steps = labs.ingestion(caller, ref.lab_id)
    match step:
        case "parse":
            return steps.parse(ref)
        case "match":
            return steps.match(ref, event.get("patient"))
        case "store":
            stored = steps.store_results(ref, str(event["patient"]), event.get("order"))
            metrics.add_metric(name="LabReportsFiled", unit=MetricUnit.Count, value=len(stored["reports"]))
            return stored
        case "flag":
            return steps.flag(ref, event.get("stored") or {}, str(event["patient"]), event.get("order"))
        case "decide_release":
            return steps.decide_release(event.get("stored") or {})
        case "release":
            return steps.release([r["report"] for r in (event.get("stored") or {}).get("reports", ())])
        case "acknowledge":
            return steps.acknowledge(ref, {"matched": bool(event.get("matched", True))})
    raise MalformedRequest(f"unknown step {step!r}")


def receive_file(labs: LabServices, caller: TenantContext, event: dict[str, Any]) -> dict[str, Any]:
    """A file from the lab inbox: every message stored raw and encrypted in the clinic's store,
    then the file removed from the inbox. A lab the clinic does not know still gets its
    messages kept (quarantined, with an AR), so nothing a lab sends is lost."""
    inbox = event.get("inbox") or {}
    bucket, key = str(inbox.get("bucket", "")), unquote_plus(str(inbox.get("key", "")))
    location = inbox_location(key)
    if location.tenant_id != caller.tenant_id:
        raise MalformedRequest("the inbox key names another clinic than the workflow's")
    settings = DynamoTenantSettings(labs.clinical.clients_for(caller).dynamodb(),
                                    labs.clinical.settings.clinical_table).get(caller.tenant_id)
    if settings is None:
        raise UnknownClinic(caller.tenant_id)
    inbox_s3 = labs.clinical.clients.s3()
    payload = inbox_s3.get_object(Bucket=bucket, Key=key)["Body"].read()
    refusal = None
    try:
        find_lab(labs.records(caller), location.lab_id)
    except LabNotFound as exc:
        refusal = MalformedMessage(str(exc), "207", reject=True)
    received = labs.intake(caller, location.lab_id).receive(payload, refuse_with=refusal)
    inbox_s3.delete_object(Bucket=bucket, Key=key)
    metrics.add_metric(name="LabMessagesReceived", unit=MetricUnit.Count, value=len(received))
    return {"messages": workflow_items(received)}
