"""Cairn's own subscription events (the platform account): signup completed, subscription
created/updated/deleted, invoice paid and payment failed, applied to the tenant registry through
multitenant/lifecycle.py's guarded, audited changes.

Ordering: Stripe does not deliver in order. A subscription keeps the `created` time of the last
event applied to it and an older event never changes it; a cancelled subscription stays
cancelled; a paid invoice stays paid (a late payment_failed for it starts nothing). Billing only
undoes statuses it set itself (reason "billing: ..."), so an operator's suspension is left alone.
A tenant still being onboarded is not touched: its events answer TenantNotReady (503) and
Stripe delivers them again later.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import replace
from typing import Any

from cairn.audit.trail import BaseAuditTrail
from cairn.billing.accounts import BaseBillingAccounts, InvoiceOutcome, Subscription
from cairn.billing.dunning import ACTOR, DunningPolicy, billing_reason, set_by_billing
from cairn.billing.gateway import TENANT_METADATA_KEY
from cairn.billing.plans import plan_for_lookup_key
from cairn.billing.webhooks import StripeEvent
from cairn.billing.workflows import BaseBillingWorkflows, DunningPhase, run_name
from cairn.clock import Clock, utc_now
from cairn.errors import CairnError
from multitenant.context import TenantContext
from multitenant.lifecycle import TenantStatus, change_plan, change_status
from multitenant.registry import BaseTenantRegistry, Tenant

RESTORABLE = frozenset({TenantStatus.PAST_DUE, TenantStatus.SUSPENDED, TenantStatus.CANCELLED})
CANCELED = "canceled"  # Stripe's spelling


class TenantNotReady(CairnError):
    """The event's clinic is still being onboarded (or its subscription is not known yet):
    answered 503 so Stripe delivers the event again once it is."""


class UnsupportedPlan(CairnError):
    """A subscription whose price is not one of Cairn's plans (the account was changed by hand)."""


def metadata_tenant(obj: Mapping[str, Any]) -> str | None:
    """The tenant id Cairn put in an object's metadata (subscriptions and sessions directly,
    invoices through their subscription's details)."""
    for holder in (
        obj,
        obj.get("subscription_details") or {},
        (obj.get("parent") or {}).get("subscription_details") or {},
    ):
        tenant = (holder.get("metadata") or {}).get(TENANT_METADATA_KEY)
        if isinstance(tenant, str) and tenant:
            return tenant
    return None


def subscription_plan(obj: Mapping[str, Any]) -> tuple[Any, int]:
    """(the Plan, seats) of a subscription object; UnsupportedPlan for a price Cairn does not sell."""
    items = (obj.get("items") or {}).get("data") or []
    if len(items) != 1:
        raise UnsupportedPlan(
            f"subscription {obj.get('id')} has {len(items)} items; Cairn sells one seat price"
        )
    price = items[0].get("price") or {}
    plan = plan_for_lookup_key(price.get("lookup_key"))
    if plan is None:
        raise UnsupportedPlan(
            f"subscription {obj.get('id')} uses price {price.get('id')}, which is none of "
            "Cairn's plans: run `cairn stripe sync-plans` and move it to a plan's price"
        )
    return plan, int(items[0].get("quantity") or 1)


class SubscriptionEvents:
    """Applies platform-account subscription and invoice events to the tenants."""

    def __init__(
        self,
        accounts: BaseBillingAccounts,
        registry: BaseTenantRegistry,
        audit_trail: Callable[[TenantContext], BaseAuditTrail],
        workflows: BaseBillingWorkflows,
        policy: DunningPolicy,
        clock: Clock = utc_now,
    ) -> None:
        self._accounts = accounts
        self._registry = registry
        self._audit_trail = audit_trail
        self._workflows = workflows
        self._policy = policy
        self._clock = clock

    def tenant_of(self, event: StripeEvent) -> str | None:
        """The tenant a platform event is about: through its customer, else Cairn's own metadata."""
        customer = event.object.get("customer")
        if isinstance(customer, str) and (linked := self._accounts.tenant_for("customer", customer)):
            return linked
        return metadata_tenant(event.object)

    def _ready_tenant(self, tenant_id: str | None) -> Tenant:
        tenant = self._registry.get(tenant_id) if tenant_id else None
        if tenant is None or tenant.status is TenantStatus.PENDING:
            raise TenantNotReady(
                f"tenant {tenant_id or '(unknown)'} is not onboarded yet; deliver again later"
            )
        return tenant

    def _audit(self, tenant_id: str) -> BaseAuditTrail:
        return self._audit_trail(TenantContext.system(tenant_id, ACTOR))

    def _restore(self, tenant: Tenant, why: str) -> str:
        if tenant.status in RESTORABLE and set_by_billing(tenant):
            change_status(
                self._registry,
                self._audit(tenant.tenant_id),
                tenant.tenant_id,
                TenantStatus.ACTIVE,
                billing_reason(why),
                self._clock,
            )
            return f"{tenant.status.value}->active"
        return f"{tenant.status.value} kept"

    def subscription_changed(self, event: StripeEvent) -> str:
        """customer.subscription.created / updated / deleted."""
        obj = event.object
        tenant = self._ready_tenant(self.tenant_of(event))
        stored = self._accounts.subscription(tenant.tenant_id)
        status = CANCELED if event.type == "customer.subscription.deleted" else str(obj.get("status") or "")
        if stored is not None and stored.subscription_id == obj.get("id"):
            if event.created < stored.event_created:
                return f"stale: {tenant.tenant_id}'s subscription has a newer event applied"
            if stored.status == CANCELED and status != CANCELED:
                return f"stale: {tenant.tenant_id}'s subscription is cancelled, which is final"
        plan, seats = subscription_plan(obj)
        customer = str(obj.get("customer") or "")
        if customer:
            self._accounts.link("customer", customer, tenant.tenant_id)
        current = Subscription(
            tenant_id=tenant.tenant_id,
            subscription_id=str(obj.get("id")),
            customer_id=customer,
            status=status,
            tier=plan.tier,
            seats=seats,
            event_created=event.created,
            dunning=stored.dunning if stored else None,
            version=stored.version if stored else 0,
        )
        self._accounts.save_subscription(current, expected_version=stored.version if stored else 0)
        outcome = [f"{tenant.tenant_id}: subscription {status}"]
        if tenant.status not in (TenantStatus.CANCELLED, TenantStatus.DELETED) and status != CANCELED:
            changed = change_plan(
                self._registry,
                self._audit(tenant.tenant_id),
                tenant.tenant_id,
                plan.tier,
                seats,
                self._clock,
            )
            outcome.append(f"plan {changed.tier.value}/{changed.seats}")
            tenant = changed
        if status in ("active", "trialing") and current.dunning is None:
            outcome.append(self._restore(tenant, f"subscription {current.subscription_id} {status}"))
        if status == CANCELED:
            outcome.append(self._offboard(tenant, current))
        return "; ".join(outcome)

    def _offboard(self, tenant: Tenant, subscription: Subscription) -> str:
        """A subscription that ended: stop any dunning, and start offboarding unless dunning already
        cancelled the tenant (its own run goes on to retention and shredding)."""
        if tenant.status is TenantStatus.CANCELLED and set_by_billing(tenant):
            return "offboarding already under way"
        if tenant.status is TenantStatus.DELETED:
            return "tenant already deleted"
        if subscription.dunning:
            self._workflows.stop_dunning(
                run_name(tenant.tenant_id, DunningPhase.PAYMENT_FAILED, subscription.dunning)
            )
        run = self._policy.run(
            tenant.tenant_id, DunningPhase.CANCELLED, subscription.subscription_id, self._clock()
        )
        started = self._workflows.start_dunning(run)
        return f"offboarding {'started' if started else 'already started'}"

    def invoice_paid(self, event: StripeEvent) -> str:
        """invoice.paid: final for the invoice; stops its dunning and restores the tenant."""
        tenant = self._ready_tenant(self.tenant_of(event))
        invoice_id = event.object_id
        self._accounts.save_invoice_outcome(
            InvoiceOutcome(invoice_id, tenant.tenant_id, "paid", event.created)
        )
        stored = self._accounts.subscription(tenant.tenant_id)
        outcome = [f"{tenant.tenant_id}: invoice {invoice_id} paid"]
        if stored is not None and stored.dunning == invoice_id:
            self._workflows.stop_dunning(run_name(tenant.tenant_id, DunningPhase.PAYMENT_FAILED, invoice_id))
            self._accounts.save_subscription(replace(stored, dunning=None), expected_version=stored.version)
            outcome.append("dunning stopped")
        if stored is None or stored.dunning in (None, invoice_id):
            outcome.append(self._restore(tenant, f"invoice {invoice_id} paid"))
        return "; ".join(outcome)

    def invoice_payment_failed(self, event: StripeEvent) -> str:
        """invoice.payment_failed: starts dunning for the invoice unless it is paid already (a late
        delivery) or another invoice's dunning is going on."""
        tenant = self._ready_tenant(self.tenant_of(event))
        invoice_id = event.object_id
        if not self._accounts.save_invoice_outcome(
            InvoiceOutcome(invoice_id, tenant.tenant_id, "failed", event.created)
        ):
            return f"stale: invoice {invoice_id} is paid or has a newer outcome"
        stored = self._accounts.subscription(tenant.tenant_id)
        if stored is None:
            raise TenantNotReady(f"no subscription of {tenant.tenant_id} is known yet; deliver again later")
        if stored.dunning not in (None, invoice_id):
            return f"{tenant.tenant_id}: dunning for invoice {stored.dunning} is already going on"
        if tenant.status in (TenantStatus.CANCELLED, TenantStatus.DELETED):
            return f"{tenant.tenant_id} is {tenant.status.value}: no dunning"
        self._accounts.save_subscription(replace(stored, dunning=invoice_id), expected_version=stored.version)
        started = self._workflows.start_dunning(
            self._policy.run(tenant.tenant_id, DunningPhase.PAYMENT_FAILED, invoice_id, self._clock())
        )
        return f"{tenant.tenant_id}: dunning {'started' if started else 'already started'} for {invoice_id}"
