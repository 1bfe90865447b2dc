"""Who may do what: the one permission table of Cairn, and the patient compartment rule.

The table maps role x resource type x action. Every service asks `permits` (or `require`)
before it touches a record; no route or service keeps its own list of roles. The table is
rendered into docs/access-control.md by `permission_table_markdown`, and a test keeps the two
equal, so the documentation cannot drift from what the code enforces.

Beyond the table, three rules decide access to one record:
  - the patient compartment: a patient user reaches only records of their own Patient, and lab
    results (Observation, DiagnosticReport with category "laboratory") only once released;
  - restricted patients (Patient.meta.security holds v3-Confidentiality R or V): besides the
    patient and the clinic's admins, only a clinician holding an open break-glass grant may open
    them;
  - break-glass: physicians and nurses may open a restricted patient for a limited time with a
    stated reason (cairn.break_glass keeps and audits the grants).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from enum import StrEnum
from typing import Any

from cairn.errors import AccessDenied
from cairn.fhir.resource_types import PATIENT as PATIENT_TYPE
from cairn.fhir.resource_types import PATIENT_LINKS, SUPPORTED_TYPES
from multitenant.context import Role, TenantContext


class Action(StrEnum):
    """What a caller does to a resource type; the letters are the documentation's shorthand."""

    CREATE = "create"
    READ = "read"
    UPDATE = "update"
    DELETE = "delete"
    SEARCH = "search"
    BREAK_GLASS = "break-glass"  # open a restricted record for a limited time, with a reason
    EXPORT = "export"  # bulk or EHI export: of a Patient's record, or of the clinic (on Group)

    @property
    def letter(self) -> str:
        return _LETTERS[self]


_LETTERS = {
    Action.CREATE: "C", Action.READ: "R", Action.UPDATE: "U", Action.DELETE: "D",
    Action.SEARCH: "S", Action.BREAK_GLASS: "B", Action.EXPORT: "X",
}

# The chart's FHIR resource types (cairn.fhir.resource_types) plus what billing will add, and
# Cairn's own non-FHIR resources: clinic users (user administration) and break-glass grants.
PATIENT = PATIENT_TYPE
USER = "User"
BREAK_GLASS_GRANT = "BreakGlassGrant"
CLINIC_SETTINGS = "ClinicSettings"  # a clinic's settings: time zone, visit types, booking and reminder rules
LAB_MESSAGE = "LabMessage"  # an HL7 v2 message a lab sent (cairn.labs): stored raw, then processed
# Reminders (cairn.reminders): a reminder someone set (doses, refills, bills, recalls, coverage),
# a patient's reminder channels and opt-outs, and the local outbox of messages sent.
REMINDER = "Reminder"
CONTACT_PREFERENCES = "ContactPreferences"
OUTBOX_MESSAGE = "OutboxMessage"
# A patient's clinical record: what clinicians chart.
CLINICAL_TYPES = (
    "AllergyIntolerance", "Condition", "DiagnosticReport", "DocumentReference", "Encounter",
    "FamilyMemberHistory", "Immunization", "MedicationRequest", "MedicationStatement",
    "Observation", "Procedure", "ServiceRequest", "Composition", "QuestionnaireResponse",
)
# Who and where: the clinic's directory, and what defines its forms and calendars.
DIRECTORY_TYPES = ("Practitioner", "PractitionerRole", "Organization", "Location", "Questionnaire")
SCHEDULING_TYPES = ("Appointment", "Schedule", "Slot")
# A clinic's fee schedule (cairn.billing): the codes it bills and their prices.
FEE_SCHEDULE = "FeeSchedule"
RESOURCE_TYPES: tuple[str, ...] = (
    *SUPPORTED_TYPES, FEE_SCHEDULE, USER, BREAK_GLASS_GRANT, LAB_MESSAGE, CLINIC_SETTINGS,
    REMINDER, CONTACT_PREFERENCES, OUTBOX_MESSAGE,
)
LAB_RESULT_TYPES = frozenset({"Observation", "DiagnosticReport"})
LABORATORY = "laboratory"
LABORATORY_CODES = frozenset({LABORATORY, "LAB"})  # observation-category; v2-0074 (DiagnosticReport)
# The flag the labs issue sets when a clinician releases a result to the patient portal.
RELEASE_SYSTEM = "https://cairn.health/fhir/CodeSystem/result-release"
RELEASED = "released"
CONFIDENTIALITY_SYSTEM = "http://terminology.hl7.org/CodeSystem/v3-Confidentiality"
RESTRICTED_CODES = frozenset({"R", "V"})  # restricted, very restricted

CLINICIANS = frozenset({Role.PHYSICIAN, Role.NURSE})


def _grant(actions: str, *types: str) -> dict[str, frozenset[Action]]:
    chosen = frozenset(action for action in Action if action.letter in actions)
    return {resource_type: chosen for resource_type in types}


# Minimum necessary (HIPAA 164.502(b)): each role gets what its work in the clinic needs.
# A delete is soft (the resource stays in its history) and corrects a record entered in error:
# physicians may delete clinical records they chart; Patients are never deleted through the API.
PERMISSIONS: Mapping[Role, Mapping[str, frozenset[Action]]] = {
    Role.ADMIN: {
        **_grant("CRUSX", PATIENT),
        **_grant("CRUS", "Coverage", *DIRECTORY_TYPES),
        **_grant("CRUSX", "Group"),  # X on Group: bulk export of the clinic (system, patients, a Group)
        **_grant("CRUDS", *SCHEDULING_TYPES),
        **_grant("RS", "AuditEvent", "Provenance", BREAK_GLASS_GRANT),
        **_grant("CRUS", USER),
        **_grant("CRUS", LAB_MESSAGE),  # post a file by hand, see quarantine, reconcile a result
        **_grant("CRDS", REMINDER),
        **_grant("RU", CONTACT_PREFERENCES),
        **_grant("RS", OUTBOX_MESSAGE),  # the local outbox: what would have been emailed or texted
        **_grant("RU", CLINIC_SETTINGS),
        **_grant("RU", FEE_SCHEDULE),  # the clinic's prices
    },
    Role.PHYSICIAN: {
        **_grant("CRUSBX", PATIENT),
        **_grant("CRUDS", *CLINICAL_TYPES, "Communication", "Task"),
        **_grant("CRUS", "Appointment", "Questionnaire"),
        **_grant("CRS", "Provenance"),
        **_grant("CRS", "Claim"),  # codes the visit they saw (diagnoses and services) for billing
        **_grant("RUS", LAB_MESSAGE),  # reconcile a result no patient matched
        **_grant("CRDS", REMINDER),
        **_grant("R", CONTACT_PREFERENCES),
        **_grant("RS", "Coverage", "Practitioner", "PractitionerRole", "Organization", "Location",
                 "Schedule", "Slot", "Group"),
    },
    Role.NURSE: {
        **_grant("CRUSB", PATIENT),
        **_grant("CRUS", "AllergyIntolerance", "Condition", "DocumentReference", "Encounter",
                 "FamilyMemberHistory", "Immunization", "MedicationStatement", "Observation",
                 "Procedure", "Composition", "QuestionnaireResponse", "Appointment",
                 "Communication", "Task"),
        # Ordering and prescribing are the physician's; nurses read orders and reports.
        **_grant("RS", "DiagnosticReport", "MedicationRequest", "ServiceRequest", "Coverage",
                 *DIRECTORY_TYPES, "Schedule", "Slot", "Provenance", "Group", LAB_MESSAGE),
        **_grant("CRDS", REMINDER),
        **_grant("R", CONTACT_PREFERENCES),
    },
    Role.FRONT_DESK: {
        **_grant("CRUS", PATIENT, "Coverage"),
        **_grant("CRUDS", "Appointment"),
        **_grant("CRUS", "Schedule", "Slot", "Communication"),
        **_grant("RS", "Encounter", "Practitioner", "PractitionerRole", "Organization", "Location"),
        **_grant("CRDS", REMINDER),
        **_grant("RU", CONTACT_PREFERENCES),  # a patient who calls to change how they are reminded
    },
    Role.BILLING: {
        **_grant("RS", PATIENT, "Encounter", "Condition", "Procedure", "Appointment",
                 "Practitioner", "PractitionerRole", "Organization", "Location"),
        **_grant("CRUS", "Coverage", "Claim", "Invoice"),
        **_grant("RS", "ClaimResponse"),  # what payers answered: posted by the claims workflow
        **_grant("RUS", "Task"),  # the claims worklist: failed scrubs, rejections, denials, timeouts
        **_grant("R", FEE_SCHEDULE),  # charges an encounter at the clinic's prices
        **_grant("CRDS", REMINDER),  # bill reminders
        **_grant("R", CONTACT_PREFERENCES),
    },
    Role.PATIENT: {
        # Only within their own compartment (see in_compartment); directory types in full.
        **_grant("RX", PATIENT),
        **_grant("R", "Coverage"),
        **_grant("RS", *CLINICAL_TYPES, "Invoice", "Claim", "ClaimResponse", "AuditEvent", "Provenance",
                 "Practitioner", "PractitionerRole", "Organization", "Location", "Questionnaire",
                 "Schedule", "Slot"),
        **_grant("CRS", "Communication"),
        # Booking, moving and cancelling their own visits, through the appointment book only
        # (cairn.scheduling.guard keeps every other write path off a visit that holds time).
        **_grant("CRUS", "Appointment"),
        # Their own only: medication dose reminders for their prescriptions, their channels and
        # opt-outs, the messages sent to them (cairn.reminders.desk).
        **_grant("CRDS", REMINDER),
        **_grant("RU", CONTACT_PREFERENCES),
        **_grant("RS", OUTBOX_MESSAGE),
    },
    Role.LAB_INTERFACE: {
        **_grant("C", LAB_MESSAGE),
    },
}


class UnknownResourceType(ValueError):
    """A resource type the permission table does not know: a programming error, never a 403."""


def permits(role: Role, resource_type: str, action: Action) -> bool:
    """Whether the table lets `role` do `action` on `resource_type` at all (before the compartment
    and restriction rules narrow it to single records)."""
    if resource_type not in RESOURCE_TYPES:
        raise UnknownResourceType(f"{resource_type} is not in the permission table")
    return action in PERMISSIONS[role].get(resource_type, frozenset())


def require(context: TenantContext, resource_type: str, action: Action) -> None:
    """AccessDenied, saying which role may not do what, unless the table permits it. Cairn's
    own workflows (a system context: imports, exports, onboarding) act for the clinic as a whole
    and are not held to a role's row; no token can carry a system context (TenantContext)."""
    if context.is_system:
        if resource_type not in RESOURCE_TYPES:
            raise UnknownResourceType(f"{resource_type} is not in the permission table")
        return
    if not permits(context.role, resource_type, action):
        raise AccessDenied(f"the {context.role.value} role may not {action.value} {resource_type}")


def _references(resource: Mapping[str, Any]) -> Iterable[str]:
    """The references of the elements that link `resource` to a patient (PATIENT_LINKS)."""
    for path in PATIENT_LINKS.get(str(resource.get("resourceType")), ()):
        yield from _references_at(resource, path.split("."))


def _references_at(value: object, path: list[str]) -> Iterable[str]:
    if isinstance(value, list):
        for item in value:
            yield from _references_at(item, path)
    elif isinstance(value, Mapping):
        if not path:
            if isinstance(value.get("reference"), str):
                yield value["reference"]
            return
        yield from _references_at(value.get(path[0]), path[1:])


def compartment_patient_ids(resource: Mapping[str, Any]) -> frozenset[str]:
    """The Patient ids whose compartment `resource` is in (a Patient is in its own)."""
    if resource.get("resourceType") == PATIENT:
        return frozenset({str(resource.get("id", ""))})
    return frozenset(ref.removeprefix("Patient/") for ref in _references(resource)
                     if ref.startswith("Patient/"))


def is_lab_result(resource: Mapping[str, Any]) -> bool:
    """An Observation or DiagnosticReport whose category says laboratory: Observation's
    "laboratory", or DiagnosticReport's v2-0074 "LAB" (the code US Core and labs use for it)."""
    if resource.get("resourceType") not in LAB_RESULT_TYPES:
        return False
    for category in resource.get("category") or ():
        codings = category.get("coding") or () if isinstance(category, Mapping) else ()
        if any(isinstance(c, Mapping) and c.get("code") in LABORATORY_CODES for c in codings):
            return True
    return False


def is_released(resource: Mapping[str, Any]) -> bool:
    """Whether a clinician has released this result to the patient (the labs issue sets it)."""
    tags = (resource.get("meta") or {}).get("tag") or ()
    return any(t.get("system") == RELEASE_SYSTEM and t.get("code") == RELEASED for t in tags)


def in_compartment(context: TenantContext, resource: Mapping[str, Any]) -> bool:
    """Whether a patient user may see `resource`: in their own compartment, and, for a lab
    result, released. Staff are not bound by a compartment (True)."""
    if context.role is not Role.PATIENT:
        return True
    if resource.get("resourceType") not in PATIENT_LINKS and resource.get("resourceType") != PATIENT:
        return True  # the clinic's directory and definitions: no one's compartment
    if resource.get("resourceType") == "Schedule" and not compartment_patient_ids(resource):
        return True  # a practitioner's or a room's calendar: directory, which patients book from
    if not context.patient_id or context.patient_id not in compartment_patient_ids(resource):
        return False
    return not is_lab_result(resource) or is_released(resource)


def is_restricted(patient: Mapping[str, Any]) -> bool:
    """Whether the Patient is labelled restricted (v3-Confidentiality R or V in meta.security)."""
    labels = (patient.get("meta") or {}).get("security") or ()
    return any(isinstance(label, Mapping) and label.get("system") == CONFIDENTIALITY_SYSTEM
               and label.get("code") in RESTRICTED_CODES for label in labels)


def needs_break_glass(context: TenantContext, patient: Mapping[str, Any]) -> bool:
    """Whether `context` may open this Patient only through break-glass: it is restricted, and
    the caller is neither an admin nor the patient themself."""
    if not is_restricted(patient) or context.role is Role.ADMIN:
        return False
    return not (context.role is Role.PATIENT and context.patient_id == patient.get("id"))


def permission_table_markdown() -> str:
    """The table as markdown, one row per resource type and one column per role (what
    docs/access-control.md shows between its generated-table markers)."""
    roles = list(Role)
    lines = ["| resource type | " + " | ".join(role.value for role in roles) + " |",
             "|---|" + "---|" * len(roles)]
    for resource_type in RESOURCE_TYPES:
        cells = ["".join(a.letter for a in Action if a in PERMISSIONS[role].get(resource_type, ()))
                 or "-" for role in roles]
        lines.append(f"| {resource_type} | " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


if __name__ == "__main__":  # regenerates the table in docs/access-control.md
    print(permission_table_markdown(), end="")
