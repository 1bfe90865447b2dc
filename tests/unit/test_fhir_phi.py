"""PHI by allowlist: for every stored type, names, free text and dates of care are sealed."""

from __future__ import annotations

import json
import os
import random
from typing import Any

import pytest

from cairn.crypto.field_cipher import FieldCipher
from cairn.fhir.phi import ALWAYS_CLEAR, CLEAR_ELEMENTS, clear_elements, phi_fields, split_phi
from cairn.fhir.resource_types import PATIENT_LINKS, STORED_TYPES
from cairn.records.sealing import ResourceSealer
from devkit.demo_data import demo_patient

# Every name, free text and identifier in the examples contains SECRET; every date of care is on
# CARE_DAY. Neither may appear in the clear part of any resource.
SECRET = "Secret Ada Quill"
CARE_DAY = "2024-03-05"
CARE_TIME = f"{CARE_DAY}T09:30:00+01:00"
PATIENT = {"reference": "Patient/6f1c2a9e-0b1d-4d6e-9a51-6e2f0c8b7d10"}
ENCOUNTER = {"reference": "Encounter/0d3b9f7e-5c1a-4f2e-8b6d-2a9c7e1f4b30"}
DOCTOR = {"reference": "Practitioner/b7e2c1d4-3f5a-4b6c-9d8e-1a2b3c4d5e6f"}
CLINIC = {"reference": "Organization/c1d2e3f4-a5b6-4c7d-8e9f-0a1b2c3d4e5f"}
SNOMED = "http://snomed.info/sct"
HUMAN_NAME = [{"family": "Quill", "given": [SECRET]}]
TELECOM = [{"system": "phone", "value": f"555-0100 {SECRET}"}]
ADDRESS = [{"line": [f"1 {SECRET} Lane"], "city": "Leeds"}]
NOTE = [{"text": f"{SECRET} asked about results"}]


def concept(code: str, text: str = SECRET) -> dict[str, Any]:
    return {"coding": [{"system": SNOMED, "code": code}], "text": text}


def chart_example(resource: dict[str, Any]) -> dict[str, Any]:
    """`resource` with the elements every type has and that always carry PHI."""
    return {
        "id": "e1b2c3d4-0000-4000-8000-000000000001",
        "meta": {"versionId": "1"},
        "text": {"status": "generated", "div": f'<div xmlns="http://www.w3.org/1999/xhtml">{SECRET}</div>'},
        "extension": [{"url": "https://cairn.example/birthplace", "valueString": SECRET}],
        **resource,
    }


CHART_EXAMPLES: dict[str, dict[str, Any]] = {
    example["resourceType"]: chart_example(example) for example in [
        {"resourceType": "Patient", "identifier": [{"value": SECRET}], "active": True, "name": HUMAN_NAME,
         "telecom": TELECOM, "gender": "female", "birthDate": CARE_DAY, "address": ADDRESS,
         "contact": [{"name": {"text": SECRET}}], "generalPractitioner": [DOCTOR]},
        {"resourceType": "Practitioner", "identifier": [{"value": SECRET}], "active": True,
         "name": HUMAN_NAME, "telecom": TELECOM, "address": ADDRESS, "gender": "male",
         "birthDate": CARE_DAY, "qualification": [{"code": concept("309343006")}]},
        {"resourceType": "PractitionerRole", "active": True, "practitioner": DOCTOR, "organization": CLINIC,
         "telecom": TELECOM, "availabilityExceptions": SECRET,
         "availableTime": [{"daysOfWeek": ["mon"], "availableStartTime": "09:00:00"}]},
        {"resourceType": "Organization", "active": True, "name": SECRET, "alias": [SECRET],
         "telecom": TELECOM, "address": ADDRESS, "contact": [{"name": {"text": SECRET}}]},
        {"resourceType": "Location", "status": "active", "name": SECRET, "description": SECRET,
         "telecom": TELECOM, "address": ADDRESS[0], "managingOrganization": CLINIC},
        {"resourceType": "Encounter", "status": "finished",
         "class": {"system": "http://terminology.hl7.org/CodeSystem/v3-ActCode", "code": "AMB"},
         "type": [concept("185349003")], "subject": PATIENT,
         "participant": [{"individual": DOCTOR, "period": {"start": CARE_TIME}}],
         "period": {"start": CARE_TIME}, "reasonCode": [concept("38341003")],
         "hospitalization": {"dischargeDisposition": {"text": SECRET}}},
        {"resourceType": "Condition",
         "clinicalStatus": {"coding": [{"system": "http://terminology.hl7.org/CodeSystem/condition-clinical",
                                        "code": "active"}]},
         "code": concept("38341003"), "subject": PATIENT, "encounter": ENCOUNTER,
         "onsetDateTime": CARE_TIME, "recordedDate": CARE_DAY, "note": NOTE},
        {"resourceType": "AllergyIntolerance", "criticality": "high", "code": concept("91936005"),
         "patient": PATIENT, "onsetDateTime": CARE_TIME, "note": NOTE,
         "reaction": [{"manifestation": [concept("39579001")], "description": SECRET}]},
        {"resourceType": "MedicationRequest", "status": "active", "intent": "order",
         "medicationCodeableConcept": concept("387517004"), "subject": PATIENT, "authoredOn": CARE_TIME,
         "requester": DOCTOR, "dosageInstruction": [{"text": SECRET}], "note": NOTE},
        {"resourceType": "MedicationStatement", "status": "active",
         "medicationCodeableConcept": concept("387517004"), "subject": PATIENT,
         "effectiveDateTime": CARE_TIME, "dateAsserted": CARE_TIME, "dosage": [{"text": SECRET}]},
        {"resourceType": "Immunization", "status": "completed", "vaccineCode": concept("871875004"),
         "patient": PATIENT, "occurrenceDateTime": CARE_TIME, "lotNumber": SECRET, "note": NOTE},
        {"resourceType": "Observation", "status": "final", "code": concept("8302-2"), "subject": PATIENT,
         "effectiveDateTime": CARE_TIME, "issued": "2024-03-05T10:00:00+01:00", "valueString": SECRET,
         "interpretation": [concept("281302008")], "note": NOTE,
         "component": [{"code": concept("8480-6"), "valueString": SECRET}]},
        {"resourceType": "DiagnosticReport", "status": "final", "code": concept("26604007"),
         "subject": PATIENT, "effectiveDateTime": CARE_TIME, "conclusion": SECRET,
         "presentedForm": [{"contentType": "text/plain", "title": SECRET}]},
        {"resourceType": "ServiceRequest", "status": "active", "intent": "order", "code": concept("26604007"),
         "subject": PATIENT, "occurrenceDateTime": CARE_TIME, "authoredOn": CARE_TIME,
         "patientInstruction": SECRET, "note": NOTE},
        {"resourceType": "Procedure", "status": "completed", "code": concept("80146002"), "subject": PATIENT,
         "performedDateTime": CARE_TIME, "bodySite": [concept("66754008")], "note": NOTE},
        {"resourceType": "FamilyMemberHistory", "status": "completed", "patient": PATIENT, "name": SECRET,
         "relationship": concept("72705000"), "date": CARE_DAY, "bornDate": CARE_DAY,
         "condition": [{"code": concept("363406005")}]},
        {"resourceType": "DocumentReference", "status": "current", "subject": PATIENT, "date": CARE_TIME,
         "type": concept("371530004"), "description": SECRET,
         "content": [{"attachment": {"contentType": "text/plain", "title": SECRET}}]},
        {"resourceType": "Coverage", "status": "active", "beneficiary": PATIENT, "payor": [CLINIC],
         "subscriberId": SECRET, "period": {"start": CARE_DAY},
         "class": [{"type": concept("group"), "value": SECRET, "name": SECRET}]},
        {"resourceType": "Appointment", "status": "booked", "serviceType": [concept("394587001")],
         "description": SECRET, "start": CARE_TIME, "end": "2024-03-05T10:00:00+01:00",
         "comment": SECRET, "patientInstruction": SECRET,
         "participant": [{"actor": PATIENT, "status": "accepted"}, {"actor": DOCTOR, "status": "accepted"}]},
        {"resourceType": "Schedule", "active": True, "actor": [DOCTOR], "comment": SECRET},
        {"resourceType": "Slot", "status": "free", "schedule": {"reference": "Schedule/s1"},
         "start": "2024-04-01T09:00:00Z", "end": "2024-04-01T09:15:00Z", "comment": SECRET},
        {"resourceType": "Communication", "status": "completed", "subject": PATIENT, "sender": DOCTOR,
         "recipient": [PATIENT], "sent": CARE_TIME, "topic": {"text": SECRET},
         "payload": [{"contentString": SECRET}]},
        {"resourceType": "Task", "status": "requested", "intent": "order", "for": PATIENT, "owner": DOCTOR,
         "description": SECRET, "authoredOn": CARE_TIME, "executionPeriod": {"start": CARE_TIME},
         "note": NOTE},
        {"resourceType": "Questionnaire", "url": "https://cairn.example/Questionnaire/phq9",
         "status": "active", "date": "2023-01-01", "title": SECRET, "publisher": SECRET,
         "contact": [{"name": SECRET, "telecom": TELECOM}],
         "item": [{"linkId": "1", "text": SECRET, "type": "string"}]},
        {"resourceType": "QuestionnaireResponse", "status": "completed",
         "questionnaire": "https://cairn.example/Questionnaire/phq9", "subject": PATIENT,
         "authored": CARE_TIME, "item": [{"linkId": "1", "answer": [{"valueString": SECRET}]}]},
        {"resourceType": "Composition", "status": "final", "type": concept("371530004"), "subject": PATIENT,
         "date": CARE_TIME, "author": [DOCTOR], "title": SECRET,
         "section": [{"title": SECRET, "text": {"status": "generated",
                                                 "div": f'<div xmlns="http://www.w3.org/1999/xhtml">{SECRET}</div>'}}]},
        {"resourceType": "Provenance", "target": [PATIENT], "recorded": CARE_TIME,
         "occurredDateTime": CARE_TIME, "agent": [{"who": DOCTOR}],
         "signature": [{"type": [{"system": "urn:iso-astm:E1762-95:2013", "code": "1.2.840.10065.1.12.1.1"}],
                        "when": CARE_TIME, "who": DOCTOR, "data": "U2VjcmV0"}]},
        {"resourceType": "Group", "type": "person", "actual": True, "name": SECRET,
         "characteristic": [{"code": concept("64572001"), "valueCodeableConcept": concept("38341003"),
                             "exclude": False}],
         "member": [{"entity": PATIENT}]},
        {"resourceType": "Invoice", "status": "issued", "subject": PATIENT, "date": CARE_DAY,
         "identifier": [{"value": SECRET}], "participant": [{"actor": DOCTOR}], "issuer": CLINIC,
         "lineItem": [{"sequence": 1, "chargeItemCodeableConcept": concept("99213")}],
         "totalGross": {"value": 120, "currency": "USD"}, "paymentTerms": SECRET},
        {"resourceType": "Claim", "status": "active", "use": "claim", "patient": PATIENT, "created": CARE_DAY,
         "type": {"coding": [{"system": "http://terminology.hl7.org/CodeSystem/claim-type",
                              "code": "professional"}]},
         "provider": CLINIC, "insurer": CLINIC, "priority": {"coding": [{"code": "normal"}]},
         "identifier": [{"value": SECRET}], "billablePeriod": {"start": CARE_DAY},
         "insurance": [{"sequence": 1, "focal": True, "coverage": {"reference": "Coverage/c1"}}],
         "diagnosis": [{"sequence": 1, "diagnosisCodeableConcept": concept("E11.9")}],
         "item": [{"sequence": 1, "productOrService": concept("99213"), "servicedDate": CARE_DAY}]},
        {"resourceType": "ClaimResponse", "status": "active", "use": "claim", "patient": PATIENT,
         "created": CARE_DAY, "outcome": "complete", "insurer": CLINIC, "requestor": CLINIC,
         "type": {"coding": [{"system": "http://terminology.hl7.org/CodeSystem/claim-type",
                              "code": "professional"}]},
         "request": {"reference": "Claim/c1"}, "disposition": SECRET, "identifier": [{"value": SECRET}],
         "payment": {"type": concept("complete"), "date": CARE_DAY,
                     "amount": {"value": 80, "currency": "USD"}}},
    ]
}


def leaks(value: object) -> list[str]:
    """Every string in `value` that holds a name, free text or a date of care."""
    if isinstance(value, str):
        return [value] if SECRET in value or CARE_DAY in value else []
    if isinstance(value, dict):
        return [leak for item in value.values() for leak in leaks(item)]
    if isinstance(value, list):
        return [leak for item in value for leak in leaks(item)]
    return []


def test_every_stored_type_has_an_example_and_a_declaration():
    assert set(CHART_EXAMPLES) == set(STORED_TYPES) == set(CLEAR_ELEMENTS)


@pytest.mark.parametrize("resource_type", STORED_TYPES)
def test_no_name_free_text_or_date_of_care_stays_in_clear(resource_type):
    public, phi = split_phi(CHART_EXAMPLES[resource_type])
    assert leaks(public) == []
    assert {"text", "extension"} <= set(phi)
    assert public["resourceType"] == resource_type


@pytest.mark.parametrize("resource_type", STORED_TYPES)
def test_split_loses_nothing_and_keeps_the_routing_elements_clear(resource_type):
    resource = CHART_EXAMPLES[resource_type]
    public, phi = split_phi(resource)
    assert {**public, **phi} == resource
    assert not set(public) & set(phi)
    assert set(public) <= clear_elements(resource_type)
    assert {"id", "meta"} <= set(public)


@pytest.mark.parametrize("resource_type", STORED_TYPES)
def test_clear_elements_are_real_r4_elements_and_disjoint_from_phi_fields(resource_type):
    from fhir.resources.R4B import get_fhir_model_class

    model = get_fhir_model_class(resource_type)
    declared = {field.alias or name for name, field in model.model_fields.items()}
    assert clear_elements(resource_type) - ALWAYS_CLEAR <= declared
    assert not clear_elements(resource_type) & phi_fields(resource_type)
    assert {"text", "extension", "modifierExtension", "contained"} <= phi_fields(resource_type)


@pytest.mark.parametrize(("resource_type", "links"), PATIENT_LINKS.items())
def test_patient_compartment_links_are_clear_so_routing_needs_no_key(resource_type, links):
    assert {link.split(".")[0] for link in links} <= clear_elements(resource_type)


@pytest.mark.parametrize("sealed", ["code", "note", "identifier", "valueQuantity", "effectiveDateTime"])
def test_clinical_content_of_an_observation_is_sealed(sealed):
    assert sealed in phi_fields("Observation")
    assert sealed not in clear_elements("Observation")


def test_an_element_nobody_declared_is_sealed_not_leaked():
    observation = {**CHART_EXAMPLES["Observation"], "_status": {"extension": []}, "futureElement": SECRET}
    public, phi = split_phi(observation)
    assert {"_status", "futureElement"} <= set(phi)
    assert leaks(public) == []


@pytest.mark.parametrize("resource_type", ["ExplanationOfBenefit", "AuditEvent", "Bundle"])
def test_a_type_without_a_declaration_cannot_be_split(resource_type):
    with pytest.raises(KeyError):
        split_phi({"resourceType": resource_type, "id": "x"})
    with pytest.raises(KeyError):
        phi_fields(resource_type)


def test_patient_keeps_the_clear_set_it_always_had():
    assert clear_elements("Patient") == {
        "resourceType", "id", "meta", "gender", "active", "maritalStatus", "communication",
        "multipleBirthBoolean", "multipleBirthInteger", "deceasedBoolean", "generalPractitioner",
        "managingOrganization", "link",
    }
    assert {
        "identifier", "name", "telecom", "address", "birthDate", "deceasedDateTime", "photo", "contact",
        "text", "extension", "modifierExtension",
    } <= phi_fields("Patient")


def test_demo_patient_splits_as_before():
    patient = {**demo_patient(random.Random(3)), "id": "p1", "gender": "female"}
    public, phi = split_phi(patient)
    assert set(public) == {"resourceType", "id", "active", "gender"}
    assert {"name", "identifier", "birthDate", "telecom", "address"} <= set(phi)
    assert not set(public) & phi_fields("Patient")


@pytest.mark.parametrize("resource_type", STORED_TYPES)
def test_sealed_form_holds_no_phi_and_opens_to_the_same_resource(resource_type):
    sealer = ResourceSealer("tenant-a", FieldCipher(os.urandom(32)))
    resource = CHART_EXAMPLES[resource_type]
    body, sealed = sealer.seal(resource)
    assert leaks(json.loads(body)) == []
    assert all(SECRET not in ciphertext for ciphertext in sealed.values())
    assert sealer.open(body, sealed) == resource
