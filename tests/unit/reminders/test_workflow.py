"""Starting and stopping reminder workflows: one execution per appointment and start time,
whatever is retried; a withdrawn visit's executions are stopped; a stopped name is not a dead end."""

from __future__ import annotations

from cairn.reminders.workflow import StepFunctionsAppointmentReminders, appointment_execution, execution_name
from multitenant.context import TenantContext
from tests.unit.reminders.reminder_fakes import Clinic, staff

VISIT = {"resourceType": "Appointment", "id": "a1", "status": "booked", "start": "2026-12-07T14:00:00-05:00"}


def test_an_execution_name_is_short_stable_and_reveals_nothing() -> None:
    name = execution_name("appt", "acme", "a1", "2026-12-07T19:00:00Z")

    assert name == execution_name("appt", "acme", "a1", "2026-12-07T19:00:00Z")
    assert name != execution_name("appt", "globex", "a1", "2026-12-07T19:00:00Z")
    assert len(name) <= 80
    assert name.startswith("appt-")
    assert "acme" not in name


def test_the_start_time_is_planned_in_utc_whatever_offset_the_visit_was_written_with() -> None:
    name, workflow_input = appointment_execution("acme", VISIT)

    assert workflow_input == {
        "tenant_id": "acme",
        "subject": "Appointment/a1",
        "planned_for": "2026-12-07T19:00:00Z",
    }
    assert name == appointment_execution("acme", {**VISIT, "start": "2026-12-07T19:00:00Z"})[0]


def test_a_retried_booking_starts_its_reminders_once() -> None:
    clinic = Clinic()
    reminders = StepFunctionsAppointmentReminders(clinic.workflow)

    reminders.booked(staff(), VISIT)
    reminders.booked(staff(), VISIT)

    assert list(clinic.stepfunctions.running().values()) == [appointment_execution("acme", VISIT)[1]]


def test_withdrawing_a_visit_stops_its_execution_and_saying_so_twice_is_fine() -> None:
    clinic = Clinic()
    reminders = StepFunctionsAppointmentReminders(clinic.workflow)
    reminders.booked(staff(), VISIT)

    reminders.withdrawn(staff(), VISIT)
    reminders.withdrawn(staff(), VISIT)

    assert clinic.stepfunctions.running() == {}
    [execution] = clinic.stepfunctions.executions.values()
    assert (execution["status"], execution["cause"]) == (
        "ABORTED",
        "the appointment was cancelled, moved or has begun",
    )


def test_a_visit_moved_away_and_back_to_its_time_is_reminded_again_and_withdrawn_completely() -> None:
    clinic = Clinic()
    reminders = StepFunctionsAppointmentReminders(clinic.workflow)
    reminders.booked(staff(), VISIT)
    reminders.withdrawn(staff(), VISIT)  # moved away

    reminders.booked(staff(), VISIT)  # and back
    reminders.booked(staff(), VISIT)  # a retry of that

    name, workflow_input = appointment_execution("acme", VISIT)
    assert clinic.stepfunctions.running() == {f"{name}-1": workflow_input}
    reminders.withdrawn(staff(), VISIT)
    assert clinic.stepfunctions.running() == {}


def test_a_plan_that_ran_to_its_end_is_not_started_again() -> None:
    clinic = Clinic()
    reminders = StepFunctionsAppointmentReminders(clinic.workflow)
    reminders.booked(staff(), VISIT)
    name, _ = appointment_execution("acme", VISIT)
    clinic.stepfunctions.executions[name]["status"] = "SUCCEEDED"

    reminders.booked(TenantContext.system("acme", "retry"), VISIT)

    assert list(clinic.stepfunctions.executions) == [name]
