"""Subscription tiers and their limits, declared once.

Everything that enforces or provisions a limit reads it from here: the API authorizer and the
clinical service (patients, seats, status), the CDK per-tier API Gateway usage plans (rate and
burst), the onboarding workflow (a new tenant's tier), and the docs' tiers table.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum
from types import MappingProxyType


class Tier(StrEnum):
    STARTER = "starter"
    PRACTICE = "practice"
    ENTERPRISE = "enterprise"


class Feature(StrEnum):
    """Capabilities a tier may include beyond the clinical record itself."""

    PATIENT_PORTAL = "patient_portal"
    LAB_INTEGRATION = "lab_integration"
    CLAIMS = "claims"
    BULK_EXPORT = "bulk_export"
    AUDIT_EXPORT = "audit_export"
    SSO = "sso"


class UnknownTier(ValueError):
    """A tier name that is not one of Cairn's tiers."""

    def __init__(self, name: str) -> None:
        super().__init__(
            f"unknown tier {name!r}: use one of {', '.join(tier.value for tier in Tier)}"
        )
        self.name = name


@dataclass(frozen=True)
class TierLimits:
    """What one tier allows. `api_rate_per_second` and `api_burst` are the API Gateway usage
    plan's steady-state rate and burst for each tenant of the tier."""

    staff_seats: int
    patients: int
    storage_gb: int
    api_rate_per_second: int
    api_burst: int
    features: frozenset[Feature]


TIER_LIMITS: Mapping[Tier, TierLimits] = MappingProxyType(
    {
        Tier.STARTER: TierLimits(
            staff_seats=5,
            patients=2_000,
            storage_gb=10,
            api_rate_per_second=10,
            api_burst=20,
            features=frozenset({Feature.PATIENT_PORTAL}),
        ),
        Tier.PRACTICE: TierLimits(
            staff_seats=25,
            patients=20_000,
            storage_gb=100,
            api_rate_per_second=50,
            api_burst=100,
            features=frozenset({Feature.PATIENT_PORTAL, Feature.LAB_INTEGRATION, Feature.CLAIMS}),
        ),
        Tier.ENTERPRISE: TierLimits(
            staff_seats=250,
            patients=500_000,
            storage_gb=2_000,
            api_rate_per_second=200,
            api_burst=400,
            features=frozenset(Feature),
        ),
    }
)


def parse_tier(name: str) -> Tier:
    """The Tier called `name`; UnknownTier (naming the valid tiers) otherwise."""
    try:
        return Tier(name)
    except ValueError as exc:
        raise UnknownTier(name) from exc


def limits(tier: Tier | str) -> TierLimits:
    """The limits of `tier` (a Tier or its name); UnknownTier for a name that is not a tier."""
    return TIER_LIMITS[parse_tier(tier) if not isinstance(tier, Tier) else tier]
