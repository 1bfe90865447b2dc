"""The FHIR REST edge: request bodies in, resources and OperationOutcomes out.

Errors are mapped to HTTP here, once. Messages tell the client what to fix; a 500 says nothing
about why (details go to the log, which never carries PHI).
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

from cairn.errors import (
    AccessDenied,
    CairnError,
    InvalidResource,
    InvalidSearch,
    MalformedRequest,
    PayloadTooLarge,
    ResourceNotFound,
    Unauthenticated,
)
from cairn.fhir.outcome import issue, operation_outcome
from cairn.records.repository import SearchPage
from multitenant.context import InvalidTenantContext, TenantContext

FHIR_JSON = "application/fhir+json"
ACCEPTED_BODY_TYPES = [FHIR_JSON, "application/json"]
BASE_PATH = "/fhir/R4"
# A resource is stored twice (version and current item), each a DynamoDB item of at most
# 400 KB, and its PHI grows by a third when encrypted and base64-encoded: 128 KiB keeps both
# items well inside the limit. Larger documents (photos, scans) belong in S3.
MAX_BODY_BYTES = 128 * 1024


@dataclass(frozen=True)
class FhirResponse:
    status: int
    body: dict[str, Any]
    headers: dict[str, str]


def parse_body(raw: bytes | None) -> object:
    """The JSON of a request body within MAX_BODY_BYTES."""
    if raw is not None and len(raw) > MAX_BODY_BYTES:
        raise PayloadTooLarge(
            f"the body is over {MAX_BODY_BYTES} bytes; store large attachments as documents"
        )
    if not raw:
        raise MalformedRequest("the request has no body; send a FHIR resource as JSON")
    try:
        return json.loads(raw)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise MalformedRequest(f"the body is not valid JSON (line {getattr(exc, 'lineno', 1)})") from exc


def resource_path(resource: Mapping[str, Any]) -> str:
    return f"{BASE_PATH}/{resource['resourceType']}/{resource['id']}"


def etag(resource: Mapping[str, Any]) -> str:
    return f'W/"{resource["meta"]["versionId"]}"'


def created(resource: dict[str, Any]) -> FhirResponse:
    """201 with Location and ETag."""
    return FhirResponse(201, resource, {"Location": resource_path(resource), "ETag": etag(resource)})


def found(resource: dict[str, Any]) -> FhirResponse:
    return FhirResponse(200, resource, {"ETag": etag(resource)})


def searchset(resource_type: str, page: SearchPage, params: Mapping[str, Sequence[str]]) -> FhirResponse:
    """A searchset Bundle of `page`, with its total (when known) and a self link."""
    query = urlencode([(name, value) for name, values in params.items() for value in values])
    self_url = f"{BASE_PATH}/{resource_type}" + (f"?{query}" if query else "")
    bundle: dict[str, Any] = {
        "resourceType": "Bundle",
        "type": "searchset",
        "link": [{"relation": "self", "url": self_url}],
        "entry": [
            {"fullUrl": resource_path(resource), "resource": resource, "search": {"mode": "match"}}
            for resource in page.resources
        ],
    }
    if page.total is not None:
        bundle["total"] = page.total
    return FhirResponse(200, bundle, {})


ERROR_STATUS: tuple[tuple[type[CairnError], int, str], ...] = (
    (Unauthenticated, 401, "login"),
    (AccessDenied, 403, "forbidden"),
    (ResourceNotFound, 404, "not-found"),
    (PayloadTooLarge, 413, "too-costly"),
    (MalformedRequest, 400, "structure"),
    (InvalidSearch, 400, "invalid"),
)


def error(exc: Exception) -> FhirResponse:
    """The OperationOutcome response of `exc`; anything unexpected is a generic 500."""
    if isinstance(exc, InvalidResource):
        return FhirResponse(422, operation_outcome(exc.issues), {})
    for kind, status, code in ERROR_STATUS:
        if isinstance(exc, kind):
            return FhirResponse(status, operation_outcome([issue(code, str(exc))]), {})
    failure = issue("exception", "the server failed; try again later")
    return FhirResponse(500, operation_outcome([failure]), {})


def caller_context(authorizer: Mapping[str, object] | None) -> TenantContext:
    """The verified caller from the authorizer's context: 401 without one, 403 if unusable."""
    if not authorizer:
        raise Unauthenticated("no verified caller: the request did not pass the API authorizer")
    try:
        return TenantContext.from_authorizer(authorizer)
    except InvalidTenantContext as exc:
        raise AccessDenied(f"the caller's claims are unusable: {exc}") from exc

