"""The CapabilityStatement states exactly what the FHIR app routes and cairn.fhir.search declare."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from fhir.resources.R4B.capabilitystatement import CapabilityStatement

from cairn.fhir.capability import (
    METADATA_PATH,
    UndeclaredInteraction,
    capability_statement,
    fhir_interaction,
    interactions,
    system_interactions,
)
from cairn.fhir.resource_types import READ_ONLY_TYPES, STORED_TYPES, SUPPORTED_TYPES
from cairn.fhir.search import CONTROL_PARAMETERS, SEARCH_PARAMETERS
from functions.fhir_api.app import app

PUBLISHED = datetime(2026, 3, 1, 9, 30, tzinfo=UTC)
BASE = "https://abc123.execute-api.eu-west-1.amazonaws.com/prod"


def _statement(routes=None, base: str = BASE, version: str | None = "1.2.3") -> dict:
    return capability_statement(
        app.routes if routes is None else routes, base=base, published=PUBLISHED, software_version=version
    )


def _resources(statement: dict) -> dict[str, dict]:
    (rest,) = statement["rest"]
    return {resource["type"]: resource for resource in rest["resource"]}


def test_every_route_of_the_fhir_app_is_stated_and_nothing_else():
    stated = {
        (resource_type, interaction["code"])
        for resource_type, resource in _resources(_statement()).items()
        for interaction in resource["interaction"]
    }
    # Each route maps to one stated interaction (a route it cannot name raises), and nothing
    # more; a route on the {type} variable stands for every supported type.
    routed = {
        (resource_type, named[1])
        for path, methods in app.routes.items()
        for method in methods
        if (named := fhir_interaction(path, method)) is not None
        for resource_type in (SUPPORTED_TYPES if named[0] == "{type}" else (named[0],))
        if resource_type not in READ_ONLY_TYPES or named[1] in ("read", "search-type")
    }
    assert stated == routed


def test_the_fhir_app_states_every_interaction_on_every_chart_type_and_reads_only_on_audit_events():
    # Pinned: a new route changes the statement, and this test says so until it is updated.
    stated = interactions(app.routes)
    everything = ("read", "vread", "update", "patch", "delete", "history-instance", "history-type",
                  "create", "search-type")
    assert stated == {**{t: everything for t in STORED_TYPES}, "AuditEvent": ("read", "search-type")}
    assert system_interactions(app.routes) == ("transaction", "batch")


def test_search_parameters_are_exactly_the_declared_ones_with_type_and_documentation():
    resources = _resources(_statement())
    for resource_type, declared in SEARCH_PARAMETERS.items():
        stated = {param["name"]: param for param in resources[resource_type]["searchParam"]}
        assert set(stated) == {*declared, *CONTROL_PARAMETERS}
        for name, parameter in declared.items():
            assert stated[name]["type"] == parameter.type
            assert stated[name]["definition"] == parameter.definition
            assert stated[name]["documentation"] == parameter.documentation
    patient = {param["name"]: param["type"] for param in resources["Patient"]["searchParam"]}
    assert {patient["name"], patient["birthdate"], patient["identifier"], patient["_count"]} == {
        "string", "date", "token", "number"}


def test_audit_events_state_the_searches_the_audit_trail_answers():
    audit_events = _resources(_statement())["AuditEvent"]
    names = [p["name"] for p in audit_events["searchParam"]]
    assert names == ["entity", "patient", "date", "_count", "_cursor"]


def test_includes_and_operations_are_stated():
    resources = _resources(_statement())
    assert "Observation:patient" in resources["Observation"]["searchInclude"]
    assert "Observation:patient" in resources["Patient"]["searchRevInclude"]
    assert {op["name"] for op in resources["Patient"]["operation"]} >= {"everything"}
    assert resources["Observation"]["versioning"] == "versioned-update"
    assert resources["Observation"]["conditionalCreate"] is True


def test_statement_is_a_valid_r4_instance_statement_with_oauth_security():
    statement = _statement()
    parsed = CapabilityStatement.model_validate(statement)

    assert (parsed.kind, parsed.fhirVersion, parsed.status, parsed.format) == (
        "instance", "4.0.1", "active", ["json"],
    )
    assert statement["date"] == "2026-03-01T09:30:00.000Z"
    assert statement["software"] == {"name": "Cairn", "version": "1.2.3"}
    assert statement["implementation"]["url"] == f"{BASE}/fhir/R4"
    (rest,) = statement["rest"]
    assert rest["mode"] == "server"
    (service,) = rest["security"]["service"]
    assert service["coding"] == [{
        "system": "http://terminology.hl7.org/CodeSystem/restful-security-service",
        "code": "OAuth", "display": "OAuth",
    }]
    assert "Cognito" in rest["security"]["description"]


def test_unknown_version_and_base_are_left_out_not_guessed():
    statement = _statement(base="", version=None)

    assert statement["software"] == {"name": "Cairn"}
    assert "url" not in statement["implementation"]
    CapabilityStatement.model_validate(statement)


def test_interactions_follow_the_fhir_rest_url_patterns():
    routes = {
        "/fhir/R4/Observation": ["POST", "GET"],
        "/fhir/R4/Observation/{id}": ["GET", "PUT", "PATCH", "DELETE"],
        "/fhir/R4/Observation/{id}/_history": ["GET"],
        "/fhir/R4/Observation/{id}/_history/{vid}": ["GET"],
        "/fhir/R4/Observation/_history": ["GET"],
        "/fhir/R4/Observation/_search": ["POST"],
        METADATA_PATH: ["GET"],
        "/webhooks/stripe": ["POST"],  # not FHIR: not in the statement
    }
    assert interactions(routes) == {
        "Observation": ("read", "vread", "update", "patch", "delete", "history-instance", "history-type",
                        "create", "search-type"),
    }


def test_search_params_are_stated_only_for_types_that_can_be_searched():
    resources = _resources(_statement({"/fhir/R4/Patient/{id}": ["GET"]}))

    assert "searchParam" not in resources["Patient"]


@pytest.mark.parametrize(
    ("path", "method"),
    [
        ("/fhir/R4/Patient", "DELETE"),  # conditional delete
        ("/fhir/R4", "GET"),  # whole-system search
        ("/fhir/R4/metadata", "POST"),
        ("/fhir/R4/patient/{id}", "GET"),  # not a resource type
    ],
)
def test_a_route_the_statement_cannot_name_fails_instead_of_going_unstated(path, method):
    with pytest.raises(UndeclaredInteraction, match="TYPE_INTERACTIONS"):
        _statement({path: [method]})
