"""What billing's functions log while a clinic signs up, its subscription events arrive and a
renewal fails: ids, types and outcomes, never the clinic's admin email or name."""

from __future__ import annotations

import logging
from collections.abc import Iterator

import pytest

from cairn.billing.services import BillingRuntime
from devkit.stripe_fake import FakeStripe
from tests.integration.billing.test_stripe_webhook import signed_up

SECRETS = ("admin@juniper.example", "Juniper Clinic")
SERVICES = ("stripe-webhook", "billing-api", "billing-dunning")


class Records(logging.Handler):
    def __init__(self) -> None:
        super().__init__()
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)

    def text(self) -> str:
        return "\n".join(f"{r.getMessage()} {r.__dict__}" for r in self.records)


@pytest.fixture
def log_records() -> Iterator[Records]:
    """What the functions' Powertools loggers (named after their services) log during the test."""
    kept = Records()
    loggers = [logging.getLogger(name) for name in SERVICES]
    for logger in loggers:
        logger.addHandler(kept)
    yield kept
    for logger in loggers:
        logger.removeHandler(kept)


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
