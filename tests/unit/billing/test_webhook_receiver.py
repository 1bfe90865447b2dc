"""The webhook's verify -> record -> act, over the in-memory ledger and the fake keyring, with
events in Stripe's format signed by the stripe library's own scheme."""

from __future__ import annotations

import json
import time
from typing import Any

import pytest
import stripe

from cairn.billing.ledger import EventStatus
from cairn.billing.receiver import EventInProgress, StripeWebhookReceiver
from cairn.billing.sealing import Sealed
from cairn.billing.webhooks import InvalidWebhook, verify_event
from multitenant.context import PLATFORM_TENANT
from tests.unit.billing.conftest import SECRET


def event(kind: str = "invoice.paid", obj: dict[str, Any] | None = None, event_id: str = "evt_1") -> bytes:
    return json.dumps(
        {
            "id": event_id,
            "object": "event",
            "type": kind,
            "created": 1_796_000_000,
            "livemode": False,
            "api_version": "2025-01-27.acacia",
            "pending_webhooks": 1,
            "data": {"object": obj or {"id": "in_1", "object": "invoice"}},
        }
    ).encode()


def sign(raw: bytes, secret: str = SECRET, at: int | None = None) -> str:
    return stripe.WebhookSignature.generate_signature_header(raw.decode(), secret, timestamp=at)


@pytest.fixture
def acted() -> list[str]:
    return []


@pytest.fixture
def receiver(ledger, sealer, clock, acted) -> StripeWebhookReceiver:
    def handle(event: Any) -> str:
        if event.object.get("explode"):
            raise RuntimeError("the registry is unreachable")
        acted.append(event.event_id)
        return f"handled {event.object_id}"

    placement = lambda e: "acme" if e.object.get("customer") == "cus_acme" else None  # noqa: E731
    return StripeWebhookReceiver(SECRET, ledger, sealer, placement, {"invoice.paid": handle}, clock)


@pytest.mark.parametrize(
    ("why", "body", "header"),
    [
        ("no signature", event(), None),
        ("wrong secret", event(), sign(event(), "whsec_other")),
        ("tampered body", event().replace(b"in_1", b"in_2"), sign(event())),
        ("stale timestamp", event(), sign(event(), at=int(time.time()) - 301)),
        ("no v1 signature", event(), "t=1796000000,v0=abc"),
        ("not an event", b'{"object": "invoice"}', sign(b'{"object": "invoice"}')),
        ("empty body", b"", sign(b"")),
    ],
)
def test_a_bad_delivery_is_refused_and_nothing_is_stored(receiver, ledger, acted, why, body, header):
    with pytest.raises(InvalidWebhook):
        receiver.receive(body, header)
    assert ledger.records == {}, why
    assert acted == []


def test_a_timestamp_within_the_tolerance_verifies():
    raw = event()
    assert verify_event(raw, sign(raw, at=int(time.time()) - 299), SECRET).event_id == "evt_1"


def test_an_event_is_sealed_under_its_tenant_then_acted_on_once_however_often_it_is_delivered(
    receiver, ledger, sealer, acted
):
    raw = event(obj={"id": "in_9", "object": "invoice", "customer": "cus_acme"})

    first = receiver.receive(raw, sign(raw))
    replay = receiver.receive(raw, sign(raw))

    assert (first.result, replay.result) == ("processed", "duplicate")
    assert acted == ["evt_1"]
    record = ledger.get("evt_1")
    assert record is not None
    assert (record.status, record.key_owner, record.outcome) == (
        EventStatus.PROCESSED,
        "acme",
        "handled in_9",
    )
    assert "in_9" not in record.sealed
    assert json.loads(sealer.open(Sealed("acme", record.sealed), "evt_1", "payload"))["id"] == "evt_1"


def test_an_event_no_tenant_is_known_for_is_sealed_under_the_platform_key(receiver, ledger):
    raw = event()
    receiver.receive(raw, sign(raw))
    assert ledger.get("evt_1").key_owner == PLATFORM_TENANT  # type: ignore[union-attr]


def test_an_unknown_type_is_acknowledged_and_kept_without_acting(receiver, ledger, acted):
    raw = event("customer.tax_id.created", {"id": "txi_1", "object": "tax_id"})
    assert receiver.receive(raw, sign(raw)).result == "unhandled"
    record = ledger.get("evt_1")
    assert record is not None
    assert record.status is EventStatus.PROCESSED
    assert "not acted on" in record.outcome
    assert acted == []


def test_a_failure_is_recorded_raised_for_a_retry_and_the_retry_acts(receiver, ledger, acted):
    failing = event(obj={"id": "in_1", "object": "invoice", "explode": True})
    with pytest.raises(RuntimeError):
        receiver.receive(failing, sign(failing))
    failed = ledger.get("evt_1")
    assert failed is not None
    assert (failed.status, failed.error) == (EventStatus.FAILED, "RuntimeError")

    # Stripe delivers the same event again (here with the object as it now is).
    fixed = event()
    assert receiver.receive(fixed, sign(fixed)).result == "processed"
    assert ledger.get("evt_1").attempts == 2  # type: ignore[union-attr]
    assert acted == ["evt_1"]


def test_a_delivery_while_another_is_handling_the_same_event_is_told_to_come_back(
    receiver, ledger, clock, acted
):
    raw = event()
    receiver.receive(raw, sign(raw))
    ledger.records["evt_1"] = (
        ledger.records["evt_1"][0].__class__(
            **{**ledger.records["evt_1"][0].__dict__, "status": EventStatus.RECEIVED}
        ),
        int(clock().timestamp()) + 30,
    )

    with pytest.raises(EventInProgress):
        receiver.receive(raw, sign(raw))
    clock.advance(61)  # the other handler died: its claim lapses and the next delivery takes it
    assert receiver.receive(raw, sign(raw)).result == "processed"
