"""The Chalice FHIR API, called with API Gateway proxy events as the authorizer leaves them."""

from __future__ import annotations

import json
import random
from collections.abc import Iterator
from typing import Any

import pytest
from fhir.resources.R4B.capabilitystatement import CapabilityStatement

from cairn.fhir.rest import MAX_BODY_BYTES
from devkit.demo_data import demo_patient
from devkit.routes import Route, RouteTable
from functions.fhir_api import app as api
from infra.declarations import APIS
from multitenant.context import Role, TenantContext
from tests.integration.clinical.support import AUDIT_TABLE, LambdaContext, caller

HOST = "abc123defg.execute-api.us-east-1.amazonaws.com"
BASE = f"https://{HOST}/test"  # API Gateway's endpoint: the stage comes first in the path


@pytest.fixture(autouse=True)
def fresh_runtime(cloud) -> Iterator[None]:
    """Each test is a new process: the cached runtime must see this test's moto."""
    api.runtime.cache_clear()
    yield
    api.runtime.cache_clear()


def call(
    method: str,
    path: str,
    who: TenantContext | None,
    body: str | None = None,
    query: dict[str, list[str]] | None = None,
    path_parameters: dict[str, str] | None = None,
    resource: str | None = None,
    content_type: str = "application/fhir+json",
    authorizer: dict[str, str] | None = None,
    headers: dict[str, str] | None = None,
) -> tuple[int, dict[str, str], dict[str, Any]]:
    if resource is None:  # as API Gateway would: the route template and its path parameters
        match = ROUTES.match(path.split("?")[0])
        assert match is not None, f"no route serves {path}"
        resource, path_parameters = match.route.template, match.path_parameters
    request_context: dict[str, Any] = {
        "resourcePath": resource or path,
        "httpMethod": method,
        "requestId": "req-42",
        "stage": "test",
        "path": f"/test{path}",
        "domainName": HOST,
    }
    if who is not None:
        request_context["authorizer"] = {**who.as_claims(), "principalId": who.user_id}
    if authorizer is not None:
        request_context["authorizer"] = authorizer
    event = {
        "resource": resource or path,
        "path": path,
        "httpMethod": method,
        "headers": {
            "Content-Type": content_type,
            "Accept": "application/fhir+json",
            "Host": HOST,
            "X-Forwarded-Proto": "https",
            **(headers or {}),
        },
        "multiValueHeaders": None,
        "queryStringParameters": {k: v[-1] for k, v in (query or {}).items()} or None,
        "multiValueQueryStringParameters": query or None,
        "pathParameters": path_parameters,
        "stageVariables": None,
        "requestContext": request_context,
        "body": body,
        "isBase64Encoded": False,
    }
    response = api.app(event, LambdaContext())
    return response["statusCode"], response["headers"], json.loads(response["body"] or "{}")


FHIR_API = next(declared for declared in APIS if declared.function == "fhir-api")
ROUTES = RouteTable(
    [Route(template, frozenset(methods), FHIR_API) for template, methods in api.app.routes.items()]
)


def create(who: TenantContext, resource: dict[str, Any]) -> tuple[int, dict[str, str], dict[str, Any]]:
    return call("POST", "/fhir/R4/Patient", who, json.dumps(resource))


def read(who: TenantContext | None, patient_id: str) -> tuple[int, dict[str, str], dict[str, Any]]:
    return call("GET", f"/fhir/R4/Patient/{patient_id}", who)


def a_patient(seed: int = 1) -> dict[str, Any]:
    return demo_patient(random.Random(seed))


def issues(body: dict[str, Any]) -> list[str]:
    assert body["resourceType"] == "OperationOutcome"
    return [expr for issue in body["issue"] for expr in issue.get("expression", [])]


def test_post_creates_with_location_etag_and_fhir_content_type():
    status, headers, body = create(caller(Role.FRONT_DESK), a_patient())
    assert status == 201
    assert headers["Location"] == f"{BASE}/fhir/R4/Patient/{body['id']}/_history/1"
    assert headers["ETag"] == 'W/"1"'
    assert headers["Content-Type"] == "application/fhir+json"
    assert body["meta"]["versionId"] == "1"


def test_get_reads_the_created_patient():
    _, _, created = create(caller(), a_patient())
    status, headers, body = read(caller(Role.BILLING), created["id"])
    assert (status, body) == (200, created)
    assert headers["ETag"] == 'W/"1"'


def test_search_returns_a_searchset_bundle_with_total_and_self_link():
    _, _, created = create(caller(), a_patient(2))
    create(caller(), a_patient(3))
    family = created["name"][0]["family"]
    status, _, bundle = call(
        "GET",
        "/fhir/R4/Patient",
        caller(),
        query={"name": [family], "birthdate": [created["birthDate"]], "_count": ["10"]},
    )
    assert status == 200
    assert (bundle["resourceType"], bundle["type"], bundle["total"]) == ("Bundle", "searchset", 1)
    assert bundle["entry"][0]["resource"] == created
    assert bundle["entry"][0]["fullUrl"] == f"{BASE}/fhir/R4/Patient/{created['id']}"
    assert bundle["link"][0]["relation"] == "self"
    assert bundle["link"][0]["url"].startswith(f"{BASE}/fhir/R4/Patient?name=")


def test_malformed_json_is_400():
    status, _, body = call("POST", "/fhir/R4/Patient", caller(), "{not json")
    assert status == 400
    assert "not valid JSON" in body["issue"][0]["diagnostics"]


def test_unknown_search_parameter_is_400():
    status, _, body = call("GET", "/fhir/R4/Patient", caller(), query={"shoe-size": ["x"]})
    assert status == 400
    assert "shoe-size" in body["issue"][0]["diagnostics"]


def test_unknown_id_is_404():
    status, _, body = read(caller(), "no-such-patient")
    assert status == 404
    assert body["issue"][0]["code"] == "not-found"


def test_invalid_patient_is_422_naming_the_element():
    status, _, body = create(caller(), {**a_patient(), "birthDate": "tomorrow", "gender": "F"})
    assert status == 422
    assert set(issues(body)) == {"Patient.birthDate", "Patient.gender"}


def test_body_over_the_limit_is_413():
    oversized = {
        **a_patient(),
        "text": {"status": "generated", "div": "<div>" + "x" * MAX_BODY_BYTES + "</div>"},
    }
    status, _, body = create(caller(), oversized)
    assert status == 413
    assert body["issue"][0]["code"] == "too-costly"


def test_other_tenants_patient_is_404():
    _, _, created = create(caller(tenant="acme"), a_patient())
    status, _, _ = read(caller(Role.ADMIN, tenant="globex"), created["id"])
    assert status == 404


def test_missing_authorizer_context_is_401_and_unusable_claims_403():
    assert read(None, "p1")[0] == 401
    forged = {"tenant_id": "acme", "role": "superuser", "sub": "u1", "patient_id": ""}
    status, _, _ = call(
        "GET",
        "/fhir/R4/Patient/p1",
        None,
        authorizer=forged,
    )
    assert status == 403


def test_role_that_may_not_register_is_403():
    status, _, body = create(caller(Role.BILLING), a_patient())
    assert status == 403
    assert body["issue"][0]["code"] == "forbidden"


def test_patient_user_reads_only_their_own_record():
    _, _, own = create(caller(), a_patient(4))
    _, _, other = create(caller(), a_patient(5))
    portal = caller(Role.PATIENT, patient_id=own["id"])
    assert read(portal, own["id"])[0] == 200
    assert read(portal, other["id"])[0] == 404


def test_routes_are_declared_explicitly_for_the_cdk_app_and_the_local_front():
    assert {path: sorted(methods) for path, methods in api.app.routes.items()} == {
        "/fhir/R4/metadata": ["GET"],
        "/fhir/R4": ["POST"],
        "/fhir/R4/$export": ["GET", "POST"],
        "/fhir/R4/$export-status/{job}": ["DELETE", "GET"],
        "/fhir/R4/{type}": ["GET", "POST"],
        "/fhir/R4/{type}/_search": ["POST"],
        "/fhir/R4/{type}/_history": ["GET"],
        "/fhir/R4/{type}/{id}": ["DELETE", "GET", "PATCH", "POST", "PUT"],
        "/fhir/R4/{type}/{id}/_history": ["GET"],
        "/fhir/R4/{type}/{id}/_history/{vid}": ["GET"],
        "/fhir/R4/{type}/{id}/{operation}": ["GET", "POST"],
        "/access/break-glass": ["GET"],
        "/access/break-glass/{id}": ["POST"],
        "/scheduling/settings": ["GET", "PUT"],
        "/scheduling/schedules/{schedule}/working-week": ["GET", "PUT"],
        "/scheduling/agenda": ["GET"],
    }


def test_metadata_without_authorizer_context_is_the_capability_statement(cloud):
    status, headers, body = call("GET", "/fhir/R4/metadata", None)

    assert status == 200
    assert headers["Content-Type"] == "application/fhir+json"
    CapabilityStatement.model_validate(body)
    assert (body["resourceType"], body["kind"], body["fhirVersion"]) == (
        "CapabilityStatement",
        "instance",
        "4.0.1",
    )
    assert body["implementation"]["url"] == f"{BASE}/fhir/R4"
    stated = {resource["type"] for resource in body["rest"][0]["resource"]}
    assert {"Patient", "Observation", "Composition", "AuditEvent"} <= stated
    # Public, so it must touch no tenant data: no clinical runtime was built, nothing was audited.
    assert api.runtime.cache_info().currsize == 0
    assert cloud.scan(AUDIT_TABLE) == []
