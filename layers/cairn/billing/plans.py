"""The subscription plans: each tier (multitenant/tiers.py) as a Stripe product with one monthly
price per provider seat, declared once here. `cairn stripe sync-plans` makes a Stripe account
match this table (cairn.billing.gateway.StripeGateway.sync_plan); checkout and the webhooks read
a subscription's tier back from its price's lookup key."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType

from cairn.errors import CairnError
from multitenant.tiers import Tier, limits

CURRENCY = "usd"
INTERVAL = "month"
PLAN_METADATA_KEY = "cairn_tier"  # on products and prices: which tier they are


class InvalidPlanChoice(CairnError):
    """A tier or seat count no plan offers; the message says what to choose."""


@dataclass(frozen=True)
class Plan:
    """One tier as Stripe sells it: a product (our own id, so a sync finds it) and a licensed
    per-seat price (lookup key, so a changed amount moves to a new price under the same key)."""

    tier: Tier
    name: str
    seat_price_cents: int
    description: str

    @property
    def product_id(self) -> str:
        return f"cairn-{self.tier.value}"

    @property
    def lookup_key(self) -> str:
        return f"cairn-{self.tier.value}-seat-{INTERVAL}ly"

    @property
    def max_seats(self) -> int:
        """A tier sells at most its staff seats (the limit user administration enforces)."""
        return limits(self.tier).staff_seats


PLANS: Mapping[Tier, Plan] = MappingProxyType(
    {
        Tier.STARTER: Plan(
            Tier.STARTER,
            "Cairn Starter",
            4_900,
            "The clinical record and the patient portal, per provider seat",
        ),
        Tier.PRACTICE: Plan(
            Tier.PRACTICE,
            "Cairn Practice",
            9_900,
            "Starter with lab integration and claims, per provider seat",
        ),
        Tier.ENTERPRISE: Plan(
            Tier.ENTERPRISE,
            "Cairn Enterprise",
            14_900,
            "Practice with bulk and audit export and single sign-on, per provider seat",
        ),
    }
)


def plan_for(tier: Tier) -> Plan:
    """The plan of `tier`."""
    return PLANS[tier]


def plan_for_lookup_key(lookup_key: str | None) -> Plan | None:
    """The plan whose seat price has `lookup_key`; None for a price Cairn does not sell."""
    return next((plan for plan in PLANS.values() if plan.lookup_key == lookup_key), None)


def check_seats(tier: Tier, seats: object) -> int:
    """`seats` as a seat count the tier sells (1 to its staff seats); InvalidPlanChoice otherwise."""
    plan = plan_for(tier)
    if isinstance(seats, bool) or not isinstance(seats, int) or not 1 <= seats <= plan.max_seats:
        raise InvalidPlanChoice(
            f"seats must be a whole number from 1 to {plan.max_seats} for the "
            f"{tier.value} tier; choose a larger tier for more"
        )
    return seats
