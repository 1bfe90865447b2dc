"""User administration for clinic admins (Chalice): invite, list, change role, disable; and
sign-out for every user.

The caller and their clinic come only from the authorizer's context (verified token claims);
a tenant named in a body is ignored. Errors become JSON {"error", "message"} in one place
(`respond`). Every route is declared here: the CDK app and the local API front read `app.routes`.
"""

from __future__ import annotations

import os
from functools import cache

from cairn.errors import (
    AccessDenied,
    CairnError,
    MalformedRequest,
    PayloadTooLarge,
    ResourceNotFound,
    Unauthenticated,
)
from cairn.fhir import rest
from cairn.json_api import parse_body, responder
from cairn.observability import instrumented_api
from cairn.user_directory import UserAdminRuntime
from cairn.users import EmailInUse, UserAdministration
from multitenant.standing import TenantStanding

app, logger, _tracer, metrics = instrumented_api("user-admin")

MAX_BODY_BYTES = 4 * 1024
ERROR_STATUS: tuple[tuple[type[CairnError], int, str], ...] = (
    (Unauthenticated, 401, "unauthenticated"),
    (AccessDenied, 403, "forbidden"),
    (ResourceNotFound, 404, "not-found"),
    (EmailInUse, 409, "email-in-use"),
    (PayloadTooLarge, 413, "too-large"),
    (MalformedRequest, 400, "invalid"),
)


@cache
def runtime() -> UserAdminRuntime:
    """Built once per process, on the first request (not at import: the CDK app imports this
    module for its routes, with no environment)."""
    return UserAdminRuntime.from_environ(os.environ)


def users() -> UserAdministration:
    """The user administration of this request's verified caller."""
    authorizer = app.current_request.context.get("authorizer")
    caller = rest.caller_context(authorizer)
    logger.append_keys(tenant_id=caller.tenant_id, role=caller.role.value)
    return runtime().users(caller, TenantStanding.from_authorizer(authorizer))


def body() -> object:
    """The request's JSON body."""
    return parse_body(app.current_request.raw_body, MAX_BODY_BYTES)


respond = responder(ERROR_STATUS, logger, metrics)


@app.route("/users", methods=["POST"])
@respond
def invite_user() -> tuple[int, object]:
    return 201, users().invite_user(body()).as_dict()


@app.route("/users", methods=["GET"])
@respond
def list_users() -> tuple[int, object]:
    return 200, {"users": [user.as_dict() for user in users().list_users()]}


@app.route("/users/{username}/role", methods=["PUT"])
@respond
def change_role(username: str) -> tuple[int, object]:
    return 200, users().change_role(username, body()).as_dict()


@app.route("/users/{username}/disable", methods=["POST"])
@respond
def disable_user(username: str) -> tuple[int, object]:
    return 200, users().disable_user(username).as_dict()


@app.route("/auth/sign-out", methods=["POST"])
@respond
def sign_out() -> tuple[int, object]:
    users().sign_out()
    return 200, {"signed_out": True}
