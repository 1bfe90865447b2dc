"""The FHIR REST edge: request bodies in, resources and OperationOutcomes out.

Errors are mapped to HTTP here, once. Messages tell the client what to fix; a 500 says nothing
about why (details go to the log, which never carries PHI).
"""

from __future__ import annotations

import json
import re
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
# API Gateway's own endpoints (<api-id>[-<vpce-id>].execute-api.<region>...): their paths start
# with the stage.
EXECUTE_API_HOST = re.compile(r"[a-z0-9-]+\.execute-api\.[a-z0-9-]+\.amazonaws\.com(\.cn)?")
HOST = re.compile(r"([A-Za-z0-9-]+\.)*[A-Za-z0-9-]+(:[0-9]{1,5})?|\[[0-9A-Fa-f:.]+\](:[0-9]{1,5})?")
STAGE = re.compile(r"[A-Za-z0-9_-]+")


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


def service_base(request_context: Mapping[str, Any], headers: Mapping[str, str]) -> str:
    """The absolute URL clients address Cairn at, before /fhir/R4, from a proxy event: e.g.
    https://abc123.execute-api.eu-west-1.amazonaws.com/prod, or http://127.0.0.1:8080 locally.

    The host is requestContext.domainName (else the Host header). Only API Gateway's own
    endpoints put the stage first in the path; the local API front serves without it, though
    its requestContext.path shows one, and Cairn maps no custom domain. X-Forwarded-Proto (API
    Gateway always sends it) decides the scheme; without it, https on API Gateway, else http.
    With no usable host the base is "" and links stay relative.
    """
    host = str(request_context.get("domainName") or _header(headers, "host") or "")
    if not HOST.fullmatch(host):
        return ""
    on_api_gateway = EXECUTE_API_HOST.fullmatch(host.lower()) is not None
    forwarded = (_header(headers, "x-forwarded-proto") or "").split(",")[0].strip().lower()
    scheme = forwarded if forwarded in ("http", "https") else "https" if on_api_gateway else "http"
    stage = str(request_context.get("stage") or "")
    prefix = f"/{stage}" if on_api_gateway and STAGE.fullmatch(stage) else ""
    return f"{scheme}://{host}{prefix}"


def _header(headers: Mapping[str, str], name: str) -> str | None:
    """Header `name`, whatever its case in the event."""
    return next((value for key, value in headers.items() if key.lower() == name), None)


def resource_url(base: str, resource: Mapping[str, Any]) -> str:
    """The resource's absolute URL under `base` (see service_base)."""
    return f"{base}{BASE_PATH}/{resource['resourceType']}/{resource['id']}"


def etag(resource: Mapping[str, Any]) -> str:
    return f'W/"{resource["meta"]["versionId"]}"'


def created(base: str, resource: dict[str, Any]) -> FhirResponse:
    """201 with Location and ETag. Location is the resource's URL, not FHIR's versioned
    .../_history/1: Cairn has no vread route yet, so that URL would not answer."""
    return FhirResponse(201, resource, {"Location": resource_url(base, resource), "ETag": etag(resource)})


def found(resource: dict[str, Any]) -> FhirResponse:
    return FhirResponse(200, resource, {"ETag": etag(resource)})


def searchset(
    base: str, resource_type: str, page: SearchPage, params: Mapping[str, Sequence[str]]
) -> FhirResponse:
    """A searchset Bundle of `page`, with its total (when known) and a self link."""
    query = urlencode([(name, value) for name, values in params.items() for value in values])
    self_url = f"{base}{BASE_PATH}/{resource_type}" + (f"?{query}" if query else "")
    bundle: dict[str, Any] = {
        "resourceType": "Bundle",
        "type": "searchset",
        "link": [{"relation": "self", "url": self_url}],
        "entry": [
            {"fullUrl": resource_url(base, resource), "resource": resource, "search": {"mode": "match"}}
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

