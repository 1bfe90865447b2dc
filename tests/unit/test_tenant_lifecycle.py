"""The tenant lifecycle: which status changes are allowed, that change_status is the one guard
(stored with optimistic concurrency, every attempt audited), and what each status permits."""

from __future__ import annotations

import itertools
from dataclasses import replace
from datetime import UTC, datetime

import pytest

from cairn.audit.events import AuditEvent, AuditOutcome
from multitenant.context import TenantContext
from multitenant.errors import ConcurrentTenantChange, TenantAlreadyExists, TenantNotFound
from multitenant.lifecycle import (
    TRANSITIONS,
    InvalidTransition,
    TenantStatus,
    can_sign_in,
    can_write,
    change_status,
    parse_status,
)
from multitenant.registry import InMemoryTenantRegistry, Tenant
from multitenant.tiers import Tier
from tests.unit.fakes import FakeAuditTrail

S = TenantStatus
ALLOWED = {
    (S.PENDING, S.ACTIVE), (S.PENDING, S.CANCELLED),
    (S.ACTIVE, S.PAST_DUE), (S.ACTIVE, S.SUSPENDED), (S.ACTIVE, S.CANCELLED),
    (S.PAST_DUE, S.ACTIVE), (S.PAST_DUE, S.SUSPENDED), (S.PAST_DUE, S.CANCELLED),
    (S.SUSPENDED, S.ACTIVE), (S.SUSPENDED, S.CANCELLED),
    (S.CANCELLED, S.ACTIVE), (S.CANCELLED, S.DELETED),
}
FIXED = datetime(2026, 11, 22, 4, 0, tzinfo=UTC)


def _tenant(tenant_id: str = "acme", status: TenantStatus = S.ACTIVE) -> Tenant:
    return Tenant(tenant_id=tenant_id, name="Acme Clinic", tier=Tier.STARTER, status=status,
                  created="2026-11-01T00:00:00.000Z", updated="2026-11-01T00:00:00.000Z")


def _trail(tenant_id: str = "acme") -> tuple[FakeAuditTrail, list[tuple[TenantContext, AuditEvent]]]:
    events: list[tuple[TenantContext, AuditEvent]] = []
    return FakeAuditTrail(TenantContext.system(tenant_id, "operator:test"), events), events


def test_the_transition_table_is_exactly_the_documented_one() -> None:
    declared = {(start, end) for start, ends in TRANSITIONS.items() for end in ends}
    assert declared == ALLOWED
    assert set(TRANSITIONS) == set(TenantStatus)


@pytest.mark.parametrize(("current", "wanted"), list(itertools.product(TenantStatus, TenantStatus)))
def test_change_status_allows_exactly_the_table(current: TenantStatus, wanted: TenantStatus) -> None:
    registry = InMemoryTenantRegistry()
    registry.add(_tenant(status=current))
    audit, events = _trail()

    if (current, wanted) in ALLOWED:
        changed = change_status(registry, audit, "acme", wanted, "test", lambda: FIXED)
        assert registry.get("acme") == changed
        assert (changed.status, changed.version, changed.updated) == (wanted, 2, "2026-11-22T04:00:00.000Z")
        assert [(e.outcome, e.detail) for _, e in events] == [(AuditOutcome.SUCCESS, f"{current}->{wanted}")]
    else:
        with pytest.raises(InvalidTransition, match=f"cannot become {wanted}"):
            change_status(registry, audit, "acme", wanted, "test")
        stored = registry.get("acme")
        assert stored is not None
        assert (stored.status, stored.version) == (current, 1)
        assert [e.outcome for _, e in events] == [AuditOutcome.MINOR_FAILURE]


def test_deleted_is_final_and_says_so() -> None:
    registry = InMemoryTenantRegistry()
    registry.add(_tenant(status=S.DELETED))
    with pytest.raises(InvalidTransition, match="none: it is final"):
        change_status(registry, _trail()[0], "acme", S.ACTIVE, "test")


def test_an_unknown_tenant_is_refused_and_audited() -> None:
    audit, events = _trail("ghost")
    with pytest.raises(TenantNotFound, match="cairn tenant list"):
        change_status(InMemoryTenantRegistry(), audit, "ghost", S.SUSPENDED, "test")
    assert [e.detail for _, e in events] == ["refused:suspended:TenantNotFound"]


def test_a_concurrent_change_is_refused_not_overwritten() -> None:
    class RacingRegistry(InMemoryTenantRegistry):
        def get(self, tenant_id: str) -> Tenant | None:
            read = super().get(tenant_id)
            # Someone else changes the tenant right after our read.
            self.tenants[tenant_id] = replace(self.tenants[tenant_id], version=7, status=S.PAST_DUE)
            return read

    registry = RacingRegistry()
    registry.add(_tenant())
    with pytest.raises(ConcurrentTenantChange):
        change_status(registry, _trail()[0], "acme", S.SUSPENDED, "test")
    assert registry.tenants["acme"].status is S.PAST_DUE


def test_the_audit_trail_must_be_the_changed_tenants() -> None:
    registry = InMemoryTenantRegistry()
    registry.add(_tenant())
    with pytest.raises(ValueError, match="audit trail"):
        change_status(registry, _trail("other")[0], "acme", S.SUSPENDED, "test")
    assert registry.tenants["acme"].status is S.ACTIVE


@pytest.mark.parametrize(
    ("status", "sign_in", "write"),
    [(S.PENDING, False, False), (S.ACTIVE, True, True), (S.PAST_DUE, True, True),
     (S.SUSPENDED, True, False), (S.CANCELLED, False, False), (S.DELETED, False, False)],
)
def test_what_each_status_permits(status: TenantStatus, sign_in: bool, write: bool) -> None:
    assert (can_sign_in(status), can_write(status)) == (sign_in, write)


def test_unknown_status_names_the_valid_ones() -> None:
    with pytest.raises(ValueError, match="pending, active, past_due"):
        parse_status("frozen")


def test_the_registry_refuses_a_taken_id_and_keeps_the_first() -> None:
    registry = InMemoryTenantRegistry()
    registry.add(_tenant())
    with pytest.raises(TenantAlreadyExists, match="choose another id"):
        registry.add(replace(_tenant(), name="Impostor"))
    assert registry.tenants["acme"].name == "Acme Clinic"


def test_remove_unfinished_only_removes_a_pending_tenant_of_the_same_request() -> None:
    registry = InMemoryTenantRegistry()
    registry.add(replace(_tenant("a", S.PENDING), onboarding_request_id="r1"))
    registry.add(replace(_tenant("b", S.ACTIVE), onboarding_request_id="r1"))

    assert not registry.remove_unfinished("a", "r2")
    assert not registry.remove_unfinished("b", "r1")
    assert registry.remove_unfinished("a", "r1")
    assert [t.tenant_id for t in registry.list()] == ["b"]
