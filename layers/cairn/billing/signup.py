"""Signup: a clinic chooses a tier and seats and pays through Stripe Checkout (subscription
mode); once Stripe says the session completed, the tenant-onboarding workflow makes the clinic.

Nothing is created before payment: starting a signup only opens a Checkout session and keeps
the clinic's details (name and admin email sealed under the platform key) beside its session
id. checkout.session.completed looks the signup up by that id (never by what the event claims)
and starts onboarding with the session id as the request id, so a redelivery starts one
execution. The tenant id is checked when the signup starts and again by onboarding.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Mapping
from typing import Any

from cairn.billing.accounts import BaseBillingAccounts, Signup
from cairn.billing.gateway import CheckoutSession, StripeGateway
from cairn.billing.plans import InvalidPlanChoice, check_seats, plan_for
from cairn.billing.sealing import Sealed, Sealer
from cairn.billing.webhooks import StripeEvent
from cairn.billing.workflows import BaseBillingWorkflows
from cairn.clock import Clock, fhir_instant, utc_now
from cairn.errors import MalformedRequest
from multitenant.context import PLATFORM_TENANT
from multitenant.errors import InvalidOnboardingRequest, TenantAlreadyExists
from multitenant.onboarding import OnboardingRequest
from multitenant.registry import BaseTenantRegistry
from multitenant.tiers import UnknownTier, parse_tier

SIGNUP_FIELDS = ("tenant_id", "name", "tier", "seats", "admin_email")


def signup_reference(request: OnboardingRequest, seats: int) -> str:
    """The same signup (id, tier, seats, email) twice is one Checkout session (idempotency key)."""
    text = "|".join((request.tenant_id, request.tier.value, str(seats), request.admin_email))
    return hashlib.sha256(text.encode()).hexdigest()[:24]


class Signups:
    """Starts signups and completes them when Stripe says they were paid. `workflows` is asked
    for only on completion (the billing API that starts signups starts no workflow)."""

    def __init__(
        self,
        gateway: StripeGateway,
        accounts: BaseBillingAccounts,
        registry: BaseTenantRegistry,
        sealer: Sealer,
        workflows: Callable[[], BaseBillingWorkflows],
        return_url: str,
        clock: Clock = utc_now,
    ) -> None:
        self._gateway = gateway
        self._accounts = accounts
        self._registry = registry
        self._sealer = sealer
        self._workflows = workflows
        self._return_url = return_url
        self._clock = clock

    def start(self, raw: Mapping[str, Any]) -> CheckoutSession:
        """Open a Checkout session for {tenant_id, name, tier, seats, admin_email}; every problem is
        named at once (InvalidOnboardingRequest), a taken id is TenantAlreadyExists."""
        unknown = sorted(set(raw) - set(SIGNUP_FIELDS))
        if unknown:
            raise MalformedRequest(f"unknown fields {', '.join(unknown)}: send {', '.join(SIGNUP_FIELDS)}")
        problems: list[str] = []
        request: OnboardingRequest | None = None
        try:
            request = OnboardingRequest.parse({**raw, "request_id": "signup"})
        except InvalidOnboardingRequest as exc:
            problems.append(str(exc))
        seats = 0
        try:
            seats = check_seats(parse_tier(str(raw.get("tier") or "")), raw.get("seats"))
        except UnknownTier:
            pass  # the onboarding request's own check names the unknown tier
        except InvalidPlanChoice as exc:
            problems.append(str(exc))
        if problems or request is None:
            raise InvalidOnboardingRequest("; ".join(problems))
        if self._registry.get(request.tenant_id) is not None:
            raise TenantAlreadyExists(request.tenant_id)
        reference = signup_reference(request, seats)
        session = self._gateway.subscription_checkout(
            plan=plan_for(request.tier),
            seats=seats,
            tenant_id=request.tenant_id,
            email=request.admin_email,
            reference=reference,
            success_url=f"{self._return_url}/signup/done?session={{CHECKOUT_SESSION_ID}}",
            cancel_url=f"{self._return_url}/signup/cancelled",
        )
        sealed = self._sealer.seal(
            None,
            session.session_id,
            "signup",
            json.dumps({"name": request.name, "admin_email": request.admin_email}),
        )
        self._accounts.save_signup(
            Signup(
                session.session_id,
                request.tenant_id,
                request.tier,
                seats,
                sealed.ciphertext,
                fhir_instant(self._clock()),
            )
        )
        return session

    def completed(self, event: StripeEvent) -> str:
        """checkout.session.completed of a subscription: start the clinic's onboarding."""
        session_id = event.object_id
        signup = self._accounts.signup(session_id)
        if signup is None:
            return f"no signup started session {session_id}: acknowledged, nothing onboarded"
        if event.object.get("payment_status") not in ("paid", "no_payment_required"):
            return f"session {session_id} completed unpaid: onboarding waits for payment"
        details = json.loads(self._sealer.open(Sealed(PLATFORM_TENANT, signup.sealed), session_id, "signup"))
        customer = event.object.get("customer")
        if isinstance(customer, str) and customer:
            self._accounts.link("customer", customer, signup.tenant_id)
        request = {
            "request_id": session_id[-80:].replace(".", "-"),
            "tenant_id": signup.tenant_id,
            "name": details["name"],
            "tier": signup.tier.value,
            "admin_email": details["admin_email"],
        }
        try:
            self._workflows().start_onboarding(request)
        except TenantAlreadyExists:
            return f"refused: tenant id {signup.tenant_id} was taken meanwhile; refund session {session_id}"
        return f"{signup.tenant_id}: onboarding started ({signup.tier.value}, {signup.seats} seats)"
