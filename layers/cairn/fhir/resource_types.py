"""The FHIR resource types of Cairn's chart, declared once, and how each links to its patient.

Everything that varies by resource type keys off these names: the permission table
(multitenant.permissions), PHI declarations (cairn.fhir.phi), search parameters
(cairn.fhir.search), validation, the CapabilityStatement and the API routes (a request for any
other type answers 404 with the list of supported ones).
"""

from __future__ import annotations

from collections.abc import Mapping

from cairn.errors import UnsupportedResourceType

PATIENT = "Patient"
AUDIT_EVENT = "AuditEvent"
GROUP = "Group"

# Stored in the clinical table and served by the generic FHIR interactions.
STORED_TYPES: tuple[str, ...] = (
    PATIENT,
    "Practitioner", "PractitionerRole", "Organization", "Location",
    "Encounter", "Condition", "AllergyIntolerance", "MedicationRequest", "MedicationStatement",
    "Immunization", "Observation", "DiagnosticReport", "ServiceRequest", "Procedure",
    "FamilyMemberHistory", "DocumentReference", "Coverage",
    "Appointment", "Schedule", "Slot",
    "Communication", "Task", "Questionnaire", "QuestionnaireResponse", "Composition",
    "Provenance", GROUP,
    "Invoice",  # patient bills (cairn.billing): issued, paid and refunded through /billing/invoices
    # Insurance claims (cairn.claims): the coded encounter billed to a payer, and what it paid.
    "Claim", "ClaimResponse",
)
# Served read-only from the audit trail (cairn.audit), never written through the FHIR API.
READ_ONLY_TYPES: tuple[str, ...] = (AUDIT_EVENT,)
SUPPORTED_TYPES: tuple[str, ...] = (*STORED_TYPES, *READ_ONLY_TYPES)

# Where a resource names the Patient whose compartment it belongs to: top-level elements holding
# a Reference (or a list of them, or BackboneElements with `actor`/`entity`), following the FHIR
# R4 Patient CompartmentDefinition. Types absent here (directory and definition resources:
# Practitioner, Organization, Location, Questionnaire, Slot, ...) are in no patient's compartment.
PATIENT_LINKS: Mapping[str, tuple[str, ...]] = {
    "Encounter": ("subject",),
    "Condition": ("subject",),
    "AllergyIntolerance": ("patient",),
    "MedicationRequest": ("subject",),
    "MedicationStatement": ("subject",),
    "Immunization": ("patient",),
    "Observation": ("subject",),
    "DiagnosticReport": ("subject",),
    "ServiceRequest": ("subject",),
    "Procedure": ("subject",),
    "FamilyMemberHistory": ("patient",),
    "DocumentReference": ("subject",),
    "Coverage": ("beneficiary", "subscriber", "policyHolder"),
    "Appointment": ("participant.actor",),
    "Schedule": ("actor",),
    "Communication": ("subject", "sender", "recipient"),
    "Task": ("for",),
    "QuestionnaireResponse": ("subject", "source"),
    "Composition": ("subject",),
    "Provenance": ("target",),
    "Invoice": ("subject", "recipient"),
    "Claim": ("patient",),
    "ClaimResponse": ("patient",),
    GROUP: ("member.entity",),
}
# Types whose resources hold a single patient's data: in the patient's compartment, listed by
# Patient/$everything and the patient's export.
COMPARTMENT_TYPES: tuple[str, ...] = tuple(t for t in STORED_TYPES if t in PATIENT_LINKS and t != GROUP)


def is_supported(resource_type: str) -> bool:
    return resource_type in SUPPORTED_TYPES


def require_supported(resource_type: str) -> None:
    """UnsupportedResourceType (404, listing the supported types) unless Cairn serves the type."""
    if not is_supported(resource_type):
        raise UnsupportedResourceType(
            f"{resource_type[:40] or 'this resource type'} is not served; supported types: "
            + ", ".join(SUPPORTED_TYPES))


def is_stored(resource_type: str) -> bool:
    return resource_type in STORED_TYPES
