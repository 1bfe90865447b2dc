"""docs/tenancy.md shows the tiers and the lifecycle exactly as the code declares them."""

from __future__ import annotations

from pathlib import Path

from multitenant.lifecycle import TRANSITIONS, TenantStatus, can_sign_in, can_write
from multitenant.tiers import TIER_LIMITS

DOC = Path(__file__).resolve().parents[2] / "docs" / "tenancy.md"


def tiers_table() -> str:
    rows = ["| tier | staff seats | patients | storage (GB) | API rate (req/s) | API burst | features |",
            "|---|---|---|---|---|---|---|"]
    for tier, limit in TIER_LIMITS.items():
        features = ", ".join(sorted(feature.value for feature in limit.features))
        rows.append(f"| {tier.value} | {limit.staff_seats:,} | {limit.patients:,} | {limit.storage_gb:,} | "
                    f"{limit.api_rate_per_second} | {limit.api_burst} | {features} |")
    return "\n".join(rows)


def lifecycle_table() -> str:
    rows = ["| status | may become | users sign in | writes |", "|---|---|---|---|"]
    for status in TenantStatus:
        successors = ", ".join(s.value for s in TenantStatus if s in TRANSITIONS[status]) or "— (final)"
        rows.append(f"| {status.value} | {successors} | {'yes' if can_sign_in(status) else 'no'} | "
                    f"{'yes' if can_write(status) else 'no'} |")
    return "\n".join(rows)


def test_the_tiers_table_is_the_declared_one() -> None:
    assert tiers_table() in DOC.read_text(encoding="utf-8")


def test_the_lifecycle_table_is_the_declared_one() -> None:
    assert lifecycle_table() in DOC.read_text(encoding="utf-8")


if __name__ == "__main__":  # print the tables to paste into the doc
    print(tiers_table(), lifecycle_table(), sep="\n\n")
