"""Dunning: what happens to a clinic whose subscription payment failed, step by step.

    payment failed -> past_due (fully usable; notice) -> reminder -> grace ends: suspended
    (read-only; notice) -> cancelled (no sign-in; export offered, data kept) -> retention ends:
    the tenant's data key is crypto-shredded and the tenant deleted

stepfunctions/dunning.asl.json runs these steps with Wait states between them; each step checks
again that the clinic has still not paid, so a payment that raced a step never costs data. An
invoice.paid during the grace period stops the run (cairn.billing.subscriptions). Nothing is
shredded while the clinic can still pay: only after the retention period, and only if the
tenant is still cancelled for non-payment.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from cairn.audit.trail import BaseAuditTrail
from cairn.billing.accounts import BaseBillingAccounts, Notice
from cairn.billing.workflows import DunningPhase, DunningRun
from cairn.clock import Clock, fhir_instant, utc_now
from cairn.errors import ConfigurationError
from multitenant.context import TenantContext
from multitenant.errors import TenantError
from multitenant.lifecycle import TenantStatus, change_status
from multitenant.onboarding import BaseTenantEncryption
from multitenant.registry import BaseTenantRegistry, Tenant

ACTOR = "billing"
BILLING_REASON = "billing:"  # status reasons billing wrote; billing only undoes its own changes
_DURATION = re.compile(r"^(\d+)([dhms])$")
_UNITS = {"d": 86_400, "h": 3_600, "m": 60, "s": 1}
TIMINGS = ("reminder", "grace", "suspended", "retention")


DEFAULT_TIMINGS = "reminder=7d,grace=14d,suspended=30d,retention=90d"


@dataclass(frozen=True)
class DunningPolicy:
    """How long each phase lasts: a reminder `reminder` after the failure, suspension at `grace`,
    cancellation `suspended` later, shredding `retention` after that."""

    reminder: timedelta = timedelta(days=7)
    grace: timedelta = timedelta(days=14)
    suspended: timedelta = timedelta(days=30)
    retention: timedelta = timedelta(days=90)

    @classmethod
    def parse(cls, text: str | None) -> DunningPolicy:
        """From "reminder=7d,grace=14d,suspended=30d,retention=90d" (any subset; units d h m s);
        ConfigurationError saying what to write otherwise."""
        if not text or not text.strip():
            return cls()
        values: dict[str, timedelta] = {}
        for part in text.split(","):
            name, _, amount = part.strip().partition("=")
            form = _DURATION.match(amount.strip())
            if name not in TIMINGS or form is None:
                raise ConfigurationError(
                    f"dunning timings are name=duration pairs ({', '.join(TIMINGS)}; e.g. "
                    f"grace=14d or grace=90s), not {part.strip()!r}"
                )
            values[name] = timedelta(seconds=int(form.group(1)) * _UNITS[form.group(2)])
        policy = cls(**values)
        if policy.reminder >= policy.grace:
            raise ConfigurationError("the dunning reminder must come before the grace period ends")
        return policy

    def run(self, tenant_id: str, phase: str, reference: str, started: datetime) -> DunningRun:
        """The run for `reference`, its schedule counted from `started`: a failed payment goes
        through every phase; an ended subscription is cancelled now and shredded after retention."""
        if phase == DunningPhase.CANCELLED:
            schedule = {
                "reminder": started,
                "suspend": started,
                "cancel": started,
                "shred": started + self.retention,
            }
        else:
            cancel = started + self.grace + self.suspended
            schedule = {
                "reminder": started + self.reminder,
                "suspend": started + self.grace,
                "cancel": cancel,
                "shred": cancel + self.retention,
            }
        return DunningRun(tenant_id, phase, reference, {name: instant(at) for name, at in schedule.items()})


def instant(moment: datetime) -> str:
    """A Wait state's timestamp: UTC to the second."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def billing_reason(text: str) -> str:
    return f"{BILLING_REASON} {text}"


def set_by_billing(tenant: Tenant) -> bool:
    """Whether billing made the tenant's current status (an operator's suspension is left alone)."""
    return (tenant.status_reason or "").startswith(BILLING_REASON)


AuditTrails = Callable[[TenantContext], BaseAuditTrail]


class DunningSteps:
    """The steps the dunning workflow runs, over the registry, billing accounts and encryption."""

    def __init__(
        self,
        registry: BaseTenantRegistry,
        accounts: BaseBillingAccounts,
        audit_trail: AuditTrails,
        encryption: BaseTenantEncryption,
        cancel_subscription: Callable[[str], object],
        clock: Clock = utc_now,
    ) -> None:
        self._registry = registry
        self._accounts = accounts
        self._audit_trail = audit_trail
        self._encryption = encryption
        self._cancel_subscription = cancel_subscription
        self._clock = clock

    def _move(
        self, tenant_id: str, wanted: TenantStatus, reason: str, *, from_: frozenset[TenantStatus]
    ) -> str:
        tenant = self._registry.get(tenant_id)
        if tenant is None or tenant.status not in from_:
            return tenant.status.value if tenant else "unknown"
        audit = self._audit_trail(TenantContext.system(tenant_id, ACTOR))
        return change_status(
            self._registry, audit, tenant_id, wanted, billing_reason(reason), self._clock
        ).status

    def _notify(self, tenant_id: str, kind: str, text: str) -> None:
        self._accounts.add_notice(Notice(tenant_id, fhir_instant(self._clock()), kind, text))

    @staticmethod
    def _when(run: DunningRun, phase: str) -> str:
        return run.schedule[phase][:10]

    def unpaid(self, run: DunningRun) -> bool:
        """Whether the run goes on: the tenant still exists and, for a failed payment, its invoice
        is still unpaid; for an offboarding, the tenant is still cancelled."""
        tenant = self._registry.get(run.tenant_id)
        if tenant is None or tenant.status is TenantStatus.DELETED:
            return False
        if run.phase == DunningPhase.CANCELLED:
            return tenant.status is TenantStatus.CANCELLED
        outcome = self._accounts.invoice_outcome(run.reference)
        return outcome is None or outcome.outcome != "paid"

    def past_due(self, run: DunningRun) -> str:
        status = self._move(
            run.tenant_id,
            TenantStatus.PAST_DUE,
            f"invoice {run.reference} unpaid",
            from_=frozenset({TenantStatus.ACTIVE}),
        )
        self._notify(
            run.tenant_id,
            "payment-failed",
            f"Your payment for invoice {run.reference} failed. Cairn stays fully usable until "
            f"{self._when(run, 'suspend')}; update your payment method to "
            "keep it that way.",
        )
        return status

    def remind(self, run: DunningRun) -> str:
        self._notify(
            run.tenant_id,
            "payment-reminder",
            f"Invoice {run.reference} is still unpaid: your clinic becomes read-only on "
            f"{self._when(run, 'suspend')} unless it is paid.",
        )
        return "reminded"

    def suspend(self, run: DunningRun) -> str:
        status = self._move(
            run.tenant_id,
            TenantStatus.SUSPENDED,
            f"invoice {run.reference} unpaid after grace",
            from_=frozenset({TenantStatus.ACTIVE, TenantStatus.PAST_DUE}),
        )
        self._notify(
            run.tenant_id,
            "suspended",
            f"Invoice {run.reference} is unpaid: your clinic is read-only (records can be read and "
            f"exported, not changed). It is cancelled on {self._when(run, 'cancel')} "
            "unless the invoice is paid.",
        )
        return status

    def cancel(self, run: DunningRun) -> str:
        """Cancel the tenant (and, for a failed payment, its subscription) and offer the export."""
        status = self._move(
            run.tenant_id,
            TenantStatus.CANCELLED,
            f"{run.phase} {run.reference}",
            from_=frozenset({TenantStatus.ACTIVE, TenantStatus.PAST_DUE, TenantStatus.SUSPENDED}),
        )
        subscription = self._accounts.subscription(run.tenant_id)
        if run.phase == DunningPhase.PAYMENT_FAILED and subscription and subscription.status != "canceled":
            self._cancel_subscription(subscription.subscription_id)
        self._notify(
            run.tenant_id,
            "export-offered",
            f"Your clinic's subscription has ended. Its records are kept until "
            f"{self._when(run, 'shred')}: ask Cairn support for the export of your whole "
            "record (FHIR bulk data) or pay the open invoice to restore the clinic before then.",
        )
        return status

    def shred(self, run: DunningRun) -> str:
        """Crypto-shred the tenant's data key and mark it deleted, only if it is still cancelled by
        billing: a clinic that paid or was reactivated meanwhile keeps everything.

        The tenant is marked deleted first, conditionally on the version read: a payment racing
        this step either reactivates the clinic first (and the move is refused: nothing is
        shredded) or finds it deleted (and its reactivation is refused); never a shredded key
        under an active clinic. A retried step finds the tenant deleted by billing and shreds
        again (a delete: idempotent)."""
        tenant = self._registry.get(run.tenant_id)
        shreddable = (TenantStatus.CANCELLED, TenantStatus.DELETED)
        if tenant is None or tenant.status not in shreddable or not set_by_billing(tenant):
            return f"kept: tenant is {tenant.status.value if tenant else 'unknown'}"
        moved = tenant.status is TenantStatus.CANCELLED
        if moved:
            try:
                status = self._move(
                    run.tenant_id,
                    TenantStatus.DELETED,
                    f"retention ended after {run.phase}",
                    from_=frozenset({TenantStatus.CANCELLED}),
                )
            except TenantError:  # reactivated (or changed) since it was read
                status = ""
            if status != TenantStatus.DELETED.value:
                current = self._registry.get(run.tenant_id)
                return f"kept: tenant is {current.status.value if current else 'unknown'}"
        self._encryption.shred(run.tenant_id)
        if moved:
            self._notify(
                run.tenant_id, "deleted", "The retention period ended: your clinic's data was deleted."
            )
        return TenantStatus.DELETED.value

STEPS: Mapping[str, Callable[[DunningSteps, DunningRun], object]] = {
    "unpaid": DunningSteps.unpaid,
    "past_due": DunningSteps.past_due,
    "remind": DunningSteps.remind,
    "suspend": DunningSteps.suspend,
    "cancel": DunningSteps.cancel,
    "shred": DunningSteps.shred,
}
