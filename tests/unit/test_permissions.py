"""The permission table, the patient compartment and restricted patients, decision by decision."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest

from cairn.errors import AccessDenied
from multitenant import permissions
from multitenant.context import InvalidTenantContext, Role, TenantContext
from multitenant.permissions import (
    CLINICAL_TYPES,
    CONFIDENTIALITY_SYSTEM,
    PERMISSIONS,
    RELEASE_SYSTEM,
    RESOURCE_TYPES,
    Action,
    UnknownResourceType,
    in_compartment,
    is_restricted,
    needs_break_glass,
    permits,
    require,
)

DOC = Path(__file__).resolve().parents[2] / "docs" / "access-control.md"
C, R, U, D, S, B, X = (
    Action.CREATE,
    Action.READ,
    Action.UPDATE,
    Action.DELETE,
    Action.SEARCH,
    Action.BREAK_GLASS,
    Action.EXPORT,
)
CRUS, RS = {C, R, U, S}, {R, S}
CRDS = {C, R, D, S}  # reminders: set, read, cancel, list (cairn.reminders.desk)
DIRECTORY = ("Practitioner", "PractitionerRole", "Organization", "Location")

# The expected decisions, written out independently of the module's grant helper: a change to
# the table must change this test too, on purpose.
EXPECTED: dict[Role, dict[str, set[Action]]] = {
    Role.ADMIN: {
        "Patient": {C, R, U, S, X},
        "Coverage": CRUS,
        "Questionnaire": CRUS,
        "Group": {C, R, U, S, X},
        **{t: CRUS for t in DIRECTORY},
        **{t: {C, R, U, D, S} for t in ("Appointment", "Schedule", "Slot")},
        "AuditEvent": RS,
        "Provenance": RS,
        "BreakGlassGrant": RS,
        "User": CRUS,
        "LabMessage": CRUS,
        "ClinicSettings": {R, U},
        "FeeSchedule": {R, U},
        "Reminder": CRDS,
        "ContactPreferences": {R, U},
        "OutboxMessage": RS,
    },
    Role.PHYSICIAN: {
        "Patient": {C, R, U, S, B, X},
        "Coverage": RS,
        **{t: {C, R, U, D, S} for t in (*CLINICAL_TYPES, "Communication", "Task")},
        "Appointment": CRUS,
        "Questionnaire": CRUS,
        "Provenance": {C, R, S},
        "Claim": {C, R, S},  # codes the visit
        "LabMessage": {R, U, S},
        **{t: RS for t in (*DIRECTORY, "Schedule", "Slot", "Group")},
        "Reminder": CRDS,
        "ContactPreferences": {R},
    },
    Role.NURSE: {
        "Patient": {C, R, U, S, B},
        **{
            t: CRUS
            for t in (
                "AllergyIntolerance",
                "Condition",
                "DocumentReference",
                "Encounter",
                "FamilyMemberHistory",
                "Immunization",
                "MedicationStatement",
                "Observation",
                "Procedure",
                "Composition",
                "QuestionnaireResponse",
                "Appointment",
                "Communication",
                "Task",
            )
        },
        **{
            t: RS
            for t in (
                "DiagnosticReport",
                "MedicationRequest",
                "ServiceRequest",
                "Coverage",
                *DIRECTORY,
                "Questionnaire",
                "Schedule",
                "Slot",
                "Provenance",
                "Group",
                "LabMessage",
            )
        },
        "Reminder": CRDS,
        "ContactPreferences": {R},
    },
    Role.FRONT_DESK: {
        "Patient": CRUS,
        "Coverage": CRUS,
        "Appointment": {C, R, U, D, S},
        "Schedule": CRUS,
        "Slot": CRUS,
        "Communication": CRUS,
        **{t: RS for t in ("Encounter", *DIRECTORY)},
        "Reminder": CRDS,
        "ContactPreferences": {R, U},
    },
    Role.BILLING: {
        **{t: RS for t in ("Patient", "Encounter", "Condition", "Procedure", "Appointment", *DIRECTORY)},
        **{t: CRUS for t in ("Coverage", "Claim", "Invoice")},
        "ClaimResponse": RS,
        "Task": {R, U, S},  # the claims worklist
        "FeeSchedule": {R},
        "Reminder": CRDS,
        "ContactPreferences": {R},
    },
    Role.PATIENT: {
        "Patient": {R, X},
        "Coverage": {R},
        "Communication": {C, R, S},
        "Appointment": {C, R, U, S},  # their own visits, through the appointment book
        "Reminder": CRDS,  # their own medication dose reminders
        "ContactPreferences": {R, U},
        "OutboxMessage": RS,
        **{
            t: RS
            for t in (
                *CLINICAL_TYPES,
                "Invoice",
                "Claim",
                "ClaimResponse",
                "AuditEvent",
                "Provenance",
                *DIRECTORY,
                "Questionnaire",
                "Schedule",
                "Slot",
            )
        },
    },
    Role.LAB_INTERFACE: {"LabMessage": {C}},
}


@pytest.mark.parametrize("role", list(Role))
@pytest.mark.parametrize("resource_type", RESOURCE_TYPES)
@pytest.mark.parametrize("action", list(Action))
def test_every_role_type_and_action_decides_as_documented(
    role: Role,
    resource_type: str,
    action: Action,
) -> None:
    expected = action in EXPECTED[role].get(resource_type, set())
    assert permits(role, resource_type, action) is expected


def test_every_role_has_a_row_and_no_role_holds_an_undeclared_type() -> None:
    assert set(PERMISSIONS) == set(Role)
    for grants in PERMISSIONS.values():
        assert set(grants) <= set(RESOURCE_TYPES)


def test_only_physicians_and_nurses_may_break_the_glass_and_only_admins_administer_users() -> None:
    assert {role for role in Role if permits(role, "Patient", B)} == {Role.PHYSICIAN, Role.NURSE}
    assert {role for role in Role if permits(role, "User", C)} == {Role.ADMIN}
    assert {role for role in Role if permits(role, "BreakGlassGrant", R)} == {Role.ADMIN}


def test_only_physicians_delete_clinical_records_and_no_one_deletes_a_patient() -> None:
    # A delete is soft (kept in history): it corrects a record entered in error.
    assert {role for role in Role if any(permits(role, t, D) for t in CLINICAL_TYPES)} == {Role.PHYSICIAN}
    assert not any(permits(role, "Patient", D) for role in Role)


def test_an_unknown_resource_type_is_a_programming_error_not_a_denial() -> None:
    with pytest.raises(UnknownResourceType):
        permits(Role.ADMIN, "Spaceship", R)


def test_require_names_the_role_action_and_type_it_refuses() -> None:
    billing = TenantContext("acme", "u1", Role.BILLING)
    require(billing, "Patient", R)
    with pytest.raises(AccessDenied, match="the billing role may not create Patient"):
        require(billing, "Patient", C)


OWN, OTHER = "Patient/p1", "Patient/p2"


def patient_user(patient_id: str | None = "p1") -> TenantContext:
    return TenantContext("acme", "u-patient", Role.PATIENT, patient_id)


def lab(resource_type: str = "Observation", *, released: bool, subject: str = "Patient/p1") -> dict[str, Any]:
    resource: dict[str, Any] = {
        "resourceType": resource_type,
        "id": "o1",
        "subject": {"reference": subject},
        "category": [
            {
                "coding": [
                    {
                        "system": "http://terminology.hl7.org/CodeSystem/observation-category",
                        "code": "laboratory",
                    }
                ]
            }
        ],
    }
    if released:
        resource["meta"] = {"tag": [{"system": RELEASE_SYSTEM, "code": "released"}]}
    return resource


def test_a_patient_sees_their_own_patient_and_records_only() -> None:
    assert in_compartment(patient_user(), {"resourceType": "Patient", "id": "p1"})
    assert not in_compartment(patient_user(), {"resourceType": "Patient", "id": "p2"})
    assert in_compartment(patient_user(), {"resourceType": "Condition", "subject": {"reference": OWN}})
    assert not in_compartment(patient_user(), {"resourceType": "Condition", "subject": {"reference": OTHER}})
    assert in_compartment(patient_user(), {"resourceType": "Coverage", "beneficiary": {"reference": OWN}})
    assert in_compartment(
        patient_user(),
        {
            "resourceType": "Appointment",
            "participant": [
                {"actor": {"reference": "Practitioner/x"}},
                {"actor": {"reference": "Patient/p1"}},
            ],
        },
    )
    assert not in_compartment(patient_user(), {"resourceType": "Condition"})


def test_a_patient_account_linked_to_no_patient_sees_nothing() -> None:
    assert not in_compartment(patient_user(None), {"resourceType": "Patient", "id": ""})


@pytest.mark.parametrize("resource_type", ["Observation", "DiagnosticReport"])
def test_a_patient_sees_lab_results_only_once_released(resource_type: str) -> None:
    assert not in_compartment(patient_user(), lab(resource_type, released=False))
    assert in_compartment(patient_user(), lab(resource_type, released=True))
    assert not in_compartment(patient_user(), lab(resource_type, released=True, subject="Patient/p2"))


def test_unreleased_vitals_are_not_lab_results_and_staff_see_unreleased_labs() -> None:
    vitals = {
        "resourceType": "Observation",
        "subject": {"reference": "Patient/p1"},
        "category": [{"coding": [{"code": "vital-signs"}]}],
    }
    assert in_compartment(patient_user(), vitals)
    assert in_compartment(TenantContext("acme", "u1", Role.NURSE), lab(released=False))


def restricted(code: str = "R") -> dict[str, Any]:
    return {
        "resourceType": "Patient",
        "id": "p1",
        "meta": {"security": [{"system": CONFIDENTIALITY_SYSTEM, "code": code}]},
    }


def test_restricted_means_confidentiality_r_or_v() -> None:
    assert is_restricted(restricted("R"))
    assert is_restricted(restricted("V"))
    assert not is_restricted(restricted("N"))
    assert not is_restricted({"resourceType": "Patient", "meta": {"security": [{"code": "R"}]}})


@pytest.mark.parametrize("role", [Role.PHYSICIAN, Role.NURSE, Role.FRONT_DESK, Role.BILLING])
def test_a_restricted_patient_needs_break_glass_for_every_staff_role_but_admin(role: Role) -> None:
    assert needs_break_glass(TenantContext("acme", "u1", role), restricted())
    assert not needs_break_glass(TenantContext("acme", "u1", role), {"resourceType": "Patient", "id": "p1"})
    assert not needs_break_glass(TenantContext("acme", "u1", Role.ADMIN), restricted())


def test_a_restricted_patient_reads_their_own_record_without_break_glass() -> None:
    assert not needs_break_glass(patient_user("p1"), restricted())
    assert needs_break_glass(patient_user("p2"), restricted())


def generated_table(text: str) -> str:
    match = re.search(r"<!-- permission-table:start -->\n(.*?)<!-- permission-table:end -->", text, re.S)
    assert match, "docs/access-control.md lost its permission-table markers"
    return match.group(1)


def test_the_documented_table_is_the_module_table() -> None:
    assert generated_table(DOC.read_text()) == permissions.permission_table_markdown(), (
        "regenerate it: python -m multitenant.permissions > the block between the markers"
    )


def test_cairns_own_workflows_act_for_the_clinic_and_no_token_can_claim_to_be_one() -> None:
    system = TenantContext.system("acme", "bundle-import")
    assert system.is_system
    require(system, "Observation", C)  # the import writes every chart type
    with pytest.raises(UnknownResourceType):
        require(system, "Spaceship", C)
    forged = {**TenantContext("acme", "u1", Role.ADMIN).as_claims(), "sub": "system:bundle-import"}
    with pytest.raises(InvalidTenantContext):
        TenantContext.from_claims(forged)
