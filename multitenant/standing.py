"""A tenant's standing on each request: its status and tier, as the authorizer found them.

The authorizer looks the tenant up in the registry (cached for a short while per process),
refuses tenants whose status allows no sign-in, and passes `tenant_status` and `tier` on in the
authorizer context, where the clinical service reads them (suspended tenants are read-only).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from multitenant.lifecycle import TenantStatus, can_sign_in, can_write, parse_status
from multitenant.registry import BaseTenantRegistry
from multitenant.tiers import Tier, TierLimits, limits, parse_tier

# Long enough that a busy tenant costs one registry read per process every half minute; short
# enough that a suspension or cancellation takes effect within that half minute.
STANDING_TTL_SECONDS = 30.0
STATUS_CLAIM = "tenant_status"
TIER_CLAIM = "tier"
SEATS_CLAIM = "seats"


class TenantNotAdmitted(Exception):
    """The tenant is unknown, or its status allows no sign-in (pending, cancelled, deleted)."""

    def __init__(self, tenant_id: str, status: TenantStatus | None) -> None:
        reason = "is not registered" if status is None else f"is {status}"
        super().__init__(f"tenant {tenant_id} {reason}: its users cannot sign in")
        self.tenant_id = tenant_id
        self.status = status


@dataclass(frozen=True)
class TenantStanding:
    """What the control plane says about the caller's tenant for this request."""

    status: TenantStatus
    tier: Tier
    seats: int | None = None  # staff seats the subscription pays for (billing); None: the tier's

    @property
    def writable(self) -> bool:
        return can_write(self.status)

    @property
    def limits(self) -> TierLimits:
        return limits(self.tier)

    @property
    def staff_seats(self) -> int:
        """The staff accounts the clinic may have enabled: the seats it pays for, within its tier."""
        tier_seats = self.limits.staff_seats
        return min(self.seats, tier_seats) if self.seats else tier_seats

    def as_context(self) -> dict[str, str]:
        """The authorizer context entries (strings, as API Gateway requires)."""
        seats = {SEATS_CLAIM: str(self.seats)} if self.seats else {}
        return {STATUS_CLAIM: self.status.value, TIER_CLAIM: self.tier.value, **seats}

    @classmethod
    def from_authorizer(cls, authorizer: Mapping[str, object] | None) -> TenantStanding | None:
        """The standing the authorizer passed on; None where it passed none (trusted callers)."""
        if not authorizer or not authorizer.get(STATUS_CLAIM):
            return None
        seats = str(authorizer.get(SEATS_CLAIM) or "")
        return cls(parse_status(str(authorizer[STATUS_CLAIM])), parse_tier(str(authorizer.get(TIER_CLAIM))),
                   int(seats) if seats.isdigit() else None)


class TenantStandings:
    """Standing lookups over the registry, cached per tenant for `ttl_seconds` in this process."""

    def __init__(self, registry: BaseTenantRegistry, ttl_seconds: float = STANDING_TTL_SECONDS,
                 monotonic: Callable[[], float] = time.monotonic) -> None:
        self._registry = registry
        self._ttl = ttl_seconds
        self._monotonic = monotonic
        self._cached: dict[str, tuple[float, TenantStanding | None]] = {}
        self._lock = threading.Lock()

    def lookup(self, tenant_id: str) -> TenantStanding | None:
        """The tenant's standing, or None if it is not registered (negative answers are cached too)."""
        now = self._monotonic()
        with self._lock:
            hit = self._cached.get(tenant_id)
        if hit is not None and hit[0] > now:
            return hit[1]
        tenant = self._registry.get(tenant_id)
        standing = TenantStanding(tenant.status, tenant.tier, tenant.seats) if tenant else None
        with self._lock:
            self._cached[tenant_id] = (now + self._ttl, standing)
        return standing

    def admit(self, tenant_id: str) -> TenantStanding:
        """The standing of a tenant whose users may sign in; TenantNotAdmitted otherwise."""
        standing = self.lookup(tenant_id)
        if standing is None or not can_sign_in(standing.status):
            raise TenantNotAdmitted(tenant_id, standing.status if standing else None)
        return standing


def with_standing(decision: dict[str, Any], standing: TenantStanding) -> dict[str, Any]:
    """An authorizer Allow decision that also carries the tenant's standing in its context."""
    return {**decision, "context": {**decision.get("context", {}), **standing.as_context()}}


def deny(principal_id: str, method_arn: str) -> dict[str, Any]:
    """A Deny decision for the whole API (API Gateway answers 403): the caller is who they say,
    but their clinic may not use Cairn now."""
    api_and_stage = "/".join(method_arn.split("/")[:2])
    return {
        "principalId": principal_id,
        "policyDocument": {
            "Version": "2012-10-17",
            "Statement": [{"Action": "execute-api:Invoke", "Effect": "Deny",
                           "Resource": f"{api_and_stage}/*"}],
        },
    }
