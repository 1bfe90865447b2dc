"""A suspended clinic is read-only: reads and searches work, every write answers 403 with an
OperationOutcome that says why, nothing is stored, and the refusal is audited. The standing
comes from the authorizer's context (tenant_status), never from the request."""

from __future__ import annotations

import json
import random
from collections.abc import Iterator
from typing import Any

import pytest

from devkit.demo_data import demo_patient
from functions.fhir_api import app as api
from multitenant.context import Role, TenantContext
from tests.integration.clinical.support import CLINICAL_TABLE, caller
from tests.integration.clinical.test_fhir_api import call

HOST = "api.example.test"


@pytest.fixture(autouse=True)
def fresh_runtime(cloud) -> Iterator[None]:
    api.runtime.cache_clear()
    yield
    api.runtime.cache_clear()


def _call(method: str, path: str, who: TenantContext, status: str, body: str | None = None,
          ) -> tuple[int, dict[str, Any]]:
    authorizer = {**who.as_claims(), "principalId": who.user_id, "tenant_status": status, "tier": "starter"}
    code, _, answer = call(method, path, None, body, authorizer=authorizer)
    return code, answer


def _create(who: TenantContext, status: str, seed: int) -> tuple[int, dict[str, Any]]:
    return _call("POST", "/fhir/R4/Patient", who, status, json.dumps(demo_patient(random.Random(seed))))


def _read(who: TenantContext, status: str, patient_id: str) -> tuple[int, dict[str, Any]]:
    return _call("GET", f"/fhir/R4/Patient/{patient_id}", who, status)


def _patients_stored(cloud) -> int:
    return sum(1 for item in cloud.scan(CLINICAL_TABLE)
               if item["pk"]["S"].startswith("acme#Patient#") and item["sk"]["S"] == "current")


def test_a_suspended_clinic_reads_but_cannot_write(cloud) -> None:
    physician = caller(Role.PHYSICIAN)
    created_status, created = _create(physician, "active", seed=1)
    assert created_status == 201

    read_status, read_back = _read(physician, "suspended", created["id"])
    search_status, bundle = _call("GET", "/fhir/R4/Patient", physician, "suspended")
    write_status, outcome = _create(physician, "suspended", seed=2)

    assert (read_status, read_back["id"]) == (200, created["id"])
    assert (search_status, bundle["total"] if "total" in bundle else len(bundle["entry"])) == (200, 1)
    assert write_status == 403
    assert outcome["resourceType"] == "OperationOutcome"
    assert "suspended" in outcome["issue"][0]["diagnostics"]
    assert "read and exported" in outcome["issue"][0]["diagnostics"]
    assert _patients_stored(cloud) == 1
    refused = [e for e in cloud.audit_events("acme") if e["subtype"] == "create"][-1]
    assert (refused["outcome"], refused["detail"]) == ("4", "access-denied")


@pytest.mark.parametrize("status", ["active", "past_due"])
def test_active_and_past_due_clinics_write(cloud, status: str) -> None:
    assert _create(caller(Role.FRONT_DESK), status, seed=3)[0] == 201


def test_another_tenants_suspension_does_not_touch_this_tenant(cloud) -> None:
    # The standing travels with the caller's own authorizer context: a suspended clinic's
    # caller cannot write, while another clinic's caller, in the same process, still can.
    assert _create(caller(Role.PHYSICIAN, tenant="other"), "suspended", seed=4)[0] == 403
    assert _create(caller(Role.PHYSICIAN), "active", seed=5)[0] == 201
