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


# API key values must be at least 20 characters; the prefix makes every tenant's value one.
USAGE_KEY_PREFIX = "cairn-tenant-usage-"


def usage_identifier_key(tenant_id: str) -> str:
    """The value of the tenant's API Gateway API key, which places it in its tier's usage plan.

    The REST API takes API keys from the authorizer (apiKeySourceType AUTHORIZER), never from a
    client header, so the value is an identifier, not a secret: derived from the verified tenant,
    it needs no lookup per request. Onboarding creates the key with this value (docs/isolation.md)."""
    return f"{USAGE_KEY_PREFIX}{tenant_id}"


def allow(context: TenantContext, method_arn: str) -> dict[str, Any]:
    """Allow the caller to invoke the API, passing tenant, role, subject and linked patient on
    as the authorizer context (strings only: API Gateway drops other types), and the tenant's
    usage identifier key, so its tier's throttling applies."""
    return {
        "principalId": context.user_id,
        "usageIdentifierKey": usage_identifier_key(context.tenant_id),
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
