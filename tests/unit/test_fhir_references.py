"""References inside a resource: found at their path, rewritten in a copy, refused when Cairn
cannot resolve them inside the tenant."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from cairn.fhir.references import (
    Reference,
    find_references,
    reference_issues,
    relative_target,
    rewrite_references,
)
from cairn.fhir.resource_types import SUPPORTED_TYPES

PATIENT = "Patient/6f1c2a9e-0b1d-4d6e-9a51-6e2f0c8b7d10"
DOCTOR = "Practitioner/b7e2c1d4"
NEW_PATIENT = "urn:uuid:0f3e7c1a-9b2d-4e5f-8a6b-7c8d9e0f1a2b"


def appointment() -> dict[str, Any]:
    return {
        "resourceType": "Appointment",
        "status": "booked",
        "participant": [
            {"actor": {"reference": NEW_PATIENT, "display": "Ada"}, "status": "accepted"},
            {"actor": {"reference": DOCTOR}, "status": "accepted"},
        ],
        "extension": [{"url": "https://cairn.example/referrer", "valueReference": {"reference": DOCTOR}}],
        "slot": [{"reference": "Slot/s1",
                  "identifier": {"value": "1", "assigner": {"reference": "Organization/o1"}}}],
        "supportingInformation": [{"identifier": {"value": "no reference string here"}}],
        "contained": [{"resourceType": "Observation", "id": "o1", "subject": {"reference": NEW_PATIENT}}],
    }


def test_every_reference_is_found_at_its_path_in_document_order():
    assert find_references(appointment()) == [
        Reference("Appointment.participant[0].actor", NEW_PATIENT),
        Reference("Appointment.participant[1].actor", DOCTOR),
        Reference("Appointment.extension[0].valueReference", DOCTOR),
        Reference("Appointment.slot[0]", "Slot/s1"),
        Reference("Appointment.slot[0].identifier.assigner", "Organization/o1"),
    ]


def test_contained_resources_and_references_without_a_string_are_not_listed():
    paths = [found.path for found in find_references(appointment())]
    assert not any("contained" in path or "supportingInformation" in path for path in paths)


def test_a_resource_without_references_has_none():
    assert find_references({"resourceType": "Patient", "name": [{"family": "Quill"}]}) == []


def test_rewrite_replaces_mapped_references_everywhere_in_a_copy():
    original = appointment()
    before = copy.deepcopy(original)
    rewritten = rewrite_references(original, {NEW_PATIENT: PATIENT, "Slot/s1": "Slot/7"})
    assert original == before
    assert rewritten["participant"][0]["actor"] == {"reference": PATIENT, "display": "Ada"}
    assert rewritten["participant"][1]["actor"] == {"reference": DOCTOR}
    assert rewritten["slot"][0]["reference"] == "Slot/7"
    assert rewritten["contained"][0]["subject"]["reference"] == PATIENT
    assert rewritten["status"] == "booked"


def test_rewrite_copy_shares_nothing_with_the_original():
    original = appointment()
    rewritten = rewrite_references(original, {})
    rewritten["participant"][1]["actor"]["reference"] = "Practitioner/other"
    assert original["participant"][1]["actor"]["reference"] == DOCTOR


@pytest.mark.parametrize(
    ("reference", "target"),
    [
        ("Observation/123", ("Observation", "123")),
        ("Observation/123/_history/2", ("Observation", "123")),
        (PATIENT, ("Patient", PATIENT.split("/")[1])),
        ("AuditEvent/a.b-c", ("AuditEvent", "a.b-c")),
        ("Group/" + "x" * 64, ("Group", "x" * 64)),
    ],
)
def test_relative_references_to_supported_types_name_their_target(reference, target):
    assert relative_target(reference) == target


@pytest.mark.parametrize(
    "reference",
    [
        "ExplanationOfBenefit/1",  # a type Cairn does not serve
        "observation/1",
        "Observation/",
        "Observation/1/2",
        "Observation/a_b",
        "Observation/" + "x" * 65,
        "Observation/1/_history/",
        "https://other.example/fhir/Observation/1",
        "Observation?identifier=urn:mrn|123",
        NEW_PATIENT,
        "#o1",
        "",
    ],
)
def test_anything_else_has_no_relative_target(reference):
    assert relative_target(reference) is None


def test_every_supported_type_is_a_valid_target():
    for resource_type in SUPPORTED_TYPES:
        assert relative_target(f"{resource_type}/1") == (resource_type, "1")


def observation(reference: str, **more: Any) -> dict[str, Any]:
    return {"resourceType": "Observation", "subject": {"reference": reference}, **more}


def test_relative_and_contained_references_raise_no_issue():
    resource = observation(PATIENT, performer=[{"reference": "#p1"}], contained=[{"id": "p1"}],
                           derivedFrom=[{"reference": "#"}])
    assert reference_issues(resource) == []


@pytest.mark.parametrize(
    ("reference", "code", "fix"),
    [
        ("https://other.example/fhir/Patient/1", "not-supported", "use a relative reference Type/id"),
        ("urn:uuid:1b2c", "not-found", "transaction Bundle"),
        ("Patient?identifier=urn:mrn|MRN-5521", "not-supported", "conditional references"),
        ("ExplanationOfBenefit/1", "invalid", "Type one of Patient"),
        ("Patient/not_an_id", "invalid", "1 to 64 letters"),
        ("#missing", "not-found", "contained"),
    ],
)
def test_unresolvable_references_are_named_with_what_to_fix(reference, code, fix):
    issues = reference_issues(observation(reference))
    assert len(issues) == 1
    assert issues[0]["code"] == code
    assert issues[0]["expression"] == ["Observation.subject"]
    assert fix in issues[0]["diagnostics"]
    assert reference not in str(issues)


def test_absolute_url_issue_says_to_use_a_reference_of_this_clinic():
    issues = reference_issues(observation("http://example.org/Patient/1"))
    assert "use a relative reference Type/id" in issues[0]["diagnostics"]
    assert "to a resource of this clinic" in issues[0]["diagnostics"]


def test_allow_accepts_a_bundles_own_full_urls_only():
    full_urls = {NEW_PATIENT}
    resource = observation(NEW_PATIENT, performer=[{"reference": "urn:uuid:not-in-bundle"}])
    issues = reference_issues(resource, allow=full_urls.__contains__)
    assert [found["expression"] for found in issues] == [["Observation.performer[0]"]]


def test_references_inside_contained_resources_are_not_checked_against_the_tenant():
    resource = observation(PATIENT, contained=[{"resourceType": "Practitioner", "id": "p1",
                                                "extension": [{"url": "https://x.example",
                                                               "valueReference": {"reference": "#"}}]}])
    assert reference_issues(resource) == []


def test_a_bundle_reference_is_an_issue_until_rewritten():
    resource = appointment()
    issues = reference_issues(resource)
    assert [found["expression"] for found in issues] == [["Appointment.participant[0].actor"]]
    assert reference_issues(rewrite_references(resource, {NEW_PATIENT: PATIENT})) == []
