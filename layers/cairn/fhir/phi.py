"""Which top-level elements of each resource type are kept in clear; every other one is PHI.

The rule is an allowlist. For each stored type, CLEAR_ELEMENTS names the few top-level elements
stored as plain JSON (still under the table's KMS encryption at rest); every other element,
including ones added by a later FHIR version, an extension or a primitive's `_element`, is PHI:
encrypted per field (AES-GCM under the tenant's data key) and never logged. An element forgotten
here is therefore sealed, never leaked. resourceType, id and meta are always clear.

An element is clear only if it is coded or a reference, needed to route, authorize or filter
without decrypting, and never free text:
- status, intent, priority, category and similar workflow codes;
- references (random UUIDs, "Patient/3f2a..."): subject/patient/encounter/author links, including
  the compartment links of cairn.fhir.resource_types.PATIENT_LINKS (Appointment.participant,
  Group.member), so a resource can be placed in its patient's compartment without its key;
- security and confidentiality labels, which access control reads.
Sealed everywhere: identifier, text, note, extension, modifierExtension, contained, language,
implicitRules, and every narrative or free-text element. Sealed as sensitive health information
even though coded: what the finding or act is and its result (`code`, `value[x]`, `component`,
vaccineCode, medication[x], bodySite, reason codes, Encounter/Composition/DocumentReference type,
Appointment service type and specialty, Coverage type), and dates of care (onset, effective,
performed, period, authoredOn, Appointment start/end).

Patient keeps the clear set it always had: gender, active, maritalStatus, communication,
multipleBirth[x], deceasedBoolean, generalPractitioner, managingOrganization, link. Its
identifiers, names, contact details, dates tied to the person, contacts, photo and extensions
(mother's maiden name, birthplace, race and ethnicity in US Core) are sealed.

Directory and definition types (Practitioner, PractitionerRole, Organization, Location, Schedule,
Slot, Questionnaire) are not patient data, but they name and reach staff: names, telecom,
addresses, identifiers, photos, qualifications, publisher and contacts are sealed like PHI. A
Slot's start and end stay clear: free/busy search runs on Slots, not on patients' Appointments.
"""

from __future__ import annotations

from collections.abc import Mapping
from functools import cache
from typing import Any

ALWAYS_CLEAR = frozenset({"resourceType", "id", "meta"})


def _clear(*names: str) -> frozenset[str]:
    return ALWAYS_CLEAR | frozenset(names)


CLEAR_ELEMENTS: Mapping[str, frozenset[str]] = {
    "Patient": _clear(
        "gender", "active", "maritalStatus", "communication", "multipleBirthBoolean",
        "multipleBirthInteger", "deceasedBoolean", "generalPractitioner", "managingOrganization", "link",
    ),
    "Practitioner": _clear("active", "communication"),
    "PractitionerRole": _clear(
        "active", "practitioner", "organization", "code", "specialty", "location", "healthcareService",
        "availableTime", "endpoint",
    ),
    "Organization": _clear("active", "type", "partOf", "endpoint"),
    "Location": _clear(
        "status", "operationalStatus", "mode", "type", "physicalType", "managingOrganization", "partOf",
        "hoursOfOperation", "endpoint",
    ),
    "Encounter": _clear(
        "status", "class", "priority", "subject", "episodeOfCare", "basedOn", "appointment",
        "account", "serviceProvider", "partOf",
    ),
    "Condition": _clear(
        "clinicalStatus", "verificationStatus", "category", "subject", "encounter", "recorder", "asserter",
    ),
    "AllergyIntolerance": _clear(
        "clinicalStatus", "verificationStatus", "type", "category", "criticality", "patient", "encounter",
        "recorder", "asserter",
    ),
    "MedicationRequest": _clear(
        "status", "intent", "category", "priority", "doNotPerform", "reportedBoolean", "reportedReference",
        "subject", "encounter", "supportingInformation", "requester", "performer", "performerType",
        "recorder", "reasonReference", "basedOn", "courseOfTherapyType", "insurance", "priorPrescription",
        "detectedIssue", "eventHistory",
    ),
    "MedicationStatement": _clear(
        "status", "category", "subject", "context", "informationSource", "basedOn", "partOf",
        "derivedFrom", "reasonReference",
    ),
    "Immunization": _clear(
        "status", "patient", "encounter", "primarySource", "location", "manufacturer", "performer",
        "reasonReference",
    ),
    "Observation": _clear(
        "status", "category", "subject", "encounter", "basedOn", "partOf", "focus", "performer",
        "hasMember", "derivedFrom", "specimen", "device",
    ),
    "DiagnosticReport": _clear(
        "status", "category", "subject", "encounter", "basedOn", "performer", "resultsInterpreter",
        "specimen", "result", "imagingStudy",
    ),
    "ServiceRequest": _clear(
        "status", "intent", "category", "priority", "doNotPerform", "subject", "encounter", "requester",
        "performer", "performerType", "locationReference", "basedOn", "replaces", "insurance",
        "supportingInfo", "specimen", "reasonReference", "relevantHistory",
    ),
    "Procedure": _clear(
        "status", "category", "subject", "encounter", "basedOn", "partOf", "recorder", "asserter",
        "performer", "location", "reasonReference", "report", "complicationDetail", "usedReference",
    ),
    "FamilyMemberHistory": _clear("status", "patient", "reasonReference"),
    "DocumentReference": _clear(
        "status", "docStatus", "category", "subject", "author", "authenticator", "custodian", "relatesTo",
        "securityLabel",
    ),
    "Coverage": _clear(
        "status", "policyHolder", "subscriber", "beneficiary", "relationship", "payor", "order",
        "subrogation", "contract",
    ),
    "Appointment": _clear(
        "status", "appointmentType", "priority", "slot", "basedOn", "participant", "reasonReference",
        "supportingInformation",
    ),
    "Schedule": _clear("active", "serviceCategory", "serviceType", "specialty", "actor", "planningHorizon"),
    "Slot": _clear(
        "status", "schedule", "serviceCategory", "serviceType", "specialty", "appointmentType", "start",
        "end", "overbooked",
    ),
    "Communication": _clear(
        "status", "category", "priority", "medium", "subject", "encounter", "basedOn", "partOf",
        "inResponseTo", "recipient", "sender", "about", "reasonReference",
    ),
    "Task": _clear(
        "status", "intent", "priority", "basedOn", "partOf", "focus", "for", "encounter", "requester",
        "performerType", "owner", "location", "reasonReference", "insurance", "relevantHistory",
    ),
    "Questionnaire": _clear(
        "url", "version", "status", "experimental", "subjectType", "date", "approvalDate",
        "lastReviewDate", "effectivePeriod", "useContext", "jurisdiction", "code", "derivedFrom",
    ),
    "QuestionnaireResponse": _clear(
        "status", "questionnaire", "basedOn", "partOf", "subject", "encounter", "author", "source",
    ),
    "Composition": _clear(
        "status", "category", "subject", "encounter", "author", "custodian", "confidentiality",
    ),
    "Provenance": _clear("target", "policy", "location", "activity", "agent", "entity", "reason"),
    "Group": _clear("active", "type", "actual", "quantity", "managingEntity", "member"),
    # What a patient was charged for (line items), how much, when and the payments are PHI; the
    # status and the references that place the invoice stay clear.
    "Invoice": _clear("status", "subject", "recipient", "participant", "issuer", "account"),
    # A claim's diagnoses, services, charges and dates of care are PHI; its status, kind and the
    # references that place it (patient, clinic, payer, coverage) stay clear. Likewise what the
    # payer answered: amounts, adjustments and remarks are PHI, the outcome is not.
    "Claim": _clear("status", "type", "use", "patient", "provider", "insurer", "priority", "related"),
    "ClaimResponse": _clear("status", "type", "use", "patient", "insurer", "requestor", "request",
                            "outcome"),
}


def clear_elements(resource_type: str) -> frozenset[str]:
    """The elements of `resource_type` stored in clear; a type without a declaration cannot be
    stored, so it raises KeyError rather than store anything unclassified."""
    try:
        return CLEAR_ELEMENTS[resource_type]
    except KeyError:
        raise KeyError(f"no PHI declaration for resource type {resource_type}") from None


@cache
def phi_fields(resource_type: str) -> frozenset[str]:
    """The PHI elements FHIR R4 defines for `resource_type` (JSON names, `_element` extensions
    included): every element outside its clear set. KeyError for an undeclared type.

    For documentation and checks only; split_phi seals whatever is not clear, declared or not.
    """
    clear = clear_elements(resource_type)
    # Imported here: the models take a third of a second to load and sealing never needs them.
    from fhir.resources.R4B import get_fhir_model_class

    model = get_fhir_model_class(resource_type)
    names = {field.alias or name for name, field in model.model_fields.items()}
    return frozenset(names - clear - {"fhir_comments"})


def split_phi(resource: Mapping[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
    """(the resource's clear elements, its PHI elements: every other one)."""
    clear = clear_elements(str(resource["resourceType"]))
    public = {name: value for name, value in resource.items() if name in clear}
    phi = {name: value for name, value in resource.items() if name not in clear}
    return public, phi
