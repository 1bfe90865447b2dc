"""The FHIR R4 clinical API (Chalice): Patient create, read and search, and the public
CapabilityStatement at /fhir/R4/metadata.

The caller comes only from the authorizer's context (verified token claims), never from the
request; only the metadata route is public (infra.declarations APIS `public_paths`). Every
route is declared explicitly: the CDK app and the local API front read `app.routes`, and the
CapabilityStatement is built from them. Errors become OperationOutcomes in one place
(cairn.fhir.rest.error).
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from functools import cache, wraps
from importlib import metadata
from typing import Any

from aws_lambda_powertools.metrics import MetricUnit
from chalice import Response

from cairn.break_glass import BreakGlass
from cairn.clock import utc_now
from cairn.errors import CairnError
from cairn.fhir import rest
from cairn.fhir.capability import METADATA_PATH, capability_statement
from cairn.fhir.search import parse_search
from cairn.observability import instrumented_api
from cairn.patients import PATIENT, PatientService
from cairn.runtime import ClinicalRuntime
from multitenant.standing import TenantStanding

app, logger, _tracer, metrics = instrumented_api("fhir-api")


@cache
def runtime() -> ClinicalRuntime:
    """Built once per process, on the first request: settings validated, clients, key cache.
    (Not at import: the CDK app imports this module for its routes, with no environment.)"""
    return ClinicalRuntime.from_environ(os.environ)


def patients() -> PatientService:
    """The Patient service of this request's verified caller."""
    authorizer = app.current_request.context.get("authorizer")
    caller = rest.caller_context(authorizer)
    logger.append_keys(tenant_id=caller.tenant_id, role=caller.role.value)
    return runtime().patients(caller, TenantStanding.from_authorizer(authorizer))


def break_glass() -> BreakGlass:
    """Break-glass and its report, for this request's verified caller."""
    caller = rest.caller_context(app.current_request.context.get("authorizer"))
    logger.append_keys(tenant_id=caller.tenant_id, role=caller.role.value)
    return runtime().break_glass(caller)


def service_base() -> str:
    """The absolute URL this request addressed Cairn at, for Location and Bundle links."""
    return rest.service_base(app.current_request.context, app.current_request.headers)


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
        return Response(body=json.dumps(answer.body), status_code=answer.status, headers=headers)

    return render


@app.route(METADATA_PATH, methods=["GET"], content_types=rest.ACCEPTED_BODY_TYPES)
@fhir
def capabilities() -> rest.FhirResponse:
    """What this API supports, from its own routes: public, it holds no PHI and no tenant data."""
    statement = capability_statement(
        app.routes, base=service_base(), published=utc_now(), software_version=software_version()
    )
    return rest.FhirResponse(200, statement, {})


@app.route("/fhir/R4/Patient", methods=["POST"], content_types=rest.ACCEPTED_BODY_TYPES)
@fhir
def create_patient() -> rest.FhirResponse:
    service = patients()
    patient = service.register_patient(rest.parse_body(app.current_request.raw_body))
    return rest.created(service_base(), patient)


@app.route("/fhir/R4/Patient/{id}", methods=["GET"], content_types=rest.ACCEPTED_BODY_TYPES)
@fhir
def read_patient(id: str) -> rest.FhirResponse:
    return rest.found(patients().read_patient(id))


@app.route("/fhir/R4/Patient", methods=["GET"], content_types=rest.ACCEPTED_BODY_TYPES)
@fhir
def search_patients() -> rest.FhirResponse:
    service = patients()
    params = app.current_request.query_params or {}
    multi = {name: params.getlist(name) for name in params}
    page = service.search_patients(parse_search(PATIENT, multi))
    return rest.searchset(service_base(), PATIENT, page, multi)


# Break-glass lives outside the FHIR base: it is Cairn's access control, not a FHIR interaction.
@app.route("/access/break-glass/{id}", methods=["POST"], content_types=rest.ACCEPTED_BODY_TYPES)
@fhir
def open_restricted_patient(id: str) -> rest.FhirResponse:
    """Open restricted Patient `id` for the caller, time-boxed, with the reason in a Parameters body."""
    grant = break_glass().open_record(id, rest.parse_body(app.current_request.raw_body))
    return rest.FhirResponse(201, grant.as_parameters(utc_now()), {})


@app.route("/access/break-glass", methods=["GET"], content_types=rest.ACCEPTED_BODY_TYPES)
@fhir
def break_glass_report() -> rest.FhirResponse:
    """The clinic's recent break-glass grants, with their reasons, for its admins."""
    grants = break_glass().report()
    now = utc_now()
    report = {"resourceType": "Bundle", "type": "collection", "total": len(grants),
              "entry": [{"resource": grant.as_parameters(now)} for grant in grants]}
    return rest.FhirResponse(200, report, {})
