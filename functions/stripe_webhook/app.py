"""The Stripe webhook endpoint (Chalice): POST /webhooks/stripe, public (no authorizer): Stripe
authenticates each delivery by signing it, and nothing is stored or done before that signature
verifies over the exact raw body (cairn.billing.receiver).

Answers: 200 {"received", "type", "result"} for an accepted event (processed, a duplicate, or a
type Cairn does not act on); 400 for a missing or bad signature, a stale timestamp or a body
that is not an event (nothing stored); 409 while another delivery of the same event is being
handled; 503 while the event's clinic is still being onboarded; 500 when handling failed (the
event is kept, marked failed). Stripe retries every non-2xx. Logs carry event ids and types.
"""

from __future__ import annotations

import os
from functools import cache

from cairn.billing.receiver import EventInProgress
from cairn.billing.services import BillingRuntime
from cairn.billing.subscriptions import TenantNotReady
from cairn.billing.webhooks import InvalidWebhook
from cairn.json_api import responder
from cairn.observability import instrumented_api

app, logger, _tracer, metrics = instrumented_api("stripe-webhook")

STRIPE_BODY_TYPES = ["application/json", "application/json; charset=utf-8"]
ERROR_STATUS: tuple[tuple[type[Exception], int, str], ...] = (
    (InvalidWebhook, 400, "invalid-webhook"),
    (EventInProgress, 409, "in-progress"),
    (TenantNotReady, 503, "not-ready"),
)


@cache
def runtime() -> BillingRuntime:
    """Built once per process, on the first delivery (the CDK app imports this module for its routes)."""
    return BillingRuntime(os.environ)


respond = responder(ERROR_STATUS, logger, metrics)


@app.route("/webhooks/stripe", methods=["POST"], content_types=STRIPE_BODY_TYPES)
@respond
def stripe_webhook() -> tuple[int, object]:
    """One Stripe delivery: verified, recorded, acted on."""
    request = app.current_request
    receipt = runtime().receiver.receive(request.raw_body, request.headers.get("stripe-signature"))
    logger.info(
        "stripe event", extra={"event_id": receipt.event_id, "type": receipt.type, "result": receipt.result}
    )
    return 200, receipt.as_dict()
