"""A tenant's API Gateway API key and its tier's usage plans: names shared by the authorizer,
onboarding, the CDK stacks and the embedded runtime (no CDK, no AWS calls here).

The authorizer names the key by its value (`usage_identifier_key`, multitenant/api_authorizer.py);
onboarding creates a key with exactly that value and adds it to the tier's usage plan of every
tenant-facing API, which it finds by `usage_plan_name`.
"""

from __future__ import annotations

from multitenant.api_authorizer import usage_identifier_key
from multitenant.tiers import Tier, parse_tier

__all__ = ["is_tier_plan", "usage_identifier_key", "usage_plan_name"]


def usage_plan_name(stage: str, api: str, tier: Tier | str) -> str:
    """The usage plan of `tier` on the API served by function `api`: "cairn-<stage>-<api>-<tier>"."""
    tier_name = tier.value if isinstance(tier, Tier) else parse_tier(tier).value
    return f"cairn-{stage}-{api}-{tier_name}"


def is_tier_plan(name: str, stage: str, tier: Tier) -> bool:
    """Whether usage plan `name` is `tier`'s plan on some API of `stage` (usage_plan_name's shape).
    Tier names are distinct suffixes, so no tier's plan matches another's."""
    return name.startswith(f"cairn-{stage}-") and name.endswith(f"-{tier.value}")
