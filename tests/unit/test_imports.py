"""Bundle import: created, rejected with reasons, skipped by type; keys stay in the tenant."""

from __future__ import annotations

from typing import Any

import pytest

from cairn.audit.events import AuditAction, AuditEvent, AuditOutcome
from cairn.errors import AccessDenied
from cairn.imports import import_bundle, imported_id, read_bundle, require_tenant_key
from cairn.patients import PatientService
from devkit.demo_data import demo_patient_bundle
from multitenant.context import TenantContext
from tests.unit.fakes import FakeAuditTrail, FakeRecords

SYSTEM = TenantContext.system("acme", "bundle-import")
KEY = "tenants/acme/imports/demo.json"


def service(store: dict[Any, Any], events: list[Any] | None = None) -> PatientService:
    audit = FakeAuditTrail(SYSTEM, [] if events is None else events)
    return PatientService(SYSTEM, FakeRecords(SYSTEM, store), audit)


class UnreachableS3:
    """An S3 client for reads that must be refused before they reach S3."""

    def __init__(self) -> None:
        self.calls: list[dict[str, Any]] = []

    def get_object(self, **request: Any) -> None:
        self.calls.append(request)
        raise AssertionError("S3 was read")


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
    summary = import_bundle(service(store), bundle, KEY).as_dict()
    assert [c["fullUrl"] for c in summary["created"]] == [good_url]
    assert ("acme", "Patient", summary["created"][0]["id"]) in store
    assert summary["rejected"][0]["index"] == 1
    assert "Patient.birthDate" in summary["rejected"][0]["reason"]
    assert summary["rejected"][1] == {"index": 4, "reason": "entry has no resource object"}
    assert summary["skipped"] == {"Observation": 2}
    assert summary["existing"] == []


def test_importing_a_bundle_again_stores_nothing_twice_and_reports_its_patients_existing():
    bundle = demo_patient_bundle(5)
    bundle["entry"].append({"resource": demo_patient_bundle(6)["entry"][0]["resource"]})  # no fullUrl
    store: dict[Any, Any] = {}
    events: list[Any] = []
    first = import_bundle(service(store, events), bundle, KEY).as_dict()
    stored = dict(store)
    again = import_bundle(service(store, events), bundle, KEY).as_dict()
    assert len(first["created"]) == 2
    assert (again["created"], again["existing"], again["rejected"]) == ([], first["created"], [])
    assert store == stored
    assert [(e.outcome, e.entity_id, e.detail) for _, e in events] == [
        (AuditOutcome.SUCCESS, c["id"], None) for c in first["created"]
    ] + [(AuditOutcome.SUCCESS, c["id"], "existing") for c in first["created"]]


def test_a_bundle_replaced_at_the_same_key_has_its_changed_patients_rejected_not_reported_existing():
    store: dict[Any, Any] = {}
    original = demo_patient_bundle(5)
    import_bundle(service(store), original, KEY)
    stored = dict(store)
    replaced = demo_patient_bundle(6)
    replaced["entry"][0]["fullUrl"] = original["entry"][0]["fullUrl"]
    summary = import_bundle(service(store), replaced, KEY).as_dict()
    assert (summary["created"], summary["existing"]) == ([], [])
    assert summary["rejected"][0]["index"] == 0
    assert "stored a different Patient for this entry" in summary["rejected"][0]["reason"]
    assert store == stored


def test_imported_ids_are_stable_and_differ_by_tenant_key_and_entry():
    entry = {"fullUrl": "urn:uuid:1"}
    ids = {
        imported_id("acme", KEY, entry, 0),
        imported_id("globex", KEY, entry, 0),
        imported_id("acme", "tenants/acme/other.json", entry, 0),
        imported_id("acme", KEY, {"fullUrl": "urn:uuid:2"}, 0),
        imported_id("acme", KEY, {}, 0),
        imported_id("acme", KEY, {}, 1),
    }
    assert len(ids) == 6
    assert imported_id("acme", KEY, entry, 0) == imported_id("acme", KEY, dict(entry), 7)


def test_refused_bundle_key_is_audited_as_a_denial_without_the_key_and_s3_is_not_read():
    events: list[Any] = []
    s3 = UnreachableS3()
    with pytest.raises(AccessDenied):
        read_bundle(s3, "documents", FakeAuditTrail(SYSTEM, events), "tenants/globex/Jane Doe.json")
    denial = AuditEvent(AuditAction.EXECUTE, "import", AuditOutcome.MINOR_FAILURE, "Bundle",
                        detail="access-denied")
    assert events == [(SYSTEM, denial)]
    assert s3.calls == []


@pytest.mark.parametrize(
    "key", ["tenants/globex/a.json", "a.json", "tenants/acme-2/a.json", "tenants/acme/../globex/a.json"]
)
def test_bundle_keys_outside_the_tenants_prefix_are_refused(key):
    with pytest.raises(AccessDenied):
        require_tenant_key(SYSTEM, key)


def test_bundle_key_inside_the_tenants_prefix_is_accepted():
    require_tenant_key(SYSTEM, "tenants/acme/imports/synthea.json")
