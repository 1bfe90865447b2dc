"""Validation of every chart type: valid resources pass unchanged; every issue names its element
and says what to fix without repeating the submitted value."""

from __future__ import annotations

import random
from typing import Any

import pytest

from cairn.errors import InvalidResource
from cairn.fhir.resource_types import STORED_TYPES
from cairn.fhir.validation import validate_resource
from cairn.fhir.value_sets import REQUIRED_CODES
from devkit.demo_data import demo_patient
from tests.unit.test_fhir_phi import CHART_EXAMPLES


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


def invalid_as(resource: dict[str, Any], resource_type: str) -> InvalidResource:
    with pytest.raises(InvalidResource) as caught:
        validate_resource(resource, resource_type)
    return caught.value


@pytest.mark.parametrize("resource_type", STORED_TYPES)
def test_a_representative_resource_of_every_stored_type_is_valid(resource_type):
    resource = CHART_EXAMPLES[resource_type]
    assert validate_resource(resource, resource_type) is resource


def test_every_synthea_resource_of_a_stored_type_is_valid(synthea_bundles):
    resources = [entry["resource"] for bundle in synthea_bundles for entry in bundle["entry"]]
    stored = [resource for resource in resources if resource["resourceType"] in STORED_TYPES]
    assert {resource["resourceType"] for resource in stored} >= {"Observation", "Encounter", "Condition"}
    for resource in stored:
        validate_resource(resource, resource["resourceType"])


@pytest.mark.parametrize("resource_type", ["ExplanationOfBenefit", "AuditEvent", "Bundle", "patient"])
def test_a_type_cairn_does_not_store_is_refused_with_the_supported_list(resource_type):
    error = invalid_as({"resourceType": resource_type}, resource_type)
    assert len(error.issues) == 1
    assert error.issues[0]["code"] == "not-supported"
    assert all(stored in error.issues[0]["diagnostics"] for stored in STORED_TYPES)


STATUS_TYPES = [t for t in STORED_TYPES if "status" in REQUIRED_CODES.get(t, {})]


def test_every_type_with_a_required_status_has_its_value_set():
    assert set(STATUS_TYPES) == set(STORED_TYPES) - {
        "Patient", "Practitioner", "PractitionerRole", "Organization", "Schedule", "Condition",
        "AllergyIntolerance", "Provenance", "Group",
    }


@pytest.mark.parametrize("resource_type", STATUS_TYPES)
def test_status_outside_its_value_set_names_the_element_and_lists_the_codes(resource_type):
    error = invalid_as({**CHART_EXAMPLES[resource_type], "status": "Done-ish"}, resource_type)
    assert expressions(error) == [f"{resource_type}.status"]
    value_set = REQUIRED_CODES[resource_type]["status"]
    diagnostics = error.issues[0]["diagnostics"]
    assert error.issues[0]["code"] == "code-invalid"
    assert value_set.url in diagnostics
    assert all(code in diagnostics for code in value_set.codes)
    assert "Done-ish" not in str(error.issues)


@pytest.mark.parametrize(
    ("resource_type", "element", "valid"),
    [
        ("Observation", "status", ["registered", "preliminary", "final", "amended", "corrected",
                                   "cancelled", "entered-in-error", "unknown"]),
        ("Composition", "status", ["preliminary", "final", "amended", "entered-in-error"]),
        ("Appointment", "status", ["proposed", "pending", "booked", "arrived", "fulfilled", "cancelled",
                                   "noshow", "entered-in-error", "checked-in", "waitlist"]),
        ("Slot", "status", ["busy", "free", "busy-unavailable", "busy-tentative", "entered-in-error"]),
        ("MedicationRequest", "intent", ["proposal", "plan", "order", "original-order", "reflex-order",
                                         "filler-order", "instance-order", "option"]),
        ("ServiceRequest", "intent", ["directive", "order"]),
        ("Task", "intent", ["unknown", "order"]),
    ],
)
def test_every_code_of_the_value_set_is_accepted(resource_type, element, valid):
    for code in valid:
        validate_resource({**CHART_EXAMPLES[resource_type], element: code}, resource_type)


@pytest.mark.parametrize(
    ("resource_type", "element"),
    [("MedicationRequest", "intent"), ("ServiceRequest", "intent"), ("Task", "intent"),
     ("Practitioner", "gender"), ("AllergyIntolerance", "criticality"), ("Group", "type")],
)
def test_other_required_codes_are_checked(resource_type, element):
    error = invalid_as({**CHART_EXAMPLES[resource_type], element: "whatever"}, resource_type)
    assert expressions(error) == [f"{resource_type}.{element}"]


def test_codes_nested_in_arrays_are_checked_at_their_position():
    appointment = CHART_EXAMPLES["Appointment"]
    participants = [appointment["participant"][0], {**appointment["participant"][1], "status": "maybe"}]
    error = invalid_as({**appointment, "participant": participants}, "Appointment")
    assert expressions(error) == ["Appointment.participant[1].status"]


@pytest.mark.parametrize(
    ("resource_type", "system"),
    [("Condition", "http://terminology.hl7.org/CodeSystem/condition-clinical"),
     ("AllergyIntolerance", "http://terminology.hl7.org/CodeSystem/allergyintolerance-clinical")],
)
def test_clinical_status_codings_of_the_hl7_system_must_come_from_it(resource_type, system):
    status = {"coding": [{"system": "https://cairn.example/local", "code": "ongoing"},
                         {"system": system, "code": "ongoing"}]}
    error = invalid_as({**CHART_EXAMPLES[resource_type], "clinicalStatus": status}, resource_type)
    assert expressions(error) == [f"{resource_type}.clinicalStatus.coding[1].code"]
    assert "resolved" in error.issues[0]["diagnostics"]


def test_verification_status_is_checked_too():
    status = {"coding": [{"system": "http://terminology.hl7.org/CodeSystem/condition-ver-status",
                          "code": "maybe"}]}
    error = invalid_as({**CHART_EXAMPLES["Condition"], "verificationStatus": status}, "Condition")
    assert expressions(error) == ["Condition.verificationStatus.coding[0].code"]


@pytest.mark.parametrize(
    ("resource_type", "changes", "element"),
    [
        ("Practitioner", {"active": "yes"}, "Practitioner.active"),
        ("Organization", {"active": 1}, "Organization.active"),
        ("Slot", {"overbooked": "true"}, "Slot.overbooked"),
        ("Group", {"actual": "no"}, "Group.actual"),
        ("Observation", {"valueString": None, "valueBoolean": "yes"}, "Observation.valueBoolean"),
        ("Patient", {"multipleBirthInteger": "2"}, "Patient.multipleBirthInteger"),
        ("Observation", {"valueString": None, "valueQuantity": {"value": "1.5", "unit": "kg"}},
         "Observation.valueQuantity.value"),
    ],
)
def test_booleans_and_numbers_must_be_json_booleans_and_numbers(resource_type, changes, element):
    resource = {name: value for name, value in {**CHART_EXAMPLES[resource_type], **changes}.items()
                if value is not None}
    error = invalid_as(resource, resource_type)
    assert expressions(error) == [element]
    assert "JSON" in error.issues[0]["diagnostics"]


def test_json_booleans_are_checked_at_any_depth_and_in_contained_resources():
    group = CHART_EXAMPLES["Group"]
    characteristic = {**group["characteristic"][0], "exclude": "false"}
    contained = {"resourceType": "Observation", "id": "o1", "status": "final", "code": {"text": "x"},
                 "valueBoolean": "no"}
    error = invalid_as({**group, "characteristic": [characteristic], "contained": [contained]}, "Group")
    assert set(expressions(error)) == {"Group.characteristic[0].exclude", "Group.contained[0].valueBoolean"}


def test_a_boolean_the_model_refuses_is_reported_once_with_the_fix():
    error = invalid({"resourceType": "Patient", "active": "perhaps"})
    assert expressions(error) == ["Patient.active"]
    assert "true or false" in error.issues[0]["diagnostics"]


@pytest.mark.parametrize(("resource_type", "element"), [("Observation", "status"), ("Task", "intent")])
def test_a_missing_required_code_is_named_as_required(resource_type, element):
    resource = {name: value for name, value in CHART_EXAMPLES[resource_type].items() if name != element}
    error = invalid_as(resource, resource_type)
    assert expressions(error) == [f"{resource_type}.{element}"]
    assert error.issues[0]["code"] == "required"
