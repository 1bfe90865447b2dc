"""The reminders API (Chalice): reminders patients and staff set (medication doses, refills,
bills, recalls, coverage expiry), a patient's reminder channels and opt-outs, and the local
outbox of messages sent (docs/reminders.md).

The caller comes only from the authorizer's context (verified token claims); permissions come
from the one table (Reminder, ContactPreferences, OutboxMessage) and the chart's own rules.
Errors are JSON {"error", "message"} in one place (`respond`); the CDK app and the local API
front read `app.routes`.
"""

from __future__ import annotations

import os
from functools import cache

from cairn.errors import (
    AccessDenied,
    InvalidResource,
    MalformedRequest,
    PayloadTooLarge,
    PreconditionFailed,
    ResourceNotFound,
    Unauthenticated,
    VersionConflict,
)
from cairn.fhir import rest
from cairn.json_api import json_object, query_value, responder
from cairn.observability import instrumented_api
from cairn.reminders.desk import OutboxNotUsed, ReminderDesk, ReminderNotPossible
from cairn.reminders.preferences import PreferencesNotPossible
from cairn.reminders.services import ReminderServices
from multitenant.standing import TenantStanding

app, logger, _tracer, metrics = instrumented_api("reminders-api")

MAX_JSON_BYTES = 16 * 1024
MAX_OUTBOX = 200
ERROR_STATUS = (
    (Unauthenticated, 401, "unauthenticated"),
    (AccessDenied, 403, "forbidden"),
    (OutboxNotUsed, 404, "no-outbox"),
    (ResourceNotFound, 404, "not-found"),
    (VersionConflict, 409, "changed-meanwhile"),
    (PreconditionFailed, 412, "changed-meanwhile"),
    (PayloadTooLarge, 413, "too-large"),
    (ReminderNotPossible, 422, "not-possible"),
    (PreferencesNotPossible, 422, "not-possible"),
    (InvalidResource, 422, "invalid"),
    (MalformedRequest, 400, "invalid"),
)
respond = responder(ERROR_STATUS, logger, metrics)


@cache
def services() -> ReminderServices:
    """Built once per process, on the first request (not at import: the CDK app imports this
    module for its routes, with no environment)."""
    return ReminderServices.from_environ(os.environ)


def desk() -> ReminderDesk:
    """The reminders as this request's verified caller uses them."""
    authorizer = app.current_request.context.get("authorizer")
    caller = rest.caller_context(authorizer)
    logger.append_keys(tenant_id=caller.tenant_id, role=caller.role.value)
    return services().desk(caller, TenantStanding.from_authorizer(authorizer))


def body() -> dict[str, object]:
    return json_object(app.current_request.raw_body, MAX_JSON_BYTES)


def query(name: str) -> str | None:
    return query_value(app.current_request.query_params, name)


@app.route("/reminders", methods=["POST"])
@respond
def set_reminder() -> tuple[int, object]:
    """{"kind": "medication-dose" | "refill-due" | "bill" | "recall" | "coverage-expiry", ...}."""
    created, reminder = desk().create(body())
    return (201 if created else 200), reminder


@app.route("/reminders", methods=["GET"])
@respond
def list_reminders() -> tuple[int, object]:
    """A patient's reminders (?patient=<id> for staff; a patient's own without it)."""
    return 200, {"reminders": desk().reminders(query("patient"))}


@app.route("/reminders/{reminder}", methods=["DELETE"])
@respond
def cancel_reminder(reminder: str) -> tuple[int, object]:
    """Cancel a reminder: no more of its messages are sent."""
    return 200, desk().cancel(reminder)


@app.route("/reminders/preferences", methods=["GET"])
@respond
def get_preferences() -> tuple[int, object]:
    """The patient's reminder channels and opt-outs (?patient=<id> for staff)."""
    return 200, desk().preferences(query("patient"))


@app.route("/reminders/preferences", methods=["PUT"])
@respond
def put_preferences() -> tuple[int, object]:
    """{"preferred": "email" | "sms" | null, "optedOut": [...], "optedOutAll": false}."""
    return 200, desk().set_preferences(query("patient"), body())


@app.route("/reminders/outbox", methods=["GET"])
@respond
def outbox() -> tuple[int, object]:
    """The local outbox, newest first: a patient's own messages; admins the clinic's (?patient=)."""
    count = query("_count") or "50"
    if not count.isdigit() or not 1 <= int(count) <= MAX_OUTBOX:
        raise MalformedRequest(f"_count is a number from 1 to {MAX_OUTBOX}")
    return 200, {"messages": desk().outbox_messages(query("patient"), int(count))}
