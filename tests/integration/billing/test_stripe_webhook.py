"""The Stripe webhook end to end in the embedded runtime: the fake Stripe's signed deliveries over
HTTP through the local API front to the deployed webhook function, signup into onboarding,
subscription and invoice events into the tenant registry, bad deliveries refused with nothing
stored, replays and out-of-order pairs, unknown types recorded, and events sealed at rest."""

from __future__ import annotations

import json
import time
from typing import Any

import pytest
import requests
import stripe

from cairn.billing.ledger import EventStatus
from cairn.billing.sealing import Sealed
from cairn.billing.services import BillingRuntime
from devkit.api_front import ApiFront
from devkit.deployment import Deployment
from devkit.stripe_fake import FakeStripe
from multitenant.context import PLATFORM_TENANT
from multitenant.lifecycle import TenantStatus
from multitenant.tiers import Tier
from tests.polling import eventually


def signed_up(
    runtime: BillingRuntime, fake_stripe: FakeStripe, tenant_id: str, seats: int = 3
) -> dict[str, Any]:
    """A clinic signed up and paid through Checkout, onboarded, its subscription applied: the
    subscription's events that met a pending tenant (503) are delivered again, as Stripe would."""
    session = runtime.signups().start(
        {
            "tenant_id": tenant_id,
            "name": f"{tenant_id.title()} Clinic",
            "tier": "practice",
            "seats": seats,
            "admin_email": f"admin@{tenant_id}.example",
        }
    )
    deliveries = fake_stripe.complete_session(session.session_id)
    assert deliveries[0].statuses[-1] == 200, deliveries[0]
    eventually(
        lambda: (t := runtime.registry.get(tenant_id)) and t.status is TenantStatus.ACTIVE,
        f"{tenant_id} onboarded",
    )
    for delivery in deliveries[1:]:
        if delivery.statuses[-1] != 200:
            assert fake_stripe.redeliver(delivery.event_id).statuses[-1] == 200
    subscription = fake_stripe.objects["checkout.session"][session.session_id]["subscription"]
    return fake_stripe.objects["subscription"][subscription]


def post(front: ApiFront, body: bytes, signature: str | None) -> requests.Response:
    headers = {"Content-Type": "application/json; charset=utf-8"}
    if signature is not None:
        headers["Stripe-Signature"] = signature
    return requests.post(f"{front.url}/webhooks/stripe", data=body, headers=headers, timeout=30)


def event_body(fake_stripe: FakeStripe, kind: str, obj: dict[str, Any]) -> bytes:
    return json.dumps(fake_stripe.event(kind, obj, None, None)).encode()


def test_a_paid_signup_onboards_the_clinic_with_its_tier_and_seats_and_every_event_is_kept(
    runtime: BillingRuntime, fake_stripe: FakeStripe
) -> None:
    subscription = signed_up(runtime, fake_stripe, "aspen", seats=3)

    tenant = runtime.registry.get("aspen")
    assert tenant is not None
    assert (tenant.tier, tenant.seats) == (Tier.PRACTICE, 3)
    stored = runtime.accounts.subscription("aspen")
    assert stored is not None
    assert (stored.subscription_id, stored.status) == (subscription["id"], "active")
    kept = [runtime.ledger.get(d.event_id) for d in fake_stripe.deliveries if d.type != "charge.refunded"]
    assert all(record is not None and record.status is EventStatus.PROCESSED for record in kept)


def test_bad_deliveries_are_refused_with_400_and_nothing_is_stored(
    runtime: BillingRuntime, fake_stripe: FakeStripe, front: ApiFront
) -> None:
    body = event_body(fake_stripe, "invoice.paid", {"id": "in_refused", "object": "invoice"})
    secret = fake_stripe.webhook_secret
    text = body.decode()
    attempts = {
        "no signature": (body, None),
        "wrong secret": (body, stripe.WebhookSignature.generate_signature_header(text, "whsec_someone_else")),
        "tampered body": (
            body.replace(b"in_refused", b"in_tampered"),
            stripe.WebhookSignature.generate_signature_header(text, secret),
        ),
        "stale timestamp": (
            body,
            stripe.WebhookSignature.generate_signature_header(text, secret, timestamp=int(time.time()) - 301),
        ),
        "garbled header": (body, "t=,v1="),
    }
    for kind, (sent, signature) in attempts.items():
        response = post(front, sent, signature)
        assert response.status_code == 400, kind
        assert response.json()["error"] == "invalid-webhook", kind
    event_id = json.loads(body)["id"]
    assert runtime.ledger.get(event_id) is None


def test_a_replayed_event_is_acknowledged_and_changes_nothing(
    runtime: BillingRuntime, fake_stripe: FakeStripe, clients: Any, deployment: Deployment
) -> None:
    subscription = signed_up(runtime, fake_stripe, "birch", seats=2)
    (delivery,) = fake_stripe.change_subscription(subscription["id"], quantity=4)
    assert delivery.statuses == [200]
    version = runtime.registry.get("birch").version  # type: ignore[union-attr]

    replay = fake_stripe.redeliver(delivery.event_id)

    assert replay.statuses == [200]
    assert runtime.registry.get("birch").version == version  # type: ignore[union-attr]
    assert runtime.ledger.get(delivery.event_id).attempts == 1  # type: ignore[union-attr]


def test_an_older_subscription_update_delivered_late_never_regresses_the_newer_one(
    runtime: BillingRuntime, fake_stripe: FakeStripe, front: ApiFront
) -> None:
    subscription = signed_up(runtime, fake_stripe, "cedar", seats=2)
    stored = runtime.accounts.subscription("cedar")
    assert stored is not None
    older = json.loads(json.dumps(subscription))
    older["items"]["data"][0]["quantity"] = 5
    newer = json.loads(json.dumps(subscription))
    newer["items"]["data"][0]["quantity"] = 9
    secret = fake_stripe.webhook_secret

    def sign(obj: dict[str, Any], created: int) -> tuple[bytes, str]:
        event = fake_stripe.event("customer.subscription.updated", obj, None, None)
        event["created"] = created
        text = json.dumps(event)
        return text.encode(), stripe.WebhookSignature.generate_signature_header(text, secret)

    late = sign(older, stored.event_created + 10)
    early = sign(newer, stored.event_created + 20)
    assert post(front, *early).status_code == 200
    answered = post(front, *late)

    assert answered.status_code == 200
    assert runtime.registry.get("cedar").seats == 9  # type: ignore[union-attr]
    assert "stale" in runtime.ledger.get(json.loads(late[0])["id"]).outcome  # type: ignore[union-attr]


def test_a_payment_failure_delivered_after_its_invoice_was_paid_starts_no_dunning(
    runtime: BillingRuntime, fake_stripe: FakeStripe, front: ApiFront
) -> None:
    subscription = signed_up(runtime, fake_stripe, "dogwood")
    invoice = {
        "id": "in_dogwood_late",
        "object": "invoice",
        "customer": subscription["customer"],
        "subscription": subscription["id"],
        "status": "paid",
    }
    secret = fake_stripe.webhook_secret
    paid = fake_stripe.event("invoice.paid", invoice, None, None)
    failed = fake_stripe.event("invoice.payment_failed", {**invoice, "status": "open"}, None, None)
    failed["created"] = paid["created"] - 60  # the failure happened first; Stripe delivered it last
    for event in (paid, failed):
        text = json.dumps(event)
        assert (
            post(
                front, text.encode(), stripe.WebhookSignature.generate_signature_header(text, secret)
            ).status_code
            == 200
        )

    assert runtime.registry.get("dogwood").status is TenantStatus.ACTIVE  # type: ignore[union-attr]
    assert runtime.accounts.subscription("dogwood").dunning is None  # type: ignore[union-attr]
    assert "stale" in runtime.ledger.get(failed["id"]).outcome  # type: ignore[union-attr]


def test_an_unknown_event_type_is_acknowledged_and_recorded(
    runtime: BillingRuntime, fake_stripe: FakeStripe, front: ApiFront
) -> None:
    text = json.dumps(
        fake_stripe.event("customer.tax_id.created", {"id": "txi_1", "object": "tax_id"}, None, None)
    )

    response = post(
        front,
        text.encode(),
        stripe.WebhookSignature.generate_signature_header(text, fake_stripe.webhook_secret),
    )

    assert response.status_code == 200
    assert response.json()["result"] == "unhandled"
    record = runtime.ledger.get(json.loads(text)["id"])
    assert record is not None
    assert record.status is EventStatus.PROCESSED
    assert "not acted on" in record.outcome


def test_events_are_sealed_at_rest_under_the_tenant_or_the_platform_key(
    runtime: BillingRuntime, fake_stripe: FakeStripe, clients: Any, deployment: Deployment
) -> None:
    signed_up(runtime, fake_stripe, "elm")
    items = clients.dynamodb().scan(TableName=deployment.tables["billing"])["Items"]
    raw = json.dumps(items)
    assert "admin@elm.example" not in raw
    assert "Elm Clinic" not in raw
    completed = next(
        d
        for d in fake_stripe.deliveries
        if d.type == "checkout.session.completed"
        and runtime.ledger.get(d.event_id)
        and runtime.ledger.get(d.event_id).tenant_id is None
    )
    record = runtime.ledger.get(completed.event_id)
    assert record is not None
    assert record.key_owner == PLATFORM_TENANT
    opened = json.loads(
        runtime.sealer.open(Sealed(record.key_owner, record.sealed), record.event_id, "payload")
    )
    assert opened["id"] == completed.event_id
    with_tenant = [runtime.ledger.get(d.event_id) for d in fake_stripe.deliveries if d.type == "invoice.paid"]
    assert any(r is not None and r.key_owner == "elm" for r in with_tenant)


@pytest.mark.parametrize("tenant_id", ["fir"])
def test_a_failed_payment_runs_dunning_and_a_payment_in_grace_stops_it(
    runtime: BillingRuntime,
    fake_stripe: FakeStripe,
    clients: Any,
    deployment: Deployment,
    clock: Any,
    tenant_id: str,
) -> None:
    subscription = signed_up(runtime, fake_stripe, tenant_id)
    failed, _ = fake_stripe.fail_renewal(subscription["id"])
    assert failed.statuses == [200]
    eventually(
        lambda: runtime.registry.get(tenant_id).status is TenantStatus.PAST_DUE,  # type: ignore[union-attr]
        "past due",
    )
    invoice = fake_stripe.events[failed.event_id]["data"]["object"]["id"]

    paid, _ = fake_stripe.pay_invoice(invoice)

    assert paid.statuses == [200]
    assert runtime.registry.get(tenant_id).status is TenantStatus.ACTIVE  # type: ignore[union-attr]
    arn = (
        f"{deployment.state_machines['dunning'].replace(':stateMachine:', ':execution:')}:"
        f"dunning-{tenant_id}-{invoice}"
    )
    eventually(
        lambda: clients.stepfunctions().describe_execution(executionArn=arn)["status"] != "RUNNING",
        "the dunning run stopped",
    )
    assert clients.stepfunctions().describe_execution(executionArn=arn)["status"] == "ABORTED"
    kinds = [notice.kind for notice in runtime.accounts.notices(tenant_id)]
    assert kinds == ["payment-failed"]
