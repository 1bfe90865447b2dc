"""API Gateway TOKEN authorizer: a verified Cognito ID token becomes the tenant context that
every API route reads; anything else is "Unauthorized" (API Gateway answers 401)."""

from __future__ import annotations

import os
from functools import cache
from typing import Any

from aws_lambda_powertools import Logger, Metrics, Tracer
from aws_lambda_powertools.metrics import MetricUnit

from cairn import config
from cairn.audit.trail import DynamoAuditTrail
from cairn.aws import AwsClients, AwsSettings
from cairn.config import IdentitySettings
from multitenant.api_authorizer import allow
from multitenant.context import TenantContext
from multitenant.identity import IdentityError, TokenVerifier, bearer_token
from multitenant.registry import DynamoTenantRegistry
from multitenant.sign_in_audit import record_refused_tenant, record_refused_token
from multitenant.standing import TenantNotAdmitted, TenantStandings, deny, with_standing

logger = Logger(service="authorizer")
tracer = Tracer(service="authorizer")
metrics = Metrics(namespace="Cairn", service="authorizer")


@cache
def verifier() -> TokenVerifier:
    """Built once per process (cold start): settings validated, JWKS client and its cache."""
    return TokenVerifier(IdentitySettings.from_environ(os.environ))


@cache
def clients() -> AwsClients:
    """Built once per process (cold start)."""
    return AwsClients(AwsSettings.from_environ(os.environ))


@cache
def standings() -> TenantStandings:
    """The tenant registry, read through a short per-process cache (built at cold start)."""
    table = config.require(os.environ, config.TENANT_TABLE)
    return TenantStandings(DynamoTenantRegistry(clients().dynamodb(), table))


def audit_trail(caller: TenantContext) -> DynamoAuditTrail:
    """The audit trail refusals are recorded in, for `caller`'s tenant."""
    table = config.require(os.environ, config.AUDIT_TABLE)
    return DynamoAuditTrail(caller, clients().dynamodb(), table)


@logger.inject_lambda_context(clear_state=True)
@tracer.capture_lambda_handler(capture_response=False)  # claims stay out of X-Ray
@metrics.log_metrics
def handler(event: dict[str, Any], _context: Any) -> dict[str, Any]:
    """Allow the API for the token's tenant and role, or raise Exception("Unauthorized"); deny it
    (403) when the tenant is unknown or its status allows no sign-in."""
    try:
        caller = verifier().context(bearer_token(event.get("authorizationToken")))
    except IdentityError as exc:
        logger.info("token refused", extra={"reason": type(exc).__name__})
        metrics.add_metric(name="TokensRefused", unit=MetricUnit.Count, value=1)
        record_refused_token(audit_trail, type(exc).__name__)
        raise Exception("Unauthorized") from None  # API Gateway answers 401 to exactly this
    logger.append_keys(tenant_id=caller.tenant_id, role=caller.role.value)
    try:
        standing = standings().admit(caller.tenant_id)
    except TenantNotAdmitted as exc:
        logger.info("tenant refused", extra={"tenant_status": str(exc.status)})
        metrics.add_metric(name="TenantsRefused", unit=MetricUnit.Count, value=1)
        record_refused_tenant(audit_trail, caller, f"tenant-{exc.status or 'unknown'}")
        return deny(caller.user_id, event["methodArn"])
    metrics.add_metric(name="TokensAccepted", unit=MetricUnit.Count, value=1)
    return with_standing(allow(caller, event["methodArn"]), standing)
