"""What billing's functions log while a clinic signs up, its subscription events arrive and a
renewal fails: ids, types and outcomes, never the clinic's admin email or name."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from cairn.billing.services import BillingRuntime
from devkit.stripe_fake import FakeStripe
from tests.integration.billing.test_stripe_webhook import signed_up
from tests.integration.function_logs import Records, logged_by

SECRETS = ("admin@juniper.example", "Juniper Clinic")
SERVICES = ("stripe-webhook", "billing-api", "billing-dunning")


@pytest.fixture
def log_records() -> Iterator[Records]:
    """What the functions' Powertools loggers (named after their services) log during the test."""
    with logged_by(*SERVICES) as kept:
        yield kept


def test_a_signup_its_events_and_a_failed_renewal_log_no_personal_data(
    runtime: BillingRuntime, fake_stripe: FakeStripe, log_records: Records
) -> None:
    subscription = signed_up(runtime, fake_stripe, "juniper")
    fake_stripe.fail_renewal(subscription["id"])

    handled = [r for r in log_records.records if r.getMessage() == "stripe event"]
    assert handled, "the webhook logs each event it handled"
    assert all({"event_id", "type", "result"} <= set(r.__dict__) for r in handled)
    for secret in SECRETS:
        assert secret not in log_records.text()
