"""FHIR capability discovery over HTTP, against a running `cairn dev`: public, valid R4.

The request goes through the local API front, which skips the authorizer only for the API's
declared public paths, to the real FHIR function.
"""

from __future__ import annotations

from typing import Any

import pytest
import requests
from fhir.resources.R4B.capabilitystatement import CapabilityStatement

from cairn.fhir.resource_types import SUPPORTED_TYPES
from tests.e2e.cairn_dev import CairnDev

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def metadata(cairn_dev: CairnDev) -> requests.Response:
    """GET /fhir/R4/metadata as a FHIR client first calls it: no Authorization header."""
    return requests.get(f"{cairn_dev.api_url}/fhir/R4/metadata",
                        headers={"Accept": "application/fhir+json"}, timeout=30)


def test_metadata_without_a_token_is_200_capability_statement(metadata: requests.Response) -> None:
    assert metadata.status_code == 200, metadata.text
    assert metadata.headers["Content-Type"] == "application/fhir+json"
    assert metadata.json()["resourceType"] == "CapabilityStatement"


def test_capability_statement_is_valid_r4_and_names_this_server(
    cairn_dev: CairnDev, metadata: requests.Response
) -> None:
    body: dict[str, Any] = metadata.json()

    statement = CapabilityStatement.model_validate(body)

    assert (statement.kind, statement.fhirVersion, statement.status) == ("instance", "4.0.1", "active")
    assert statement.software.name == "Cairn"
    assert statement.implementation.url == f"{cairn_dev.api_url}/fhir/R4"
    (rest,) = statement.rest
    stated = {r.type: [i.code for i in r.interaction] for r in rest.resource}
    assert set(stated) == set(SUPPORTED_TYPES)
    assert stated["Observation"] == ["read", "vread", "update", "patch", "delete", "history-instance",
                                     "history-type", "create", "search-type"]
    assert stated["AuditEvent"] == ["read", "search-type"]
    assert [i.code for i in rest.interaction] == ["transaction", "batch"]
    patient = next(r for r in rest.resource if r.type == "Patient")
    searched = {p.name for p in patient.searchParam}
    assert {"name", "birthdate", "identifier", "_count", "_lastUpdated"} <= searched


def test_other_routes_still_need_a_token(cairn_dev: CairnDev) -> None:
    response = requests.get(f"{cairn_dev.api_url}/fhir/R4/Patient/anything", timeout=10)

    assert response.status_code == 401
