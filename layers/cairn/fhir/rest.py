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
    HoldTaken,
    ImmutableResource,
    InvalidResource,
    InvalidSearch,
    MalformedRequest,
    PayloadTooLarge,
    PreconditionFailed,
    ResourceConflict,
    ResourceGone,
    ResourceNotFound,
    TransactionTooLarge,
    Unauthenticated,
    UnsupportedResourceType,
    VersionConflict,
)
from cairn.fhir.outcome import issue, operation_outcome
from cairn.fhir.search import CURSOR_PARAMETER, SearchQuery
from cairn.records.repository import HistoryPage, SearchPage
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


def version_url(base: str, resource: Mapping[str, Any]) -> str:
    """The URL of this version of the resource (vread)."""
    return f"{resource_url(base, resource)}/_history/{resource['meta']['versionId']}"


def created(base: str, resource: dict[str, Any]) -> FhirResponse:
    """201 with Location (the new version's URL, which vread answers), ETag and Last-Modified."""
    return FhirResponse(
        201, resource, {"Location": version_url(base, resource), **_version_headers(resource)}
    )


def found(resource: dict[str, Any]) -> FhirResponse:
    return FhirResponse(200, resource, _version_headers(resource))


def _version_headers(resource: Mapping[str, Any]) -> dict[str, str]:
    return {"ETag": etag(resource), "Last-Modified": str(resource["meta"]["lastUpdated"])}


def searchset(
    base: str, query: SearchQuery, page: SearchPage, params: list[tuple[str, str]] | None = None
) -> FhirResponse:
    """A searchset Bundle of `page`: matches, then included resources, with its total (when
    known), a self link and, when there is more, a next link carrying the paging cursor.
    `params` replaces the query's own parameters in the links (searches not parsed by
    cairn.fhir.search, such as AuditEvent's)."""
    path = f"{base}{BASE_PATH}/{query.resource_type}"
    params = query.query_params() if params is None else params
    links = [{"relation": "self", "url": _with_query(path, [*params, *_cursor(query.cursor)])}]
    if page.next_cursor:
        links.append({"relation": "next", "url": _with_query(path, [*params, *_cursor(page.next_cursor)])})
    if query.cursor:
        links.append({"relation": "first", "url": _with_query(path, params)})
    entries = [_entry(base, resource, "match") for resource in page.resources]
    entries += [_entry(base, resource, "include") for resource in page.included]
    bundle: dict[str, Any] = {"resourceType": "Bundle", "type": "searchset", "link": links, "entry": entries}
    if page.total is not None:
        bundle["total"] = page.total
    if query.ignored:
        outcome = operation_outcome(
            [
                issue(
                    "not-supported",
                    f"search parameter {name!r} is not supported and was ignored (Prefer: handling=lenient)",
                    severity="warning",
                )
                for name in query.ignored
            ]
        )
        entries.append({"resource": outcome, "search": {"mode": "outcome"}})
    return FhirResponse(200, bundle, {})


def operation_outcome_info(text: str) -> dict[str, Any]:
    """An informational OperationOutcome (e.g. the body of a 202)."""
    return operation_outcome([issue("informational", text, severity="information")])


def upload_parameters(upload: Mapping[str, Any]) -> dict[str, Any]:
    """A presigned upload (cairn.documents) as a FHIR Parameters resource."""
    headers = [
        {"name": "header", "valueString": f"{name}: {value}"}
        for name, value in dict(upload.get("headers") or {}).items()
    ]
    return {
        "resourceType": "Parameters",
        "parameter": [
            {"name": "url", "valueUrl": upload["url"]},
            {"name": "method", "valueCode": upload["method"]},
            *headers,
            {"name": "expires", "valueInstant": upload["expiresAt"]},
        ],
    }


def collection(base: str, resources: list[dict[str, Any]]) -> FhirResponse:
    """A Bundle of `resources` (Patient/$everything: a searchset of every match)."""
    entries = [_entry(base, resource, "match") for resource in resources]
    return FhirResponse(
        200, {"resourceType": "Bundle", "type": "searchset", "total": len(entries), "entry": entries}, {}
    )


def history_bundle(
    base: str, path: str, page: HistoryPage, params: list[tuple[str, str]], cursor: str | None
) -> FhirResponse:
    """A history Bundle, newest first; a delete is an entry with request DELETE and no resource."""
    url = f"{base}{BASE_PATH}/{path}"
    links = [{"relation": "self", "url": _with_query(url, [*params, *_cursor(cursor)])}]
    if page.next_cursor:
        links.append({"relation": "next", "url": _with_query(url, [*params, *_cursor(page.next_cursor)])})
    entries = []
    for version in page.versions:
        target = f"{version.resource_type}/{version.resource_id}"
        entry: dict[str, Any] = {"fullUrl": f"{base}{BASE_PATH}/{target}"}
        if version.resource is None:
            entry["request"] = {"method": "DELETE", "url": target}
            entry["response"] = {"status": "204", "lastModified": version.last_updated}
        else:
            entry["resource"] = version.resource
            entry["request"] = {
                "method": "POST" if version.version_id == 1 else "PUT",
                "url": version.resource_type if version.version_id == 1 else target,
            }
            entry["response"] = {
                "status": "201" if version.version_id == 1 else "200",
                "etag": f'W/"{version.version_id}"',
                "lastModified": version.last_updated,
            }
        entries.append(entry)
    return FhirResponse(
        200, {"resourceType": "Bundle", "type": "history", "link": links, "entry": entries}, {}
    )


def _entry(base: str, resource: dict[str, Any], mode: str) -> dict[str, Any]:
    return {"fullUrl": resource_url(base, resource), "resource": resource, "search": {"mode": mode}}


def _cursor(cursor: str | None) -> list[tuple[str, str]]:
    return [(CURSOR_PARAMETER, cursor)] if cursor else []


def _with_query(url: str, params: Sequence[tuple[str, str]]) -> str:
    return f"{url}?{urlencode(params)}" if params else url


ERROR_STATUS: tuple[tuple[type[CairnError], int, str], ...] = (
    (Unauthenticated, 401, "login"),
    (AccessDenied, 403, "forbidden"),
    (ResourceGone, 410, "deleted"),
    (ResourceNotFound, 404, "not-found"),
    (UnsupportedResourceType, 404, "not-supported"),
    (PayloadTooLarge, 413, "too-costly"),
    (MalformedRequest, 400, "structure"),
    (InvalidSearch, 400, "invalid"),
    (TransactionTooLarge, 400, "too-costly"),
    (PreconditionFailed, 412, "conflict"),
    (ResourceConflict, 409, "conflict"),
    (VersionConflict, 409, "conflict"),
    (ImmutableResource, 409, "business-rule"),
    (HoldTaken, 409, "conflict"),
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
