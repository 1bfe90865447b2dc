"""What reminders say: when and with whom, in the clinic's zone, and nothing about the care."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest

from cairn.reminders.texts import appointment_text, dated_text, local_time
from cairn.scheduling.reminders import ReminderKind


def test_a_visit_is_named_by_its_local_time_and_zone_abbreviation_across_dst() -> None:
    assert (
        local_time(datetime(2026, 12, 7, 19, 0, tzinfo=UTC), "America/New_York")
        == "Mon 7 Dec 2026, 2:00 PM EST"
    )
    assert (
        local_time(datetime(2026, 7, 7, 13, 5, tzinfo=UTC), "America/New_York")
        == "Tue 7 Jul 2026, 9:05 AM EDT"
    )
    assert (
        local_time(datetime(2026, 7, 7, 0, 30, tzinfo=UTC), "Europe/Berlin") == "Tue 7 Jul 2026, 2:30 AM CEST"
    )


def test_an_appointment_reminder_names_the_clinic_and_the_time_only() -> None:
    text = appointment_text("Acme Clinic", datetime(2026, 12, 7, 19, 0, tzinfo=UTC), "America/New_York")

    assert text.subject == "Your visit with Acme Clinic"
    assert "Mon 7 Dec 2026, 2:00 PM EST" in text.body


@pytest.mark.parametrize(
    ("kind", "expected"),
    [
        (ReminderKind.MEDICATION_DOSE, "it is time for your 08:00 medication."),
        (ReminderKind.REFILL_DUE, "your prescription runs out on Thu 10 Dec 2026"),
        (ReminderKind.BILL_DUE, "a bill is due on Thu 10 Dec 2026"),
        (ReminderKind.BILL_OVERDUE, "a bill was due on Thu 10 Dec 2026 and is still open"),
        (ReminderKind.RECALL, "your annual wellness visit is due"),
        (ReminderKind.COVERAGE_EXPIRY, "the insurance coverage we have on file ends on Thu 10 Dec 2026"),
    ],
)
def test_each_kind_of_reminder_says_what_is_due_and_when(kind: ReminderKind, expected: str) -> None:
    text = dated_text(
        kind, "Acme Clinic", dose_time="08:00", day=date(2026, 12, 10), recall="annual-wellness-visit"
    )

    assert expected in text.body
    assert text.body.startswith("Reminder from Acme Clinic: ")


def test_a_screening_recall_does_not_say_which_screening() -> None:
    assert "a screening is due" in dated_text(ReminderKind.RECALL, "Acme Clinic", recall="screening").body
