"""The answer of Cairn's API Gateway TOKEN authorizer for a verified caller."""

from __future__ import annotations

from typing import Any

from multitenant.context import TenantContext


def api_arn_pattern(method_arn: str) -> str:
    """Every method of the API and stage in `method_arn`:
    "arn:aws:execute-api:r:a:api/stage/GET/fhir/R4/Patient" -> "arn:aws:execute-api:r:a:api/stage/*".

    The policy is cached by API Gateway per token, so it must cover every route, not only the
    first one called."""
    api_and_stage = method_arn.split("/")[:2]
    if len(api_and_stage) < 2 or not method_arn.startswith("arn:"):
        raise ValueError("methodArn is not an execute-api ARN")
    return "/".join(api_and_stage) + "/*"


def allow(context: TenantContext, method_arn: str) -> dict[str, Any]:
    """Allow the caller to invoke the API, passing tenant, role, subject and linked patient on
    as the authorizer context (strings only: API Gateway drops other types)."""
    return {
        "principalId": context.user_id,
        "policyDocument": {
            "Version": "2012-10-17",
            "Statement": [{
                "Action": "execute-api:Invoke",
                "Effect": "Allow",
                "Resource": api_arn_pattern(method_arn),
            }],
        },
        "context": context.as_claims(),
    }
