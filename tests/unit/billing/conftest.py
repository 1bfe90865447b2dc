"""Billing's unit tests: in-memory registry, ledger and billing accounts (they subclass the same
bases as the DynamoDB ones), the fake keyring, recording fakes of the workflows port, and the
local fake Stripe server on 127.0.0.1 for everything the Stripe adapter does."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from cairn.billing.accounts import InMemoryBillingAccounts
from cairn.billing.dunning import DunningPolicy
from cairn.billing.gateway import StripeGateway
from cairn.billing.ledger import InMemoryEventLedger
from cairn.billing.plans import PLANS
from cairn.billing.sealing import Sealer
from cairn.billing.settings import StripeSettings
from cairn.billing.subscriptions import SubscriptionEvents
from cairn.billing.workflows import BaseBillingWorkflows, DunningRun
from devkit.stripe_fake import FakeStripeServer
from multitenant.context import TenantContext
from multitenant.lifecycle import TenantStatus
from multitenant.registry import InMemoryTenantRegistry, Tenant
from multitenant.tiers import Tier
from tests.unit.fakes import FakeAuditTrail, FakeKeyring

SECRET = "whsec_unit_tests"


class RecordingWorkflows(BaseBillingWorkflows):
    """The workflows port as a list of what was started and stopped (execution names are unique)."""

    def __init__(self) -> None:
        self.onboarded: list[Mapping[str, Any]] = []
        self.started: dict[str, DunningRun] = {}
        self.stopped: list[str] = []

    def start_onboarding(self, request: Mapping[str, Any]) -> str:
        self.onboarded.append(dict(request))
        return f"arn:onboard:{request['request_id']}"

    def start_dunning(self, run: DunningRun) -> bool:
        if run.execution_name in self.started:
            return False
        self.started[run.execution_name] = run
        return True

    def stop_dunning(self, run_name: str) -> None:
        self.stopped.append(run_name)


class Clock:
    def __init__(self) -> None:
        self.now = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)

    def __call__(self) -> datetime:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += timedelta(seconds=seconds)


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def registry() -> InMemoryTenantRegistry:
    tenants = InMemoryTenantRegistry()
    for tenant_id in ("acme", "birch"):
        tenants.add(
            Tenant(
                tenant_id,
                tenant_id.title(),
                Tier.PRACTICE,
                TenantStatus.ACTIVE,
                "2026-11-01T00:00:00.000Z",
                "2026-11-01T00:00:00.000Z",
                f"admin@{tenant_id}.example",
            )
        )
    return tenants


@pytest.fixture
def audit_events() -> list[Any]:
    return []


@pytest.fixture
def accounts() -> InMemoryBillingAccounts:
    return InMemoryBillingAccounts()


@pytest.fixture
def workflows() -> RecordingWorkflows:
    return RecordingWorkflows()


@pytest.fixture
def subscriptions(accounts, registry, audit_events, workflows, clock) -> SubscriptionEvents:
    return SubscriptionEvents(
        accounts,
        registry,
        lambda context: FakeAuditTrail(context, audit_events),
        workflows,
        DunningPolicy(),
        clock,
    )


@pytest.fixture
def sealer() -> Sealer:
    return Sealer(FakeKeyring())


@pytest.fixture
def ledger(clock) -> InMemoryEventLedger:
    return InMemoryEventLedger(clock)


@pytest.fixture(scope="session")
def stripe_server() -> Iterator[FakeStripeServer]:
    server = FakeStripeServer(webhook_secret=SECRET).start()
    yield server
    server.stop()


@pytest.fixture(scope="session")
def gateway(stripe_server: FakeStripeServer) -> StripeGateway:
    adapter = StripeGateway(StripeSettings("sk_test_unit", SECRET, stripe_server.url))
    for plan in PLANS.values():
        adapter.sync_plan(plan)
    return adapter


def system(tenant_id: str) -> TenantContext:
    return TenantContext.system(tenant_id, "billing")
