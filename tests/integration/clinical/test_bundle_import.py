"""The bundle import handler on generated and Synthea bundles stored in the documents bucket."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator

import pytest

from cairn.errors import AccessDenied, InvalidBundle
from cairn.fhir.search import parse_search
from cairn.imports import IMPORTED_TYPES
from devkit.demo_data import demo_patient_bundle
from functions.bundle_import import handler as bundle_import
from tests.integration.clinical.support import CLINICAL_TABLE, caller


@pytest.fixture(autouse=True)
def fresh_runtime(cloud) -> Iterator[None]:
    bundle_import.runtime.cache_clear()
    yield
    bundle_import.runtime.cache_clear()


def run(lambda_context, tenant: str, key: str) -> dict:
    return bundle_import.handler({"tenant_id": tenant, "bundle_key": key}, lambda_context)


def test_generated_bundles_import_their_patients(cloud, lambda_context):
    for seed in range(3):
        cloud.put_document(f"tenants/acme/imports/demo-{seed}.json", demo_patient_bundle(seed))
    results = [run(lambda_context, "acme", f"tenants/acme/imports/demo-{seed}.json") for seed in range(3)]
    for seed, result in enumerate(results):
        bundle = demo_patient_bundle(seed)
        assert result["created"][0]["fullUrl"] == bundle["entry"][0]["fullUrl"]
        assert (result["rejected"], result["skipped"]) == ([], {})
        stored = cloud.runtime.records(caller()).read("Patient", result["created"][0]["id"])
        assert stored["name"] == bundle["entry"][0]["resource"]["name"]


def test_synthea_bundles_import_every_stored_type_and_count_the_rest(cloud, lambda_context, synthea_bundles):
    for index, bundle in enumerate(synthea_bundles):
        key = f"tenants/acme/imports/synthea-{index}.json"
        cloud.put_document(key, bundle)
        result = run(lambda_context, "acme", key)
        types = Counter(entry["resource"]["resourceType"] for entry in bundle["entry"])
        assert result["rejected"] == []
        stored = {t: n for t, n in types.items() if t in IMPORTED_TYPES}
        assert result["created_by_type"] == stored
        assert sorted(c["fullUrl"] for c in result["created"]) == sorted(
            e["fullUrl"] for e in bundle["entry"] if e["resource"]["resourceType"] in IMPORTED_TYPES)
        assert result["skipped"] == {t: n for t, n in types.items() if t not in IMPORTED_TYPES}
        imported = bundle["entry"][0]["resource"]
        page = cloud.runtime.records(caller()).search(
            parse_search(
                "Patient", {"name": [imported["name"][0]["family"]], "birthdate": [imported["birthDate"]]}
            )
        )
        patient_id = next(c["id"] for c in result["created"] if c["type"] == "Patient")
        assert patient_id in [p["id"] for p in page.resources]


def test_importing_a_bundle_twice_stores_each_patient_once_and_says_so(cloud, lambda_context):
    bundle = demo_patient_bundle(2)
    second_patient = demo_patient_bundle(3)["entry"][0]["resource"]
    bundle["entry"].append({"fullUrl": "urn:uuid:second", "resource": second_patient})
    cloud.put_document("tenants/acme/imports/twice.json", bundle)
    first = run(lambda_context, "acme", "tenants/acme/imports/twice.json")
    items_after_first = cloud.scan(CLINICAL_TABLE)
    second = run(lambda_context, "acme", "tenants/acme/imports/twice.json")
    assert [c["fullUrl"] for c in first["created"]] == [e["fullUrl"] for e in bundle["entry"]]
    assert (first["existing"], second["created"], second["existing"]) == ([], [], first["created"])
    assert sorted(map(str, cloud.scan(CLINICAL_TABLE))) == sorted(map(str, items_after_first))
    page = cloud.runtime.records(caller()).search(parse_search("Patient", {}))
    assert sorted(p["id"] for p in page.resources) == sorted(c["id"] for c in first["created"])
    creates = [(e["outcome"], e["entity_id"], e["detail"]) for e in cloud.audit_events("acme")
               if e["subtype"] == "create"]
    ids = [c["id"] for c in first["created"]]
    assert sorted(creates) == sorted([("0", i, "") for i in ids] + [("0", i, "existing") for i in ids])


def test_invalid_entries_are_reported_with_their_index_not_dropped(cloud, lambda_context):
    bundle = demo_patient_bundle(1)
    bundle["entry"].append({"fullUrl": "urn:uuid:x", "resource": {"resourceType": "Patient", "gender": "F"}})
    cloud.put_document("tenants/acme/b.json", bundle)
    result = run(lambda_context, "acme", "tenants/acme/b.json")
    assert len(result["created"]) == 1
    assert result["rejected"] == [
        {"index": 1, "type": "Patient", "reason": "Patient.gender: gender must be a code from "
         "http://hl7.org/fhir/ValueSet/administrative-gender: male, female, other, unknown"}
    ]


def test_bundle_key_of_another_tenant_is_refused(cloud, lambda_context):
    cloud.put_document("tenants/globex/b.json", demo_patient_bundle(1))
    with pytest.raises(AccessDenied):
        run(lambda_context, "acme", "tenants/globex/b.json")
    assert cloud.audit_events("acme") == [{
        "action": "E", "subtype": "import", "outcome": "4", "entity_id": "", "detail": "access-denied",
        "agent_user": "system:bundle-import", "agent_role": "admin",
    }]
    assert cloud.audit_events("globex") == []


@pytest.mark.parametrize(
    ("body", "message"),
    [(b"\x00not json", "is not JSON"), (b'{"resourceType": "Patient"}', "is not a FHIR Bundle")],
)
def test_object_that_is_not_a_bundle_raises_a_clear_error(cloud, lambda_context, body, message):
    cloud.put_document("tenants/acme/bad.json", body)
    with pytest.raises(InvalidBundle, match=message):
        run(lambda_context, "acme", "tenants/acme/bad.json")


def test_event_without_a_bundle_key_raises_a_clear_error(lambda_context):
    with pytest.raises(InvalidBundle, match="tenant_id and bundle_key"):
        bundle_import.handler({"tenant_id": "acme"}, lambda_context)
