"""The dunning policy and steps over the in-memory registry: each step moves the tenant as the
lifecycle allows, notices say when the next step comes, and nothing is shredded unless the
clinic is still cancelled for non-payment."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta

import pytest

from cairn.billing.accounts import InvoiceOutcome, Subscription
from cairn.billing.dunning import DunningPolicy, DunningSteps
from cairn.billing.workflows import DunningPhase
from cairn.errors import ConfigurationError
from multitenant.lifecycle import TenantStatus
from multitenant.onboarding import BaseTenantEncryption
from multitenant.tiers import Tier
from tests.unit.fakes import FakeAuditTrail


class Encryption(BaseTenantEncryption):
    def __init__(self) -> None:
        self.shredded: list[str] = []

    def provision(self, tenant_id: str) -> None:  # noqa: ARG002 (the base class names it)
        raise AssertionError("dunning never provisions a key")

    def shred(self, tenant_id: str) -> None:
        self.shredded.append(tenant_id)


@pytest.fixture
def encryption() -> Encryption:
    return Encryption()


@pytest.fixture
def cancelled() -> list[str]:
    return []


@pytest.fixture
def steps(registry, accounts, audit_events, encryption, cancelled, clock) -> DunningSteps:
    accounts.save_subscription(Subscription("acme", "sub_1", "cus_1", "past_due", Tier.PRACTICE, 3, 1), 0)
    return DunningSteps(
        registry, accounts, lambda c: FakeAuditTrail(c, audit_events), encryption, cancelled.append, clock
    )


def test_timings_parse_in_any_unit_and_bad_ones_say_what_to_write():
    policy = DunningPolicy.parse("reminder=2d, grace=90h,suspended=45m,retention=30s")
    assert (policy.reminder, policy.grace) == (timedelta(days=2), timedelta(hours=90))
    assert DunningPolicy.parse("") == DunningPolicy()
    with pytest.raises(ConfigurationError, match="name=duration pairs"):
        DunningPolicy.parse("grace=two weeks")
    with pytest.raises(ConfigurationError, match="before the grace period ends"):
        DunningPolicy.parse("reminder=20d")


def test_a_run_goes_past_due_suspended_cancelled_then_shredded_with_a_notice_at_each_step(
    steps, registry, accounts, encryption, cancelled, clock
):
    run = DunningPolicy().run("acme", DunningPhase.PAYMENT_FAILED, "in_1", clock())

    assert steps.past_due(run) == "past_due"
    assert steps.unpaid(run)
    clock.advance(7 * 86_400)
    steps.remind(run)
    clock.advance(7 * 86_400)
    assert steps.suspend(run) == "suspended"
    clock.advance(30 * 86_400)
    assert steps.cancel(run) == "cancelled"
    clock.advance(90 * 86_400)
    assert steps.shred(run) == "deleted"

    assert cancelled == ["sub_1"]
    assert encryption.shredded == ["acme"]
    assert registry.get("acme").status is TenantStatus.DELETED
    notices = [n.kind for n in reversed(accounts.notices("acme"))]
    assert notices == ["payment-failed", "payment-reminder", "suspended", "export-offered", "deleted"]
    assert "2026-12-15" in accounts.notices("acme")[-1].text  # past due: usable until the grace ends


def test_a_paid_invoice_ends_the_run_and_a_restored_clinic_is_never_shredded(
    steps, registry, accounts, encryption, clock
):
    run = DunningPolicy().run("acme", DunningPhase.PAYMENT_FAILED, "in_1", clock())
    steps.past_due(run)
    steps.suspend(run)
    steps.cancel(run)
    accounts.save_invoice_outcome(InvoiceOutcome("in_1", "acme", "paid", 2))
    assert not steps.unpaid(run)

    tenant = registry.get("acme")
    registry.replace(
        replace(
            tenant,
            status=TenantStatus.ACTIVE,
            status_reason="operator: paid by cheque",
            version=tenant.version + 1,
        ),
        tenant.version,
    )
    assert steps.shred(run).startswith("kept")
    assert encryption.shredded == []


class ReactivatedOnRead:
    """The registry as a payment racing the shred step sees it: the clinic is reactivated right
    after the step read it cancelled."""

    def __init__(self, registry) -> None:
        self._registry = registry
        self._reads = 0

    def get(self, tenant_id):
        tenant = self._registry.get(tenant_id)
        self._reads += 1
        if self._reads == 1:
            self._registry.replace(
                replace(tenant, status=TenantStatus.ACTIVE, status_reason="billing: invoice paid",
                        version=tenant.version + 1),
                tenant.version,
            )
        return tenant

    def __getattr__(self, name):
        return getattr(self._registry, name)


def test_a_payment_racing_the_shred_keeps_the_key_and_a_retried_shred_finishes_the_job(
    steps, registry, accounts, audit_events, encryption, cancelled, clock
):
    run = DunningPolicy().run("acme", DunningPhase.PAYMENT_FAILED, "in_1", clock())
    steps.past_due(run)
    steps.suspend(run)
    steps.cancel(run)
    racing = DunningSteps(
        ReactivatedOnRead(registry), accounts, lambda c: FakeAuditTrail(c, audit_events), encryption,
        cancelled.append, clock,
    )

    assert racing.shred(run) == "kept: tenant is active"
    assert encryption.shredded == []
    assert registry.get("acme").status is TenantStatus.ACTIVE

    tenant = registry.get("acme")  # cancelled again, then deleted by a step that failed before shredding
    registry.replace(replace(tenant, status=TenantStatus.DELETED, status_reason="billing: retention ended",
                             version=tenant.version + 1), tenant.version)
    assert steps.shred(run) == "deleted"
    assert encryption.shredded == ["acme"]


def test_an_offboarding_run_goes_on_only_while_the_clinic_stays_cancelled(steps, registry, clock):
    run = DunningPolicy().run("acme", DunningPhase.CANCELLED, "sub_1", clock())
    assert run.schedule["cancel"] == run.schedule["reminder"]
    steps.cancel(run)
    assert steps.unpaid(run)
    tenant = registry.get("acme")
    registry.replace(replace(tenant, status=TenantStatus.ACTIVE, version=tenant.version + 1), tenant.version)
    assert not steps.unpaid(run)
