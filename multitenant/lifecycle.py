"""A tenant's lifecycle: its statuses, which changes between them are allowed, and what each
status lets the clinic do.

    pending -> active -> past_due -> suspended -> cancelled -> deleted

Every status change goes through `change_status` (the one guard), which checks the transition,
stores it with optimistic concurrency and appends an audit event to the tenant's trail.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace
from enum import StrEnum
from types import MappingProxyType
from typing import TYPE_CHECKING

from cairn.audit.events import AuditAction, AuditEvent, AuditOutcome
from cairn.audit.trail import BaseAuditTrail
from cairn.clock import Clock, fhir_instant, utc_now
from multitenant.errors import TenantError, TenantNotFound
from multitenant.tiers import Tier

if TYPE_CHECKING:  # the registry stores statuses, so it imports this module
    from multitenant.registry import BaseTenantRegistry, Tenant


class TenantStatus(StrEnum):
    PENDING = "pending"  # onboarding has not finished: nobody signs in
    ACTIVE = "active"
    PAST_DUE = "past_due"  # a payment failed: still fully usable during the grace period
    SUSPENDED = "suspended"  # read-only: read and export, no writes
    CANCELLED = "cancelled"  # no sign-in; data kept for the retention period
    DELETED = "deleted"  # data crypto-shredded; the registry item stays as a tombstone


TRANSITIONS: Mapping[TenantStatus, frozenset[TenantStatus]] = MappingProxyType({
    TenantStatus.PENDING: frozenset({TenantStatus.ACTIVE, TenantStatus.CANCELLED}),
    TenantStatus.ACTIVE: frozenset({TenantStatus.PAST_DUE, TenantStatus.SUSPENDED, TenantStatus.CANCELLED}),
    TenantStatus.PAST_DUE: frozenset({TenantStatus.ACTIVE, TenantStatus.SUSPENDED, TenantStatus.CANCELLED}),
    TenantStatus.SUSPENDED: frozenset({TenantStatus.ACTIVE, TenantStatus.CANCELLED}),
    TenantStatus.CANCELLED: frozenset({TenantStatus.ACTIVE, TenantStatus.DELETED}),
    TenantStatus.DELETED: frozenset(),
})

# What each status allows, read by the authorizer (sign-in) and the clinical service (writes).
SIGN_IN_ALLOWED = frozenset({TenantStatus.ACTIVE, TenantStatus.PAST_DUE, TenantStatus.SUSPENDED})
WRITES_ALLOWED = frozenset({TenantStatus.ACTIVE, TenantStatus.PAST_DUE})

STATUS_CHANGE = "status-change"
PLAN_CHANGE = "plan-change"


class InvalidTransition(TenantError):
    """A status change the lifecycle does not allow; the message lists the allowed ones."""

    def __init__(self, tenant_id: str, current: TenantStatus, wanted: TenantStatus) -> None:
        allowed = ", ".join(sorted(TRANSITIONS[current])) or "none: it is final"
        super().__init__(
            f"tenant {tenant_id} is {current}; it cannot become {wanted} (allowed from {current}: {allowed})"
        )
        self.tenant_id = tenant_id
        self.current = current
        self.wanted = wanted


def parse_status(name: str) -> TenantStatus:
    """The TenantStatus called `name`; ValueError naming the valid statuses otherwise."""
    try:
        return TenantStatus(name)
    except ValueError:
        raise ValueError(
            f"unknown tenant status {name!r}: use one of {', '.join(s.value for s in TenantStatus)}"
        ) from None


def can_sign_in(status: TenantStatus) -> bool:
    """Whether the tenant's users may call the API at all."""
    return status in SIGN_IN_ALLOWED


def can_write(status: TenantStatus) -> bool:
    """Whether the tenant may change clinical data (suspended tenants are read-only)."""
    return status in WRITES_ALLOWED


def check_transition(tenant_id: str, current: TenantStatus, wanted: TenantStatus) -> None:
    """InvalidTransition unless the lifecycle allows `current` -> `wanted`."""
    if wanted not in TRANSITIONS[current]:
        raise InvalidTransition(tenant_id, current, wanted)


def change_status(
    registry: BaseTenantRegistry,
    audit: BaseAuditTrail,
    tenant_id: str,
    wanted: TenantStatus,
    reason: str,
    clock: Clock = utc_now,
) -> Tenant:
    """Move tenant `tenant_id` to `wanted`: the one place a status changes.

    Refused changes (unknown tenant, disallowed transition, a concurrent change) raise and are
    audited as refusals; an allowed one is stored conditionally on the version read and audited.
    """
    if audit.context.tenant_id != tenant_id:
        raise ValueError("the audit trail must belong to the tenant whose status changes")
    try:
        tenant = registry.get(tenant_id)
        if tenant is None:
            raise TenantNotFound(tenant_id)
        check_transition(tenant_id, tenant.status, wanted)
        changed = replace(tenant, status=wanted, status_reason=reason, updated=fhir_instant(clock()),
                          version=tenant.version + 1)
        registry.replace(changed, expected_version=tenant.version)
    except TenantError as error:
        refusal = f"refused:{wanted}:{type(error).__name__}"
        audit.record(_status_event(AuditOutcome.MINOR_FAILURE, tenant_id, refusal))
        raise
    audit.record(_status_event(AuditOutcome.SUCCESS, tenant_id, f"{tenant.status}->{wanted}"))
    return changed


def change_plan(
    registry: BaseTenantRegistry,
    audit: BaseAuditTrail,
    tenant_id: str,
    tier: Tier,
    seats: int | None,
    clock: Clock = utc_now,
) -> Tenant:
    """Move tenant `tenant_id` to `tier` with `seats` paid staff seats (billing), stored
    conditionally on the version read and audited (detail "practice/5->enterprise/12"); a deleted
    tenant's plan never changes (InvalidTransition). The same plan again changes nothing. The status
    and its reason stay as they are: a plan change says nothing about why the status is what it is."""
    if audit.context.tenant_id != tenant_id:
        raise ValueError("the audit trail must belong to the tenant whose plan changes")
    try:
        tenant = registry.get(tenant_id)
        if tenant is None:
            raise TenantNotFound(tenant_id)
        if tenant.tier is tier and tenant.seats == seats:
            return tenant
        if tenant.status is TenantStatus.DELETED:
            raise InvalidTransition(tenant_id, tenant.status, tenant.status)
        changed = replace(tenant, tier=tier, seats=seats, updated=fhir_instant(clock()),
                          version=tenant.version + 1)
        registry.replace(changed, expected_version=tenant.version)
    except TenantError as error:
        refusal = f"refused:{tier}:{type(error).__name__}"
        audit.record(AuditEvent(AuditAction.UPDATE, PLAN_CHANGE, AuditOutcome.MINOR_FAILURE, "Tenant",
                                tenant_id, refusal))
        raise
    detail = f"{tenant.tier}/{tenant.seats or '-'}->{tier}/{seats or '-'}"
    audit.record(AuditEvent(AuditAction.UPDATE, PLAN_CHANGE, AuditOutcome.SUCCESS, "Tenant", tenant_id,
                            detail))
    return changed


def _status_event(outcome: AuditOutcome, tenant_id: str, detail: str) -> AuditEvent:
    return AuditEvent(AuditAction.UPDATE, STATUS_CHANGE, outcome, "Tenant", tenant_id, detail)
