"""The DynamoDB repository, keyring and audit trail against moto: what is stored, how it is
found, and that nothing crosses tenants or leaks PHI."""

from __future__ import annotations

import base64
import json
import random
from typing import Any

import pytest

from cairn.crypto.cache import DataKeyCache
from cairn.crypto.keyring import KmsKeyring, keyring_pk
from cairn.errors import PatientNotFound, ResourceExists
from cairn.fhir.search import index_values, parse_search
from cairn.records.dynamodb import DynamoResourceRepository
from cairn.runtime import ClinicalRuntime
from cairn.store.models import ClinicalItem
from devkit.demo_data import demo_patient
from multitenant.context import Role
from tests.integration.clinical.support import AUDIT_TABLE, CLINICAL_TABLE, Cloud, caller


def patient(seed: int, **changes: Any) -> dict[str, Any]:
    return {**demo_patient(random.Random(seed)), **changes}


def search(cloud: Cloud, tenant: str = "acme", **params: str) -> list[str]:
    page = cloud.runtime.records(caller(tenant=tenant)).search(
        parse_search("Patient", {name: [value] for name, value in params.items()})
    )
    return [resource["id"] for resource in page.resources]


def test_created_patient_reads_back_as_stored(cloud):
    service = cloud.runtime.records(caller())
    created = service.create("Patient", patient(1)).resource
    assert service.read("Patient", created["id"]) == created
    assert {k: v for k, v in created.items() if k not in ("id", "meta")} == patient(1)


def test_create_writes_version_current_and_one_index_item_per_token(cloud):
    created = (
        cloud.runtime.records(caller())
        .create("Patient", patient(1, identifier=[{"system": "urn:mrn", "value": "M-1"}]))
        .resource
    )
    items = [ClinicalItem.from_raw_data(raw) for raw in cloud.scan(CLINICAL_TABLE)]
    resource_items = {i.sk: i for i in items if i.pk == f"acme#Patient#{created['id']}"}
    assert set(resource_items) == {"v000000001", "current"}
    current = resource_items["current"]
    assert current.type_key == "acme#Patient"
    assert current.type_sort == f"{created['meta']['lastUpdated']}#{created['id']}"
    index_items = [i for i in items if i.pk.startswith("acme#idx#Patient#")]
    # One entry per parameter and value the resource is findable by (cairn.fhir.search), each a
    # blind token: e.g. identifier by system and value, birthdate by year, month and day.
    expected = sorted(
        name
        for name, values in index_values("Patient", created).items()
        if name not in ("_id", "_lastUpdated")
        for _ in values
    )
    assert sorted(i.pk.split("#")[3] for i in index_items) == expected
    assert expected.count("identifier") == 3  # "urn:mrn|m-1", "m-1" and "urn:mrn|"
    assert expected.count("birthdate") == 3
    assert {i.sk for i in index_items} == {f"0#{created['id']}"}
    assert all(item.pk.startswith("acme#") for item in items)


def test_create_on_a_taken_id_writes_nothing_and_raises_resource_exists(cloud):
    first = cloud.runtime.records(caller()).import_resource(patient(1), "taken")
    items = sorted(map(str, cloud.scan(CLINICAL_TABLE)))
    dynamodb = cloud.clients.dynamodb()
    records = DynamoResourceRepository(caller(), dynamodb, CLINICAL_TABLE, cloud.runtime.keyring)
    with pytest.raises(ResourceExists):
        records.add({**patient(2), "id": "taken", "meta": first.resource["meta"]})
    assert sorted(map(str, cloud.scan(CLINICAL_TABLE))) == items


def test_same_id_in_another_tenant_is_another_patient(cloud):
    acme = cloud.runtime.records(caller()).import_resource(patient(1), "shared-id")
    globex = cloud.runtime.records(caller(tenant="globex")).import_resource(patient(2), "shared-id")
    assert (acme.created, globex.created) == (True, True)
    assert cloud.runtime.records(caller()).read("Patient", "shared-id") == acme.resource


def test_raw_table_holds_no_plaintext_phi(cloud):
    submitted = patient(2, identifier=[{"system": "urn:mrn", "value": "MRN-778899"}])
    cloud.runtime.records(caller()).create("Patient", submitted)
    raw = json.dumps(cloud.scan(CLINICAL_TABLE)) + json.dumps(cloud.scan(AUDIT_TABLE))
    name = submitted["name"][0]
    for secret in (
        name["family"],
        name["given"][0],
        "MRN-778899",
        submitted["birthDate"],
        submitted["telecom"][0]["value"],
        submitted["address"][0]["line"][0],
    ):
        assert secret not in raw
    assert submitted["gender"] in raw  # not PHI: stored in clear in the body


def test_search_by_any_name_part_ignoring_case_and_accents(cloud):
    service = cloud.runtime.records(caller())
    created = service.create(
        "Patient", patient(3, name=[{"family": "García Márquez", "given": ["José"]}])
    ).resource
    service.create("Patient", patient(4, name=[{"family": "Other", "given": ["Person"]}]))
    for query in ("garcia marquez", "MARQUEZ", "jose", "José"):
        assert search(cloud, name=query) == [created["id"]]
    assert search(cloud, name="Garc") == []  # exact tokens only, no prefix match


def test_search_by_birthdate_and_identifier_with_or_without_system(cloud):
    service = cloud.runtime.records(caller())
    created = service.create(
        "Patient", patient(5, birthDate="1971-02-03", identifier=[{"system": "urn:mrn", "value": "A-1"}])
    ).resource
    service.create("Patient", patient(6, birthDate="1980-01-01"))
    assert search(cloud, birthdate="1971-02-03") == [created["id"]]
    assert search(cloud, identifier="urn:mrn|A-1") == [created["id"]]
    assert search(cloud, identifier="A-1") == [created["id"]]
    assert search(cloud, identifier="urn:other|A-1") == []


def test_combined_parameters_intersect(cloud):
    service = cloud.runtime.records(caller())
    twin_a = service.create(
        "Patient", patient(7, name=[{"family": "Novak", "given": ["Ada"]}], birthDate="2001-05-05")
    ).resource
    service.create(
        "Patient", patient(8, name=[{"family": "Novak", "given": ["Ivo"]}], birthDate="2001-05-05")
    )
    service.create(
        "Patient", patient(9, name=[{"family": "Novak", "given": ["Ada"]}], birthDate="1999-09-09")
    )
    assert len(search(cloud, name="novak", birthdate="2001-05-05")) == 2
    page = cloud.runtime.records(caller()).search(
        parse_search("Patient", {"name": ["Novak", "Ada"], "birthdate": ["2001-05-05"]})
    )
    assert [p["id"] for p in page.resources] == [twin_a["id"]]


def test_count_bounds_the_page_and_the_cursor_pages_through_every_match_once(cloud):
    service = cloud.runtime.records(caller())
    created = {
        service.create("Patient", patient(seed, name=[{"family": "Brennan"}])).resource["id"]
        for seed in range(5)
    }
    query = parse_search("Patient", {"name": ["brennan"], "_count": ["2"]})
    seen: list[str] = []
    pages = 0
    while True:
        page = service.search(query)
        pages += 1
        assert len(page.resources) <= 2
        seen += [p["id"] for p in page.resources]
        if page.next_cursor is None:
            break
        # A write between pages neither repeats nor skips what was already there.
        service.create("Patient", patient(100 + pages, name=[{"family": "Other"}]))
        query = query.with_cursor(page.next_cursor)
    assert sorted(seen) == sorted(created)
    assert pages == 3


def test_search_without_parameters_lists_the_newest_patients(cloud):
    service = cloud.runtime.records(caller())
    ids = [service.create("Patient", patient(seed)).resource["id"] for seed in range(3)]
    page = service.search(parse_search("Patient", {"_count": ["2"]}))
    assert {p["id"] for p in page.resources} <= set(ids)
    assert len(page.resources) == 2


def test_other_tenant_cannot_read_or_find_a_patient_and_the_attempt_is_audited(cloud):
    created = cloud.runtime.records(caller(tenant="acme")).create("Patient", patient(10)).resource
    intruder = cloud.runtime.records(caller(Role.ADMIN, tenant="globex"))
    with pytest.raises(PatientNotFound):
        intruder.read("Patient", created["id"])
    assert search(cloud, tenant="globex", name=created["name"][0]["family"]) == []
    reads = [e for e in cloud.audit_events("globex") if e["subtype"] == "read"]
    assert reads == [
        {
            "action": "R",
            "subtype": "read",
            "outcome": "4",
            "entity_id": created["id"],
            "detail": "not-found",
            "agent_user": "globex-admin",
            "agent_role": "admin",
        }
    ]


def test_every_access_is_audited_with_parameter_names_only(cloud):
    service = cloud.runtime.records(caller(Role.NURSE))
    created = service.create("Patient", patient(11)).resource
    service.read("Patient", created["id"])
    family = created["name"][0]["family"]
    search(cloud, name=family, birthdate=created["birthDate"])
    events = cloud.audit_events("acme")
    assert [(e["action"], e["subtype"], e["outcome"]) for e in events] == [
        ("C", "create", "0"),
        ("R", "read", "0"),
        ("E", "search-type", "0"),
    ]
    assert events[2]["detail"] == "birthdate,name"
    assert family not in json.dumps(cloud.scan(AUDIT_TABLE))


def test_patient_user_reading_another_patient_is_not_found_and_audited_as_denial(cloud):
    staff = cloud.runtime.records(caller())
    own, other = staff.create("Patient", patient(12)).resource, staff.create("Patient", patient(13)).resource
    portal = cloud.runtime.records(caller(Role.PATIENT, patient_id=own["id"]))
    assert portal.read("Patient", own["id"]) == own
    with pytest.raises(PatientNotFound):
        portal.read("Patient", other["id"])
    assert cloud.audit_events("acme")[-1]["outcome"] == "4"
    assert cloud.audit_events("acme")[-1]["detail"] == "access-denied"


def test_tenant_data_key_is_created_once_and_wrapped_under_the_tenant_context(cloud):
    cloud.runtime.records(caller()).create("Patient", patient(14))
    cloud.runtime.records(caller(tenant="globex")).create("Patient", patient(15))
    keyrings = [
        ClinicalItem.from_raw_data(i) for i in cloud.scan(CLINICAL_TABLE) if "#keyring" in i["pk"]["S"]
    ]
    assert sorted((k.pk, k.sk) for k in keyrings) == [
        ("acme#keyring", "data-key#1"),
        ("globex#keyring", "data-key#1"),
    ]
    acme_wrapped = next(k.wrapped_key for k in keyrings if k.pk == keyring_pk("acme"))
    kms = cloud.clients.kms()
    with pytest.raises(kms.exceptions.InvalidCiphertextException):
        kms.decrypt(CiphertextBlob=base64.b64decode(acme_wrapped), EncryptionContext={"tenant_id": "globex"})


def test_fresh_process_unwraps_the_stored_key_and_reads_old_records(cloud):
    created = cloud.runtime.records(caller()).create("Patient", patient(16)).resource
    fresh = ClinicalRuntime(cloud.settings, cloud.clients)  # an empty key cache, as after a cold start
    assert fresh.records(caller()).read("Patient", created["id"]) == created


def test_keyring_creation_race_ends_with_one_key_for_both_writers(cloud):
    def keyring() -> KmsKeyring:
        return KmsKeyring(
            cloud.clients.dynamodb(),
            cloud.clients.kms(),
            CLINICAL_TABLE,
            cloud.settings.data_key_id,
            DataKeyCache(),
        )

    winner = keyring().data_key("acme")
    # The loser saw no key, generated its own, and then lost the conditional put.
    loser_key = keyring()._create("acme")
    assert loser_key == winner
    assert keyring().data_key("acme") == winner


class CountingClient:
    """The DynamoDB client, counting the calls a repository makes by operation."""

    def __init__(self, client: Any) -> None:
        self._client = client
        self.calls: dict[str, int] = {}

    def __getattr__(self, name: str) -> Any:
        method = getattr(self._client, name)

        def counted(**kwargs: Any) -> Any:
            self.calls[name] = self.calls.get(name, 0) + 1
            return method(**kwargs)

        return counted


def test_a_patients_results_of_one_test_in_a_date_range_are_one_query_and_one_read(cloud):
    service = cloud.runtime.records(caller())
    ada, bo = (service.create("Patient", patient(seed)).resource["id"] for seed in (1, 2))

    def observe(patient_id: str, code: str, day: str) -> str:
        observation = {"resourceType": "Observation", "status": "final",
                       "code": {"coding": [{"system": "http://loinc.org", "code": code}]},
                       "subject": {"reference": f"Patient/{patient_id}"}, "effectiveDateTime": day,
                       "valueQuantity": {"value": 7, "unit": "%"}}
        return str(service.create("Observation", observation).resource["id"])

    wanted = [observe(ada, "4548-4", f"2025-0{month}-15") for month in (2, 5, 8)]
    observe(ada, "4548-4", "2024-12-15")  # before the range
    observe(ada, "8867-4", "2025-05-15")  # another test
    observe(bo, "4548-4", "2025-05-15")  # another patient
    counting = CountingClient(cloud.clients.dynamodb())
    records = DynamoResourceRepository(caller(), counting, CLINICAL_TABLE, cloud.runtime.keyring)
    query = parse_search("Observation", {"patient": [ada], "code": ["http://loinc.org|4548-4"],
                                         "date": ["ge2025-01-01", "le2025-12-31"], "_sort": ["-date"]})

    page = records.search(query)

    assert [o["id"] for o in page.resources] == list(reversed(wanted))  # newest first
    assert counting.calls == {"query": 1, "batch_get_item": 1}  # the data key is cached


def test_a_patients_whole_compartment_is_one_partition(cloud):
    service = cloud.runtime.records(caller())
    ada, bo = (service.create("Patient", patient(seed)).resource["id"] for seed in (3, 4))
    encounter = service.create("Encounter", {
        "resourceType": "Encounter", "status": "finished",
        "class": {"system": "http://terminology.hl7.org/CodeSystem/v3-ActCode", "code": "AMB"},
        "subject": {"reference": f"Patient/{ada}"}}).resource["id"]
    condition = service.create("Condition", {
        "resourceType": "Condition", "code": {"text": "asthma"}, "subject": {"reference": f"Patient/{ada}"},
        "encounter": {"reference": f"Encounter/{encounter}"}}).resource["id"]
    service.create("Condition", {"resourceType": "Condition", "code": {"text": "gout"},
                                 "subject": {"reference": f"Patient/{bo}"}})
    counting = CountingClient(cloud.clients.dynamodb())
    records = DynamoResourceRepository(caller(), counting, CLINICAL_TABLE, cloud.runtime.keyring)

    found = {(r["resourceType"], r["id"]) for r in records.iter_compartment(ada)}

    assert found == {("Encounter", encounter), ("Condition", condition)}
    assert counting.calls == {"query": 1, "batch_get_item": 1}


def test_every_date_bound_narrows_the_one_range_a_search_reads(cloud):
    service = cloud.runtime.records(caller())
    ada = service.create("Patient", patient(5)).resource["id"]
    made = {}
    for year in range(2015, 2026):  # a long history; the range asked for is in its middle
        made[year] = service.create("Observation", {
            "resourceType": "Observation", "status": "final", "code": {"text": "weight"},
            "subject": {"reference": f"Patient/{ada}"}, "effectiveDateTime": f"{year}-06-01",
        }).resource["id"]
    counting = CountingClient(cloud.clients.dynamodb())
    records = DynamoResourceRepository(caller(), counting, CLINICAL_TABLE, cloud.runtime.keyring)

    page = records.search(parse_search("Observation", {"patient": [ada], "date": ["ge2019-01-01", "lt2021"]}))
    never = records.search(parse_search("Observation", {"patient": [ada], "date": ["ge2022", "le2020"]}))

    assert sorted(o["id"] for o in page.resources) == sorted([made[2019], made[2020]])
    assert never.resources == []
    assert counting.calls == {"query": 1, "batch_get_item": 1}  # the contradictory one reads nothing
