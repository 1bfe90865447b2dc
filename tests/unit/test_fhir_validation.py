"""Patient validation: valid resources pass unchanged; every issue names its element."""

from __future__ import annotations

import random

import pytest

from cairn.errors import InvalidResource
from cairn.fhir.phi import phi_fields, split_phi
from cairn.fhir.validation import validate_resource
from devkit.demo_data import demo_patient


def expressions(error: InvalidResource) -> list[str]:
    return [expr for issue in error.issues for expr in issue.get("expression", [])]


def invalid(resource: object) -> InvalidResource:
    with pytest.raises(InvalidResource) as caught:
        validate_resource(resource, "Patient")
    return caught.value


def test_generated_patient_is_valid_and_returned_unchanged():
    patient = demo_patient(random.Random(7))
    assert validate_resource(patient, "Patient") is patient


def test_synthea_patients_are_valid(synthea_bundles):
    for bundle in synthea_bundles:
        validate_resource(bundle["entry"][0]["resource"], "Patient")


def test_malformed_birth_date_names_the_element_and_the_format():
    error = invalid({"resourceType": "Patient", "birthDate": "01/02/1990"})
    assert expressions(error) == ["Patient.birthDate"]
    assert "YYYY-MM-DD" in error.issues[0]["diagnostics"]
    assert "01/02/1990" not in str(error.issues)  # never echo the value: it may be PHI


def test_gender_outside_its_value_set_is_refused():
    error = invalid({"resourceType": "Patient", "gender": "F"})
    assert expressions(error) == ["Patient.gender"]
    assert error.issues[0]["code"] == "code-invalid"


@pytest.mark.parametrize(
    ("resource", "element"),
    [
        ({"resourceType": "Patient", "name": []}, "Patient.name"),
        ({"resourceType": "Patient", "name": [{}]}, "Patient.name[0]"),
        ({"resourceType": "Patient", "name": [{"family": ""}]}, "Patient.name[0].family"),
        ({"resourceType": "Patient", "telecom": [{"value": None}]}, "Patient.telecom[0].value"),
    ],
)
def test_empty_and_null_elements_are_refused(resource, element):
    assert element in expressions(invalid(resource))


def test_unknown_element_and_wrong_type_are_named():
    error = invalid({"resourceType": "Patient", "nickname": "Al", "name": [{"given": [5]}]})
    assert set(expressions(error)) == {"Patient.nickname", "Patient.name[0].given[0]"}


def test_string_for_a_boolean_is_refused_although_the_model_coerces_it():
    assert expressions(invalid({"resourceType": "Patient", "active": "yes"})) == ["Patient.active"]


@pytest.mark.parametrize("resource", [{"resourceType": "Observation"}, {}, ["Patient"], "Patient"])
def test_body_that_is_not_a_patient_is_refused(resource):
    error = invalid(resource)
    assert error.issues


def test_all_issues_are_reported_together():
    error = invalid({"resourceType": "Patient", "gender": "x", "birthDate": "x", "name": []})
    assert set(expressions(error)) == {"Patient.gender", "Patient.birthDate", "Patient.name"}


def test_phi_split_keeps_identifiers_out_of_the_public_part():
    patient = {**demo_patient(random.Random(3)), "id": "p1", "gender": "female"}
    public, phi = split_phi(patient)
    assert {"name", "identifier", "birthDate", "telecom", "address"} <= set(phi)
    assert set(public) == {"resourceType", "id", "active", "gender"}
    assert not set(public) & phi_fields("Patient")
