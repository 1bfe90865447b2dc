"""The Patient slice over HTTP, against a running `cairn dev`: the API as a client sees it.

Every request goes through the local API front (API Gateway semantics), the real TOKEN
authorizer and the real FHIR function, invoked through the emulator's Lambda API.
"""

from __future__ import annotations

import json
import uuid
from typing import Any

import jwt
import pytest
import requests

from devkit.seed import SYNTHEA_DIR, bundles_for
from tests.e2e.cairn_dev import CairnDev

pytestmark = pytest.mark.e2e

DEMO = "demo-clinic"
SECOND = "second-clinic"
FHIR_JSON = {"Content-Type": "application/fhir+json"}


def _patient(family: str, mrn: str) -> dict[str, Any]:
    return {
        "resourceType": "Patient",
        "identifier": [{"system": "urn:cairn:e2e:mrn", "value": mrn}],
        "name": [{"use": "official", "family": family, "given": ["Eve"]}],
        "gender": "female",
        "birthDate": "1979-05-17",
    }


@pytest.fixture(scope="module")
def created(cairn_dev: CairnDev) -> dict[str, Any]:
    """A Patient created in demo-clinic by its physician, with a family name unique to this run."""
    family = "Tesfaye" + "".join(chr(ord("a") + int(c, 16) % 26) for c in uuid.uuid4().hex[:8])
    response = requests.post(f"{cairn_dev.api_url}/fhir/R4/Patient",
                             headers={**cairn_dev.auth(DEMO, "physician"), **FHIR_JSON},
                             data=json.dumps(_patient(family, f"E2E-{uuid.uuid4().hex[:10]}")), timeout=30)
    assert response.status_code == 201, response.text
    return {"response": response, "resource": response.json()}


def _search(cairn_dev: CairnDev, tenant: str, role: str, **params: str) -> dict[str, Any]:
    response = requests.get(f"{cairn_dev.api_url}/fhir/R4/Patient", params=params,
                            headers=cairn_dev.auth(tenant, role), timeout=30)
    assert response.status_code == 200, response.text
    bundle: dict[str, Any] = response.json()
    assert bundle["resourceType"] == "Bundle"
    assert bundle["type"] == "searchset"
    return bundle


def _ids(bundle: dict[str, Any]) -> list[str]:
    return [entry["resource"]["id"] for entry in bundle.get("entry", [])]


def test_health_is_ok_once_provisioned_and_seeded(cairn_dev: CairnDev) -> None:
    response = requests.get(f"{cairn_dev.api_url}/health", timeout=10)

    assert response.status_code == 200
    assert response.json() == {"status": "ok"}


def test_request_without_token_is_401(cairn_dev: CairnDev) -> None:
    response = requests.get(f"{cairn_dev.api_url}/fhir/R4/Patient", timeout=10)

    assert response.status_code == 401
    assert response.json() == {"message": "Unauthorized"}


def test_request_with_a_forged_token_is_401(cairn_dev: CairnDev) -> None:
    claims = {"custom:tenant_id": DEMO, "custom:role": "admin"}
    forged = jwt.encode(claims, "a-key-that-is-not-the-user-pool-key", "HS256")

    response = requests.get(f"{cairn_dev.api_url}/fhir/R4/Patient",
                            headers={"Authorization": f"Bearer {forged}"}, timeout=30)

    assert response.status_code == 401


def test_unknown_route_is_missing_authentication_token(cairn_dev: CairnDev) -> None:
    response = requests.get(f"{cairn_dev.api_url}/fhir/R4/Patient/p1/_history/1/extra",
                            headers=cairn_dev.auth(DEMO, "physician"), timeout=10)

    assert response.status_code == 403
    assert response.json() == {"message": "Missing Authentication Token"}


def test_a_type_cairn_does_not_serve_is_404_naming_the_ones_it_does(cairn_dev: CairnDev) -> None:
    response = requests.get(f"{cairn_dev.api_url}/fhir/R4/Spaceship",
                            headers=cairn_dev.auth(DEMO, "physician"), timeout=10)

    assert response.status_code == 404
    assert "Observation" in response.json()["issue"][0]["diagnostics"]


def test_create_patient_is_201_with_absolute_location_and_server_id(
    cairn_dev: CairnDev, created: dict[str, Any]
) -> None:
    resource = created["resource"]

    assert resource["resourceType"] == "Patient"
    assert resource["id"]
    assert created["response"].headers["Location"] == (
        f"{cairn_dev.api_url}/fhir/R4/Patient/{resource['id']}/_history/1")
    assert resource["meta"]["versionId"] == "1"


def test_read_patient_is_200_with_the_stored_resource(cairn_dev: CairnDev, created: dict[str, Any]) -> None:
    resource = created["resource"]

    response = requests.get(f"{cairn_dev.api_url}/fhir/R4/Patient/{resource['id']}",
                            headers=cairn_dev.auth(DEMO, "nurse"), timeout=30)

    assert response.status_code == 200
    assert response.json()["name"] == resource["name"]
    assert response.json()["birthDate"] == resource["birthDate"]


@pytest.mark.parametrize("parameter", ["name", "birthdate", "identifier"])
def test_search_finds_the_created_patient(
    cairn_dev: CairnDev, created: dict[str, Any], parameter: str
) -> None:
    resource = created["resource"]
    identifier = resource["identifier"][0]
    value = {
        "name": resource["name"][0]["family"],
        "birthdate": resource["birthDate"],
        "identifier": f"{identifier['system']}|{identifier['value']}",
    }[parameter]

    bundle = _search(cairn_dev, DEMO, "physician", **{parameter: value})

    assert resource["id"] in _ids(bundle)


def test_invalid_patient_is_422_operation_outcome(cairn_dev: CairnDev) -> None:
    invalid = {"resourceType": "Patient", "birthDate": "the seventh of May", "gender": "sometimes"}

    response = requests.post(f"{cairn_dev.api_url}/fhir/R4/Patient",
                             headers={**cairn_dev.auth(DEMO, "physician"), **FHIR_JSON},
                             data=json.dumps(invalid), timeout=30)

    assert response.status_code == 422
    outcome = response.json()
    assert outcome["resourceType"] == "OperationOutcome"
    assert outcome["issue"]


def test_another_clinic_cannot_read_the_patient(cairn_dev: CairnDev, created: dict[str, Any]) -> None:
    response = requests.get(f"{cairn_dev.api_url}/fhir/R4/Patient/{created['resource']['id']}",
                            headers=cairn_dev.auth(SECOND, "physician"), timeout=30)

    assert response.status_code == 404
    assert response.json()["resourceType"] == "OperationOutcome"


def test_another_clinic_cannot_find_the_patient(cairn_dev: CairnDev, created: dict[str, Any]) -> None:
    bundle = _search(cairn_dev, SECOND, "physician", name=created["resource"]["name"][0]["family"])

    assert _ids(bundle) == []


def _first_identifier(bundle: dict[str, Any]) -> str:
    patient = next(entry["resource"] for entry in bundle["entry"]
                   if entry["resource"]["resourceType"] == "Patient")
    identifier = patient["identifier"][0]
    return f"{identifier['system']}|{identifier['value']}"


@pytest.mark.parametrize("tenant", [DEMO, SECOND])
def test_seeded_patients_are_present(cairn_dev: CairnDev, tenant: str) -> None:
    # The same bundles seeding imported: Synthea's for demo-clinic when ../shared is there.
    expected = [_first_identifier(json.loads(bundle.body)) for bundle in bundles_for(tenant, SYNTHEA_DIR)]

    found = [_ids(_search(cairn_dev, tenant, "nurse", identifier=identifier)) for identifier in expected]

    assert expected
    assert all(len(ids) == 1 for ids in found), dict(zip(expected, found, strict=True))


def test_patient_user_reads_own_record_only(cairn_dev: CairnDev, created: dict[str, Any]) -> None:
    token = cairn_dev.token(DEMO, "patient")
    own = jwt.decode(token, options={"verify_signature": False})["custom:patient_id"]
    headers = {"Authorization": f"Bearer {token}"}

    mine = requests.get(f"{cairn_dev.api_url}/fhir/R4/Patient/{own}", headers=headers, timeout=30)
    other = requests.get(f"{cairn_dev.api_url}/fhir/R4/Patient/{created['resource']['id']}",
                         headers=headers, timeout=30)

    assert mine.status_code == 200
    assert mine.json()["id"] == own
    assert other.status_code == 404


def test_request_over_10_mb_is_413(cairn_dev: CairnDev) -> None:
    response = requests.post(f"{cairn_dev.api_url}/fhir/R4/Patient",
                             headers={**cairn_dev.auth(DEMO, "physician"), **FHIR_JSON},
                             data=b" " * (10 * 1024 * 1024 + 1), timeout=60)

    assert response.status_code == 413
