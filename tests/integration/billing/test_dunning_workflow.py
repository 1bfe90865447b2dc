"""stepfunctions/dunning.asl.json in the embedded runtime, with its real task function: a clinic
that never pays goes past_due, is reminded, suspended read-only, cancelled with the export
offered, and once the retention period ends its data key is shredded and the tenant deleted; a
cancelled subscription offboards the same way. The waits are the dunning policy's defaults
(days), passed on the embedded runtime's virtual clock, never slept."""

from __future__ import annotations

import time
from datetime import timedelta
from typing import Any

from cairn.billing.dunning import DunningPolicy
from cairn.billing.services import BillingRuntime
from cairn.crypto.keyring import CURRENT_KEY_SK, keyring_pk
from devkit.clock import VirtualClock
from devkit.deployment import Deployment
from devkit.stripe_fake import FakeStripe
from multitenant.lifecycle import TenantStatus
from tests.integration.billing.test_stripe_webhook import signed_up
from tests.polling import eventually

POLICY = DunningPolicy()


def status_of(runtime: BillingRuntime, tenant_id: str) -> TenantStatus:
    tenant = runtime.registry.get(tenant_id)
    assert tenant is not None
    return tenant.status


def key_exists(clients: Any, deployment: Deployment, tenant_id: str) -> bool:
    item = clients.dynamodb().get_item(TableName=deployment.tables["clinical"], Key={
        "pk": {"S": keyring_pk(tenant_id)}, "sk": {"S": CURRENT_KEY_SK}})
    return "Item" in item


def advance(clock: VirtualClock, by: timedelta) -> None:
    clock.advance(by + timedelta(seconds=1))


def test_an_unpaid_clinic_is_suspended_cancelled_and_finally_shredded_on_the_policys_schedule(
        runtime: BillingRuntime, fake_stripe: FakeStripe, clients: Any, deployment: Deployment,
        clock: VirtualClock) -> None:
    subscription = signed_up(runtime, fake_stripe, "hazel")
    assert key_exists(clients, deployment, "hazel")
    fake_stripe.fail_renewal(subscription["id"])
    eventually(lambda: status_of(runtime, "hazel") is TenantStatus.PAST_DUE, "past due")

    advance(clock, POLICY.reminder)
    eventually(lambda: "payment-reminder" in [n.kind for n in runtime.accounts.notices("hazel")], "reminder")
    assert status_of(runtime, "hazel") is TenantStatus.PAST_DUE
    advance(clock, POLICY.grace - POLICY.reminder)
    eventually(lambda: status_of(runtime, "hazel") is TenantStatus.SUSPENDED, "suspended")
    advance(clock, POLICY.suspended)
    eventually(lambda: status_of(runtime, "hazel") is TenantStatus.CANCELLED, "cancelled")
    eventually(lambda: fake_stripe.objects["subscription"][subscription["id"]]["status"] == "canceled",
               "the Stripe subscription cancelled")
    assert key_exists(clients, deployment, "hazel"), "no data is shredded while the clinic can still pay"

    advance(clock, POLICY.retention)
    eventually(lambda: status_of(runtime, "hazel") is TenantStatus.DELETED, "deleted")
    # Marked deleted first, then shredded and told (cairn.billing.dunning: a racing payment is refused).
    eventually(lambda: "deleted" in [n.kind for n in runtime.accounts.notices("hazel")], "the last notice")

    assert not key_exists(clients, deployment, "hazel")
    kinds = [notice.kind for notice in reversed(runtime.accounts.notices("hazel"))]
    assert kinds == ["payment-failed", "payment-reminder", "suspended", "export-offered", "deleted"]


def test_paying_during_retention_keeps_the_clinics_data_and_restores_it(
        runtime: BillingRuntime, fake_stripe: FakeStripe, clients: Any, deployment: Deployment,
        clock: VirtualClock) -> None:
    subscription = signed_up(runtime, fake_stripe, "holly")
    failed, _ = fake_stripe.fail_renewal(subscription["id"])
    eventually(lambda: status_of(runtime, "holly") is TenantStatus.PAST_DUE, "past due")
    advance(clock, POLICY.grace)
    eventually(lambda: status_of(runtime, "holly") is TenantStatus.SUSPENDED, "suspended")
    advance(clock, POLICY.suspended)
    eventually(lambda: status_of(runtime, "holly") is TenantStatus.CANCELLED, "cancelled")

    fake_stripe.pay_invoice(fake_stripe.events[failed.event_id]["data"]["object"]["id"])
    # Paid during retention: restored (Stripe's event arrives asynchronously), then the retention ends.
    eventually(lambda: status_of(runtime, "holly") is TenantStatus.ACTIVE, "restored")
    advance(clock, POLICY.retention)
    time.sleep(1.0)  # the run, had it gone on, would have shredded by now
    assert key_exists(clients, deployment, "holly")
    assert status_of(runtime, "holly") is TenantStatus.ACTIVE
