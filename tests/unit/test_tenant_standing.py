"""The authorizer's view of a tenant: admitted by status, cached briefly, passed on as strings."""

from __future__ import annotations

import pytest

from multitenant.lifecycle import TenantStatus
from multitenant.registry import InMemoryTenantRegistry, Tenant
from multitenant.standing import TenantNotAdmitted, TenantStanding, TenantStandings, deny, with_standing
from multitenant.tiers import Tier


class CountingRegistry(InMemoryTenantRegistry):
    def __init__(self) -> None:
        super().__init__()
        self.reads = 0

    def get(self, tenant_id: str) -> Tenant | None:
        self.reads += 1
        return super().get(tenant_id)


def _tenant(status: TenantStatus) -> Tenant:
    return Tenant(tenant_id="acme", name="Acme", tier=Tier.STARTER, status=status,
                  created="2026-11-01T00:00:00.000Z", updated="2026-11-01T00:00:00.000Z")


def test_a_lookup_is_cached_until_its_time_is_up_then_read_again() -> None:
    registry = CountingRegistry()
    registry.add(_tenant(TenantStatus.ACTIVE))
    now = [100.0]
    standings = TenantStandings(registry, ttl_seconds=30, monotonic=lambda: now[0])

    first = standings.admit("acme")
    registry.tenants["acme"] = _tenant(TenantStatus.CANCELLED)
    now[0] = 129.0
    cached = standings.admit("acme")
    now[0] = 131.0

    assert first == cached == TenantStanding(TenantStatus.ACTIVE, Tier.STARTER)
    with pytest.raises(TenantNotAdmitted, match="is cancelled"):
        standings.admit("acme")
    assert registry.reads == 2


def test_an_unknown_tenant_is_not_admitted_and_the_answer_is_cached() -> None:
    registry = CountingRegistry()
    standings = TenantStandings(registry)
    for _ in range(3):
        with pytest.raises(TenantNotAdmitted, match="not registered"):
            standings.admit("ghost")
    assert registry.reads == 1


def test_the_standing_round_trips_through_the_authorizer_context() -> None:
    standing = TenantStanding(TenantStatus.SUSPENDED, Tier.ENTERPRISE)
    decision = with_standing({"principalId": "u", "context": {"tenant_id": "acme"}}, standing)

    assert decision["context"] == {"tenant_id": "acme", "tenant_status": "suspended", "tier": "enterprise"}
    assert TenantStanding.from_authorizer(decision["context"]) == standing
    assert not standing.writable
    assert TenantStanding.from_authorizer({"tenant_id": "acme"}) is None


def test_deny_covers_the_whole_api_and_stage() -> None:
    decision = deny("u", "arn:aws:execute-api:us-east-1:1:api/dev/GET/fhir/R4/Patient")
    assert decision["policyDocument"]["Statement"] == [{
        "Action": "execute-api:Invoke", "Effect": "Deny",
        "Resource": "arn:aws:execute-api:us-east-1:1:api/dev/*"}]
