"""The labs API (Chalice): HL7 v2 results in, orders out, the results inbox, review and sign,
a patient's trend of one test, and the messages that need a person.

The caller comes only from the authorizer's context (verified token claims): a lab's system
account (role lab_interface) may post messages and nothing else. Errors are JSON {"error",
"message"} in one place (`respond`); every route is declared here, and the CDK app and the local
API front read `app.routes`.
"""

from __future__ import annotations

import json
import os
from dataclasses import asdict
from functools import cache

from aws_lambda_powertools.metrics import MetricUnit
from chalice import Response

from cairn.errors import (
    AccessDenied,
    CairnError,
    ImmutableResource,
    InvalidResource,
    MalformedRequest,
    PayloadTooLarge,
    PreconditionFailed,
    ResourceNotFound,
    Unauthenticated,
)
from cairn.fhir import rest
from cairn.json_api import error_response, json_object, query_value, responder
from cairn.labs.desk import LabDesk
from cairn.labs.directory import LabNotFound
from cairn.labs.intake import MAX_PAYLOAD_BYTES
from cairn.labs.outbox import HL7_MEDIA_TYPE
from cairn.labs.review import AlreadyReviewed, NotAwaitingReview
from cairn.labs.services import LabServices
from cairn.observability import instrumented_api
from cairn.runtime import ClinicalRuntime
from multitenant.standing import TenantStanding

app, logger, _tracer, metrics = instrumented_api("lab-api")

HL7_BODY_TYPES = [HL7_MEDIA_TYPE, "application/hl7-v2", "text/plain"]
MAX_JSON_BYTES = 16 * 1024
MAX_INBOX = 200
ERROR_STATUS: tuple[tuple[type[Exception], int, str], ...] = (
    (Unauthenticated, 401, "unauthenticated"),
    (AccessDenied, 403, "forbidden"),
    (LabNotFound, 404, "unknown-lab"),
    (ResourceNotFound, 404, "not-found"),
    (AlreadyReviewed, 409, "already-signed"),
    (ImmutableResource, 409, "conflict"),
    (PreconditionFailed, 412, "changed-meanwhile"),
    (PayloadTooLarge, 413, "too-large"),
    (NotAwaitingReview, 422, "not-awaiting-review"),
    (InvalidResource, 422, "invalid"),
    (MalformedRequest, 400, "invalid"),
)


@cache
def services() -> LabServices:
    """Built once per process, on the first request (not at import: the CDK app imports this
    module for its routes, with no environment)."""
    return LabServices(ClinicalRuntime.from_environ(os.environ), os.environ)


def desk() -> LabDesk:
    """The labs as this request's verified caller uses them."""
    authorizer = app.current_request.context.get("authorizer")
    caller = rest.caller_context(authorizer)
    logger.append_keys(tenant_id=caller.tenant_id, role=caller.role.value)
    return services().desk(caller, TenantStanding.from_authorizer(authorizer))


def body() -> dict[str, object]:
    return json_object(app.current_request.raw_body, MAX_JSON_BYTES)


def query(name: str) -> str | None:
    return query_value(app.current_request.query_params, name)


respond = responder(ERROR_STATUS, logger, metrics)


@app.route("/labs/{lab}/hl7", methods=["POST"], content_types=HL7_BODY_TYPES)
def receive_messages(lab: str) -> Response:
    """One HL7 v2 message or a batch file; answered with an accept ACK per message once stored."""
    try:
        raw = app.current_request.raw_body or b""
        if len(raw) > MAX_PAYLOAD_BYTES:
            raise PayloadTooLarge(f"the body is over {MAX_PAYLOAD_BYTES} bytes: split the batch file")
        answered = desk().receive(lab, raw)
    except Exception as exc:  # the same table as every route: refusals say what to fix
        if isinstance(exc, CairnError):
            logger.info("request refused", extra={"error": type(exc).__name__})
        else:
            logger.exception("request failed")
        status, answer = error_response(exc, ERROR_STATUS)
        metrics.add_metric(name=f"Responses{status // 100}xx", unit=MetricUnit.Count, value=1)
        return Response(body=json.dumps(answer), status_code=status,
                        headers={"Content-Type": "application/json"})
    metrics.add_metric(name="Responses2xx", unit=MetricUnit.Count, value=1)
    metrics.add_metric(name="LabMessagesPosted", unit=MetricUnit.Count, value=len(answered.received))
    return Response(body=answered.acks, status_code=200, headers={"Content-Type": HL7_MEDIA_TYPE})


@app.route("/labs/{lab}/orders", methods=["POST"])
@respond
def send_order(lab: str) -> tuple[int, object]:
    """{"serviceRequest": "ServiceRequest/<id>"}: the order as HL7 v2 in the lab's outbox."""
    return 201, desk().order(lab, body().get("serviceRequest")).as_dict()


@app.route("/labs/{lab}/messages", methods=["GET"])
@respond
def list_messages(lab: str) -> tuple[int, object]:
    """The lab's messages (?status=quarantined|awaiting-reconciliation|...): ids, status, reason."""
    return 200, {"messages": [m.as_dict() for m in desk().messages(lab, query("status"))]}


@app.route("/labs/{lab}/messages/{control}/reprocess", methods=["POST"])
@respond
def reprocess_message(lab: str, control: str) -> tuple[int, object]:
    """Process a held message again; {"patient": "Patient/<id>"} files it as that patient's."""
    raw = app.current_request.raw_body
    return 202, desk().reprocess(lab, control, body() if raw else {})


@app.route("/lab-results/inbox", methods=["GET"])
@respond
def results_inbox() -> tuple[int, object]:
    """Results awaiting review, most urgent first (?owner=Practitioner/<id>, ?_count=)."""
    count = query("_count") or "50"
    if not count.isdigit() or not 1 <= int(count) <= MAX_INBOX:
        raise MalformedRequest(f"_count is a number from 1 to {MAX_INBOX}")
    items = desk().inbox(query("owner"), int(count))
    return 200, {"results": [asdict(item) for item in items]}


@app.route("/lab-results/{report}/sign", methods=["POST"])
@respond
def sign_result(report: str) -> tuple[int, object]:
    """Review and sign a DiagnosticReport ({"comment": "..."}); releases it under after_review."""
    raw = app.current_request.raw_body
    return 200, asdict(desk().sign(report, (body() if raw else {}).get("comment")))


@app.route("/lab-results/trend", methods=["GET"])
@respond
def result_trend() -> tuple[int, object]:
    """?patient=<id>&code=<system>|<code>: the patient's results of one test, oldest first."""
    return 200, desk().trend(query("patient"), query("code")).as_dict()
