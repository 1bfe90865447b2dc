"""The chart through the FHIR API's Lambda handler: Observation as every chart type is served
(create with referential integrity, read, vread, versioned update, JSON Patch, soft delete,
history, search with ranges, paging, _include/_revinclude, conditional create, Bundles,
$everything) and who may see or change it (roles, tenants, the patient portal)."""

from __future__ import annotations

import json
import random
import uuid
from collections.abc import Iterator
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest

from devkit.demo_data import demo_patient
from functions.fhir_api import app as api
from multitenant.context import Role, TenantContext
from tests.integration.clinical.support import Cloud, caller
from tests.integration.clinical.test_fhir_api import call

LOINC = "http://loinc.org"
HEART_RATE = "8867-4"
BODY_WEIGHT = "29463-7"
Answer = tuple[int, dict[str, str], dict[str, Any]]


@pytest.fixture(autouse=True)
def fresh_runtime(cloud: Cloud) -> Iterator[None]:
    """Each test is a new process: the cached runtime must see this test's moto."""
    api.runtime.cache_clear()
    yield
    api.runtime.cache_clear()


def send(
    method: str,
    path: str,
    who: TenantContext,
    body: dict[str, Any] | list[Any] | None = None,
    query: dict[str, list[str]] | None = None,
    headers: dict[str, str] | None = None,
    content_type: str = "application/fhir+json",
) -> Answer:
    """A request through the handler as API Gateway and the authorizer hand it over."""
    payload = None if body is None else json.dumps(body)
    return call(method, path, who, payload, query=query, content_type=content_type, headers=headers)


def a_patient(seed: int) -> dict[str, Any]:
    return demo_patient(random.Random(seed))


def new_patient(who: TenantContext | None = None, seed: int = 1) -> str:
    status, _, body = send("POST", "/fhir/R4/Patient", who or caller(), a_patient(seed))
    assert status == 201, body
    return str(body["id"])


def an_observation(patient_id: str, when: str = "2026-03-10T09:00:00Z", code: str = HEART_RATE,
                   value: float = 72) -> dict[str, Any]:
    return {
        "resourceType": "Observation",
        "status": "final",
        "category": [{"coding": [{
            "system": "http://terminology.hl7.org/CodeSystem/observation-category",
            "code": "vital-signs",
        }]}],
        "code": {"coding": [{"system": LOINC, "code": code}]},
        "subject": {"reference": f"Patient/{patient_id}"},
        "effectiveDateTime": when,
        "valueQuantity": {"value": value, "unit": "/min", "system": "http://unitsofmeasure.org",
                          "code": "/min"},
    }


def chart(patient_id: str, who: TenantContext | None = None, **overrides: Any) -> dict[str, Any]:
    """An Observation charted for `patient_id` (201), as stored."""
    status, _, body = send("POST", "/fhir/R4/Observation", who or caller(),
                           an_observation(patient_id, **overrides))
    assert status == 201, body
    return body


def ids(bundle: dict[str, Any], resource_type: str | None = None) -> list[str]:
    return [entry["resource"]["id"] for entry in bundle.get("entry", [])
            if resource_type is None or entry["resource"]["resourceType"] == resource_type]


def expressions(outcome: dict[str, Any]) -> list[str]:
    assert outcome["resourceType"] == "OperationOutcome", outcome
    return [expr for issue in outcome["issue"] for expr in issue.get("expression", [])]


def test_observation_is_created_for_an_existing_patient_and_read_back() -> None:
    patient_id = new_patient()
    status, headers, created = send("POST", "/fhir/R4/Observation", caller(), an_observation(patient_id))

    assert status == 201
    assert headers["ETag"] == 'W/"1"'
    assert headers["Location"].endswith(f"/fhir/R4/Observation/{created['id']}/_history/1")
    assert send("GET", f"/fhir/R4/Observation/{created['id']}", caller())[::2] == (200, created)


def test_observation_of_a_missing_patient_is_422_naming_its_subject() -> None:
    status, _, outcome = send("POST", "/fhir/R4/Observation", caller(), an_observation("no-such-patient"))

    assert status == 422
    assert "Observation.subject" in expressions(outcome)


def test_vread_returns_each_version_as_it_was() -> None:
    first = chart(new_patient())
    changed = {**first, "valueQuantity": {**first["valueQuantity"], "value": 80}}
    assert send("PUT", f"/fhir/R4/Observation/{first['id']}", caller(), changed)[0] == 200

    status, _, version_one = send("GET", f"/fhir/R4/Observation/{first['id']}/_history/1", caller())
    assert (status, version_one) == (200, first)
    status, _, version_two = send("GET", f"/fhir/R4/Observation/{first['id']}/_history/2", caller())
    assert (status, version_two["valueQuantity"]["value"]) == (200, 80)


def test_update_with_the_current_version_is_200_and_a_stale_one_412() -> None:
    first = chart(new_patient())
    path = f"/fhir/R4/Observation/{first['id']}"
    amended = {**first, "status": "amended"}

    status, headers, body = send("PUT", path, caller(), amended, headers={"If-Match": 'W/"1"'})
    assert (status, body["meta"]["versionId"], headers["ETag"]) == (200, "2", 'W/"2"')
    assert body["status"] == "amended"

    status, _, outcome = send("PUT", path, caller(), amended, headers={"If-Match": 'W/"1"'})
    assert status == 412
    assert outcome["resourceType"] == "OperationOutcome"
    assert send("GET", path, caller())[2]["meta"]["versionId"] == "2"


def test_json_patch_replaces_the_status() -> None:
    first = chart(new_patient())
    operations = [{"op": "replace", "path": "/status", "value": "corrected"}]

    status, _, body = send("PATCH", f"/fhir/R4/Observation/{first['id']}", caller(), operations,
                           content_type="application/json-patch+json")

    assert (status, body["status"], body["meta"]["versionId"]) == (200, "corrected", "2")
    assert body["code"] == first["code"]


def test_deleted_observation_is_410_and_its_history_keeps_the_delete() -> None:
    first = chart(new_patient())
    path = f"/fhir/R4/Observation/{first['id']}"
    send("PUT", path, caller(), {**first, "status": "amended"})

    assert send("DELETE", path, caller())[0] == 204
    assert send("GET", path, caller())[0] == 410

    status, _, history = send("GET", f"{path}/_history", caller())
    assert (status, history["type"]) == (200, "history")
    assert len(history["entry"]) == 3
    methods = [entry["request"]["method"] for entry in history["entry"]]
    assert sorted(methods) == ["DELETE", "POST", "PUT"]
    assert methods[0] == "DELETE"  # newest first


def test_type_history_lists_every_observation_change_of_the_tenant_only() -> None:
    patient_id = new_patient()
    mine = [chart(patient_id)["id"], chart(patient_id)["id"]]
    other_clinic = caller(tenant="globex")
    chart(new_patient(other_clinic), other_clinic)

    status, _, history = send("GET", "/fhir/R4/Observation/_history", caller())

    assert (status, history["type"]) == (200, "history")
    assert sorted(ids(history)) == sorted(mine)


def test_search_by_patient_code_and_date_range() -> None:
    patient_id = new_patient()
    march = chart(patient_id, when="2026-03-10T09:00:00Z")
    chart(patient_id, when="2026-01-05T09:00:00Z")  # before the range
    chart(patient_id, when="2026-03-11T09:00:00Z", code=BODY_WEIGHT)  # another code
    chart(new_patient(seed=2), when="2026-03-10T09:00:00Z")  # another patient

    status, _, bundle = send("GET", "/fhir/R4/Observation", caller(), query={
        "patient": [patient_id],
        "code": [f"{LOINC}|{HEART_RATE}"],
        "date": ["ge2026-03-01", "le2026-03-31"],
    })

    assert (status, bundle["type"]) == (200, "searchset")
    assert ids(bundle) == [march["id"]]
    assert bundle["entry"][0]["search"]["mode"] == "match"


def test_search_sorts_newest_first_and_pages_through_next_links() -> None:
    patient_id = new_patient()
    charted = [chart(patient_id, when=f"2026-02-{day:02d}T08:00:00Z")["id"] for day in range(1, 6)]
    query: dict[str, list[str]] = {"patient": [patient_id], "_sort": ["-date"], "_count": ["2"]}

    seen: list[str] = []
    for _ in range(5):  # bounded: three pages are expected
        status, _, page = send("GET", "/fhir/R4/Observation", caller(), query=query)
        assert status == 200
        assert len(ids(page)) <= 2
        seen += ids(page)
        following = [link["url"] for link in page["link"] if link["relation"] == "next"]
        if not following:
            break
        query = {name: values for name, values in parse_qs(urlsplit(following[0]).query).items()}
    assert seen == list(reversed(charted))


def test_include_brings_the_patient_of_each_observation() -> None:
    patient_id = new_patient()
    observation = chart(patient_id)

    _, _, bundle = send("GET", "/fhir/R4/Observation", caller(),
                        query={"patient": [patient_id], "_include": ["Observation:patient"]})

    assert ids(bundle, "Observation") == [observation["id"]]
    assert ids(bundle, "Patient") == [patient_id]
    modes = {entry["resource"]["resourceType"]: entry["search"]["mode"] for entry in bundle["entry"]}
    assert modes == {"Observation": "match", "Patient": "include"}


def test_revinclude_brings_the_observations_of_each_patient() -> None:
    patient_id = new_patient()
    observations = {chart(patient_id)["id"], chart(patient_id)["id"]}

    _, _, bundle = send("GET", "/fhir/R4/Patient", caller(),
                        query={"_id": [patient_id], "_revinclude": ["Observation:patient"]})

    assert ids(bundle, "Patient") == [patient_id]
    assert set(ids(bundle, "Observation")) == observations


def test_unknown_search_parameter_is_400_unless_the_client_prefers_lenient_handling() -> None:
    patient_id = new_patient()
    observation = chart(patient_id)
    query = {"patient": [patient_id], "shoe-size": ["44"]}

    status, _, outcome = send("GET", "/fhir/R4/Observation", caller(), query=query)
    assert status == 400
    assert "shoe-size" in outcome["issue"][0]["diagnostics"]

    status, _, bundle = send("GET", "/fhir/R4/Observation", caller(), query=query,
                             headers={"Prefer": "handling=lenient"})
    assert (status, ids(bundle, "Observation")) == (200, [observation["id"]])
    warnings = [entry["resource"] for entry in bundle["entry"] if entry["search"]["mode"] == "outcome"]
    assert "shoe-size" in warnings[0]["issue"][0]["diagnostics"]


def test_conditional_create_answers_the_existing_observation() -> None:
    patient_id = new_patient()
    identifier = f"lab-{uuid.uuid4().hex[:8]}"
    observation = {**an_observation(patient_id),
                   "identifier": [{"system": "urn:cairn:test:obs", "value": identifier}]}
    condition = {"If-None-Exist": f"identifier=urn:cairn:test:obs|{identifier}"}

    first_status, _, first = send("POST", "/fhir/R4/Observation", caller(), observation, headers=condition)
    again_status, _, again = send("POST", "/fhir/R4/Observation", caller(), observation, headers=condition)

    assert (first_status, again_status) == (201, 200)
    assert again["id"] == first["id"]
    _, _, bundle = send("GET", "/fhir/R4/Observation", caller(), query={"patient": [patient_id]})
    assert ids(bundle) == [first["id"]]


def test_transaction_creates_a_patient_and_its_observation_with_the_reference_rewritten() -> None:
    placeholder = f"urn:uuid:{uuid.uuid4()}"
    transaction = {"resourceType": "Bundle", "type": "transaction", "entry": [
        {"fullUrl": placeholder, "resource": a_patient(7), "request": {"method": "POST", "url": "Patient"}},
        {"resource": {**an_observation("x"), "subject": {"reference": placeholder}},
         "request": {"method": "POST", "url": "Observation"}},
    ]}

    status, _, response = send("POST", "/fhir/R4", caller(), transaction)

    assert (status, response["type"]) == (200, "transaction-response")
    assert [entry["response"]["status"][:3] for entry in response["entry"]] == ["201", "201"]
    patient_id, observation_id = (entry["resource"]["id"] for entry in response["entry"])
    assert response["entry"][1]["response"]["location"].endswith(f"/Observation/{observation_id}/_history/1")
    _, _, observation = send("GET", f"/fhir/R4/Observation/{observation_id}", caller())
    assert observation["subject"]["reference"] == f"Patient/{patient_id}"


def test_failing_transaction_stores_nothing() -> None:
    placeholder = f"urn:uuid:{uuid.uuid4()}"
    patient = {**a_patient(8), "identifier": [{"system": "urn:cairn:test:mrn", "value": "TX-FAIL"}]}
    transaction = {"resourceType": "Bundle", "type": "transaction", "entry": [
        {"fullUrl": placeholder, "resource": patient, "request": {"method": "POST", "url": "Patient"}},
        {"resource": an_observation("no-such-patient"), "request": {"method": "POST", "url": "Observation"}},
    ]}

    status, _, outcome = send("POST", "/fhir/R4", caller(), transaction)

    assert status == 422
    assert outcome["resourceType"] == "OperationOutcome"
    _, _, found = send("GET", "/fhir/R4/Patient", caller(),
                       query={"identifier": ["urn:cairn:test:mrn|TX-FAIL"]})
    assert ids(found) == []


def test_batch_processes_each_entry_on_its_own() -> None:
    patient_id = new_patient()
    batch = {"resourceType": "Bundle", "type": "batch", "entry": [
        {"resource": an_observation(patient_id), "request": {"method": "POST", "url": "Observation"}},
        {"resource": an_observation("no-such-patient"), "request": {"method": "POST", "url": "Observation"}},
        {"request": {"method": "GET", "url": f"Patient/{patient_id}"}},
    ]}

    status, _, response = send("POST", "/fhir/R4", caller(), batch)

    assert (status, response["type"]) == (200, "batch-response")
    statuses = [entry["response"]["status"][:3] for entry in response["entry"]]
    assert (statuses[0], statuses[1][0], statuses[2]) == ("201", "4", "200")
    assert response["entry"][1]["response"]["outcome"]["resourceType"] == "OperationOutcome"


def test_everything_returns_the_patient_and_their_chart() -> None:
    patient_id = new_patient()
    observation = chart(patient_id)
    chart(new_patient(seed=3))  # someone else's

    status, _, bundle = send("GET", f"/fhir/R4/Patient/{patient_id}/$everything", caller())

    assert status == 200
    assert ids(bundle, "Patient") == [patient_id]
    assert ids(bundle, "Observation") == [observation["id"]]


def test_nurse_may_chart_but_not_delete_an_observation() -> None:
    observation = chart(new_patient(), caller(Role.NURSE))

    status, _, outcome = send("DELETE", f"/fhir/R4/Observation/{observation['id']}", caller(Role.NURSE))

    assert status == 403
    assert outcome["issue"][0]["code"] == "forbidden"
    assert send("GET", f"/fhir/R4/Observation/{observation['id']}", caller())[0] == 200


def test_another_tenant_cannot_read_search_or_see_the_history_of_an_observation() -> None:
    patient_id = new_patient()
    observation = chart(patient_id)
    globex = caller(Role.PHYSICIAN, tenant="globex")
    path = f"/fhir/R4/Observation/{observation['id']}"

    assert send("GET", path, globex)[0] == 404
    assert send("GET", f"{path}/_history/1", globex)[0] == 404
    history_status, _, history = send("GET", f"{path}/_history", globex)
    assert history_status == 404 or ids(history) == []
    _, _, found = send("GET", "/fhir/R4/Observation", globex, query={"patient": [patient_id]})
    assert ids(found) == []
    _, _, type_history = send("GET", "/fhir/R4/Observation/_history", globex)
    assert ids(type_history) == []


def test_patient_user_sees_only_their_own_observations() -> None:
    own_id, other_id = new_patient(seed=4), new_patient(seed=5)
    own, other = chart(own_id), chart(other_id)
    portal = caller(Role.PATIENT, patient_id=own_id)

    _, _, bundle = send("GET", "/fhir/R4/Observation", portal)
    assert ids(bundle) == [own["id"]]
    assert send("GET", f"/fhir/R4/Observation/{own['id']}", portal)[0] == 200
    assert send("GET", f"/fhir/R4/Observation/{other['id']}", portal)[0] == 404
    _, _, theirs = send("GET", "/fhir/R4/Observation", portal, query={"patient": [other_id]})
    assert ids(theirs) == []
