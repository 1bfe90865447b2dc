"""Break-glass over the FHIR API's Chalice app against moto: restricted patients, the time-boxed
grant, the sealed reason, the admins' report, and other clinics kept out."""

from __future__ import annotations

import json
import random
from collections.abc import Iterator
from typing import Any

import pytest

from devkit.demo_data import demo_patient
from functions.fhir_api import app as api
from multitenant.context import Role, TenantContext
from multitenant.permissions import CONFIDENTIALITY_SYSTEM
from tests.integration.clinical.support import CLINICAL_TABLE, caller
from tests.integration.clinical.test_fhir_api import call, create, read

REASON = "unconscious in ED, no other record available"


@pytest.fixture(autouse=True)
def fresh_runtime(cloud) -> Iterator[None]:
    api.runtime.cache_clear()
    yield
    api.runtime.cache_clear()


def restricted_patient(tenant: str = "acme") -> str:
    patient = demo_patient(random.Random(7))
    patient["meta"] = {"security": [{"system": CONFIDENTIALITY_SYSTEM, "code": "R"}]}
    status, _, body = create(caller(Role.FRONT_DESK, tenant), patient)
    assert status == 201
    return str(body["id"])


def break_glass(who: TenantContext, patient_id: str, reason: str = REASON) -> tuple[int, dict[str, Any]]:
    body = {"resourceType": "Parameters", "parameter": [{"name": "reason", "valueString": reason}]}
    status, _, answer = call("POST", f"/access/break-glass/{patient_id}", who, json.dumps(body),
                             path_parameters={"id": patient_id}, resource="/access/break-glass/{id}")
    return status, answer


def report(who: TenantContext) -> tuple[int, dict[str, Any]]:
    status, _, answer = call("GET", "/access/break-glass", who)
    return status, answer


def parameters(resource: dict[str, Any]) -> dict[str, Any]:
    return {p["name"]: next(v for k, v in p.items() if k.startswith("value")) for p in resource["parameter"]}


def test_a_physician_breaks_the_glass_to_read_a_restricted_patient(cloud) -> None:
    patient_id = restricted_patient()
    physician = caller(Role.PHYSICIAN)

    status, _, refused = read(physician, patient_id)
    assert status == 403
    assert "/access/break-glass/" in refused["issue"][0]["diagnostics"]

    status, grant = break_glass(physician, patient_id)
    assert status == 201
    assert parameters(grant)["active"] is True
    assert parameters(grant)["patient"] == {"reference": f"Patient/{patient_id}"}

    status, _, body = read(physician, patient_id)
    assert (status, body["id"]) == (200, patient_id)
    events = cloud.audit_events("acme")
    assert [(e["subtype"], e["outcome"]) for e in events[-3:]] == [
        ("read", "4"), ("break-glass", "0"), ("read", "0")]
    assert events[-2]["detail"].startswith("purposeOfUse:BTG;grant:")
    assert events[-1]["detail"].startswith("break-glass:")


def test_the_reason_is_sealed_at_rest_and_never_audited(cloud) -> None:
    patient_id = restricted_patient()
    break_glass(caller(Role.NURSE), patient_id)
    assert REASON not in json.dumps(cloud.scan(CLINICAL_TABLE))
    assert not [e for e in cloud.audit_events("acme") if REASON in json.dumps(e)]


def test_the_admin_reports_grants_with_reasons_and_another_clinic_sees_none(cloud) -> None:
    patient_id = restricted_patient()
    break_glass(caller(Role.NURSE), patient_id)

    status, bundle = report(caller(Role.ADMIN))
    assert (status, bundle["total"]) == (200, 1)
    (entry,) = bundle["entry"]
    shown = parameters(entry["resource"])
    assert (shown["reason"], shown["role"]) == (REASON, "nurse")

    assert report(caller(Role.ADMIN, "globex")) == (200, {"resourceType": "Bundle", "type": "collection",
                                                           "total": 0, "entry": []})
    assert report(caller(Role.PHYSICIAN))[0] == 403


def test_another_clinic_cannot_break_the_glass_on_a_patient_it_does_not_have(cloud) -> None:
    patient_id = restricted_patient("acme")
    status, _ = break_glass(caller(Role.PHYSICIAN, "globex"), patient_id)
    assert status == 404
    assert read(caller(Role.PHYSICIAN, "globex"), patient_id)[0] == 404
    assert report(caller(Role.ADMIN))[1]["total"] == 0
    assert [(e["subtype"], e["outcome"]) for e in cloud.audit_events("globex")] == [
        ("break-glass", "4"), ("read", "4")]


@pytest.mark.parametrize(("who", "reason", "status"), [
    (caller(Role.FRONT_DESK), REASON, 403),
    (caller(Role.ADMIN), REASON, 403),
    (caller(Role.PHYSICIAN), "because", 400),
])
def test_break_glass_is_refused_without_the_role_or_a_reason(cloud, who, reason, status) -> None:
    patient_id = restricted_patient()
    assert break_glass(who, patient_id, reason)[0] == status
    assert report(caller(Role.ADMIN))[1]["total"] == 0


def test_break_glass_without_a_verified_caller_is_401(cloud) -> None:
    patient_id = restricted_patient()
    assert break_glass(None, patient_id)[0] == 401  # type: ignore[arg-type]
