"""The operator API (Chalice): platform operators create (onboard), list, show, suspend and
reactivate tenants. Behind its own authorizer, which admits members of the operators group only;
the operator comes from the authorizer's context, never from the request. Errors become JSON
{"error", "message"} in one place (`respond`). The CDK app and the local front read `app.routes`.
"""

from __future__ import annotations

import os
from functools import cache

from cairn.aws import AwsClients, AwsSettings
from cairn.errors import AccessDenied, CairnError, MalformedRequest, PayloadTooLarge
from cairn.json_api import parse_body, responder
from cairn.observability import instrumented_api
from multitenant.administration import AdministrationRuntime, AdministrationSettings, TenantAdministration
from multitenant.errors import (
    ConcurrentTenantChange,
    InvalidOnboardingRequest,
    InvalidOperatorRequest,
    TenantAlreadyExists,
    TenantNotFound,
)
from multitenant.lifecycle import InvalidTransition
from multitenant.operators import Operator

app, logger, _tracer, metrics = instrumented_api("operator-api")

MAX_BODY_BYTES = 4 * 1024
ERROR_STATUS: tuple[tuple[type[CairnError], int, str], ...] = (
    (AccessDenied, 403, "forbidden"),
    (TenantNotFound, 404, "not-found"),
    (TenantAlreadyExists, 409, "tenant-exists"),
    (InvalidTransition, 409, "invalid-transition"),
    (ConcurrentTenantChange, 409, "conflict"),
    (PayloadTooLarge, 413, "too-large"),
    (InvalidOnboardingRequest, 400, "invalid"),
    (InvalidOperatorRequest, 400, "invalid"),
    (MalformedRequest, 400, "invalid"),
)


@cache
def runtime() -> AdministrationRuntime:
    """Built once per process, on the first request (not at import: the CDK app imports this
    module for its routes, with no environment)."""
    return AdministrationRuntime(AdministrationSettings.from_environ(os.environ),
                                 AwsClients(AwsSettings.from_environ(os.environ)))


def tenants() -> TenantAdministration:
    """The tenant administration of this request's verified operator."""
    operator = Operator.from_authorizer(app.current_request.context.get("authorizer"))
    logger.append_keys(operator=operator.user_id)
    return runtime().administration(operator)


def body() -> object:
    """The request's JSON body."""
    return parse_body(app.current_request.raw_body, MAX_BODY_BYTES)


respond = responder(ERROR_STATUS, logger, metrics)


@app.route("/operator/tenants", methods=["POST"])
@respond
def create_tenant() -> tuple[int, object]:
    """Start onboarding; 202 with the execution (the same request again answers the same one)."""
    raw = body()
    if not isinstance(raw, dict):
        raise MalformedRequest("send a JSON object: request_id, tenant_id, name, tier, admin_email")
    return 202, tenants().create(raw).as_dict()


@app.route("/operator/tenants", methods=["GET"])
@respond
def list_tenants() -> tuple[int, object]:
    return 200, {"tenants": [tenant.as_dict() for tenant in tenants().list()]}


@app.route("/operator/tenants/{tenant_id}", methods=["GET"])
@respond
def show_tenant(tenant_id: str) -> tuple[int, object]:
    return 200, tenants().show(tenant_id).as_dict()


@app.route("/operator/tenants/{tenant_id}/suspend", methods=["POST"])
@respond
def suspend_tenant(tenant_id: str) -> tuple[int, object]:
    return 200, tenants().suspend(tenant_id, body()).as_dict()


@app.route("/operator/tenants/{tenant_id}/reactivate", methods=["POST"])
@respond
def reactivate_tenant(tenant_id: str) -> tuple[int, object]:
    return 200, tenants().reactivate(tenant_id, body()).as_dict()
