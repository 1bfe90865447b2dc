"""What a reminder says. Only when and with whom: no diagnosis, no medication, no amount, no
result, nothing a stranger reading a phone's lock screen should learn about the patient's care."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from zoneinfo import ZoneInfo

from cairn.scheduling.reminders import ReminderKind

PORTAL = "Sign in to your patient portal for the details."
RECALLS = {"annual-wellness-visit": "your annual wellness visit is due", "screening": "a screening is due"}


@dataclass(frozen=True)
class MessageText:
    """A message's subject line and body."""

    subject: str  # email only; a text message is `body` alone
    body: str


def local_time(instant: datetime, zone: str) -> str:
    """E.g. "Thu 10 Dec 2026, 9:00 AM EST", in the clinic's zone."""
    local = instant.astimezone(ZoneInfo(zone))
    return f"{local:%a} {local.day} {local:%b %Y}, {local.hour % 12 or 12}:{local:%M %p} {local.tzname()}"


def local_date(day: date) -> str:
    """E.g. "Thu 10 Dec 2026"."""
    return f"{day:%a} {day.day} {day:%b %Y}"


def appointment_text(clinic: str, start: datetime, zone: str) -> MessageText:
    """The reminder of a visit at `start` with `clinic`, in the clinic's zone."""
    return MessageText(
        f"Your visit with {clinic}",
        f"Reminder: you have a visit with {clinic} on {local_time(start, zone)}. "
        "To change or cancel it, sign in to your patient portal or call us.",
    )


def dated_text(
    kind: ReminderKind, clinic: str, *, dose_time: str = "", day: date | None = None, recall: str = ""
) -> MessageText:
    """The text of a reminder the patient or the clinic set (doses, refills, bills, recalls,
    coverage); `day` is the date the reminder is about (due date, end of coverage, ...)."""
    when = local_date(day) if day is not None else ""
    bodies = {
        ReminderKind.MEDICATION_DOSE: f"Reminder from {clinic}: it is time for your {dose_time} medication.",
        ReminderKind.REFILL_DUE: f"Reminder from {clinic}: your prescription runs out on {when}; "
        "ask for a refill in time.",
        ReminderKind.BILL_DUE: f"Reminder from {clinic}: a bill is due on {when}. {PORTAL}",
        ReminderKind.BILL_OVERDUE: f"Reminder from {clinic}: a bill was due on {when} and is still open. "
        f"{PORTAL}",
        ReminderKind.RECALL: f"Reminder from {clinic}: {RECALLS.get(recall, 'a visit is due')}. "
        "Sign in to your patient portal or call us to book it.",
        ReminderKind.COVERAGE_EXPIRY: f"Reminder from {clinic}: the insurance coverage we have on file ends "
        f"on {when}. Please bring or send us your new insurance details.",
    }
    return MessageText(f"A reminder from {clinic}", bodies[kind])
