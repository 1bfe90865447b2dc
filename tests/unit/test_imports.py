"""Bundle import of every chart type: references resolved (urn:uuid, conditional, in the bundle
and in the tenant), dependency order, skipped types counted, references to them removed only
where optional, rejections with reasons and no values, idempotent replay, tenant isolation."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from cairn.audit.events import AuditAction, AuditEvent, AuditOutcome
from cairn.errors import AccessDenied
from cairn.imports import (
    import_bundle,
    imported_id,
    read_bundle,
    require_tenant_key,
)
from cairn.records.service import RecordService
from devkit.demo_data import NPI, demo_chart_bundle
from multitenant.context import TenantContext
from tests.unit.fakes import FakeAuditTrail, FakeRecords, current_resources

SYSTEM = TenantContext.system("acme", "bundle-import")
KEY = "tenants/acme/imports/demo.json"


class Clinic:
    """One store and audit log shared by every tenant, like the real table and trail."""

    def __init__(self) -> None:
        self.store: dict[Any, Any] = {}
        self.events: list[tuple[TenantContext, AuditEvent]] = []

    def service(self, context: TenantContext) -> RecordService:
        return RecordService(context, FakeRecords(context, self.store), FakeAuditTrail(context, self.events))

    def run(self, bundle: dict[str, Any], key: str = KEY, tenant: str = "acme") -> dict[str, Any]:
        system = TenantContext.system(tenant, "bundle-import")
        return import_bundle(self.service(system), bundle, key).as_dict()

    def stored(self, tenant: str = "acme") -> dict[tuple[str, str], dict[str, Any]]:
        return {(t, i): r for (owner, t, i), r in current_resources(self.store).items() if owner == tenant}


@pytest.fixture
def clinic() -> Clinic:
    return Clinic()


def entries_by_type(bundle: dict[str, Any], resource_type: str) -> list[dict[str, Any]]:
    return [e for e in bundle["entry"] if e["resource"]["resourceType"] == resource_type]


def ids_of(summary: dict[str, Any]) -> dict[str, str]:
    """fullUrl -> stored id, of created and existing entries."""
    return {e["fullUrl"]: e["id"] for e in summary["created"] + summary["existing"]}


def test_urn_uuid_references_become_references_to_the_stored_entries(clinic):
    bundle = demo_chart_bundle(1)
    summary = clinic.run(bundle)
    ids = ids_of(summary)
    (observation,) = entries_by_type(bundle, "Observation")
    (patient,) = entries_by_type(bundle, "Patient")
    (visit,) = entries_by_type(bundle, "Encounter")
    stored = clinic.stored()[("Observation", ids[observation["fullUrl"]])]
    assert stored["subject"] == {"reference": f"Patient/{ids[patient['fullUrl']]}"}
    assert stored["encounter"] == {"reference": f"Encounter/{ids[visit['fullUrl']]}"}
    assert summary["created_by_type"] == {"Organization": 1, "Practitioner": 1, "Patient": 1,
                                          "Encounter": 1, "Condition": 1, "Observation": 1}
    assert summary["rejected"] == []
    assert summary["adjusted"] == []


def test_entries_are_stored_directory_first_then_patients_then_each_record_after_what_it_names(clinic):
    bundle = demo_chart_bundle(2)  # lists the Condition and Observation before their Encounter
    order = [e["resource"]["resourceType"] for e in bundle["entry"]]
    assert order.index("Observation") < order.index("Encounter")
    summary = clinic.run(bundle)
    assert [c["type"] for c in summary["created"]] == [
        "Organization", "Practitioner", "Patient", "Encounter", "Condition", "Observation"]
    assert [e.entity_type for _, e in clinic.events if e.action is AuditAction.CREATE] == [
        c["type"] for c in summary["created"]]


def test_types_cairn_does_not_store_are_counted_as_skipped_not_dropped_silently(clinic):
    bundle = demo_chart_bundle(3)
    bundle["entry"].append({"fullUrl": "urn:uuid:eob", "resource": {"resourceType": "ExplanationOfBenefit"}})
    summary = clinic.run(bundle)
    assert summary["skipped"] == {"Claim": 1, "ExplanationOfBenefit": 1}
    assert not any(t in {"Claim", "ExplanationOfBenefit"} for t, _ in clinic.stored())


def test_a_conditional_reference_names_the_matching_entry_of_the_bundle(clinic):
    bundle = demo_chart_bundle(4)
    (practitioner,) = entries_by_type(bundle, "Practitioner")
    npi = practitioner["resource"]["identifier"][0]["value"]
    (visit,) = entries_by_type(bundle, "Encounter")
    visit["resource"]["participant"][0]["individual"] = {"reference": f"Practitioner?identifier={NPI}|{npi}"}
    summary = clinic.run(bundle)
    ids = ids_of(summary)
    stored = clinic.stored()[("Encounter", ids[visit["fullUrl"]])]
    expected = f"Practitioner/{ids[practitioner['fullUrl']]}"
    assert stored["participant"][0]["individual"] == {"reference": expected}


def test_a_conditional_reference_names_the_matching_resource_of_the_tenant(clinic):
    first = demo_chart_bundle(5)
    (practitioner,) = entries_by_type(first, "Practitioner")
    npi = practitioner["resource"]["identifier"][0]["value"]
    practitioner_id = ids_of(clinic.run(first))[practitioner["fullUrl"]]
    second = demo_chart_bundle(6)
    second["entry"] = [e for e in second["entry"] if e["resource"]["resourceType"] != "Practitioner"]
    (visit,) = entries_by_type(second, "Encounter")
    visit["resource"]["participant"][0]["individual"] = {"reference": f"Practitioner?identifier={NPI}|{npi}"}
    summary = clinic.run(second, "tenants/acme/imports/second.json")
    stored = clinic.stored()[("Encounter", ids_of(summary)[visit["fullUrl"]])]
    assert stored["participant"][0]["individual"] == {"reference": f"Practitioner/{practitioner_id}"}


def test_a_conditional_reference_never_resolves_to_another_tenants_resource(clinic):
    first = demo_chart_bundle(7)
    (practitioner,) = entries_by_type(first, "Practitioner")
    npi = practitioner["resource"]["identifier"][0]["value"]
    clinic.run(first, "tenants/globex/imports/a.json", tenant="globex")
    second = demo_chart_bundle(8)
    second["entry"] = [e for e in second["entry"] if e["resource"]["resourceType"] != "Practitioner"]
    (visit,) = entries_by_type(second, "Encounter")
    visit_index = second["entry"].index(visit)
    visit["resource"]["participant"][0]["individual"] = {"reference": f"Practitioner?identifier={NPI}|{npi}"}
    summary = clinic.run(second)
    rejected = {r["index"]: r["reason"] for r in summary["rejected"]}
    assert "matches no Practitioner in the bundle or the clinic" in rejected[visit_index]
    assert npi not in str(summary["rejected"])  # the identifier may be a person's: never echoed
    assert ("Encounter", imported_id("acme", KEY, visit, visit_index)) not in clinic.stored()


def test_an_optional_reference_to_a_skipped_type_is_removed_and_reported_as_adjusted(clinic):
    bundle = demo_chart_bundle(9)
    bundle["entry"].append({"fullUrl": "urn:uuid:plan", "resource": {"resourceType": "CarePlan"}})
    (observation,) = entries_by_type(bundle, "Observation")
    observation["resource"]["basedOn"] = [{"reference": "urn:uuid:plan"}]
    summary = clinic.run(bundle)
    index = bundle["entry"].index(observation)
    reason = ("Observation.basedOn[0]: removed a reference to a type Cairn does not store "
              "(the element is optional)")
    assert summary["adjusted"] == [{"index": index, "reason": reason}]
    assert "basedOn" not in clinic.stored()[("Observation", ids_of(summary)[observation["fullUrl"]])]
    assert observation["resource"]["basedOn"] == [{"reference": "urn:uuid:plan"}]  # the bundle is untouched
    assert summary["skipped"] == {"Claim": 1, "CarePlan": 1}


def test_a_required_reference_to_a_skipped_type_rejects_the_entry_with_the_reason(clinic):
    bundle = demo_chart_bundle(10)
    (claim,) = entries_by_type(bundle, "Claim")
    provenance = {"resourceType": "Provenance", "recorded": "2024-01-02T03:04:05Z",
                  "target": [{"reference": claim["fullUrl"]}],
                  "agent": [{"who": {"reference": entries_by_type(bundle, "Practitioner")[0]["fullUrl"]}}]}
    bundle["entry"].append({"fullUrl": "urn:uuid:provenance", "resource": provenance})
    summary = clinic.run(bundle)
    (rejected,) = summary["rejected"]
    assert rejected["index"] == len(bundle["entry"]) - 1
    assert rejected["type"] == "Provenance"
    assert rejected["reason"].startswith("Provenance.target[0]: refers to a type Cairn does not store")
    assert "Provenance.target" in rejected["reason"].split("and ")[-1]
    assert summary["adjusted"] == []


def test_an_invalid_entry_is_rejected_with_its_reason_and_so_are_the_entries_that_need_it(clinic):
    bundle = demo_chart_bundle(11)
    (visit,) = entries_by_type(bundle, "Encounter")
    visit["resource"]["status"] = "Jane Doe's visit"
    summary = clinic.run(bundle)
    index = {e["resource"]["resourceType"]: i for i, e in enumerate(bundle["entry"])}
    assert [(r["index"], r["type"]) for r in summary["rejected"]] == sorted(
        (index[t], t) for t in ("Condition", "Observation", "Encounter"))
    reasons = {r["type"]: r["reason"] for r in summary["rejected"]}
    assert reasons["Encounter"].startswith("Encounter.status:")
    needed = f"refers to entry {index['Encounter']}, which was rejected"
    assert reasons["Observation"] == f"Observation.encounter: {needed}"
    assert "Jane" not in str(summary)
    assert summary["rejected_by_type"] == {"Condition": 1, "Observation": 1, "Encounter": 1}
    assert sorted(t for t, _ in clinic.stored()) == ["Organization", "Patient", "Practitioner"]


def test_an_entry_without_a_resource_is_rejected(clinic):
    bundle = demo_chart_bundle(12)
    bundle["entry"].append({"request": {"method": "DELETE", "url": "Patient/1"}})
    summary = clinic.run(bundle)
    assert summary["rejected"] == [{"index": len(bundle["entry"]) - 1, "type": "unknown",
                                    "reason": "entry has no resource object"}]


def test_importing_a_bundle_again_stores_nothing_twice_and_reports_every_entry_existing(clinic):
    bundle = demo_chart_bundle(13)
    first = clinic.run(bundle)
    stored = copy.deepcopy(clinic.store)
    again = clinic.run(bundle)
    assert (again["created"], again["rejected"]) == ([], [])
    assert sorted(again["existing"], key=str) == sorted(first["created"], key=str)
    assert again["existing_by_type"] == first["created_by_type"]
    assert clinic.store == stored


def test_a_bundle_replaced_at_the_same_key_has_its_changed_entries_rejected_not_reported_existing(clinic):
    original = demo_chart_bundle(14)
    clinic.run(original)
    stored = copy.deepcopy(clinic.store)
    replaced = copy.deepcopy(original)
    (observation,) = entries_by_type(replaced, "Observation")
    observation["resource"]["valueQuantity"]["value"] = 180
    summary = clinic.run(replaced)
    (rejected,) = summary["rejected"]
    assert rejected["index"] == replaced["entry"].index(observation)
    assert "stored a different resource for this entry" in rejected["reason"]
    assert clinic.store == stored


def test_a_bundle_key_outside_the_tenants_prefix_is_refused_before_anything_is_stored(clinic):
    with pytest.raises(AccessDenied):
        clinic.run(demo_chart_bundle(15), "tenants/globex/imports/demo.json")
    assert clinic.store == {}


def test_every_type_is_written_and_audited_as_the_system_import_actor(clinic):
    clinic.run(demo_chart_bundle(16))
    created = {e.entity_type for _, e in clinic.events if e.action is AuditAction.CREATE}
    assert created == {"Organization", "Practitioner", "Patient", "Encounter", "Condition", "Observation"}
    assert {c.user_id for c, _ in clinic.events} == {"system:bundle-import"}


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


class UnreachableS3:
    """An S3 client for reads that must be refused before they reach S3."""

    def __init__(self) -> None:
        self.calls: list[dict[str, Any]] = []

    def get_object(self, **request: Any) -> None:
        self.calls.append(request)
        raise AssertionError("S3 was read")


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
