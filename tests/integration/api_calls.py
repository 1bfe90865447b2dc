"""Calling an API function as API Gateway would: a REST proxy event with the authorizer's
context for a verified caller, invoked through the emulator's Lambda API so the real function
runs with its own environment."""

from __future__ import annotations

import base64
import json
from typing import Any

from cairn.aws import AwsClients
from multitenant.context import TenantContext


def proxy_event(
    method: str,
    path: str,
    resource: str,
    caller: TenantContext,
    *,
    body: bytes | None = None,
    content_type: str = "application/json",
    query: dict[str, str] | None = None,
    path_parameters: dict[str, str] | None = None,
) -> dict[str, Any]:
    return {
        "resource": resource,
        "path": path,
        "httpMethod": method,
        "headers": {"Content-Type": content_type, "Host": "127.0.0.1"},
        "multiValueHeaders": None,
        "queryStringParameters": query or None,
        "multiValueQueryStringParameters": {k: [v] for k, v in (query or {}).items()} or None,
        "pathParameters": path_parameters,
        "stageVariables": None,
        "requestContext": {
            "resourcePath": resource,
            "httpMethod": method,
            "requestId": "req-1",
            "stage": "local",
            "path": f"/local{path}",
            "domainName": "127.0.0.1",
            "authorizer": {**caller.as_claims(), "principalId": caller.user_id},
        },
        "body": base64.b64encode(body).decode() if body is not None else None,
        "isBase64Encoded": body is not None,
    }


def invoke(clients: AwsClients, function_arn: str, event: dict[str, Any]) -> tuple[int, dict[str, str], str]:
    """The function's (status, headers, body) for `event`; a function error fails the test."""
    response = clients.lambda_().invoke(FunctionName=function_arn, Payload=json.dumps(event).encode())
    payload = json.loads(response["Payload"].read())
    assert "FunctionError" not in response, payload
    return int(payload["statusCode"]), payload.get("headers") or {}, payload.get("body") or ""
