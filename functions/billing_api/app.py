"""The billing API (Chalice): signup through Stripe Checkout (public: the clinic has no account
yet), the clinic's billing notices and connected account, its fee schedule, and patient invoices
charged from an encounter, viewed, printed (PDF), paid through Checkout and refunded.

The caller comes only from the authorizer's context (verified token claims); the clinic is
always the caller's. Errors are JSON {"error", "message"} in one place (`respond`); the CDK app
and the local API front read `app.routes`.
"""

from __future__ import annotations

import json
import os
from functools import cache

from aws_lambda_powertools.metrics import MetricUnit
from chalice import Response

from cairn.billing.desk import BillingDesk, NoConnectedAccount, NothingDue
from cairn.billing.fee_schedule import FeeScheduleChanged
from cairn.billing.gateway import StripeUnavailable
from cairn.billing.plans import InvalidPlanChoice
from cairn.billing.services import BillingRuntime
from cairn.errors import (
    AccessDenied,
    CairnError,
    InvalidResource,
    InvalidSearch,
    MalformedRequest,
    PayloadTooLarge,
    PreconditionFailed,
    ResourceNotFound,
    Unauthenticated,
    VersionConflict,
)
from cairn.fhir import rest
from cairn.json_api import error_response, json_object, query_value, responder
from cairn.observability import instrumented_api
from multitenant.errors import InvalidOnboardingRequest, TenantAlreadyExists
from multitenant.standing import TenantStanding

app, logger, _tracer, metrics = instrumented_api("billing-api")
app.api.binary_types.append("application/pdf")

PDF = "application/pdf"
MAX_BODY_BYTES = 64 * 1024  # a fee schedule of 500 codes
ERROR_STATUS: tuple[tuple[type[Exception], int, str], ...] = (
    (Unauthenticated, 401, "unauthenticated"),
    (AccessDenied, 403, "forbidden"),
    (ResourceNotFound, 404, "not-found"),
    (TenantAlreadyExists, 409, "tenant-exists"),
    (NoConnectedAccount, 409, "not-connected"),
    (NothingDue, 409, "nothing-due"),
    (FeeScheduleChanged, 409, "changed-meanwhile"),
    (VersionConflict, 409, "conflict"),
    (PreconditionFailed, 412, "changed-meanwhile"),
    (PayloadTooLarge, 413, "too-large"),
    (InvalidResource, 422, "invalid"),
    (StripeUnavailable, 502, "stripe-unavailable"),
    (InvalidOnboardingRequest, 400, "invalid"),
    (InvalidPlanChoice, 400, "invalid"),
    (InvalidSearch, 400, "invalid"),
    (MalformedRequest, 400, "invalid"),
)


@cache
def runtime() -> BillingRuntime:
    """Built once per process, on the first request (the CDK app imports this module for its routes)."""
    return BillingRuntime(os.environ)


def desk() -> BillingDesk:
    """The billing desk of this request's verified caller."""
    authorizer = app.current_request.context.get("authorizer")
    caller = rest.caller_context(authorizer)
    logger.append_keys(tenant_id=caller.tenant_id, role=caller.role.value)
    return runtime().desk(caller, TenantStanding.from_authorizer(authorizer))


def body() -> dict[str, object]:
    return json_object(app.current_request.raw_body, MAX_BODY_BYTES)


def query(name: str) -> str | None:
    return query_value(app.current_request.query_params, name)


respond = responder(ERROR_STATUS, logger, metrics)


@app.route("/billing/signup", methods=["POST"])
@respond
def start_signup() -> tuple[int, object]:
    """{tenant_id, name, tier, seats, admin_email}: a Stripe Checkout session; the clinic is made
    once Stripe confirms payment (checkout.session.completed)."""
    session = runtime().signups().start(body())
    return 201, {"session": session.session_id, "url": session.url}


@app.route("/billing/notices", methods=["GET"])
@respond
def billing_notices() -> tuple[int, object]:
    return 200, {"notices": [notice.as_dict() for notice in desk().notices()]}


@app.route("/billing/connect", methods=["POST"])
@respond
def connect_account() -> tuple[int, object]:
    """The clinic's Stripe connected account for patient payments, and its onboarding link."""
    return 200, desk().connect()


@app.route("/billing/fee-schedule", methods=["GET"])
@respond
def read_fee_schedule() -> tuple[int, object]:
    return 200, desk().fee_schedule().as_dict()


@app.route("/billing/fee-schedule", methods=["PUT"])
@respond
def replace_fee_schedule() -> tuple[int, object]:
    """{"fees": [{"code", "display", "amount", "system"?}]}: the whole schedule, replaced."""
    return 200, desk().set_fee_schedule(body()).as_dict()


@app.route("/billing/invoices", methods=["POST"])
@respond
def bill_encounter() -> tuple[int, object]:
    """{"encounter": "Encounter/<id>", "charges": [{"code", "quantity"}]}: the encounter's invoice
    (201; 200 with the one it has if it was billed before)."""
    shown, created = desk().bill_encounter(body())
    return (201 if created else 200), shown.as_dict()


@app.route("/billing/invoices", methods=["GET"])
@respond
def list_invoices() -> tuple[int, object]:
    """?status=due|overdue|paid|cancelled&patient=<id>: invoices, newest first."""
    return 200, {"invoices": [v.as_dict() for v in desk().invoices(query("status"), query("patient"))]}


@app.route("/billing/invoices/{invoice}", methods=["GET"])
@respond
def show_invoice(invoice: str) -> tuple[int, object]:
    return 200, desk().invoice(invoice).as_dict()


@app.route("/billing/invoices/{invoice}/pdf", methods=["GET"])
def invoice_pdf(invoice: str) -> Response:
    """The invoice as a PDF, to view, print or download."""
    try:
        document = desk().invoice_pdf(invoice)
    except Exception as exc:  # the same table as every route: refusals say what to fix
        if isinstance(exc, CairnError):
            logger.info("request refused", extra={"error": type(exc).__name__})
        else:
            logger.exception("request failed")
        status, answer = error_response(exc, ERROR_STATUS)
        metrics.add_metric(name=f"Responses{status // 100}xx", unit=MetricUnit.Count, value=1)
        return Response(
            body=json.dumps(answer), status_code=status, headers={"Content-Type": "application/json"}
        )
    metrics.add_metric(name="Responses2xx", unit=MetricUnit.Count, value=1)
    return Response(
        body=document,
        status_code=200,
        headers={
            "Content-Type": PDF,
            "Content-Disposition": f'inline; filename="invoice-{invoice[:40]}.pdf"',
            "Cache-Control": "no-store",
        },
    )


@app.route("/billing/invoices/{invoice}/checkout", methods=["POST"])
@respond
def pay_invoice(invoice: str) -> tuple[int, object]:
    """A Stripe Checkout session for what is due, on the clinic's connected account."""
    session = desk().checkout(invoice)
    return 201, {"session": session.session_id, "url": session.url}


@app.route("/billing/invoices/{invoice}/refund", methods=["POST"])
@respond
def refund_payment(invoice: str) -> tuple[int, object]:
    """{"payment": "pi_...", "amount": dollars?}: refunded through Stripe; posted when Stripe reports it."""
    return 202, desk().refund(invoice, body())
