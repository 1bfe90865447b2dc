"""Stripe webhook events in: the Stripe-Signature header verified over the exact raw body with the
stripe library's own scheme, then the event read into a typed `StripeEvent`.

Verification is `stripe.WebhookSignature.verify_header`, the check `stripe.Webhook.construct_event`
makes before it builds its objects: HMAC-SHA256 of "<t>.<raw body>" under the endpoint's signing
secret, compared in constant time, and a timestamp no older than TOLERANCE_SECONDS (replays of an
old delivery fail). The body must be the bytes Stripe sent: API Gateway's base64 is undone by
Chalice's raw_body, and nothing re-serializes JSON before the check.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import stripe

from cairn.errors import CairnError

TOLERANCE_SECONDS = 300
MAX_BODY_BYTES = 512 * 1024  # Stripe's events are a few KB; a larger body is not Stripe's


class InvalidWebhook(CairnError):
    """A delivery that is not a verified Stripe event: missing or bad signature, stale timestamp,
    or a body that is not an event. Answered 400; nothing is stored."""


@dataclass(frozen=True)
class StripeEvent:
    """A verified event: its id (idempotency), type, creation time (ordering), the connected
    account it happened on (Connect events), and the object it is about."""

    event_id: str
    type: str
    created: int
    account: str | None
    livemode: bool
    object: Mapping[str, Any]
    previous_attributes: Mapping[str, Any]

    @property
    def object_id(self) -> str:
        return str(self.object.get("id") or "")

    @property
    def object_type(self) -> str:
        return str(self.object.get("object") or "")


def verify_event(
    raw: bytes | None, signature: str | None, secret: str, tolerance: int = TOLERANCE_SECONDS
) -> StripeEvent:
    """The event in `raw`, if `signature` is Stripe's over exactly these bytes under `secret` and
    no older than `tolerance` seconds; InvalidWebhook saying what was wrong otherwise."""
    if not raw:
        raise InvalidWebhook("the request has no body: Stripe posts the event as JSON")
    if len(raw) > MAX_BODY_BYTES:
        raise InvalidWebhook(f"the body is over {MAX_BODY_BYTES} bytes: not a Stripe event")
    if not signature:
        raise InvalidWebhook("no Stripe-Signature header: only Stripe's signed deliveries are accepted")
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise InvalidWebhook("the body is not UTF-8 JSON") from exc
    try:
        stripe.WebhookSignature.verify_header(text, signature, secret, tolerance)
    except stripe.SignatureVerificationError as exc:
        # The library's message names what failed (no signature, mismatch, tolerance), not the secret.
        raise InvalidWebhook(f"the Stripe-Signature does not verify: {exc.user_message or exc}") from exc
    try:
        return parse_event(json.loads(text))
    except ValueError as exc:
        raise InvalidWebhook(f"the body is not a Stripe event: {exc}") from exc


def parse_event(raw: Any) -> StripeEvent:
    """A StripeEvent from Stripe's event JSON; ValueError naming what is missing."""
    if not isinstance(raw, dict) or raw.get("object") != "event":
        raise ValueError('expected an object with "object": "event"')
    event_id, kind, created = raw.get("id"), raw.get("type"), raw.get("created")
    data = raw.get("data")
    if not isinstance(event_id, str) or not event_id.startswith("evt_"):
        raise ValueError("id must be an event id (evt_...)")
    if not isinstance(kind, str) or not kind:
        raise ValueError("type must be the event type")
    if isinstance(created, bool) or not isinstance(created, int):
        raise ValueError("created must be a Unix time")
    if not isinstance(data, dict) or not isinstance(data.get("object"), dict):
        raise ValueError("data.object must be the object the event is about")
    account = raw.get("account")
    return StripeEvent(
        event_id=event_id,
        type=kind,
        created=created,
        account=account if isinstance(account, str) and account else None,
        livemode=bool(raw.get("livemode")),
        object=data["object"],
        previous_attributes=data.get("previous_attributes") or {},
    )
