"""API Gateway TOKEN authorizer of the operator API: admits verified members of the operators
group only. An unverifiable token is "Unauthorized" (401); a verified clinic user is denied (403)."""

from __future__ import annotations

import os
from functools import cache
from typing import Any

from aws_lambda_powertools import Logger, Metrics, Tracer
from aws_lambda_powertools.metrics import MetricUnit

from cairn.config import IdentitySettings
from multitenant.api_authorizer import api_arn_pattern
from multitenant.identity import IdentityError, TokenVerifier, bearer_token
from multitenant.operators import NotAnOperator, Operator
from multitenant.standing import deny

logger = Logger(service="operator-authorizer")
tracer = Tracer(service="operator-authorizer")
metrics = Metrics(namespace="Cairn", service="operator-authorizer")


@cache
def verifier() -> TokenVerifier:
    """Built once per process (cold start): the same verification as the clinical authorizer."""
    return TokenVerifier(IdentitySettings.from_environ(os.environ))


@logger.inject_lambda_context(clear_state=True)
@tracer.capture_lambda_handler(capture_response=False)
@metrics.log_metrics
def handler(event: dict[str, Any], _context: Any) -> dict[str, Any]:
    """Allow the operator API for an operator's token; deny it to any other verified user."""
    try:
        claims = verifier().claims(bearer_token(event.get("authorizationToken")))
    except IdentityError as exc:
        logger.info("token refused", extra={"reason": type(exc).__name__})
        metrics.add_metric(name="TokensRefused", unit=MetricUnit.Count, value=1)
        raise Exception("Unauthorized") from None  # API Gateway answers 401 to exactly this
    try:
        operator = Operator.from_claims(claims)
    except NotAnOperator:
        metrics.add_metric(name="NonOperatorsDenied", unit=MetricUnit.Count, value=1)
        return deny(str(claims.get("sub", "")), event["methodArn"])
    metrics.add_metric(name="OperatorsAdmitted", unit=MetricUnit.Count, value=1)
    return {
        "principalId": operator.user_id,
        "policyDocument": {"Version": "2012-10-17", "Statement": [{
            "Action": "execute-api:Invoke", "Effect": "Allow",
            "Resource": api_arn_pattern(event["methodArn"]),
        }]},
        "context": operator.as_context(),
    }
