"""The plans declared once, and the Stripe adapter against the local fake Stripe: sync-plans is
idempotent and moves a changed price under the same lookup key; Checkout, Connect and refunds."""

from __future__ import annotations

from dataclasses import replace

import pytest

from cairn.billing.gateway import StripeGateway, StripeUnavailable
from cairn.billing.plans import PLANS, InvalidPlanChoice, check_seats, plan_for_lookup_key
from cairn.billing.settings import StripeSettings
from devkit.stripe_fake import FakeStripeServer
from multitenant.tiers import Tier, limits


def test_every_tier_is_a_plan_selling_at_most_its_staff_seats():
    assert set(PLANS) == set(Tier)
    for tier, plan in PLANS.items():
        assert plan.max_seats == limits(tier).staff_seats
        assert plan_for_lookup_key(plan.lookup_key) is plan
    assert plan_for_lookup_key("someone-elses-price") is None


@pytest.mark.parametrize("seats", [0, 6, "3", 2.5, True, None])
def test_seats_outside_the_tier_are_refused_with_the_range(seats):
    with pytest.raises(InvalidPlanChoice, match="from 1 to 5 for the starter tier"):
        check_seats(Tier.STARTER, seats)


def test_sync_plans_creates_once_then_changes_nothing_and_a_new_amount_takes_over_the_lookup_key():
    server = FakeStripeServer().start()
    try:
        gateway = StripeGateway(StripeSettings("sk_test_sync", "whsec_x", server.url))
        first = [gateway.sync_plan(plan) for plan in PLANS.values()]
        again = [gateway.sync_plan(plan) for plan in PLANS.values()]
        dearer = gateway.sync_plan(replace(PLANS[Tier.STARTER], seat_price_cents=5_900))

        assert {(s.product, s.price) for s in first} == {("created", "created")}
        assert {(s.product, s.price) for s in again} == {("unchanged", "unchanged")}
        assert [s.price_id for s in again] == [s.price_id for s in first]
        assert (dearer.product, dearer.price) == ("unchanged", "replaced")
        assert gateway.seat_price_id(PLANS[Tier.STARTER]) == dearer.price_id
        assert len(server.stripe.objects["product"]) == 3
    finally:
        server.stop()


def test_a_subscription_checkout_carries_the_tenant_and_is_one_session_per_reference(gateway, stripe_server):
    plan = PLANS[Tier.PRACTICE]
    first = gateway.subscription_checkout(
        plan=plan,
        seats=3,
        tenant_id="cedar",
        email="a@cedar.example",
        reference="ref-1",
        success_url="http://x/s",
        cancel_url="http://x/c",
    )
    again = gateway.subscription_checkout(
        plan=plan,
        seats=3,
        tenant_id="cedar",
        email="a@cedar.example",
        reference="ref-1",
        success_url="http://x/s",
        cancel_url="http://x/c",
    )
    session = stripe_server.stripe.objects["checkout.session"][first.session_id]

    assert again == first
    assert session["mode"] == "subscription"
    assert session["_subscription_data"]["metadata"] == {"tenant_id": "cedar", "cairn_tier": "practice"}
    assert session["amount_total"] == 3 * plan.seat_price_cents


def test_a_refund_beyond_the_payment_is_refused_with_stripes_own_words(gateway, stripe_server):
    account = gateway.connected_account(tenant_id="acme", email=None)
    session = gateway.invoice_checkout(
        account=account,
        tenant_id="acme",
        invoice_id="inv-1",
        amount_cents=5_000,
        description="Acme invoice",
        attempt=1,
        success_url="http://x",
        cancel_url="http://y",
    )
    stripe_server.stripe.complete_session(session.session_id)
    intent = stripe_server.stripe.objects["checkout.session"][session.session_id]["payment_intent"]

    refund = gateway.refund(account=account, payment_intent=intent, amount_cents=1_000, reference="r1")
    with pytest.raises(StripeUnavailable, match="greater than unrefunded amount"):
        gateway.refund(account=account, payment_intent=intent, amount_cents=4_500, reference="r2")
    assert (refund.amount_cents, refund.status) == (1_000, "succeeded")


def test_a_wrong_api_key_is_an_error_that_says_so():
    server = FakeStripeServer().start()
    try:
        gateway = StripeGateway(StripeSettings("pk_live_nope", "whsec_x", server.url))
        with pytest.raises(StripeUnavailable, match="401"):
            gateway.seat_price_id(PLANS[Tier.STARTER])
    finally:
        server.stop()
