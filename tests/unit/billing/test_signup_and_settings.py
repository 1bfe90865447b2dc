"""Signup through Checkout (validated before anything is asked of Stripe, the clinic's details
sealed under the platform key, onboarding started only once paid) and Stripe's settings."""

from __future__ import annotations

import json

import pytest

from cairn.billing.settings import StripeSettings
from cairn.billing.signup import Signups
from cairn.billing.webhooks import StripeEvent
from cairn.errors import ConfigurationError
from multitenant.errors import InvalidOnboardingRequest, TenantAlreadyExists

REQUEST = {
    "tenant_id": "cedar",
    "name": "Cedar Clinic",
    "tier": "practice",
    "seats": 3,
    "admin_email": "admin@cedar.example",
}


@pytest.fixture
def signups(gateway, accounts, registry, sealer, workflows, clock) -> Signups:
    return Signups(
        gateway, accounts, registry, sealer, lambda: workflows, "http://console.example/billing", clock
    )


def completed(session_id: str, status: str = "paid") -> StripeEvent:
    return StripeEvent(
        "evt_c",
        "checkout.session.completed",
        1,
        None,
        False,
        {"id": session_id, "object": "checkout.session", "payment_status": status, "customer": "cus_cedar"},
        {},
    )


def test_every_problem_of_a_signup_is_named_before_stripe_is_asked(signups, stripe_server):
    sessions = len(stripe_server.stripe.objects.get("checkout.session", {}))
    with pytest.raises(InvalidOnboardingRequest) as refused:
        signups.start({**REQUEST, "tier": "gold", "admin_email": "nope"})
    assert "unknown tier 'gold'" in str(refused.value)
    assert "admin_email" in str(refused.value)
    with pytest.raises(InvalidOnboardingRequest, match="from 1 to 25"):
        signups.start({**REQUEST, "seats": 40})
    with pytest.raises(TenantAlreadyExists):
        signups.start({**REQUEST, "tenant_id": "acme"})
    assert len(stripe_server.stripe.objects.get("checkout.session", {})) == sessions


def test_a_paid_session_onboards_the_clinic_once_with_its_sealed_details(signups, accounts, workflows):
    session = signups.start(REQUEST)
    stored = accounts.signup(session.session_id)
    assert stored is not None
    assert "admin@cedar.example" not in stored.sealed

    assert "waits for payment" in signups.completed(completed(session.session_id, "unpaid"))
    assert workflows.onboarded == []
    signups.completed(completed(session.session_id))

    (request,) = workflows.onboarded
    assert request == {
        "request_id": session.session_id,
        "tenant_id": "cedar",
        "name": "Cedar Clinic",
        "tier": "practice",
        "admin_email": "admin@cedar.example",
    }
    assert accounts.tenant_for("customer", "cus_cedar") == "cedar"
    assert "no signup started" in signups.completed(completed("cs_test_unknown"))


def test_stripe_settings_come_from_the_environment_or_the_stages_secret():
    assert StripeSettings.from_environ(
        {"STRIPE_API_KEY": "sk_test_1", "STRIPE_WEBHOOK_SECRET": "whsec_1"}
    ) == StripeSettings("sk_test_1", "whsec_1")

    class Secrets:
        def get_secret_value(self, SecretId: str) -> dict[str, str]:
            assert SecretId == "cairn-prod-stripe"
            return {"SecretString": json.dumps({"api_key": "sk_live_2", "webhook_secret": "whsec_2"})}

    chosen = StripeSettings.from_environ({"CAIRN_STRIPE_SECRET_ID": "cairn-prod-stripe"}, Secrets())
    assert chosen == StripeSettings("sk_live_2", "whsec_2")
    with pytest.raises(ConfigurationError, match="CAIRN_STRIPE_SECRET_ID"):
        StripeSettings.from_environ({})
