"""The FHIR R4 clinical API (Chalice): every chart resource type, the public CapabilityStatement
at /fhir/R4/metadata, batch and transaction Bundles, Patient/$everything, and break-glass.

The caller comes only from the authorizer's context (verified token claims), never from the
request; only the metadata route is public (infra.declarations APIS `public_paths`). Routes name
the resource type as a path variable, so API Gateway holds a handful of resources, not one per
type; the service refuses a type Cairn does not serve (404 listing the supported ones). The
CDK app and the local API front read `app.routes`, and the CapabilityStatement is built from
them. Errors become OperationOutcomes in one place (cairn.fhir.rest.error).
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from dataclasses import asdict
from functools import cache, wraps
from importlib import metadata
from typing import Any
from urllib.parse import parse_qs

from aws_lambda_powertools.metrics import MetricUnit
from chalice import Response

from cairn import notes
from cairn.break_glass import BreakGlass
from cairn.bulk_export import ExportLevel, ExportRequest
from cairn.clock import utc_now
from cairn.config import REMINDERS_STATE_MACHINE_ARN
from cairn.errors import CairnError, ConfigurationError, MalformedRequest
from cairn.fhir import rest
from cairn.fhir.capability import METADATA_PATH, capability_statement
from cairn.fhir.resource_types import AUDIT_EVENT, require_supported
from cairn.fhir.search import DEFAULT_COUNT, SearchQuery, parse_search
from cairn.note_records import NoteRecords
from cairn.observability import instrumented_api
from cairn.records.bundles import process_bundle
from cairn.records.repository import SearchPage
from cairn.records.service import RecordService
from cairn.reminders.workflow import ReminderWorkflow, StepFunctionsAppointmentReminders
from cairn.runtime import ClinicalRuntime
from cairn.scheduling.book import AppointmentBook
from cairn.scheduling.requests import OPERATION_PARAMETERS, agenda_day, free_slot_query, operation_parameters
from cairn.scheduling.services import SchedulingServices
from multitenant.context import TenantContext
from multitenant.standing import TenantStanding

app, logger, _tracer, metrics = instrumented_api("fhir-api")
PATCH_BODY_TYPES = ["application/json-patch+json", *rest.ACCEPTED_BODY_TYPES]
TYPE_PATH = f"{rest.BASE_PATH}/{{type}}"
INSTANCE_PATH = f"{TYPE_PATH}/{{id}}"
APPOINTMENT_OPERATIONS = tuple(OPERATION_PARAMETERS)


@cache
def runtime() -> ClinicalRuntime:
    """Built once per process, on the first request: settings validated, clients, key cache.
    (Not at import: the CDK app imports this module for its routes, with no environment.)"""
    return ClinicalRuntime.from_environ(os.environ)


def records() -> RecordService:
    """The record service of this request's verified caller."""
    authorizer = app.current_request.context.get("authorizer")
    caller = rest.caller_context(authorizer)
    logger.append_keys(tenant_id=caller.tenant_id, role=caller.role.value)
    return runtime().records(caller, TenantStanding.from_authorizer(authorizer))


@cache
def scheduling() -> SchedulingServices:
    """Built once per process, on the first request that books or searches free slots."""
    arn = os.environ.get(REMINDERS_STATE_MACHINE_ARN, "").strip()
    if not arn:
        raise ConfigurationError(f"{REMINDERS_STATE_MACHINE_ARN} is not set: visits cannot be reminded")
    workflow = ReminderWorkflow(runtime().clients.stepfunctions(), arn)
    return SchedulingServices(runtime(), StepFunctionsAppointmentReminders(workflow))


def appointment_book() -> AppointmentBook:
    """The appointment book of this request's verified caller."""
    authorizer = app.current_request.context.get("authorizer")
    caller = rest.caller_context(authorizer)
    logger.append_keys(tenant_id=caller.tenant_id, role=caller.role.value)
    return scheduling().book(caller, TenantStanding.from_authorizer(authorizer))


def break_glass() -> BreakGlass:
    """Break-glass and its report, for this request's verified caller."""
    caller = rest.caller_context(app.current_request.context.get("authorizer"))
    logger.append_keys(tenant_id=caller.tenant_id, role=caller.role.value)
    return runtime().break_glass(caller)


def service_base() -> str:
    """The absolute URL this request addressed Cairn at, for Location and Bundle links."""
    return rest.service_base(app.current_request.context, app.current_request.headers)


def header(name: str) -> str | None:
    return next(
        (value for key, value in (app.current_request.headers or {}).items() if key.lower() == name), None
    )


def query_params() -> dict[str, list[str]]:
    params = app.current_request.query_params or {}
    return {name: params.getlist(name) for name in params}


def lenient() -> bool:
    """Prefer: handling=lenient asks to ignore unknown search parameters instead of 400."""
    return "handling=lenient" in (header("prefer") or "").replace(" ", "").lower()


def body() -> object:
    return rest.parse_body(app.current_request.raw_body)


@cache
def software_version() -> str | None:
    """Cairn's version from its package metadata; None where it is not installed (on Lambda the
    code ships as a layer, not a distribution)."""
    try:
        return metadata.version("cairn")
    except metadata.PackageNotFoundError:
        return None


def fhir(view: Callable[..., rest.FhirResponse]) -> Callable[..., Response]:
    """Render a view's FhirResponse, or its error as an OperationOutcome."""

    @wraps(view)
    def render(*args: Any, **kwargs: Any) -> Response:
        try:
            answer = view(*args, **kwargs)
        except CairnError as exc:
            logger.info("request refused", extra={"error": type(exc).__name__})
            answer = rest.error(exc)
        except Exception as exc:
            logger.exception("request failed")
            answer = rest.error(exc)
        metrics.add_metric(name=f"Responses{answer.status // 100}xx", unit=MetricUnit.Count, value=1)
        headers = {"Content-Type": rest.FHIR_JSON, **answer.headers}
        payload = "" if answer.status == 204 else json.dumps(answer.body)
        return Response(body=payload, status_code=answer.status, headers=headers)

    return render


@app.route(METADATA_PATH, methods=["GET"], content_types=rest.ACCEPTED_BODY_TYPES)
@fhir
def capabilities() -> rest.FhirResponse:
    """What this API supports, from its own routes: public, it holds no PHI and no tenant data."""
    statement = capability_statement(
        app.routes, base=service_base(), published=utc_now(), software_version=software_version()
    )
    return rest.FhirResponse(200, statement, {})


@app.route(rest.BASE_PATH, methods=["POST"], content_types=rest.ACCEPTED_BODY_TYPES)
@fhir
def bundle() -> rest.FhirResponse:
    """A batch or transaction Bundle: entries processed in order; a transaction all or nothing."""
    return rest.FhirResponse(200, process_bundle(records(), body(), service_base()), {})


@app.route(TYPE_PATH, methods=["POST"], content_types=rest.ACCEPTED_BODY_TYPES)
@fhir
def create(type: str) -> rest.FhirResponse:
    if type == "Appointment":  # a visit is booked into a free Slot by the appointment book
        return rest.created(service_base(), appointment_book().book(body()))
    written = records().create(type, body(), if_none_exist=header("if-none-exist"))
    if not written.created:
        return rest.found(written.resource)
    return rest.created(service_base(), written.resource)


@app.route(TYPE_PATH, methods=["GET"], content_types=rest.ACCEPTED_BODY_TYPES)
@fhir
def search(type: str) -> rest.FhirResponse:
    if type == AUDIT_EVENT:
        return _search_audit_events(query_params())
    return _search(type, query_params())


def _search_audit_events(params: dict[str, list[str]]) -> rest.FhirResponse:
    service = records()
    events, cursor = service.search_audit_events(runtime().audit_events(service.context), params)
    kept = [(name, value) for name, values in params.items() if name != "_cursor" for value in values]
    page = SearchPage(events, None, cursor)
    return rest.searchset(service_base(), SearchQuery(AUDIT_EVENT, count=len(events)), page, kept)


@app.route(
    f"{TYPE_PATH}/_search",
    methods=["POST"],
    content_types=["application/x-www-form-urlencoded", *rest.ACCEPTED_BODY_TYPES],
)
@fhir
def search_by_post(type: str) -> rest.FhirResponse:
    """FHIR's POST [type]/_search: parameters in a form body (and the query string), for
    clients that keep search values out of URLs and logs."""

    params = query_params()
    form = (app.current_request.raw_body or b"").decode("utf-8", "replace")
    for name, values in parse_qs(form, keep_blank_values=True).items():
        params.setdefault(name, []).extend(values)
    return _search(type, params)


def _search(resource_type: str, params: dict[str, list[str]]) -> rest.FhirResponse:
    require_supported(resource_type)
    if resource_type == "Slot" and params.get("status") == ["free"]:
        return _free_slots(params)
    service = records()
    query = parse_search(resource_type, params, lenient=lenient())
    return rest.searchset(service_base(), query, service.search(query))


def _free_slots(params: dict[str, list[str]]) -> rest.FhirResponse:
    """Slot?schedule=<id>&status=free[&start=ge..&start=lt..][&appointment-type=<code>]: computed
    from the schedule's working week and its booked time (cairn.scheduling.book)."""
    query = free_slot_query(params)
    slots = appointment_book().free_slots(query.schedule_id, query.start, query.end, query.visit_type)
    page = SearchPage(slots[: query.count], len(slots))
    search = SearchQuery("Slot", count=query.count)
    return rest.searchset(service_base(), search, page, query.links)


@app.route(INSTANCE_PATH, methods=["GET"], content_types=rest.ACCEPTED_BODY_TYPES)
@fhir
def read(type: str, id: str) -> rest.FhirResponse:
    if id.startswith("$"):
        return _type_operation(type, id)
    if type == AUDIT_EVENT:
        service = records()
        return rest.FhirResponse(
            200, service.read_audit_event(runtime().audit_events(service.context), id), {}
        )
    return rest.found(records().read(type, id))


@app.route(INSTANCE_PATH, methods=["POST"], content_types=rest.ACCEPTED_BODY_TYPES)
@fhir
def type_operation(type: str, id: str) -> rest.FhirResponse:
    """Operations on a type: POST Composition/$draft."""
    return _type_operation(type, id)


def _type_operation(resource_type: str, operation: str) -> rest.FhirResponse:
    if (resource_type, operation) == ("Patient", "$export"):
        return _kickoff(ExportLevel.PATIENT, None)
    if (resource_type, operation, app.current_request.method) == ("Composition", "$draft", "POST"):
        request = notes.parse_draft_parameters(body())
        note = notes.draft_note(
            NoteRecords(records()),
            request.template_id,
            request.patient_id,
            request.encounter_id,
            request.title,
        )
        return rest.created(service_base(), note)
    raise MalformedRequest(
        f"{app.current_request.method} {resource_type}/{operation} is not an operation "
        "Cairn serves; see the CapabilityStatement at /fhir/R4/metadata"
    )


@app.route(INSTANCE_PATH, methods=["PUT"], content_types=rest.ACCEPTED_BODY_TYPES)
@fhir
def update(type: str, id: str) -> rest.FhirResponse:
    return rest.found(records().update(type, id, body(), if_match=header("if-match")))


@app.route(INSTANCE_PATH, methods=["PATCH"], content_types=PATCH_BODY_TYPES)
@fhir
def patch(type: str, id: str) -> rest.FhirResponse:
    return rest.found(records().patch(type, id, body(), if_match=header("if-match")))


@app.route(INSTANCE_PATH, methods=["DELETE"], content_types=rest.ACCEPTED_BODY_TYPES)
@fhir
def delete(type: str, id: str) -> rest.FhirResponse:
    records().delete(type, id, if_match=header("if-match"))
    return rest.FhirResponse(204, {}, {})


@app.route(f"{INSTANCE_PATH}/_history/{{vid}}", methods=["GET"], content_types=rest.ACCEPTED_BODY_TYPES)
@fhir
def vread(type: str, id: str, vid: str) -> rest.FhirResponse:
    return rest.found(records().vread(type, id, vid))


@app.route(f"{INSTANCE_PATH}/_history", methods=["GET"], content_types=rest.ACCEPTED_BODY_TYPES)
@fhir
def instance_history(type: str, id: str) -> rest.FhirResponse:
    return _history(type, id)


@app.route(f"{TYPE_PATH}/_history", methods=["GET"], content_types=rest.ACCEPTED_BODY_TYPES)
@fhir
def type_history(type: str) -> rest.FhirResponse:
    return _history(type, None)


def _history(resource_type: str, resource_id: str | None) -> rest.FhirResponse:
    params = {name: values[-1] for name, values in query_params().items() if values}
    unknown = set(params) - {"_count", "_since", "_cursor"}
    if unknown and not lenient():
        raise MalformedRequest(f"history takes _count, _since and _cursor; not {', '.join(sorted(unknown))}")
    count = parse_search(resource_type, {"_count": [params.get("_count", str(DEFAULT_COUNT))]}).count
    since = params.get("_since")
    page = records().history(resource_type, resource_id, count, params.get("_cursor"), since)
    path = f"{resource_type}/{resource_id}/_history" if resource_id else f"{resource_type}/_history"
    kept = [(name, params[name]) for name in ("_count", "_since") if name in params]
    return rest.history_bundle(service_base(), path, page, kept, params.get("_cursor"))


@app.route(f"{INSTANCE_PATH}/{{operation}}", methods=["GET", "POST"], content_types=rest.ACCEPTED_BODY_TYPES)
@fhir
def instance_operation(type: str, id: str, operation: str) -> rest.FhirResponse:
    """Operations on one resource: Patient/[id]/$everything; Composition/[id]/$sign and $amend;
    DocumentReference/[id]/$content (302 to its bytes) and $upload (a presigned PUT)."""
    method = app.current_request.method
    if (type, operation) == ("Patient", "$everything"):
        return rest.collection(service_base(), records().everything(id))
    if (type, operation) == ("Patient", "$export"):
        return _kickoff(ExportLevel.ONE_PATIENT, id)
    if (type, operation) == ("Group", "$export"):
        return _kickoff(ExportLevel.GROUP, id)
    if (type, operation, method) == ("Composition", "$sign", "POST"):
        if app.current_request.raw_body:
            notes.parse_sign_parameters(body())
        return rest.found(notes.sign_note(NoteRecords(records()), id, if_match=header("if-match")))
    if (type, operation, method) == ("Composition", "$amend", "POST"):
        request = notes.parse_amend_parameters(body())
        amendment = notes.amend_note(NoteRecords(records()), id, request.reason, request.kind)
        return rest.created(service_base(), amendment)
    if type == "Appointment" and operation in APPOINTMENT_OPERATIONS and method == "POST":
        return rest.found(_appointment_operation(id, operation))
    if (type, operation) == ("DocumentReference", "$content"):
        service = records()
        url = service.document_download(runtime().documents(service.context), id, _content_index())
        return rest.FhirResponse(302, {}, {"Location": url, "Cache-Control": "no-store"})
    if (type, operation, method) == ("DocumentReference", "$upload", "POST"):
        service = records()
        content_type = (app.current_request.query_params or {}).get("contentType") or ""
        upload = service.document_upload(
            runtime().documents(service.context), id, _content_index(), content_type
        )
        return rest.FhirResponse(200, rest.upload_parameters(upload), {"Cache-Control": "no-store"})
    raise MalformedRequest(
        f"{type}/[id]/{operation} is not an operation Cairn serves; "
        "see the CapabilityStatement at /fhir/R4/metadata"
    )


@app.route(f"{rest.BASE_PATH}/$export", methods=["GET", "POST"], content_types=rest.ACCEPTED_BODY_TYPES)
@fhir
def system_export() -> rest.FhirResponse:
    """FHIR Bulk Data: every resource of the clinic, asynchronously (202 + a status URL)."""
    return _kickoff(ExportLevel.SYSTEM, None)


def _kickoff(level: ExportLevel, subject_id: str | None) -> rest.FhirResponse:
    service = records()
    service.authorize_export(level.value, subject_id)
    export = ExportRequest.parse(level, query_params(), subject_id)
    request_url = f"{service_base()}{app.current_request.path}"
    job = runtime().bulk_exports(service.context).start(export, request_url)
    status_url = f"{service_base()}{rest.BASE_PATH}/$export-status/{job.job_id}"
    return rest.FhirResponse(
        202,
        rest.operation_outcome_info("the export has started; poll Content-Location"),
        {"Content-Location": status_url},
    )


@app.route(
    f"{rest.BASE_PATH}/$export-status/{{job}}",
    methods=["GET", "DELETE"],
    content_types=rest.ACCEPTED_BODY_TYPES,
)
@fhir
def export_status(job: str) -> rest.FhirResponse:
    """A bulk export's progress (202 + X-Progress), manifest (200) or errors (500); DELETE cancels."""
    service = records()
    exports = runtime().bulk_exports(service.context)
    if app.current_request.method == "DELETE":
        service.export_status(exports, job, cancel=True)
        return rest.FhirResponse(202, rest.operation_outcome_info("the export was cancelled"), {})
    status = service.export_status(exports, job)
    if status.manifest is not None:
        return rest.FhirResponse(200, status.manifest, {"Expires": "3600"})
    if status.job.status.value == "error":
        return rest.FhirResponse(500, status.operation_outcome, {})
    return rest.FhirResponse(
        202,
        rest.operation_outcome_info(status.job.progress),
        {"X-Progress": status.job.progress, "Retry-After": "5"},
    )


def _appointment_operation(appointment_id: str, operation: str) -> dict[str, Any]:
    book = appointment_book()
    parameters = operation_parameters(body() if app.current_request.raw_body else None, operation)
    if operation == "$reschedule":
        return book.reschedule(appointment_id, parameters.get("slot"))
    if operation == "$cancel":
        return book.cancel(appointment_id, parameters.get("reason"))
    if operation == "$confirm":
        return book.confirm(appointment_id)
    if operation == "$check-in":
        return book.check_in(appointment_id)
    if operation == "$complete":
        return book.complete(appointment_id)
    return book.no_show(appointment_id)


def _content_index() -> int:
    index = (app.current_request.query_params or {}).get("index", "0")
    if not index.isdigit():
        raise MalformedRequest(
            "index must be the position of the content in DocumentReference.content (0, 1, ...)"
        )
    return int(index)


# Scheduling's configuration and the day's agenda live outside the FHIR base: Cairn's own JSON.
@app.route("/scheduling/settings", methods=["GET", "PUT"], content_types=rest.ACCEPTED_BODY_TYPES)
@fhir
def scheduling_settings() -> rest.FhirResponse:
    """The clinic's time zone, visit types, self-booking and reminder rules; admins change them."""
    caller = scheduling_caller()
    if app.current_request.method == "PUT":
        return rest.FhirResponse(200, scheduling().change_settings(caller, body()), {})
    return rest.FhirResponse(200, scheduling().settings(caller), {})


@app.route(
    "/scheduling/schedules/{schedule}/working-week",
    methods=["GET", "PUT"],
    content_types=rest.ACCEPTED_BODY_TYPES,
)
@fhir
def working_week(schedule: str) -> rest.FhirResponse:
    """A Schedule's weekly hours, breaks and time off, in the clinic's time zone."""
    caller = scheduling_caller()
    if app.current_request.method == "PUT":
        return rest.FhirResponse(200, scheduling().set_working_week(caller, schedule, body()), {})
    return rest.FhirResponse(200, scheduling().working_week(caller, schedule), {})


@app.route("/scheduling/agenda", methods=["GET"], content_types=rest.ACCEPTED_BODY_TYPES)
@fhir
def agenda() -> rest.FhirResponse:
    """?date=YYYY-MM-DD[&practitioner=Practitioner/<id>]: the day's visits in the clinic's zone."""
    params = app.current_request.query_params or {}
    day = agenda_day(params.get("date"))
    entries = appointment_book().agenda(day, params.get("practitioner"))
    return rest.FhirResponse(200, {"date": day.isoformat(), "visits": [asdict(e) for e in entries]}, {})


def scheduling_caller() -> TenantContext:
    caller = rest.caller_context(app.current_request.context.get("authorizer"))
    logger.append_keys(tenant_id=caller.tenant_id, role=caller.role.value)
    return caller


# Break-glass lives outside the FHIR base: it is Cairn's access control, not a FHIR interaction.
@app.route("/access/break-glass/{id}", methods=["POST"], content_types=rest.ACCEPTED_BODY_TYPES)
@fhir
def open_restricted_patient(id: str) -> rest.FhirResponse:
    """Open restricted Patient `id` for the caller, time-boxed, with the reason in a Parameters body."""
    grant = break_glass().open_record(id, body())
    return rest.FhirResponse(201, grant.as_parameters(utc_now()), {})


@app.route("/access/break-glass", methods=["GET"], content_types=rest.ACCEPTED_BODY_TYPES)
@fhir
def break_glass_report() -> rest.FhirResponse:
    """The clinic's recent break-glass grants, with their reasons, for its admins."""
    grants = break_glass().report()
    now = utc_now()
    report = {
        "resourceType": "Bundle",
        "type": "collection",
        "total": len(grants),
        "entry": [{"resource": grant.as_parameters(now)} for grant in grants],
    }
    return rest.FhirResponse(200, report, {})
