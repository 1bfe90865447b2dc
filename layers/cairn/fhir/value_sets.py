"""The FHIR R4 value sets Cairn enforces on write, as data: type -> element -> allowed codes.

The fhir.resources models check that a `code` is a token but not that it comes from its value
set, and a status outside its value set changes what a resource means (an Observation that is
neither final nor entered-in-error). Only bindings of strength *required* in FHIR R4 (4.0.1) are
listed: for those any other code is an error, whereas extensible or example bindings allow local
codes. Element paths are dotted from the resource and step through arrays
("participant.status" is the status of every Appointment.participant).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass


@dataclass(frozen=True)
class ValueSet:
    """A required FHIR value set: its canonical URL and the codes it holds.

    `system` is set for CodeableConcept elements: only codings from that code system are checked,
    so a coding from another system (a translation) is left alone.
    """

    url: str
    codes: tuple[str, ...]
    system: str | None = None


def _hl7(name: str, *codes: str) -> ValueSet:
    return ValueSet(f"http://hl7.org/fhir/ValueSet/{name}", codes)


def _terminology(value_set: str, code_system: str, *codes: str) -> ValueSet:
    return ValueSet(
        f"http://hl7.org/fhir/ValueSet/{value_set}", codes,
        f"http://terminology.hl7.org/CodeSystem/{code_system}",
    )


ADMINISTRATIVE_GENDER = _hl7("administrative-gender", "male", "female", "other", "unknown")
DAYS_OF_WEEK = _hl7("days-of-week", "mon", "tue", "wed", "thu", "fri", "sat", "sun")
REQUEST_PRIORITY = _hl7("request-priority", "routine", "urgent", "asap", "stat")
REQUEST_STATUS = _hl7(
    "request-status", "draft", "active", "on-hold", "revoked", "completed", "entered-in-error", "unknown",
)
REQUEST_INTENT = _hl7(
    "request-intent", "proposal", "plan", "directive", "order", "original-order", "reflex-order",
    "filler-order", "instance-order", "option",
)
EVENT_STATUS = _hl7(
    "event-status", "preparation", "in-progress", "not-done", "on-hold", "stopped", "completed",
    "entered-in-error", "unknown",
)
COMPOSITION_STATUS = _hl7("composition-status", "preliminary", "final", "amended", "entered-in-error")
PUBLICATION_STATUS = _hl7("publication-status", "draft", "active", "retired", "unknown")
DOCUMENT_RELATIONSHIP = _hl7("document-relationship-type", "replaces", "transforms", "signs", "appends")

# Element codes (`code` datatype, or arrays of them) bound to a required value set.
REQUIRED_CODES: Mapping[str, Mapping[str, ValueSet]] = {
    "Patient": {
        "gender": ADMINISTRATIVE_GENDER,
        "contact.gender": ADMINISTRATIVE_GENDER,
        "link.type": _hl7("link-type", "replaced-by", "replaces", "refer", "seealso"),
    },
    "Practitioner": {"gender": ADMINISTRATIVE_GENDER},
    "PractitionerRole": {"availableTime.daysOfWeek": DAYS_OF_WEEK},
    "Location": {
        "status": _hl7("location-status", "active", "suspended", "inactive"),
        "mode": _hl7("location-mode", "instance", "kind"),
        "hoursOfOperation.daysOfWeek": DAYS_OF_WEEK,
    },
    "Encounter": {
        "status": _hl7(
            "encounter-status", "planned", "arrived", "triaged", "in-progress", "onleave", "finished",
            "cancelled", "entered-in-error", "unknown",
        ),
    },
    "AllergyIntolerance": {
        "type": _hl7("allergy-intolerance-type", "allergy", "intolerance"),
        "category": _hl7("allergy-intolerance-category", "food", "medication", "environment", "biologic"),
        "criticality": _hl7("allergy-intolerance-criticality", "low", "high", "unable-to-assess"),
        "reaction.severity": _hl7("reaction-event-severity", "mild", "moderate", "severe"),
    },
    "MedicationRequest": {
        "status": _hl7(
            "medicationrequest-status", "active", "on-hold", "cancelled", "completed",
            "entered-in-error", "stopped", "draft", "unknown",
        ),
        "intent": _hl7(
            "medicationrequest-intent", "proposal", "plan", "order", "original-order", "reflex-order",
            "filler-order", "instance-order", "option",
        ),
        "priority": REQUEST_PRIORITY,
    },
    "MedicationStatement": {
        "status": _hl7(
            "medication-statement-status", "active", "completed", "entered-in-error", "intended",
            "stopped", "on-hold", "unknown", "not-taken",
        ),
    },
    "Immunization": {"status": _hl7("immunization-status", "completed", "entered-in-error", "not-done")},
    "Observation": {
        "status": _hl7(
            "observation-status", "registered", "preliminary", "final", "amended", "corrected",
            "cancelled", "entered-in-error", "unknown",
        ),
    },
    "DiagnosticReport": {
        "status": _hl7(
            "diagnostic-report-status", "registered", "partial", "preliminary", "final", "amended",
            "corrected", "appended", "cancelled", "entered-in-error", "unknown",
        ),
    },
    "ServiceRequest": {"status": REQUEST_STATUS, "intent": REQUEST_INTENT, "priority": REQUEST_PRIORITY},
    "Procedure": {"status": EVENT_STATUS},
    "FamilyMemberHistory": {
        "status": _hl7("history-status", "partial", "completed", "entered-in-error", "health-unknown"),
    },
    "DocumentReference": {
        "status": _hl7("document-reference-status", "current", "superseded", "entered-in-error"),
        "docStatus": COMPOSITION_STATUS,
        "relatesTo.code": DOCUMENT_RELATIONSHIP,
    },
    "Coverage": {"status": _hl7("fm-status", "active", "cancelled", "draft", "entered-in-error")},
    "Claim": {"status": _hl7("fm-status", "active", "cancelled", "draft", "entered-in-error"),
              "use": _hl7("claim-use", "claim", "preauthorization", "predetermination")},
    "ClaimResponse": {"status": _hl7("fm-status", "active", "cancelled", "draft", "entered-in-error"),
                      "use": _hl7("claim-use", "claim", "preauthorization", "predetermination"),
                      "outcome": _hl7("remittance-outcome", "queued", "complete", "error", "partial")},
    "Invoice": {
        "status": _hl7("invoice-status", "draft", "issued", "balanced", "cancelled", "entered-in-error"),
    },
    "Appointment": {
        "status": _hl7(
            "appointmentstatus", "proposed", "pending", "booked", "arrived", "fulfilled", "cancelled",
            "noshow", "entered-in-error", "checked-in", "waitlist",
        ),
        "participant.required": _hl7("participantrequired", "required", "optional", "information-only"),
        "participant.status": _hl7(
            "participationstatus", "accepted", "declined", "tentative", "needs-action",
        ),
    },
    "Slot": {
        "status": _hl7(
            "slotstatus", "busy", "free", "busy-unavailable", "busy-tentative", "entered-in-error",
        ),
    },
    "Communication": {"status": EVENT_STATUS, "priority": REQUEST_PRIORITY},
    "Task": {
        "status": _hl7(
            "task-status", "draft", "requested", "received", "accepted", "rejected", "ready", "cancelled",
            "in-progress", "on-hold", "failed", "completed", "entered-in-error",
        ),
        "intent": _hl7(
            "task-intent", "unknown", "proposal", "plan", "order", "original-order", "reflex-order",
            "filler-order", "instance-order", "option",
        ),
        "priority": REQUEST_PRIORITY,
    },
    "Questionnaire": {"status": PUBLICATION_STATUS},
    "QuestionnaireResponse": {
        "status": _hl7(
            "questionnaire-answers-status", "in-progress", "completed", "amended", "entered-in-error",
            "stopped",
        ),
    },
    "Composition": {
        "status": COMPOSITION_STATUS,
        "relatesTo.code": DOCUMENT_RELATIONSHIP,
        "attester.mode": _hl7(
            "composition-attestation-mode", "personal", "professional", "legal", "official",
        ),
    },
    "Provenance": {
        "entity.role": _hl7(
            "provenance-entity-role", "derivation", "revision", "quotation", "source", "removal",
        ),
    },
    "Group": {
        "type": _hl7("group-type", "person", "animal", "practitioner", "device", "medication", "substance"),
    },
}

# CodeableConcept elements bound to a required value set, checked on codings of its code system.
REQUIRED_CODINGS: Mapping[str, Mapping[str, ValueSet]] = {
    "AllergyIntolerance": {
        "clinicalStatus": _terminology(
            "allergyintolerance-clinical", "allergyintolerance-clinical", "active", "inactive", "resolved",
        ),
        "verificationStatus": _terminology(
            "allergyintolerance-verification", "allergyintolerance-verification",
            "unconfirmed", "confirmed", "refuted", "entered-in-error",
        ),
    },
    "Condition": {
        "clinicalStatus": _terminology(
            "condition-clinical", "condition-clinical",
            "active", "recurrence", "relapse", "inactive", "remission", "resolved",
        ),
        "verificationStatus": _terminology(
            "condition-ver-status", "condition-ver-status",
            "unconfirmed", "provisional", "differential", "confirmed", "refuted", "entered-in-error",
        ),
    },
}
