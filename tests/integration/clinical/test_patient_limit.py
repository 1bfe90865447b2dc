"""The tier's patient limit: every Patient create counts in the same transaction, and a create
that would pass the limit is refused (403 at the API) with nothing stored."""

from __future__ import annotations

import json
import random
from collections.abc import Iterator
from dataclasses import replace
from typing import Any

import pytest

from cairn.records.dynamodb import DynamoResourceRepository
from cairn.records.keys import counter_pk
from cairn.records.standing import TierLimitReached
from devkit.demo_data import demo_patient
from functions.fhir_api import app as api
from multitenant import tiers
from multitenant.context import Role
from multitenant.tiers import Tier
from tests.integration.clinical.support import CLINICAL_TABLE, caller
from tests.integration.clinical.test_fhir_api import call

HOST = "api.example.test"


@pytest.fixture(autouse=True)
def fresh_runtime(cloud) -> Iterator[None]:
    api.runtime.cache_clear()
    yield
    api.runtime.cache_clear()


def _patient(seed: int, tenant: str = "acme") -> dict[str, Any]:
    resource = demo_patient(random.Random(seed))
    meta = {"versionId": "1", "lastUpdated": "2026-11-22T04:00:00.000Z"}
    return {**resource, "id": f"{tenant}-p{seed}", "meta": meta}


def _counted(cloud, tenant: str) -> int | None:
    item = (
        cloud.clients.dynamodb()
        .get_item(TableName=CLINICAL_TABLE, Key={"pk": {"S": counter_pk(tenant)}, "sk": {"S": "Patient"}})
        .get("Item")
    )
    return int(item["count"]["N"]) if item else None


def _stored(cloud, tenant: str) -> int:
    return sum(
        1
        for item in cloud.scan(CLINICAL_TABLE)
        if item["pk"]["S"].startswith(f"{tenant}#Patient#") and item["sk"]["S"] == "current"
    )


def _records(cloud, tenant: str, limit: int | None) -> DynamoResourceRepository:
    return DynamoResourceRepository(
        caller(tenant=tenant), cloud.clients.dynamodb(), CLINICAL_TABLE, cloud.runtime.keyring, limit
    )


def test_creates_count_and_the_one_past_the_limit_stores_nothing(cloud) -> None:
    records = _records(cloud, "acme", 2)
    records.add(_patient(1))
    records.add(_patient(2))

    with pytest.raises(TierLimitReached, match="allows 2 Patient resources"):
        records.add(_patient(3))

    assert (_counted(cloud, "acme"), _stored(cloud, "acme")) == (2, 2)


def test_each_tenant_has_its_own_count(cloud) -> None:
    _records(cloud, "acme", 1).add(_patient(1))
    _records(cloud, "other", 1).add(_patient(1, tenant="other"))

    assert (_counted(cloud, "acme"), _counted(cloud, "other")) == (1, 1)


def test_creates_without_a_known_limit_are_still_counted(cloud) -> None:
    # Trusted callers (bundle import) do not know the tier: their creates count all the same.
    _records(cloud, "acme", None).add(_patient(1))
    with pytest.raises(TierLimitReached):
        _records(cloud, "acme", 1).add(_patient(2))
    assert _counted(cloud, "acme") == 1


def test_the_api_refuses_a_patient_past_the_tiers_limit_with_a_clear_403(cloud, monkeypatch) -> None:
    one_patient = replace(tiers.TIER_LIMITS[Tier.STARTER], patients=1)
    monkeypatch.setattr(tiers, "TIER_LIMITS", {**tiers.TIER_LIMITS, Tier.STARTER: one_patient})
    who = caller(Role.FRONT_DESK)

    def create(seed: int) -> tuple[int, dict[str, Any]]:
        authorizer = {
            **who.as_claims(),
            "principalId": who.user_id,
            "tenant_status": "active",
            "tier": "starter",
        }
        status, _, body = call(
            "POST",
            "/fhir/R4/Patient",
            None,
            json.dumps(demo_patient(random.Random(seed))),
            authorizer=authorizer,
        )
        return status, body

    first, _ = create(1)
    second, outcome = create(2)

    assert (first, second) == (201, 403)
    assert "move the clinic to a larger tier" in outcome["issue"][0]["diagnostics"]
    assert _stored(cloud, "acme") == 1
