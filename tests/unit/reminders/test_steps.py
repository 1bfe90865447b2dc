"""The reminder workflow's steps over fakes: what is planned, what the re-check decides, that a
reminder is sent once whatever is retried, and where each failure is recorded for a person."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from cairn.messaging.base import MessageNotDelivered, MessageRefused
from cairn.reminders.steps import DELIVERY_FAILED, communication_id
from cairn.reminders.subjects import Planned
from tests.unit.reminders.reminder_fakes import Clinic, patient_user

START = datetime(2026, 12, 7, 19, 0, tzinfo=UTC)  # Monday 14:00 in New York
PLANNED_FOR = "2026-12-07T19:00:00Z"


@pytest.fixture
def clinic() -> Clinic:
    return Clinic()


def booked(clinic: Clinic, **patient: Any) -> tuple[dict[str, Any], str]:
    patient_id = clinic.patient(**patient)
    return clinic.appointment(patient_id, START), patient_id


def plan(clinic: Clinic, appointment: dict[str, Any], planned_for: str = PLANNED_FOR) -> list[dict[str, str]]:
    return list(clinic.steps().plan(f"Appointment/{appointment['id']}", planned_for)["reminders"])


def send_at_its_time(
    clinic: Clinic, appointment: dict[str, Any], reminder: dict[str, str], planned_for: str = PLANNED_FOR
) -> dict[str, Any]:
    clinic.now = Planned.from_state(reminder).send_at
    return clinic.steps().send(f"Appointment/{appointment['id']}", planned_for, reminder)


def outcome_code(communication: dict[str, Any]) -> str:
    return str(communication["statusReason"]["coding"][0]["code"])


# Plan


def test_a_booked_visit_plans_its_48h_and_2h_reminders_in_utc(clinic: Clinic) -> None:
    appointment, _ = booked(clinic)

    assert plan(clinic, appointment) == [
        {"kind": "appointment", "send_at": "2026-12-05T19:00:00Z", "label": "48h"},
        {"kind": "appointment", "send_at": "2026-12-07T17:00:00Z", "label": "2h"},
    ]


def test_a_cancelled_or_moved_visit_plans_nothing_for_its_old_time(clinic: Clinic) -> None:
    appointment, _ = booked(clinic)
    moved = clinic.change(appointment, start="2026-12-08T19:00:00Z", end="2026-12-08T19:20:00Z")

    assert plan(clinic, moved) == []  # the old plan's start is not the visit's any more
    assert plan(clinic, moved, "2026-12-08T19:00:00Z") != []
    assert plan(clinic, clinic.change(moved, status="cancelled"), "2026-12-08T19:00:00Z") == []


def test_another_clinics_appointment_id_plans_nothing_and_touches_nothing_of_it(clinic: Clinic) -> None:
    appointment, _ = booked(clinic)
    before = dict(clinic.store)

    assert clinic.steps("globex").plan(f"Appointment/{appointment['id']}", PLANNED_FOR) == {"reminders": []}
    assert (
        clinic.steps("globex").send(
            f"Appointment/{appointment['id']}", PLANNED_FOR, plan(clinic, appointment)[0]
        )["outcome"]
        == "skipped"
    )
    assert clinic.sent == []
    assert {k: v for k, v in clinic.store.items() if k[0] == "acme"} == {
        k: v for k, v in before.items() if k[0] == "acme"
    }


# Send


def test_a_reminder_is_sent_by_the_preferred_channel_and_recorded_as_a_communication(clinic: Clinic) -> None:
    appointment, patient = booked(
        clinic,
        telecom=[
            {"system": "email", "value": "ada@example.com"},
            {"system": "sms", "value": "+15555550100", "rank": 1},
        ],
    )
    first = plan(clinic, appointment)[0]

    answer = send_at_its_time(clinic, appointment, first)

    assert (answer["outcome"], answer["channel"]) == ("sent", "sms")
    [message] = clinic.sent
    assert (message.to, message.patient_id) == ("+15555550100", patient)
    assert message.text == (
        "Reminder: you have a visit with Acme Clinic on Mon 7 Dec 2026, 2:00 PM EST. "
        "To change or cancel it, sign in to your patient portal or call us."
    )
    [communication] = clinic.communications()
    assert communication["id"] == answer["communication"] == message.message_id
    assert communication["status"] == "completed"
    assert communication["category"][0]["coding"][0]["code"] == "reminder"
    assert communication["medium"][0]["coding"][0]["code"] == "SMSWRIT"
    assert communication["subject"] == {"reference": f"Patient/{patient}"}
    assert communication["recipient"] == [{"reference": f"Patient/{patient}"}]
    assert communication["about"] == [{"reference": f"Appointment/{appointment['id']}"}]
    assert communication["sent"] == "2026-12-05T19:00:00.000Z"
    assert communication["payload"] == [{"contentString": message.text}]


def test_a_retried_send_or_a_second_run_of_the_plan_never_sends_twice(clinic: Clinic) -> None:
    appointment, _ = booked(clinic)
    first = plan(clinic, appointment)[0]
    send_at_its_time(clinic, appointment, first)

    again = send_at_its_time(clinic, appointment, first)

    assert (again["outcome"], again["reason"]) == ("skipped", "already sent")
    assert len(clinic.sent) == 1
    assert [c["status"] for c in clinic.communications()] == ["completed"]


def test_a_claim_left_by_an_attempt_that_died_mid_send_is_never_sent_again(clinic: Clinic) -> None:
    appointment, patient = booked(clinic)
    first = plan(clinic, appointment)[0]
    record_id = communication_id(
        "acme", f"Appointment/{appointment['id']}", PLANNED_FOR, Planned.from_state(first)
    )
    clinic.system().import_resource(
        {
            "resourceType": "Communication",
            "status": "preparation",
            "subject": {"reference": f"Patient/{patient}"},
        },
        record_id,
    )

    assert send_at_its_time(clinic, appointment, first)["reason"] == "already sent"
    assert clinic.sent == []


@pytest.mark.parametrize(
    ("change", "reason"),
    [
        ({"status": "cancelled"}, "the appointment is cancelled"),
        ({"status": "noshow"}, "the appointment is marked as a no-show"),
        ({"start": "2026-12-08T19:00:00Z", "end": "2026-12-08T19:20:00Z"}, "superseded by a newer plan"),
    ],
)
def test_a_visit_cancelled_or_moved_after_planning_sends_nothing_and_says_why(
    clinic: Clinic, change: dict[str, str], reason: str
) -> None:
    appointment, _ = booked(clinic)
    first = plan(clinic, appointment)[0]
    clinic.change(appointment, **change)

    answer = send_at_its_time(clinic, appointment, first)

    assert (answer["outcome"], answer["reason"]) == ("skipped", reason)
    assert clinic.sent == []
    [record] = clinic.communications()
    assert (record["status"], record["statusReason"]["text"], outcome_code(record)) == (
        "not-done",
        reason,
        "skipped",
    )
    assert "payload" not in record


@pytest.mark.parametrize(
    ("extension", "telecom", "reason"),
    [
        (
            [{"url": "https://cairn.health/fhir/StructureDefinition/reminder-opt-out", "valueCode": "all"}],
            None,
            "the patient opted out of reminders",
        ),
        (
            [{"url": "https://cairn.health/fhir/StructureDefinition/reminder-opt-out", "valueCode": "email"}],
            None,
            "no channel reaches the patient that they have not opted out of",
        ),
        (
            None,
            [{"system": "phone", "value": "+15555550100", "use": "home"}],
            "no channel reaches the patient that they have not opted out of",
        ),
    ],
)
def test_opted_out_or_unreachable_patients_get_no_message(
    clinic: Clinic, extension: Any, telecom: Any, reason: str
) -> None:
    appointment, _ = booked(clinic, extension=extension, telecom=telecom)

    answer = send_at_its_time(clinic, appointment, plan(clinic, appointment)[0])

    assert (answer["outcome"], answer["reason"]) == ("skipped", reason)
    assert clinic.sent == []


def test_a_reminder_that_arrives_late_into_quiet_hours_or_stale_is_skipped(clinic: Clinic) -> None:
    appointment, _ = booked(clinic)
    first = plan(clinic, appointment)[0]
    clinic.now = datetime(2026, 12, 6, 3, 0, tzinfo=UTC)  # 22:00 in New York, eight hours late

    answer = clinic.steps().send(f"Appointment/{appointment['id']}", PLANNED_FOR, first)

    assert answer["reason"] == "the send time passed more than an hour ago"
    clinic.now = datetime(2026, 12, 7, 2, 30, tzinfo=UTC)  # 21:30 in New York
    late = {**first, "send_at": "2026-12-07T02:00:00Z", "label": "late"}
    assert clinic.steps().send(f"Appointment/{appointment['id']}", PLANNED_FOR, late)["reason"] == (
        "it is quiet hours in the clinic's time zone"
    )
    assert clinic.sent == []


def test_a_provider_failure_is_recorded_raised_for_the_retry_and_the_retry_sends(clinic: Clinic) -> None:
    appointment, _ = booked(clinic)
    first = plan(clinic, appointment)[0]
    clinic.failures.append(MessageNotDelivered("email not delivered (Throttling)"))

    with pytest.raises(MessageNotDelivered):
        send_at_its_time(clinic, appointment, first)
    [record] = clinic.communications()
    assert (record["status"], outcome_code(record)) == ("not-done", DELIVERY_FAILED)

    assert send_at_its_time(clinic, appointment, first)["outcome"] == "sent"
    assert len(clinic.sent) == 1
    assert [c["status"] for c in clinic.communications()] == ["completed"]


def test_a_refused_address_is_recorded_and_not_retried(clinic: Clinic) -> None:
    appointment, _ = booked(clinic)
    first = plan(clinic, appointment)[0]
    clinic.failures.append(MessageRefused("email refused by the provider (MessageRejected)"))

    answer = send_at_its_time(clinic, appointment, first)

    assert answer["outcome"] == "refused"
    assert send_at_its_time(clinic, appointment, first)["reason"] == "already sent"  # settled: never again
    [record] = clinic.communications()
    assert (record["status"], record["statusReason"]["text"]) == (
        "not-done",
        "email refused by the provider (MessageRejected)",
    )


# Failures the workflow catches


def test_a_send_that_failed_mid_way_becomes_unknown_and_the_clinic_gets_a_task(clinic: Clinic) -> None:
    appointment, patient = booked(clinic)
    first = plan(clinic, appointment)[0]
    record_id = communication_id(
        "acme", f"Appointment/{appointment['id']}", PLANNED_FOR, Planned.from_state(first)
    )
    clinic.system().import_resource(
        {
            "resourceType": "Communication",
            "status": "preparation",
            "subject": {"reference": f"Patient/{patient}"},
        },
        record_id,
    )

    recorded = clinic.steps().send_failed(
        f"Appointment/{appointment['id']}",
        PLANNED_FOR,
        first,
        {"Error": "Lambda.Unknown", "Cause": "Ada Okafor ada@example.com"},
    )

    [record] = clinic.communications()
    assert record["status"] == "unknown"
    assert "Lambda.Unknown" in record["statusReason"]["text"]
    [task] = clinic.tasks()
    assert recorded["task"] == f"Task/{task['id']}"
    assert (task["status"], task["code"]["coding"][0]["code"]) == ("requested", "review-reminders")
    assert task["focus"] == {"reference": f"Appointment/{appointment['id']}"}
    assert "ada@example.com" not in str(task)  # the Cause is never copied into the chart


def test_a_send_that_failed_before_claiming_is_recorded_not_done(clinic: Clinic) -> None:
    appointment, _ = booked(clinic)
    first = plan(clinic, appointment)[0]

    clinic.steps().send_failed(
        f"Appointment/{appointment['id']}", PLANNED_FOR, first, {"Error": "KMSInvalidStateException"}
    )
    clinic.steps().send_failed(
        f"Appointment/{appointment['id']}", PLANNED_FOR, first, {"Error": "KMSInvalidStateException"}
    )

    [record] = clinic.communications()
    assert (record["status"], outcome_code(record)) == ("not-done", "workflow-failed")
    assert len(clinic.tasks()) == 1  # one Task per plan, however often it fails


def test_a_plan_that_failed_opens_a_task_for_the_clinic(clinic: Clinic) -> None:
    appointment, _ = booked(clinic)

    clinic.steps().plan_failed(
        f"Appointment/{appointment['id']}", PLANNED_FOR, {"Error": "InvalidClinicSchedule"}
    )

    [task] = clinic.tasks()
    assert "could not be planned (InvalidClinicSchedule)" in task["description"]


def test_finish_counts_what_was_sent_and_what_went_unrecorded(clinic: Clinic) -> None:
    appointment, _ = booked(clinic)

    finished = clinic.steps().finish(
        f"Appointment/{appointment['id']}",
        PLANNED_FOR,
        [{"outcome": "sent"}, {"outcome": "skipped"}, {"outcome": "unrecorded"}],
    )

    assert finished == {"sent": 1, "unrecorded": 1}


def test_every_record_of_a_plan_holds_ids_only_outside_its_payload(clinic: Clinic) -> None:
    appointment, _ = booked(clinic)
    for reminder in plan(clinic, appointment):
        send_at_its_time(clinic, appointment, reminder)

    for record in clinic.communications():
        without_payload = {k: v for k, v in record.items() if k != "payload"}
        assert "Okafor" not in str(without_payload)
        assert "ada@example.com" not in str(without_payload)
    assert len(clinic.sent) == 2


def test_a_failure_about_a_subject_that_no_longer_exists_is_still_put_before_the_clinic(
    clinic: Clinic,
) -> None:
    clinic.steps().plan_failed("Appointment/gone", PLANNED_FOR, {"Error": "ResourceGone"})
    clinic.steps().send_failed(
        "Task/gone",
        "1",
        {"kind": "bill-due", "send_at": "2026-12-15T15:00:00Z", "label": "due"},
        {"Error": "States.Timeout"},
    )

    tasks = clinic.tasks()
    assert {t["description"].split(" (")[0] for t in tasks} == {
        "The reminders of Appointment/gone could not be planned",
        "A reminder for Task/gone due 2026-12-15T15:00:00Z was not sent",
    }
    assert all("focus" not in t for t in tasks)
    [record] = clinic.communications()
    assert (record["status"], "basedOn" in record) == ("not-done", False)


def test_the_end_of_a_plan_completes_its_request_but_not_a_cancelled_one_and_reads_no_visit(
    clinic: Clinic,
) -> None:
    patient = clinic.patient()
    prescription = clinic.medication_request(patient)
    desk = clinic.desk(patient_user(patient))
    body = {
        "kind": "medication-dose",
        "medicationRequest": f"MedicationRequest/{prescription}",
        "timesOfDay": ["08:00"],
        "startDate": "2026-12-04",
        "days": 1,
    }
    _, kept = desk.create(body)
    _, cancelled = desk.create({**body, "days": 2})
    desk.cancel(cancelled["id"])
    appointment, _ = booked(clinic)
    audited = len(clinic.audit)

    clinic.steps().finish(f"Appointment/{appointment['id']}", PLANNED_FOR, [])
    assert len(clinic.audit) == audited
    for reminder in (kept, cancelled):
        clinic.steps().finish(f"Task/{reminder['id']}", "1", [{"outcome": "sent"}])

    assert clinic.system().read("Task", kept["id"])["status"] == "completed"
    assert clinic.system().read("Task", cancelled["id"])["status"] == "cancelled"
