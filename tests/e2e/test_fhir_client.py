"""A real FHIR client library (fhirpy) against a running `cairn dev`: what an integrator's code
does, through the local API front, the TOKEN authorizer and the FHIR function. It proves the
API speaks FHIR as clients expect it (Location, versioned PUT, searchset and history Bundles),
not only as Cairn's own tests call it."""

from __future__ import annotations

import uuid
from typing import Any

import pytest
from fhirpy import SyncFHIRClient
from fhirpy.lib import SyncFHIRResource

from tests.e2e.cairn_dev import CairnDev

pytestmark = pytest.mark.e2e

DEMO = "demo-clinic"
LOINC = "http://loinc.org"
HEART_RATE = "8867-4"


@pytest.fixture(scope="module")
def client(cairn_dev: CairnDev) -> SyncFHIRClient:
    """fhirpy as a clinic's integration would configure it: base URL and a physician's token."""
    return SyncFHIRClient(url=f"{cairn_dev.api_url}/fhir/R4",
                          authorization=f"Bearer {cairn_dev.token(DEMO, 'physician')}")


def _unique_family() -> str:
    return "Okonkwo" + "".join(chr(ord("a") + int(c, 16) % 26) for c in uuid.uuid4().hex[:8])


@pytest.fixture(scope="module")
def patient(client: SyncFHIRClient) -> SyncFHIRResource:
    """A Patient created through fhirpy, with a family name unique to this run."""
    created = client.resource(
        "Patient",
        identifier=[{"system": "urn:cairn:e2e:mrn", "value": f"FHIRPY-{uuid.uuid4().hex[:10]}"}],
        name=[{"use": "official", "family": _unique_family(), "given": ["Ada"]}],
        gender="female",
        birthDate="1984-02-29",
    )
    created.save()
    return created


def _entries(bundle: dict[str, Any]) -> list[dict[str, Any]]:
    return [entry["resource"] for entry in bundle.get("entry", [])]


def test_create_assigns_an_id_and_the_first_version(patient: SyncFHIRResource) -> None:
    assert patient.id
    assert patient["meta"]["versionId"] == "1"


def test_read_returns_the_created_patient(client: SyncFHIRClient, patient: SyncFHIRResource) -> None:
    read = client.reference("Patient", patient.id).to_resource()

    assert dict(read) == dict(patient)


def test_search_by_name_finds_exactly_the_patient(client: SyncFHIRClient, patient: SyncFHIRResource) -> None:
    found = client.resources("Patient").search(name=patient["name"][0]["family"]).fetch()

    assert [resource.id for resource in found] == [patient.id]


def test_update_then_history_lists_both_versions(client: SyncFHIRClient) -> None:
    created = client.resource("Patient", name=[{"family": _unique_family(), "given": ["Ben"]}],
                              gender="male", birthDate="1990-07-01")
    created.save()
    created["telecom"] = [{"system": "phone", "value": "555-0100", "use": "mobile"}]
    created.save()  # an id: fhirpy PUTs it

    assert created["meta"]["versionId"] == "2"
    assert client.reference("Patient", created.id).to_resource()["telecom"][0]["value"] == "555-0100"
    history = created.execute("_history", method="get")
    assert (history["resourceType"], history["type"]) == ("Bundle", "history")
    assert sorted(r["meta"]["versionId"] for r in _entries(history)) == ["1", "2"]


def test_observation_is_found_by_its_patient(client: SyncFHIRClient, patient: SyncFHIRResource) -> None:
    observation = client.resource(
        "Observation",
        status="final",
        category=[{"coding": [{"system": "http://terminology.hl7.org/CodeSystem/observation-category",
                               "code": "vital-signs"}]}],
        code={"coding": [{"system": LOINC, "code": HEART_RATE}]},
        subject=patient.to_reference(),
        effectiveDateTime="2026-03-10T09:00:00Z",
        valueQuantity={"value": 64, "unit": "/min", "system": "http://unitsofmeasure.org", "code": "/min"},
    )
    observation.save()

    found = client.resources("Observation").search(patient=patient.id).fetch()

    assert [resource.id for resource in found] == [observation.id]
    assert found[0]["subject"]["reference"] == f"Patient/{patient.id}"
