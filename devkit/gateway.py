"""API Gateway REST (v1) semantics, as plain functions: events in, decisions and responses out.

The local API front uses these to call the authorizer and the API function exactly as API
Gateway would: a TOKEN authorizer event, the IAM policy it returns, the Lambda proxy event,
and the proxy result mapped back to an HTTP response.
"""

from __future__ import annotations

import base64
import fnmatch
import json
import time
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qs

from devkit.routes import RouteMatch

MAX_PAYLOAD_BYTES = 10 * 1024 * 1024  # API Gateway's request payload quota


@dataclass(frozen=True)
class GatewayResponse:
    """An HTTP response as the front sends it: status, header pairs, body bytes."""

    status: int
    headers: list[tuple[str, str]] = field(default_factory=list)
    body: bytes = b""


def gateway_error(status: int, message: str | None, key: str = "message") -> GatewayResponse:
    """A response API Gateway generates itself (no integration ran), e.g. 401 Unauthorized."""
    return GatewayResponse(
        status=status,
        headers=[("Content-Type", "application/json"), ("x-amzn-ErrorType", _error_type(status))],
        body=json.dumps({key: message}).encode(),
    )


def _error_type(status: int) -> str:
    return {401: "UnauthorizedException", 403: "AccessDeniedException", 404: "NotFoundException",
            413: "RequestTooLargeException"}.get(status, "InternalServerErrorException")


MISSING_AUTHENTICATION_TOKEN = gateway_error(403, "Missing Authentication Token")
UNAUTHORIZED = gateway_error(401, "Unauthorized")
EXPLICIT_DENY = gateway_error(403, "User is not authorized to access this resource with an explicit deny",
                              key="Message")
NOT_ALLOWED = gateway_error(403, "User is not authorized to access this resource", key="Message")
AUTHORIZER_FAILURE = gateway_error(500, None)
INTEGRATION_FAILURE = gateway_error(502, "Internal server error")
TOO_LARGE = gateway_error(413, "Request Too Long")


@dataclass(frozen=True)
class ApiIdentity:
    """Which API this is, for ARNs and the request context."""

    region: str
    account_id: str
    api_id: str
    stage: str

    def method_arn(self, method: str, path: str) -> str:
        """The execute-api ARN a TOKEN authorizer receives as methodArn."""
        api = f"arn:aws:execute-api:{self.region}:{self.account_id}:{self.api_id}"
        return f"{api}/{self.stage}/{method}{path}"


@dataclass(frozen=True)
class IncomingRequest:
    """What the front read off the socket."""

    method: str
    path: str
    query: str
    headers: list[tuple[str, str]]
    body: bytes
    source_ip: str

    def header(self, name: str) -> str | None:
        """The last value of header `name` (case-insensitive), as API Gateway picks it."""
        values = [value for key, value in self.headers if key.lower() == name.lower()]
        return values[-1] if values else None


def token_event(request: IncomingRequest, identity: ApiIdentity, token: str) -> dict[str, Any]:
    """The event of a TOKEN authorizer whose identity source is the Authorization header."""
    return {"type": "TOKEN", "authorizationToken": token,
            "methodArn": identity.method_arn(request.method, request.path)}


def authorizer_decision(result: Any, method_arn: str) -> GatewayResponse | dict[str, Any]:
    """The authorizer context for the request, or the response API Gateway gives instead."""
    if not isinstance(result, dict) or "principalId" not in result or "policyDocument" not in result:
        return AUTHORIZER_FAILURE
    statements = result["policyDocument"].get("Statement", [])
    if isinstance(statements, dict):
        statements = [statements]
    matching = [s for s in statements if _covers(s, method_arn)]
    if any(s.get("Effect") == "Deny" for s in matching):
        return EXPLICIT_DENY
    if not any(s.get("Effect") == "Allow" for s in matching):
        return NOT_ALLOWED
    # API Gateway passes context values on as strings, numbers or booleans only.
    context = {key: value for key, value in (result.get("context") or {}).items()
               if isinstance(value, str | int | float | bool)}
    return {**context, "principalId": result["principalId"]}


def _covers(statement: Mapping[str, Any], method_arn: str) -> bool:
    actions = statement.get("Action", [])
    resources = statement.get("Resource", [])
    actions = [actions] if isinstance(actions, str) else actions
    resources = [resources] if isinstance(resources, str) else resources
    action_ok = any(fnmatch.fnmatchcase("execute-api:Invoke", a) for a in actions)
    return action_ok and any(fnmatch.fnmatchcase(method_arn, r) for r in resources)


def proxy_event(request: IncomingRequest, match: RouteMatch, identity: ApiIdentity,
                authorizer: Mapping[str, Any] | None, binary_types: tuple[str, ...]) -> dict[str, Any]:
    """The Lambda proxy integration (v1) event for `request` on the matched route."""
    headers: dict[str, str] = {}
    multi_headers: dict[str, list[str]] = {}
    for key, value in request.headers:
        headers[key] = value
        multi_headers.setdefault(key, []).append(value)
    multi_query = parse_qs(request.query, keep_blank_values=True) if request.query else {}
    body, encoded = _event_body(request, binary_types)
    now = time.time()
    request_id = str(uuid.uuid4())
    context: dict[str, Any] = {
        "resourceId": uuid.uuid5(uuid.NAMESPACE_URL, match.route.template).hex[:6],
        "resourcePath": match.route.template,
        "httpMethod": request.method,
        "extendedRequestId": request_id,
        "requestTime": time.strftime("%d/%b/%Y:%H:%M:%S +0000", time.gmtime(now)),
        "requestTimeEpoch": int(now * 1000),
        "path": f"/{identity.stage}{request.path}",
        "accountId": identity.account_id,
        "protocol": "HTTP/1.1",
        "stage": identity.stage,
        "domainPrefix": identity.api_id,
        "domainName": request.header("Host") or "127.0.0.1",
        "requestId": request_id,
        "apiId": identity.api_id,
        "identity": {"sourceIp": request.source_ip, "userAgent": request.header("User-Agent")},
    }
    if authorizer is not None:
        context["authorizer"] = dict(authorizer)
    return {
        "resource": match.route.template,
        "path": request.path,
        "httpMethod": request.method,
        "headers": headers or None,
        "multiValueHeaders": multi_headers or None,
        "queryStringParameters": {k: v[-1] for k, v in multi_query.items()} or None,
        "multiValueQueryStringParameters": multi_query or None,
        "pathParameters": match.path_parameters or None,
        "stageVariables": None,
        "requestContext": context,
        "body": body,
        "isBase64Encoded": encoded,
    }


def _event_body(request: IncomingRequest, binary_types: tuple[str, ...]) -> tuple[str | None, bool]:
    if not request.body:
        return None, False
    content_type = (request.header("Content-Type") or "").split(";")[0].strip().lower()
    if content_type and any(fnmatch.fnmatchcase(content_type, t.lower()) for t in binary_types):
        return base64.b64encode(request.body).decode(), True
    try:
        return request.body.decode("utf-8"), False
    except UnicodeDecodeError:
        return base64.b64encode(request.body).decode(), True


def proxy_response(result: Any) -> GatewayResponse:
    """The HTTP response for a proxy integration result; a malformed one is a 502, as in AWS."""
    if not isinstance(result, dict) or not isinstance(result.get("statusCode"), int):
        return INTEGRATION_FAILURE
    headers: list[tuple[str, str]] = []
    single = result.get("headers") or {}
    multi = result.get("multiValueHeaders") or {}
    for key, values in multi.items():
        headers += [(key, str(value)) for value in values]
    headers += [(key, str(value)) for key, value in single.items() if key not in multi]
    body = result.get("body") or ""
    try:
        payload = base64.b64decode(body) if result.get("isBase64Encoded") else str(body).encode()
    except (ValueError, TypeError):
        return INTEGRATION_FAILURE
    if not any(key.lower() == "content-type" for key, _ in headers):
        headers.append(("Content-Type", "application/json"))
    return GatewayResponse(status=result["statusCode"], headers=headers, body=payload)
