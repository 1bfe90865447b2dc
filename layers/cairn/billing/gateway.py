"""The one adapter to Stripe: every Stripe API call Cairn makes goes through `StripeGateway`, on
the stripe library's own client (`stripe.StripeClient`), whose base address points at the local
fake (devkit/stripe_fake.py) in development and tests.

Creates carry idempotency keys derived from what they create, so a retried request (a Lambda
retried, a clinic that clicks twice) makes one object. Calls for a clinic's own money (patient
payments, refunds) are made on its connected account (the Stripe-Account header).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import stripe

from cairn.billing.plans import CURRENCY, INTERVAL, PLAN_METADATA_KEY, Plan
from cairn.billing.settings import StripeSettings
from cairn.errors import CairnError

TENANT_METADATA_KEY = "tenant_id"
INVOICE_METADATA_KEY = "invoice_id"
NETWORK_RETRIES = 2  # the library retries connection errors and 409/429/5xx with backoff


class StripeUnavailable(CairnError):
    """Stripe refused or could not answer; the message says what Stripe said, never card data."""


@dataclass(frozen=True)
class PlanSync:
    """What one plan's sync did in the Stripe account."""

    tier: str
    product: str  # created | updated | unchanged
    price: str  # created | replaced | unchanged
    price_id: str


@dataclass(frozen=True)
class CheckoutSession:
    session_id: str
    url: str


@dataclass(frozen=True)
class Refund:
    refund_id: str
    amount_cents: int
    status: str


def _plain(value: Any) -> dict[str, Any]:
    """A StripeObject as plain JSON-ready dicts."""
    result: dict[str, Any] = value.to_dict() if hasattr(value, "to_dict") else dict(value)
    return result


class StripeGateway:
    """Stripe's API as Cairn uses it (products, prices, Checkout, subscriptions, Connect, refunds)."""

    def __init__(self, settings: StripeSettings, http_client: Any = None) -> None:
        base = {"api": settings.api_base} if settings.api_base else None
        self._client = stripe.StripeClient(
            settings.api_key,
            base_addresses=base,  # type: ignore[arg-type]
            max_network_retries=NETWORK_RETRIES,
            http_client=http_client,
        )

    def _call(self, operation: Any, *args: Any, **kwargs: Any) -> dict[str, Any]:
        try:
            return _plain(operation(*args, **kwargs))
        except stripe.StripeError as exc:
            raise StripeUnavailable(
                f"Stripe answered {exc.http_status or 'no status'}: {exc.user_message or type(exc).__name__}"
            ) from exc

    def sync_plan(self, plan: Plan) -> PlanSync:
        """Make the account hold `plan`: its product (by our id) with the plan's name, and an
        active monthly per-seat price under the plan's lookup key at the plan's amount. Prices
        cannot change in Stripe: a new amount is a new price that takes over the lookup key."""
        v1 = self._client.v1
        metadata = {PLAN_METADATA_KEY: plan.tier.value}
        wanted = {"name": plan.name, "description": plan.description, "metadata": metadata}
        try:
            product = _plain(v1.products.retrieve(plan.product_id))
        except stripe.InvalidRequestError as exc:
            if exc.http_status != 404:
                raise StripeUnavailable(
                    f"Stripe refused product {plan.product_id}: {exc.user_message}"
                ) from exc
            self._call(
                v1.products.create,
                params={"id": plan.product_id, **wanted},
                options={"idempotency_key": f"product-{plan.product_id}"},
            )
            product_state = "created"
        else:
            current = {
                "name": product.get("name"),
                "description": product.get("description"),
                "metadata": {PLAN_METADATA_KEY: (product.get("metadata") or {}).get(PLAN_METADATA_KEY)},
            }
            if current != wanted or not product.get("active", True):
                self._call(v1.products.update, plan.product_id, params={**wanted, "active": True})
                product_state = "updated"
            else:
                product_state = "unchanged"
        prices = self._call(v1.prices.list, params={"lookup_keys": [plan.lookup_key], "active": True})["data"]
        matching = [price for price in prices if _price_matches(price, plan)]
        if matching:
            return PlanSync(plan.tier.value, product_state, "unchanged", str(matching[0]["id"]))
        created = self._call(
            v1.prices.create,
            params={
                "product": plan.product_id,
                "currency": CURRENCY,
                "unit_amount": plan.seat_price_cents,
                "recurring": {"interval": INTERVAL, "usage_type": "licensed"},
                "lookup_key": plan.lookup_key,
                "transfer_lookup_key": True,
                "nickname": f"{plan.name} per provider seat",
                "metadata": metadata,
            },
            options={"idempotency_key": f"price-{plan.lookup_key}-{plan.seat_price_cents}"},
        )
        return PlanSync(
            plan.tier.value, product_state, "replaced" if prices else "created", str(created["id"])
        )

    def seat_price_id(self, plan: Plan) -> str:
        """The active price under the plan's lookup key; StripeUnavailable if plans were never synced."""
        prices = self._call(
            self._client.v1.prices.list, params={"lookup_keys": [plan.lookup_key], "active": True}
        )
        if not prices["data"]:
            raise StripeUnavailable(f"Stripe has no price {plan.lookup_key}: run `cairn stripe sync-plans`")
        return str(prices["data"][0]["id"])

    def subscription_checkout(
        self,
        *,
        plan: Plan,
        seats: int,
        tenant_id: str,
        email: str,
        reference: str,
        success_url: str,
        cancel_url: str,
    ) -> CheckoutSession:
        """A Checkout session (subscription mode) for `seats` seats of `plan`, for the clinic that
        will be `tenant_id`; the subscription carries the tenant id in its metadata."""
        metadata = {TENANT_METADATA_KEY: tenant_id, PLAN_METADATA_KEY: plan.tier.value}
        session = self._call(
            self._client.v1.checkout.sessions.create,
            params={
                "mode": "subscription",
                "customer_email": email,
                "client_reference_id": reference,
                "line_items": [{"price": self.seat_price_id(plan), "quantity": seats}],
                "subscription_data": {"metadata": metadata},
                "metadata": metadata,
                "success_url": success_url,
                "cancel_url": cancel_url,
            },
            options={"idempotency_key": f"signup-{reference}"},
        )
        return CheckoutSession(str(session["id"]), str(session["url"]))

    def subscription(self, subscription_id: str) -> dict[str, Any]:
        """The subscription as Stripe holds it now."""
        return self._call(self._client.v1.subscriptions.retrieve, subscription_id)

    def cancel_subscription(self, subscription_id: str) -> dict[str, Any]:
        """Cancel at once (dunning gave up); cancelling a cancelled subscription answers it as is."""
        current = self.subscription(subscription_id)
        if current.get("status") == "canceled":
            return current
        return self._call(self._client.v1.subscriptions.cancel, subscription_id)

    def connected_account(self, *, tenant_id: str, email: str | None) -> str:
        """A new Express connected account for the clinic's patient payments; answers its id."""
        account = self._call(
            self._client.v1.accounts.create,
            params={
                "type": "express",
                **({"email": email} if email else {}),
                "metadata": {TENANT_METADATA_KEY: tenant_id},
                "capabilities": {"card_payments": {"requested": True}, "transfers": {"requested": True}},
            },
            options={"idempotency_key": f"account-{tenant_id}"},
        )
        return str(account["id"])

    def account_onboarding_link(self, account: str, *, refresh_url: str, return_url: str) -> str:
        """Where the clinic's admin finishes the account's onboarding with Stripe."""
        link = self._call(
            self._client.v1.account_links.create,
            params={
                "account": account,
                "type": "account_onboarding",
                "refresh_url": refresh_url,
                "return_url": return_url,
            },
        )
        return str(link["url"])

    def invoice_checkout(
        self,
        *,
        account: str,
        tenant_id: str,
        invoice_id: str,
        amount_cents: int,
        description: str,
        attempt: int,
        success_url: str,
        cancel_url: str,
    ) -> CheckoutSession:
        """A Checkout session (payment mode) on the clinic's connected account for what a patient
        owes on one invoice. `description` names the clinic and invoice, never a diagnosis."""
        metadata = {TENANT_METADATA_KEY: tenant_id, INVOICE_METADATA_KEY: invoice_id}
        session = self._call(
            self._client.v1.checkout.sessions.create,
            params={
                "mode": "payment",
                "client_reference_id": invoice_id,
                "line_items": [
                    {
                        "quantity": 1,
                        "price_data": {
                            "currency": CURRENCY,
                            "unit_amount": amount_cents,
                            "product_data": {"name": description},
                        },
                    }
                ],
                "payment_intent_data": {"metadata": metadata},
                "metadata": metadata,
                "success_url": success_url,
                "cancel_url": cancel_url,
            },
            options={
                "stripe_account": account,
                "idempotency_key": f"invoice-{tenant_id}-{invoice_id}-{amount_cents}-{attempt}",
            },
        )
        return CheckoutSession(str(session["id"]), str(session["url"]))

    def refund(self, *, account: str, payment_intent: str, amount_cents: int, reference: str) -> Refund:
        """Refund `amount_cents` of a payment on the clinic's connected account."""
        refund = self._call(
            self._client.v1.refunds.create,
            params={"payment_intent": payment_intent, "amount": amount_cents},
            options={"stripe_account": account, "idempotency_key": f"refund-{reference}"},
        )
        return Refund(str(refund["id"]), int(refund["amount"]), str(refund["status"]))


def _price_matches(price: Mapping[str, Any], plan: Plan) -> bool:
    recurring = price.get("recurring") or {}
    return (
        price.get("unit_amount") == plan.seat_price_cents
        and price.get("currency") == CURRENCY
        and recurring.get("interval") == INTERVAL
        and price.get("product") == plan.product_id
    )
