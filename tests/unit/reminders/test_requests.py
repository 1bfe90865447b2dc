"""Reminder requests as Tasks: parameters written to Task.input and read back, and the plan each
kind gives in the clinic's zone and quiet hours."""

from __future__ import annotations

from datetime import UTC, date, datetime, time
from typing import Any

import pytest

from cairn.reminders.requests import (
    MAX_PLANNED,
    is_reminder_task,
    parameters_of,
    plan_request,
    reminder_task,
    reminder_view,
    task_inputs,
)
from cairn.scheduling.clinic import ClinicSchedule
from cairn.scheduling.reminders import InvalidReminderRequest, PlannedReminder, ReminderKind

NOW = datetime(2026, 12, 3, 15, 0, tzinfo=UTC)  # 10:00 in New York
CLINIC = ClinicSchedule.parse({"time_zone": "America/New_York"})


def sends(planned: list[PlannedReminder]) -> list[tuple[str, str, str]]:
    return [(p.kind.value, p.send_at.strftime("%Y-%m-%dT%H:%MZ"), p.label) for p in planned]


def test_parameters_survive_task_input_with_their_types() -> None:
    parameters: dict[str, list[Any]] = {
        "kind": ["medication-dose"],
        "time-of-day": [time(8), time(20)],
        "start-date": [date(2026, 12, 4)],
        "days": [2],
    }

    inputs = task_inputs(parameters)

    assert inputs[1] == {
        "type": {
            "coding": [
                {"system": "https://cairn.health/fhir/CodeSystem/reminder-parameter", "code": "time-of-day"}
            ]
        },
        "valueTime": "08:00:00",
    }
    assert parameters_of({"input": inputs}) == parameters


def test_medication_doses_are_reminded_at_each_dose_time_from_now_on() -> None:
    planned = plan_request(
        {
            "kind": ["medication-dose"],
            "time-of-day": [time(8), time(20)],
            "start-date": [date(2026, 12, 3)],
            "days": [2],
        },
        CLINIC,
        NOW,
    )

    assert sends(planned) == [  # 08:00 today has passed; 20:00 is still before quiet hours
        ("medication-dose", "2026-12-04T01:00Z", "20:00"),
        ("medication-dose", "2026-12-04T13:00Z", "08:00"),
        ("medication-dose", "2026-12-05T01:00Z", "20:00"),
    ]


def test_a_dose_time_in_quiet_hours_is_refused_since_dose_reminders_are_never_moved() -> None:
    with pytest.raises(InvalidReminderRequest, match="quiet hours"):
        plan_request(
            {
                "kind": ["medication-dose"],
                "time-of-day": [time(22)],
                "start-date": [date(2026, 12, 4)],
                "days": [1],
            },
            CLINIC,
            NOW,
        )


@pytest.mark.parametrize(
    ("parameters", "expected"),
    [
        (
            {
                "kind": ["refill-due"],
                "last-fill-date": [date(2026, 12, 1)],
                "days-supply": [30],
                "lead-days": [7],
            },
            [("refill-due", "2026-12-24T15:00Z", "7d")],
        ),
        (
            {
                "kind": ["bill"],
                "invoice": ["INV-1"],
                "due-date": [date(2026, 12, 15)],
                "overdue-after-days": [14],
            },
            [("bill-due", "2026-12-15T15:00Z", "due"), ("bill-overdue", "2026-12-29T15:00Z", "14d")],
        ),
        (
            {
                "kind": ["recall"],
                "recall": ["annual-wellness-visit"],
                "last-visit-date": [date(2026, 1, 15)],
                "interval-months": [12],
                "lead-days": [14],
            },
            [("recall", "2027-01-01T15:00Z", "12mo")],
        ),
        (
            {"kind": ["coverage-expiry"], "end-date": [date(2026, 12, 31)], "lead-days": [14]},
            [("coverage-expiry", "2026-12-17T15:00Z", "14d")],
        ),
    ],
)
def test_dated_reminders_come_mid_morning_in_the_clinics_zone(
    parameters: dict[str, list[Any]], expected: list[tuple[str, str, str]]
) -> None:
    assert sends(plan_request(parameters, CLINIC, NOW)) == expected


def test_a_request_whose_every_reminder_has_passed_is_refused() -> None:
    with pytest.raises(InvalidReminderRequest, match="falls in the past"):  # 30 days before 31 Dec: 1 Dec
        plan_request(
            {"kind": ["coverage-expiry"], "end-date": [date(2026, 12, 31)], "lead-days": [30]}, CLINIC, NOW
        )


def test_an_overdue_bill_is_still_reminded_when_its_due_day_has_passed() -> None:
    planned = plan_request(
        {"kind": ["bill"], "invoice": ["INV-1"], "due-date": [date(2026, 11, 30)], "overdue-after-days": [7]},
        CLINIC,
        NOW,
    )

    assert [p.kind for p in planned] == [ReminderKind.BILL_OVERDUE]


def test_a_request_that_would_plan_too_many_reminders_is_refused() -> None:
    with pytest.raises(InvalidReminderRequest, match=f"at most {MAX_PLANNED}"):
        plan_request(
            {
                "kind": ["medication-dose"],
                "time-of-day": [time(8), time(12), time(16)],
                "start-date": [date(2026, 12, 4)],
                "days": [200],
            },
            CLINIC,
            NOW,
        )


def test_a_missing_parameter_is_named() -> None:
    with pytest.raises(InvalidReminderRequest, match="due-date is missing"):
        plan_request({"kind": ["bill"], "overdue-after-days": [7]}, CLINIC, NOW)


def test_the_task_records_who_what_when_and_its_workflow_and_the_view_reads_it_back() -> None:
    parameters: dict[str, list[Any]] = {
        "kind": ["refill-due"],
        "last-fill-date": [date(2026, 12, 1)],
        "days-supply": [30],
        "lead-days": [7],
    }
    planned = plan_request(parameters, CLINIC, NOW)

    task = reminder_task(
        "t1",
        "p1",
        "MedicationRequest/m1",
        parameters,
        planned,
        "remind-abc",
        "2026-12-03T15:00:00.000Z",
        "Patient/p1",
    )

    assert is_reminder_task(task)
    assert (task["status"], task["intent"], task["for"], task["focus"]) == (
        "requested",
        "plan",
        {"reference": "Patient/p1"},
        {"reference": "MedicationRequest/m1"},
    )
    assert task["identifier"] == [
        {"system": "https://cairn.health/fhir/sid/reminder-workflow", "value": "remind-abc"}
    ]
    assert reminder_view({**task, "id": "t1"}) == {
        "id": "t1",
        "kind": "refill-due",
        "status": "requested",
        "patient": "Patient/p1",
        "about": "MedicationRequest/m1",
        "firstReminder": "2026-12-24T15:00:00Z",
        "lastReminder": "2026-12-24T15:00:00Z",
        "parameters": {"last-fill-date": "2026-12-01", "days-supply": 30, "lead-days": 7},
    }
