"""Bundle import: created, rejected with reasons, skipped by type; keys stay in the tenant."""

from __future__ import annotations

from typing import Any

import pytest

from cairn.errors import AccessDenied
from cairn.imports import import_bundle, require_tenant_key
from cairn.patients import PatientService
from devkit.demo_data import demo_patient_bundle
from multitenant.context import TenantContext
from tests.unit.fakes import FakeAuditTrail, FakeRecords

SYSTEM = TenantContext.system("acme", "bundle-import")


def service(store: dict[Any, Any]) -> PatientService:
    return PatientService(SYSTEM, FakeRecords(SYSTEM, store), FakeAuditTrail(SYSTEM, []))


def test_import_creates_patients_rejects_invalid_ones_and_counts_other_types():
    bundle = demo_patient_bundle(5)
    good_url = bundle["entry"][0]["fullUrl"]
    bundle["entry"] += [
        {"fullUrl": "urn:uuid:bad", "resource": {"resourceType": "Patient", "birthDate": "yesterday"}},
        {"resource": {"resourceType": "Observation", "status": "final"}},
        {"resource": {"resourceType": "Observation", "status": "final"}},
        {"request": {"method": "DELETE"}},
    ]
    store: dict[Any, Any] = {}
    summary = import_bundle(service(store), bundle).as_dict()
    assert [c["fullUrl"] for c in summary["created"]] == [good_url]
    assert ("acme", "Patient", summary["created"][0]["id"]) in store
    assert summary["rejected"][0]["index"] == 1
    assert "Patient.birthDate" in summary["rejected"][0]["reason"]
    assert summary["rejected"][1] == {"index": 4, "reason": "entry has no resource object"}
    assert summary["skipped"] == {"Observation": 2}


@pytest.mark.parametrize(
    "key", ["tenants/globex/a.json", "a.json", "tenants/acme-2/a.json", "tenants/acme/../globex/a.json"]
)
def test_bundle_keys_outside_the_tenants_prefix_are_refused(key):
    with pytest.raises(AccessDenied):
        require_tenant_key(SYSTEM, key)


def test_bundle_key_inside_the_tenants_prefix_is_accepted():
    require_tenant_key(SYSTEM, "tenants/acme/imports/synthea.json")
