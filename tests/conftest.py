"""Fixtures every test level shares: where the real sample data is, or why it is not."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

PROJECT_ROOT = Path(__file__).resolve().parent.parent
SHARED_FIXTURES = PROJECT_ROOT.parent / "shared" / "fixtures"
NO_SHARED = (
    f"the shared sample data is not beside this clone ({SHARED_FIXTURES} is missing); "
    "Cairn's generated fixtures (devkit.demo_data) cover the same code paths"
)


@pytest.fixture(scope="session")
def shared_fixtures() -> Path:
    """../shared/fixtures, or a skip that says why it is missing."""
    if not SHARED_FIXTURES.is_dir():
        pytest.skip(NO_SHARED)
    return SHARED_FIXTURES


@pytest.fixture(scope="session")
def synthea_bundles(shared_fixtures: Path) -> list[dict[str, Any]]:
    """The Synthea transaction Bundles from ../shared/fixtures/synthea."""
    paths = sorted((shared_fixtures / "synthea").glob("*.json"))
    return [json.loads(path.read_text(encoding="utf-8")) for path in paths]


@pytest.fixture(scope="session", autouse=True)
def _dynamodb_transactions_at_table_independent_cost() -> Any:
    """moto's transactions copy whole tables to roll back, and its queries sort whole tables; the
    embedded runtime patches both (devkit.dynamodb_transactions, devkit.dynamodb_queries) and so
    do the tests that run moto in this process."""
    from devkit import dynamodb_queries, dynamodb_transactions

    with dynamodb_transactions.installed(), dynamodb_queries.installed():
        yield
