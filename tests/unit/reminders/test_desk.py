"""The reminders desk over fakes: who may set which reminders about what, one reminder per
request however often it is sent, cancelling, preferences, and an audit event for every call."""

from __future__ import annotations

from typing import Any

import pytest

from cairn.audit.events import AuditAction, AuditOutcome
from cairn.errors import AccessDenied, MalformedRequest, ResourceNotFound
from cairn.reminders.desk import OutboxNotUsed, ReminderNotPossible
from cairn.reminders.preferences import OPT_OUT_URL, PreferencesNotPossible
from multitenant.context import Role
from tests.unit.reminders.reminder_fakes import Clinic, patient_user, staff

DOSES = {"kind": "medication-dose", "timesOfDay": ["08:00", "20:00"], "startDate": "2026-12-04", "days": 3}


@pytest.fixture
def clinic() -> Clinic:
    return Clinic()


def events(clinic: Clinic) -> list[tuple[str, str, str, str | None]]:
    """The desk's own audit events (not the record service's): role, subtype, outcome, detail."""
    return [
        (context.role.value, e.subtype, e.outcome.value, e.detail)
        for context, e in clinic.audit
        if e.entity_type in ("Reminder", "ContactPreferences", "OutboxMessage")
    ]


def test_a_patient_sets_dose_reminders_for_their_own_prescription(clinic: Clinic) -> None:
    patient = clinic.patient()
    prescription = clinic.medication_request(patient)

    created, reminder = clinic.desk(patient_user(patient)).create(
        {**DOSES, "medicationRequest": f"MedicationRequest/{prescription}"}
    )

    assert created
    assert (reminder["kind"], reminder["status"], reminder["patient"], reminder["about"]) == (
        "medication-dose",
        "requested",
        f"Patient/{patient}",
        f"MedicationRequest/{prescription}",
    )
    assert reminder["parameters"]["time-of-day"] == ["08:00:00", "20:00:00"]
    assert (reminder["firstReminder"], reminder["lastReminder"]) == (
        "2026-12-04T13:00:00Z",
        "2026-12-07T01:00:00Z",
    )
    [task] = clinic.tasks()
    assert task["requester"] == {"reference": f"Patient/{patient}"}
    [started] = clinic.stepfunctions.running().values()
    assert started == {"tenant_id": "acme", "subject": f"Task/{task['id']}", "planned_for": "1"}
    assert events(clinic) == [("patient", "reminder-medication-dose", AuditOutcome.SUCCESS.value, None)]


def test_the_same_request_again_answers_the_reminder_it_set(clinic: Clinic) -> None:
    patient = clinic.patient()
    body = {**DOSES, "medicationRequest": f"MedicationRequest/{clinic.medication_request(patient)}"}
    _, first = clinic.desk(patient_user(patient)).create(body)
    clinic.now = clinic.now.replace(minute=5)

    created, again = clinic.desk(patient_user(patient)).create(body)

    assert (created, again["id"]) == (False, first["id"])
    assert len(clinic.stepfunctions.executions) == 1


def test_a_patient_cannot_set_reminders_about_another_patients_prescription(clinic: Clinic) -> None:
    mine, theirs = clinic.patient(), clinic.patient()
    prescription = clinic.medication_request(theirs)

    with pytest.raises(ResourceNotFound):
        clinic.desk(patient_user(mine)).create(
            {**DOSES, "medicationRequest": f"MedicationRequest/{prescription}"}
        )

    assert clinic.tasks() == []
    assert events(clinic) == [
        ("patient", "reminder-medication-dose", AuditOutcome.MINOR_FAILURE.value, "ResourceNotFound")
    ]


def test_a_patient_sets_dose_reminders_only(clinic: Clinic) -> None:
    patient = clinic.patient()

    with pytest.raises(AccessDenied, match="medication dose reminders"):
        clinic.desk(patient_user(patient)).create(
            {"kind": "bill", "patient": f"Patient/{patient}", "invoice": "INV-1", "dueDate": "2026-12-15"}
        )

    assert events(clinic) == [("patient", "reminder-bill", AuditOutcome.MINOR_FAILURE.value, "denied")]


@pytest.mark.parametrize(
    ("role", "body", "allowed"),
    [
        (Role.BILLING, {"kind": "bill", "invoice": "INV-1", "dueDate": "2026-12-15"}, True),
        (Role.FRONT_DESK, {"kind": "bill", "invoice": "INV-1", "dueDate": "2026-12-15"}, False),
        (
            Role.FRONT_DESK,
            {"kind": "recall", "recall": "annual-wellness-visit", "lastVisitDate": "2026-01-15"},
            True,
        ),
        (Role.BILLING, {"kind": "recall", "recall": "screening", "lastVisitDate": "2026-01-15"}, False),
    ],
)
def test_bills_are_set_by_who_bills_and_recalls_by_who_books(
    clinic: Clinic, role: Role, body: dict[str, Any], allowed: bool
) -> None:
    patient = clinic.patient()
    desk = clinic.desk(staff(role))

    if allowed:
        assert desk.create({**body, "patient": f"Patient/{patient}"})[1]["kind"] == body["kind"]
    else:
        with pytest.raises(AccessDenied):
            desk.create({**body, "patient": f"Patient/{patient}"})
        assert clinic.tasks() == []


def test_a_refill_reminder_reads_the_supply_from_the_prescriptions_dispense_request(clinic: Clinic) -> None:
    patient = clinic.patient()
    prescription = clinic.medication_request(
        patient,
        dispenseRequest={
            "validityPeriod": {"start": "2026-12-01"},
            "expectedSupplyDuration": {
                "value": 30,
                "unit": "days",
                "system": "http://unitsofmeasure.org",
                "code": "d",
            },
        },
    )

    _, reminder = clinic.desk(staff(Role.PHYSICIAN)).create(
        {"kind": "refill-due", "medicationRequest": f"MedicationRequest/{prescription}"}
    )

    assert reminder["parameters"] == {"last-fill-date": "2026-12-01", "days-supply": 30, "lead-days": 7}
    assert reminder["firstReminder"] == "2026-12-24T15:00:00Z"


def test_a_refill_without_a_known_supply_says_what_to_give(clinic: Clinic) -> None:
    patient = clinic.patient()
    prescription = clinic.medication_request(patient)

    with pytest.raises(MalformedRequest, match="give daysSupply"):
        clinic.desk(staff(Role.NURSE)).create(
            {"kind": "refill-due", "medicationRequest": f"MedicationRequest/{prescription}"}
        )


def test_a_coverage_reminder_comes_before_the_coverage_period_ends(clinic: Clinic) -> None:
    patient = clinic.patient()
    coverage = (
        clinic.system()
        .create(
            "Coverage",
            {
                "resourceType": "Coverage",
                "status": "active",
                "beneficiary": {"reference": f"Patient/{patient}"},
                "payor": [{"reference": f"Patient/{patient}"}],
                "period": {"start": "2026-01-01", "end": "2026-12-31"},
            },
        )
        .resource["id"]
    )

    _, reminder = clinic.desk(staff()).create(
        {"kind": "coverage-expiry", "coverage": f"Coverage/{coverage}", "leadDays": 14}
    )

    assert (reminder["patient"], reminder["firstReminder"]) == (f"Patient/{patient}", "2026-12-17T15:00:00Z")


@pytest.mark.parametrize(
    ("body", "error", "message"),
    [
        ({"kind": "birthday"}, MalformedRequest, '"kind" is one of medication-dose, refill-due, bill'),
        ({**DOSES, "timesOfDay": ["23:00"]}, ReminderNotPossible, "quiet hours"),
        ({**DOSES, "timesOfDay": ["8 am"]}, MalformedRequest, "HH:MM"),
        ({**DOSES, "startDate": "2026-11-01", "days": 1}, ReminderNotPossible, "falls in the past"),
        ({**DOSES, "medicationRequest": "Patient/p1"}, MalformedRequest, '"MedicationRequest/<id>"'),
    ],
)
def test_requests_that_cannot_be_planned_say_what_to_change(
    clinic: Clinic, body: dict[str, Any], error: type[Exception], message: str
) -> None:
    patient = clinic.patient()
    body = {"medicationRequest": f"MedicationRequest/{clinic.medication_request(patient)}", **body}

    with pytest.raises(error, match=message):
        clinic.desk(patient_user(patient)).create(body)
    assert clinic.stepfunctions.executions == {}


def test_a_patient_lists_their_own_reminders_and_staff_name_the_patient(clinic: Clinic) -> None:
    patient, other = clinic.patient(), clinic.patient()
    clinic.desk(patient_user(patient)).create(
        {**DOSES, "medicationRequest": f"MedicationRequest/{clinic.medication_request(patient)}"}
    )

    assert [r["kind"] for r in clinic.desk(patient_user(patient)).reminders(None)] == ["medication-dose"]
    assert clinic.desk(patient_user(other)).reminders(None) == []
    assert len(clinic.desk(staff()).reminders(f"Patient/{patient}")) == 1
    with pytest.raises(MalformedRequest, match=r"\?patient="):
        clinic.desk(staff()).reminders(None)
    with pytest.raises(ResourceNotFound):
        clinic.desk(patient_user(other)).reminders(patient)
    with pytest.raises(ResourceNotFound):
        clinic.desk(staff(tenant="globex")).reminders(patient)


def test_cancelling_a_reminder_stops_its_workflow_and_a_new_request_starts_afresh(clinic: Clinic) -> None:
    patient = clinic.patient()
    body = {**DOSES, "medicationRequest": f"MedicationRequest/{clinic.medication_request(patient)}"}
    _, reminder = clinic.desk(patient_user(patient)).create(body)

    cancelled = clinic.desk(patient_user(patient)).cancel(reminder["id"])
    again = clinic.desk(patient_user(patient)).cancel(reminder["id"])

    assert cancelled["status"] == again["status"] == "cancelled"
    assert clinic.stepfunctions.running() == {}
    created, renewed = clinic.desk(patient_user(patient)).create(body)
    assert created
    assert renewed["id"] != reminder["id"]


def test_nobody_cancels_another_patients_or_another_clinics_reminder(clinic: Clinic) -> None:
    patient, other = clinic.patient(), clinic.patient()
    _, reminder = clinic.desk(patient_user(patient)).create(
        {**DOSES, "medicationRequest": f"MedicationRequest/{clinic.medication_request(patient)}"}
    )

    with pytest.raises(ResourceNotFound):
        clinic.desk(patient_user(other)).cancel(reminder["id"])
    with pytest.raises(ResourceNotFound):
        clinic.desk(staff(tenant="globex")).cancel(reminder["id"])
    with pytest.raises(ResourceNotFound):  # an id that is some other Task's is no reminder
        clinic.desk(staff()).cancel(
            clinic.steps().plan_failed("Appointment/x", "1", {})["task"].split("/")[1]
        )
    assert len(clinic.stepfunctions.running()) == 1


def test_a_patient_sets_their_preferences_and_the_patient_resource_holds_them(clinic: Clinic) -> None:
    patient = clinic.patient(
        telecom=[{"system": "email", "value": "ada@example.com"}, {"system": "sms", "value": "+15555550100"}]
    )

    saved = clinic.desk(patient_user(patient)).set_preferences(
        None, {"preferred": "sms", "optedOut": ["email"]}
    )

    assert saved == {
        "patient": f"Patient/{patient}",
        "preferred": "sms",
        "channels": {"email": True, "sms": True},
        "optedOut": ["email"],
        "optedOutAll": False,
    }
    stored = clinic.system().read("Patient", patient)
    assert [point.get("rank") for point in stored["telecom"]] == [2, 1]
    assert stored["extension"] == [{"url": OPT_OUT_URL, "valueCode": "email"}]
    assert clinic.desk(staff(Role.NURSE)).preferences(patient) == saved
    assert [(role, action) for role, action, *_ in events(clinic)] == [
        ("patient", "reminder-preferences"),
        ("nurse", "reminder-preferences"),
    ]


def test_preferences_are_changed_by_the_patient_the_front_desk_or_an_admin_only(clinic: Clinic) -> None:
    patient = clinic.patient()

    with pytest.raises(AccessDenied):
        clinic.desk(staff(Role.PHYSICIAN)).set_preferences(patient, {"optedOutAll": True})
    assert clinic.desk(staff(Role.FRONT_DESK)).set_preferences(patient, {"optedOutAll": True})["optedOutAll"]
    assert [
        e
        for e in clinic.audit
        if e[1].action is AuditAction.UPDATE and e[1].outcome is AuditOutcome.MINOR_FAILURE
    ]


@pytest.mark.parametrize(
    ("body", "error"),
    [
        ({}, MalformedRequest),
        ({"colour": "blue"}, MalformedRequest),
        ({"preferred": "fax"}, MalformedRequest),
        ({"optedOut": "email"}, MalformedRequest),
        ({"optedOutAll": "yes"}, MalformedRequest),
        ({"preferred": "sms"}, PreferencesNotPossible),
    ],
)
def test_preferences_that_cannot_be_saved_say_why(
    clinic: Clinic, body: dict[str, Any], error: type[Exception]
) -> None:
    patient = clinic.patient()

    with pytest.raises(error):
        clinic.desk(patient_user(patient)).set_preferences(None, body)


def test_without_an_outbox_there_is_nothing_to_read(clinic: Clinic) -> None:
    with pytest.raises(OutboxNotUsed, match="SES and SNS"):
        clinic.desk(staff(Role.ADMIN)).outbox_messages(None, 50)
    with pytest.raises(AccessDenied):
        clinic.desk(staff(Role.PHYSICIAN)).outbox_messages(None, 50)
