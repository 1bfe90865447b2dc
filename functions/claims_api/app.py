"""The claims API (Chalice): code an encounter into an insurance claim, the claims and their
billing worklist, change a claim's coding, resubmit or void it, the clinic's clearinghouse files
(and handing one in by hand), reports, and the clinic's claims settings.

The caller comes only from the authorizer's context (verified token claims); the clinic is
always the caller's. Errors are JSON {"error", "message"} in one place (`respond`); the CDK app
and the local API front read `app.routes`.
"""

from __future__ import annotations

import os
from functools import cache

from cairn.claims.desk import ClaimDesk, ClaimInFlight, EncounterBilled
from cairn.claims.icd10 import Icd10LookupMissing
from cairn.claims.ledger import ClaimChanged
from cairn.claims.services import ClaimServices
from cairn.errors import (
    AccessDenied,
    ImmutableResource,
    InvalidResource,
    InvalidSearch,
    MalformedRequest,
    PayloadTooLarge,
    ResourceGone,
    ResourceNotFound,
    Unauthenticated,
    VersionConflict,
)
from cairn.fhir import rest
from cairn.json_api import json_object, query_value, responder
from cairn.observability import instrumented_api
from cairn.runtime import ClinicalRuntime
from multitenant.standing import TenantStanding

app, logger, _tracer, metrics = instrumented_api("claims-api")

MAX_BODY_BYTES = 64 * 1024  # a coding of 50 services, or the claims settings
MAX_FILE_BODY_BYTES = 6 * 1024 * 1024  # a clearinghouse file handed in by hand, as JSON
ERROR_STATUS: tuple[tuple[type[Exception], int, str], ...] = (
    (Unauthenticated, 401, "unauthenticated"),
    (AccessDenied, 403, "forbidden"),
    (ResourceGone, 410, "gone"),
    (ResourceNotFound, 404, "not-found"),
    (EncounterBilled, 409, "encounter-billed"),
    (ClaimInFlight, 409, "claim-in-flight"),
    (ClaimChanged, 409, "changed-meanwhile"),
    (VersionConflict, 409, "conflict"),
    (ImmutableResource, 409, "immutable"),
    (PayloadTooLarge, 413, "too-large"),
    (InvalidResource, 422, "invalid"),
    (InvalidSearch, 400, "invalid"),
    (MalformedRequest, 400, "invalid"),
    (Icd10LookupMissing, 503, "code-set-missing"),
)


@cache
def services() -> ClaimServices:
    """Built once per process, on the first request (the CDK app imports this module for its routes)."""
    return ClaimServices(ClinicalRuntime.from_environ(os.environ), os.environ)


def desk() -> ClaimDesk:
    """The claims desk of this request's verified caller."""
    authorizer = app.current_request.context.get("authorizer")
    caller = rest.caller_context(authorizer)
    logger.append_keys(tenant_id=caller.tenant_id, role=caller.role.value)
    return services().desk(caller, TenantStanding.from_authorizer(authorizer))


def body(max_bytes: int = MAX_BODY_BYTES) -> dict[str, object]:
    return json_object(app.current_request.raw_body, max_bytes)


respond = responder(ERROR_STATUS, logger, metrics)


@app.route("/claims", methods=["POST"])
@respond
def code_encounter() -> tuple[int, object]:
    """{"encounter": "Encounter/<id>", "coverage"?: "Coverage/<id>", "diagnoses": ["E11.9"],
    "services": [{"code", "modifiers"?, "units"?, "diagnoses": [1]}], "place_of_service"?}: the
    Claim (201), its workflow started."""
    return 201, desk().code(body())


@app.route("/claims", methods=["GET"])
@respond
def list_claims() -> tuple[int, object]:
    """?status=: the clinic's claims, oldest first."""
    return 200, {"claims": desk().claims(query_value(app.current_request.query_params, "status"))}


@app.route("/claims/worklist", methods=["GET"])
@respond
def worklist() -> tuple[int, object]:
    """The open billing Tasks of claims: failed scrubs, rejections, denials, late answers."""
    return 200, {"tasks": desk().worklist()}


@app.route("/claims/reports", methods=["GET"])
@respond
def reports() -> tuple[int, object]:
    """Claims by status, days in accounts receivable, denials by reason, payments by payer."""
    return 200, desk().report()


@app.route("/claims/settings", methods=["GET"])
@respond
def read_settings() -> tuple[int, object]:
    return 200, desk().settings()


@app.route("/claims/settings", methods=["PUT"])
@respond
def change_settings() -> tuple[int, object]:
    """The clearinghouse enrolment, the billing Organization, payers' rules, how long to wait."""
    return 200, desk().change_settings(body())


@app.route("/claims/files/{folder}", methods=["GET"])
@respond
def list_files(folder: str) -> tuple[int, object]:
    """generated | outbox | processed | quarantine: the clinic's clearinghouse files, newest first."""
    return 200, {"files": desk().files(folder)}


@app.route("/claims/files/{folder}/{name}", methods=["GET"])
@respond
def read_file(folder: str, name: str) -> tuple[int, object]:
    content = desk().file(folder, name)
    return 200, {"folder": folder, "name": name, "content": content.decode("utf-8", errors="replace")}


@app.route("/claims/inbox", methods=["POST"])
@respond
def hand_in_file() -> tuple[int, object]:
    """{"name": "835-0001.txt", "content": "<the X12 file>"}: into the clinic's clearinghouse inbox,
    read like a file the clearinghouse dropped (202: it is read asynchronously)."""
    sent = body(MAX_FILE_BODY_BYTES)
    name, content = sent.get("name"), sent.get("content")
    if not isinstance(name, str) or not isinstance(content, str):
        raise MalformedRequest('send {"name": "<file name>", "content": "<the X12 file as text>"}')
    return 202, desk().hand_in(name, content.encode("utf-8"))


@app.route("/claims/{claim}", methods=["GET"])
@respond
def show_claim(claim: str) -> tuple[int, object]:
    """The claim's standing and history, and its FHIR Claim."""
    return 200, desk().claim(claim)


@app.route("/claims/{claim}/coding", methods=["PUT"])
@respond
def recode(claim: str) -> tuple[int, object]:
    """{"diagnoses", "services", "place_of_service"?}: a claim that is not on its way, recoded."""
    return 200, desk().recode(claim, body())


@app.route("/claims/{claim}/resubmit", methods=["POST"])
@respond
def resubmit(claim: str) -> tuple[int, object]:
    """The next attempt: an original if the payer never had it, else a replacement (frequency 7)."""
    return 202, desk().resubmit(claim)


@app.route("/claims/{claim}/void", methods=["POST"])
@respond
def void(claim: str) -> tuple[int, object]:
    """Withdrawn at once if the payer never had it, else by a void (frequency 8) sent to the payer."""
    return 202, desk().void(claim)
