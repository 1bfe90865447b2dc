"""Appointment reminders through the embedded runtime: the real reminders.asl.json executed by
moto's Step Functions with the reminders function's real handler, DynamoDB, KMS and the outbox
in S3, on the virtual clock. Each test books visits relative to the clock's now, advances the
clock to each reminder's time and waits (in real time, briefly) for the workflow to act."""

from __future__ import annotations

import json
from datetime import datetime, timedelta

import pytest

from cairn.aws import AwsClients
from cairn.reminders.workflow import execution_name
from devkit.clock import VirtualClock
from devkit.deployment import Deployment
from multitenant.context import TenantContext
from tests.integration.reminders.support import NEW_YORK, ReminderClinic, eventually, local


def sent_at(communication: dict[str, str]) -> datetime:
    return datetime.fromisoformat(communication["sent"].replace("Z", "+00:00"))


@pytest.fixture(scope="module")
def acme(clients: AwsClients, deployment: Deployment, clock: VirtualClock) -> ReminderClinic:
    return ReminderClinic("rem-acme", clients, deployment, clock).set_up()


@pytest.fixture(scope="module")
def quiet(clients: AwsClients, deployment: Deployment, clock: VirtualClock) -> ReminderClinic:
    """A clinic that reminds 2 h before, never from 21:00 to 08:00 in New York."""
    return ReminderClinic("rem-quiet", clients, deployment, clock).set_up(
        reminder_offsets_hours=[2], reminder_quiet_hours="21:00-08:00"
    )


@pytest.fixture(scope="module")
def globex(clients: AwsClients, deployment: Deployment, clock: VirtualClock) -> ReminderClinic:
    return ReminderClinic("rem-globex", clients, deployment, clock).set_up()


def test_a_booked_visit_is_reminded_48h_and_2h_before_by_email_and_recorded(acme: ReminderClinic) -> None:
    patient = acme.patient("Okafor", email="ada.okafor@example.com", preferred="email")
    start = local(acme.clock.now() + timedelta(days=4), 14)
    appointment = acme.book(patient, acme.practitioner(), start)
    execution = acme.execution(appointment)

    assert [p["label"] for p in acme.planned(execution)] == ["48h", "2h"]
    acme.run_until(execution, start - timedelta(hours=48), sends=1)
    acme.run_until(execution, start - timedelta(hours=2), sends=2)

    assert acme.finished(execution)["status"] == "SUCCEEDED"
    messages = acme.outbox(patient)
    assert [(m["to"], m["channel"], m["kind"]) for m in messages] == [
        ("ada.okafor@example.com", "email", "appointment")
    ] * 2
    assert "you have a visit with rem-acme on" in messages[0]["text"]
    sent = [c for c in acme.communications(patient) if c["status"] == "completed"]
    assert len(sent) == 2
    assert all(c["about"] == [{"reference": f"Appointment/{appointment['id']}"}] for c in sent)
    assert {c["medium"][0]["coding"][0]["code"] for c in sent} == {"EMAILWRIT"}
    assert {m["id"] for m in messages} == {c["id"] for c in sent}


def test_a_visit_cancelled_after_booking_stops_its_reminders_and_nothing_is_sent(
    acme: ReminderClinic,
) -> None:
    patient = acme.patient("Lindqvist", email="b.lindqvist@example.com")
    start = local(acme.clock.now() + timedelta(days=4), 10)
    appointment = acme.book(patient, acme.practitioner(), start)
    execution = acme.execution(appointment)
    acme.planned(execution)

    cancelled = acme.change(appointment, "cancel", status="cancelled")
    acme.reminders.withdrawn(TenantContext.system(acme.tenant_id, "test-book"), appointment)
    acme.clock.advance_to(start)

    assert acme.finished(execution)["status"] == "ABORTED"
    assert cancelled["status"] == "cancelled"
    assert acme.outbox(patient) == []
    assert acme.communications(patient) == []


def test_a_cancellation_the_workflow_was_not_told_of_is_found_by_the_re_check(acme: ReminderClinic) -> None:
    patient = acme.patient("Moreau", sms="+15555550123", preferred="sms")
    start = local(acme.clock.now() + timedelta(days=4), 11)
    appointment = acme.book(patient, acme.practitioner(), start)
    execution = acme.execution(appointment)
    acme.planned(execution)
    acme.change(appointment, "cancel", status="cancelled")  # withdrawn() failed: the execution runs on

    acme.run_until(execution, start - timedelta(hours=48), sends=1)
    acme.run_until(execution, start - timedelta(hours=2), sends=2)

    assert acme.finished(execution)["status"] == "SUCCEEDED"
    assert acme.outbox(patient) == []
    records = acme.communications(patient)
    assert [(c["status"], c["statusReason"]["text"]) for c in records] == [
        ("not-done", "the appointment is cancelled")
    ] * 2


def test_a_reminder_due_in_quiet_hours_is_sent_when_they_end(quiet: ReminderClinic) -> None:
    patient = quiet.patient("Tanaka", email="h.tanaka@example.com")
    start = local(quiet.clock.now() + timedelta(days=2), 9)  # its 2 h reminder falls at 07:00
    execution = quiet.execution(quiet.book(patient, quiet.practitioner(), start))

    [planned] = quiet.planned(execution)
    assert planned["send_at"] == local(start, 8).strftime("%Y-%m-%dT%H:%M:%SZ")
    quiet.clock.advance_to(local(start, 7))  # the nominal time passes inside quiet hours
    quiet.run_until(execution, local(start, 8), sends=1)

    [sent] = [c for c in quiet.communications(patient) if c["status"] == "completed"]
    assert local(start, 8) <= sent_at(sent) < local(start, 8, 30)
    assert len(quiet.outbox(patient)) == 1


def test_a_rescheduled_visit_is_reminded_of_its_new_time_only(acme: ReminderClinic) -> None:
    patient = acme.patient("Haddad", email="f.haddad@example.com")
    practitioner = acme.practitioner()
    first = local(acme.clock.now() + timedelta(days=4), 15)
    appointment = acme.book(patient, practitioner, first)
    old = acme.execution(appointment)
    acme.planned(old)

    moved = acme.change(
        appointment,
        "reschedule",
        start=(first + timedelta(days=1)).strftime("%Y-%m-%dT%H:%M:%SZ"),
        end=(first + timedelta(days=1, minutes=20)).strftime("%Y-%m-%dT%H:%M:%SZ"),
    )
    acme.reminders.booked(
        TenantContext.system(acme.tenant_id, "test-book"), moved
    )  # the old plan is not told
    new = acme.execution(moved)
    assert new != old
    acme.planned(new)  # planned before the clock moves on: a plan made later has fewer reminders
    acme.run_until(old, first - timedelta(hours=48), sends=1)
    acme.run_until(new, first - timedelta(hours=24), sends=1)  # the new 48 h reminder
    acme.run_until(old, first - timedelta(hours=2), sends=2)
    acme.run_until(new, first + timedelta(hours=22), sends=2)

    texts = [m["text"] for m in acme.outbox(patient)]
    assert len(texts) == 2
    new_time = (first + timedelta(days=1)).astimezone(NEW_YORK)
    assert all(f"{new_time:%a} {new_time.day} {new_time:%b}" in text for text in texts)
    skipped = [c for c in acme.communications(patient) if c["status"] == "not-done"]
    assert [c["statusReason"]["text"] for c in skipped] == ["superseded by a newer plan"] * 2


def test_a_patient_who_opted_out_gets_no_message_and_the_chart_says_why(acme: ReminderClinic) -> None:
    patient = acme.patient("Silva", email="r.silva@example.com", opt_out=("all",))
    start = local(acme.clock.now() + timedelta(days=4), 13)
    execution = acme.execution(acme.book(patient, acme.practitioner(), start))
    acme.planned(execution)

    acme.run_until(execution, start - timedelta(hours=48), sends=1)

    assert acme.outbox(patient) == []
    [record] = acme.communications(patient)
    assert (record["status"], record["statusReason"]["text"]) == (
        "not-done",
        "the patient opted out of reminders",
    )


def test_a_retried_send_and_a_second_execution_of_the_plan_send_nothing_twice(acme: ReminderClinic) -> None:
    patient = acme.patient("Novak", email="g.novak@example.com")
    start = local(acme.clock.now() + timedelta(days=4), 16)
    appointment = acme.book(patient, acme.practitioner(), start)
    execution = acme.execution(appointment)
    [first, _] = acme.planned(execution)
    acme.run_until(execution, start - timedelta(hours=48), sends=1)
    workflow_input = {
        "tenant_id": acme.tenant_id,
        "subject": f"Appointment/{appointment['id']}",
        "planned_for": appointment["start"],
    }

    retried = acme.invoke_step({**workflow_input, "step": "send", "reminder": first})
    acme.workflow.start(execution_name("again", appointment["id"]), workflow_input)
    second = acme.workflow.execution_arn(execution_name("again", appointment["id"]))
    [only] = acme.planned(second)  # planned now: the 48 h reminder is past, the 2 h one is not
    acme.clock.advance_to(start - timedelta(hours=2))
    eventually(
        lambda: acme.exits(execution, "Send") == 2 and acme.exits(second, "Send") == 1, "both 2 h sends"
    )

    assert (retried["outcome"], retried["reason"]) == ("skipped", "already sent")
    assert only["label"] == "2h"
    assert [m["text"] for m in acme.outbox(patient)] == [acme.outbox(patient)[0]["text"]] * 2
    assert [c["status"] for c in acme.communications(patient)] == ["completed"] * 2


def test_a_workflow_naming_another_clinics_appointment_reads_and_writes_nothing_of_it(
    acme: ReminderClinic, globex: ReminderClinic
) -> None:
    patient = acme.patient("Byrne", email="c.byrne@example.com")
    start = local(acme.clock.now() + timedelta(days=4), 12)
    appointment = acme.book(patient, acme.practitioner(), start)
    acme.planned(acme.execution(appointment))
    forged = execution_name("forged", appointment["id"])

    globex.workflow.start(
        forged,
        {
            "tenant_id": globex.tenant_id,
            "subject": f"Appointment/{appointment['id']}",
            "planned_for": appointment["start"],
        },
    )
    finished = globex.finished(globex.workflow.execution_arn(forged))

    assert finished["status"] == "SUCCEEDED"
    assert json.loads(finished["output"])["finished"]["value"] == {"sent": 0, "unrecorded": 0}
    assert globex.outbox() == []
    assert acme.communications(patient) == []
