"""Tiers are declared once, ordered, and unknown tier names are refused with a clear error."""

from __future__ import annotations

import pytest

from multitenant.tiers import TIER_LIMITS, Feature, Tier, UnknownTier, limits, parse_tier


def test_every_tier_has_limits() -> None:
    assert set(TIER_LIMITS) == set(Tier)


@pytest.mark.parametrize(
    "field", ["staff_seats", "patients", "storage_gb", "api_rate_per_second", "api_burst"]
)
def test_each_higher_tier_allows_more(field: str) -> None:
    starter, practice, enterprise = (getattr(limits(tier), field) for tier in Tier)
    assert 0 < starter < practice < enterprise


def test_each_higher_tier_includes_the_lower_tiers_features() -> None:
    starter, practice, enterprise = (limits(tier).features for tier in Tier)
    assert starter < practice < enterprise == frozenset(Feature)


def test_burst_is_at_least_the_rate() -> None:
    assert all(tier.api_burst >= tier.api_rate_per_second for tier in TIER_LIMITS.values())


def test_limits_accepts_a_tier_name() -> None:
    assert limits("practice") == TIER_LIMITS[Tier.PRACTICE]


def test_unknown_tier_names_the_valid_tiers() -> None:
    with pytest.raises(UnknownTier, match="starter, practice, enterprise"):
        parse_tier("platinum")


def test_limits_cannot_be_changed_at_runtime() -> None:
    with pytest.raises(TypeError):
        TIER_LIMITS[Tier.STARTER] = TIER_LIMITS[Tier.ENTERPRISE]  # type: ignore[index]
