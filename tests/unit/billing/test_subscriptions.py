"""Subscription and invoice events applied to tenants: plan and seats, ordering, the terminal
cancelled state, paid invoices that stay paid, dunning started and stopped, and billing leaving
an operator's suspension alone."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import pytest

from cairn.billing.plans import PLANS
from cairn.billing.subscriptions import TenantNotReady, UnsupportedPlan
from cairn.billing.webhooks import StripeEvent
from multitenant.lifecycle import TenantStatus
from multitenant.registry import Tenant
from multitenant.tiers import Tier

CREATED = 1_796_000_000


def subscription(status: str = "active", quantity: int = 3, tier: Tier = Tier.PRACTICE, **extra: Any) -> dict:
    price = {"id": "price_x", "lookup_key": PLANS[tier].lookup_key}
    return {
        "id": "sub_1",
        "object": "subscription",
        "customer": "cus_1",
        "status": status,
        "metadata": {"tenant_id": "acme"},
        "items": {"data": [{"quantity": quantity, "price": price}]},
        **extra,
    }


def stripe_event(kind: str, obj: dict, created: int = CREATED, event_id: str = "evt_x") -> StripeEvent:
    return StripeEvent(event_id, kind, created, None, False, obj, {})


def invoice(invoice_id: str = "in_1") -> dict:
    return {
        "id": invoice_id,
        "object": "invoice",
        "customer": "cus_1",
        "subscription": "sub_1",
        "subscription_details": {"metadata": {"tenant_id": "acme"}},
    }


def test_a_subscription_sets_the_plan_and_seats_links_the_customer_and_audits(
    subscriptions, registry, accounts, audit_events
):
    outcome = subscriptions.subscription_changed(
        stripe_event("customer.subscription.created", subscription(quantity=7, tier=Tier.ENTERPRISE))
    )

    tenant = registry.get("acme")
    assert (tenant.tier, tenant.seats) == (Tier.ENTERPRISE, 7)
    assert accounts.tenant_for("customer", "cus_1") == "acme"
    assert "plan enterprise/7" in outcome
    assert [e.detail for _, e in audit_events] == ["practice/-->enterprise/7"]


def test_an_older_event_never_regresses_a_newer_one_and_cancelled_is_final(
    subscriptions, registry, workflows
):
    subscriptions.subscription_changed(
        stripe_event("customer.subscription.updated", subscription(quantity=9), created=CREATED + 20)
    )
    late = subscriptions.subscription_changed(
        stripe_event("customer.subscription.updated", subscription(quantity=4), created=CREATED + 10)
    )
    subscriptions.subscription_changed(
        stripe_event("customer.subscription.deleted", subscription("canceled"), created=CREATED + 30)
    )
    revived = subscriptions.subscription_changed(
        stripe_event("customer.subscription.updated", subscription("active"), created=CREATED + 40)
    )

    assert late.startswith("stale")
    assert revived.startswith("stale")
    assert registry.get("acme").seats == 9
    assert list(workflows.started) == ["offboard-acme-sub_1"]  # its first step cancels the tenant


def test_a_subscription_that_ends_starts_offboarding_once(subscriptions, workflows):
    deleted = stripe_event("customer.subscription.deleted", subscription("canceled"))
    subscriptions.subscription_changed(deleted)
    again = subscriptions.subscription_changed(replace(deleted, created=CREATED + 1))

    assert list(workflows.started) == ["offboard-acme-sub_1"]
    assert workflows.started["offboard-acme-sub_1"].schedule["shred"] == "2027-03-01T09:00:00Z"
    assert again.endswith("offboarding already started")


def test_a_failed_payment_starts_dunning_and_paying_stops_it_and_restores_the_clinic(
    subscriptions, workflows, registry, accounts
):
    subscriptions.subscription_changed(stripe_event("customer.subscription.created", subscription()))
    subscriptions.invoice_payment_failed(stripe_event("invoice.payment_failed", invoice(), CREATED + 5))
    redelivered = subscriptions.invoice_payment_failed(
        stripe_event("invoice.payment_failed", invoice(), CREATED + 5)
    )
    run = workflows.started["dunning-acme-in_1"]
    registry.replace(
        replace(
            registry.get("acme"),
            status=TenantStatus.SUSPENDED,
            status_reason="billing: unpaid",
            version=registry.get("acme").version + 1,
        ),
        registry.get("acme").version,
    )

    subscriptions.invoice_paid(stripe_event("invoice.paid", invoice(), CREATED + 9))

    assert "already started" in redelivered
    assert run.schedule == {
        "reminder": "2026-12-08T09:00:00Z",
        "suspend": "2026-12-15T09:00:00Z",
        "cancel": "2027-01-14T09:00:00Z",
        "shred": "2027-04-14T09:00:00Z",
    }
    assert workflows.stopped == ["dunning-acme-in_1"]
    assert registry.get("acme").status is TenantStatus.ACTIVE
    assert accounts.subscription("acme").dunning is None


def test_a_payment_failure_delivered_after_the_payment_starts_nothing(subscriptions, workflows):
    subscriptions.subscription_changed(stripe_event("customer.subscription.created", subscription()))
    subscriptions.invoice_paid(stripe_event("invoice.paid", invoice(), CREATED + 9))
    late = subscriptions.invoice_payment_failed(
        stripe_event("invoice.payment_failed", invoice(), CREATED + 5)
    )
    assert late.startswith("stale")
    assert workflows.started == {}


def test_billing_never_lifts_a_suspension_an_operator_made(subscriptions, registry):
    tenant = registry.get("acme")
    registry.replace(
        replace(
            tenant, status=TenantStatus.SUSPENDED, status_reason="abuse report 17", version=tenant.version + 1
        ),
        tenant.version,
    )
    subscriptions.subscription_changed(stripe_event("customer.subscription.created", subscription()))
    subscriptions.invoice_paid(stripe_event("invoice.paid", invoice()))
    assert registry.get("acme").status is TenantStatus.SUSPENDED


def test_a_clinic_still_being_onboarded_is_not_touched_and_stripe_is_asked_to_retry(subscriptions, registry):
    registry.add(
        Tenant(
            "dawn",
            "Dawn",
            Tier.STARTER,
            TenantStatus.PENDING,
            "2026-12-01T00:00:00.000Z",
            "2026-12-01T00:00:00.000Z",
        )
    )
    with pytest.raises(TenantNotReady, match="not onboarded yet"):
        subscriptions.subscription_changed(
            stripe_event("customer.subscription.created", subscription(metadata={"tenant_id": "dawn"}))
        )
    with pytest.raises(TenantNotReady):
        subscriptions.subscription_changed(
            stripe_event("customer.subscription.created", subscription(metadata={"tenant_id": "nobody"}))
        )
    assert registry.get("dawn").tier is Tier.STARTER


def test_a_price_that_is_not_a_plan_is_refused_with_what_to_do(subscriptions):
    foreign = subscription()
    foreign["items"]["data"][0]["price"] = {"id": "price_handmade", "lookup_key": None}
    with pytest.raises(UnsupportedPlan, match="sync-plans"):
        subscriptions.subscription_changed(stripe_event("customer.subscription.created", foreign))
