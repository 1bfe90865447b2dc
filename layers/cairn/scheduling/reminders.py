"""When a clinic's reminders go out, by which channel, and the re-check just before each is sent.

The reminder workflow (Step Functions) waits until each planned time, asks `decide` whether the
reminder still stands, and sends it. Everything here is pure, times in and times out, so the
rules can be tested on the awkward days they exist for: DST changes, late bookings, quiet nights.

Quiet hours are a span of local wall time in the clinic's IANA zone ("21:00-08:00"). A reminder
at exactly their start or end is allowed (the last and first moments a message is welcome);
every moment between is quiet. Wall times become instants one local day at a time
(cairn.scheduling.availability.wall_instant), so 08:00 means 08:00 on DST change days too.

Nothing here carries PHI: contact preferences are flags, reasons and errors name settings and
rules, never a patient's details.
"""

from __future__ import annotations

import calendar
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from enum import StrEnum
from typing import Any, TypeAlias
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from cairn.scheduling.availability import wall_instant

OFFSETS_HOURS = "reminder_offsets_hours"
QUIET_HOURS = "reminder_quiet_hours"
MINIMUM_NOTICE_MINUTES = "reminder_minimum_notice_minutes"
DEFAULT_OFFSETS_HOURS = (48, 2)
DEFAULT_MINIMUM_NOTICE_MINUTES = 30
MAX_OFFSET_HOURS = 30 * 24  # a reminder a month ahead is already long forgotten by the visit
MAX_MINIMUM_NOTICE_MINUTES = 24 * 60
MAX_QUIET_MINUTES = 12 * 60  # longer, and day-time reminders have no room left
MAX_PLAN_DAYS = 365  # a Step Functions standard workflow runs at most a year
DAYTIME = time(10)  # dated reminders (refills, bills, recalls) arrive mid-morning, local time
QUIET_HOURS_FORM = re.compile(r"^([01]\d|2[0-3]):([0-5]\d)-([01]\d|2[0-3]):([0-5]\d)$")
BOOKED = "booked"
STALE_AFTER = timedelta(hours=1)  # a workflow resumed after an outage must not fire a burst of old reminders


class InvalidReminderPolicy(ValueError):
    """The clinic's reminder settings cannot be used; the message lists what to fix."""

    def __init__(self, problems: Sequence[str]) -> None:
        super().__init__("; ".join(problems))


class InvalidReminderRequest(ValueError):
    """A reminder cannot be planned from these arguments; the message says which one to fix."""


class Channel(StrEnum):
    EMAIL = "email"
    SMS = "sms"


class ReminderKind(StrEnum):
    """What a reminder is about; the workflow picks the message template by it."""

    APPOINTMENT = "appointment"
    MEDICATION_DOSE = "medication-dose"
    REFILL_DUE = "refill-due"
    BILL_DUE = "bill-due"
    BILL_OVERDUE = "bill-overdue"
    RECALL = "recall"
    COVERAGE_EXPIRY = "coverage-expiry"


@dataclass(frozen=True)
class QuietHours:
    """A nightly span of local wall time when no reminder is sent; it may cross midnight."""

    start: time
    end: time

    def __post_init__(self) -> None:
        if self.start.tzinfo is not None or self.end.tzinfo is not None:
            raise InvalidReminderPolicy([f"{QUIET_HOURS}: give local wall times; the clinic's zone applies"])
        if not 0 < self._minutes() <= MAX_QUIET_MINUTES:
            raise InvalidReminderPolicy([f"{QUIET_HOURS} must span more than nothing and at most "
                                         f"{MAX_QUIET_MINUTES // 60} hours"])

    @classmethod
    def parse(cls, text: str) -> QuietHours:
        """Quiet hours written as "HH:MM-HH:MM" in 24-hour time, e.g. "21:00-08:00"."""
        form = QUIET_HOURS_FORM.match(text.strip())
        if form is None:
            raise InvalidReminderPolicy([f'{QUIET_HOURS} must be "HH:MM-HH:MM" in 24-hour time, '
                                         'e.g. "21:00-08:00"'])
        start_hour, start_minute, end_hour, end_minute = (int(part) for part in form.groups())
        return cls(time(start_hour, start_minute), time(end_hour, end_minute))

    def __str__(self) -> str:
        return f"{self.start:%H:%M}-{self.end:%H:%M}"

    def covers(self, instant: datetime, zone: ZoneInfo) -> bool:
        """Whether the clocks in `zone` show a quiet time at `instant`."""
        return self.covers_wall(instant.astimezone(zone).time())

    def covers_wall(self, wall: time) -> bool:
        """Whether the local wall time `wall` is quiet."""
        if self.start < self.end:
            return self.start < wall < self.end
        return wall > self.start or wall < self.end

    def end_after(self, instant: datetime, zone: ZoneInfo) -> datetime:
        """When the quiet hours that `instant` falls in end."""
        local = instant.astimezone(zone)
        crosses_midnight_tonight = self.end < self.start and local.time() > self.start
        return wall_instant(local.date() + timedelta(days=crosses_midnight_tonight), self.end, zone)

    def start_before(self, instant: datetime, zone: ZoneInfo) -> datetime:
        """When the quiet hours that `instant` falls in began."""
        local = instant.astimezone(zone)
        began_last_night = self.end < self.start and local.time() < self.end
        return wall_instant(local.date() - timedelta(days=began_last_night), self.start, zone)

    def _minutes(self) -> int:
        span = (self.end.hour * 60 + self.end.minute) - (self.start.hour * 60 + self.start.minute)
        return span % (24 * 60)


DEFAULT_QUIET_HOURS = QuietHours(time(21), time(8))


@dataclass(frozen=True)
class ReminderPolicy:
    """A clinic's rule for appointment reminders: how long before the visit, never at night, and
    never so close to the start that the patient should already be on the way."""

    offsets_hours: tuple[int, ...] = DEFAULT_OFFSETS_HOURS
    quiet_hours: QuietHours = DEFAULT_QUIET_HOURS
    minimum_notice: timedelta = timedelta(minutes=DEFAULT_MINIMUM_NOTICE_MINUTES)

    @classmethod
    def parse(cls, settings: Mapping[str, Any]) -> ReminderPolicy:
        """The policy in `settings`; a missing setting takes its default (an empty list of offsets
        turns appointment reminders off). Every problem is named at once, so an admin fixes them
        in one pass."""
        problems: list[str] = []
        offsets = _offsets(settings, problems)
        quiet = _quiet_hours(settings, problems)
        notice = _minimum_notice(settings, problems)
        if not problems and offsets and notice >= timedelta(hours=min(offsets)):
            problems.append(f"{MINIMUM_NOTICE_MINUTES} must be shorter than the smallest of "
                            f"{OFFSETS_HOURS}, or that reminder is never sent")
        if problems:
            raise InvalidReminderPolicy(problems)
        return cls(offsets, quiet, notice)


def _offsets(settings: Mapping[str, Any], problems: list[str]) -> tuple[int, ...]:
    value: object = settings.get(OFFSETS_HOURS, list(DEFAULT_OFFSETS_HOURS))
    if not isinstance(value, list | tuple) or not all(
            isinstance(hours, int) and not isinstance(hours, bool) and 1 <= hours <= MAX_OFFSET_HOURS
            for hours in value):
        problems.append(f"{OFFSETS_HOURS} must be a list of whole hours from 1 to {MAX_OFFSET_HOURS}, "
                        "e.g. [48, 2]")
        return DEFAULT_OFFSETS_HOURS
    return tuple(sorted(set(value), reverse=True))


def _quiet_hours(settings: Mapping[str, Any], problems: list[str]) -> QuietHours:
    value: object = settings.get(QUIET_HOURS, str(DEFAULT_QUIET_HOURS))
    try:
        return QuietHours.parse(value if isinstance(value, str) else "")
    except InvalidReminderPolicy as invalid:
        problems.append(str(invalid))
        return DEFAULT_QUIET_HOURS


def _minimum_notice(settings: Mapping[str, Any], problems: list[str]) -> timedelta:
    value: object = settings.get(MINIMUM_NOTICE_MINUTES, DEFAULT_MINIMUM_NOTICE_MINUTES)
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= MAX_MINIMUM_NOTICE_MINUTES:
        problems.append(f"{MINIMUM_NOTICE_MINUTES} must be a whole number from 0 to "
                        f"{MAX_MINIMUM_NOTICE_MINUTES}")
        return timedelta(minutes=DEFAULT_MINIMUM_NOTICE_MINUTES)
    return timedelta(minutes=value)


@dataclass(frozen=True)
class PlannedReminder:
    """One reminder to send at `send_at` (UTC); `label` tells reminders of one kind apart ("48h")."""

    kind: ReminderKind
    send_at: datetime
    label: str


def plan_reminders(appointment_start: datetime, booked_at: datetime, policy: ReminderPolicy,
                   zone: str) -> list[PlannedReminder]:
    """The reminders for an appointment booked at `booked_at`, sorted by send time, in UTC.

    1. Each offset asks for a send time that many real hours before the start: a 48 h reminder
       is 48 h before, across a DST change too.
    2. A send time at or before the booking is skipped: the booking confirmation said it all.
    3. A send time after the start less the minimum notice is skipped: the patient should be on
       the way by then, not reading messages.
    4. A send time in quiet hours moves forward to their end, if that still respects the minimum
       notice; else back to their start, if that is after the booking; else it is skipped.
    5. Reminders that land on the same instant are sent once, under the longest offset's label.
    """
    tz = _zone(zone)
    _require_aware("appointment_start", appointment_start)
    _require_aware("booked_at", booked_at)
    start = appointment_start.astimezone(UTC)  # in UTC: sums of aware times in one zone are wall-clock
    latest = start - policy.minimum_notice
    planned: dict[datetime, PlannedReminder] = {}
    for hours in sorted(policy.offsets_hours, reverse=True):  # longest first: it keeps a shared time
        send_at = _outside_quiet_hours(start - timedelta(hours=hours), booked_at, latest,
                                       policy.quiet_hours, tz)
        if send_at is not None and send_at not in planned:
            planned[send_at] = PlannedReminder(ReminderKind.APPOINTMENT, send_at, f"{hours}h")
    return sorted(planned.values(), key=lambda reminder: reminder.send_at)


def _outside_quiet_hours(wanted: datetime, after: datetime, latest: datetime, quiet: QuietHours,
                         tz: ZoneInfo) -> datetime | None:
    """`wanted`, or else the end then the start of the quiet hours it falls in: the first of these
    in (after, latest] and not quiet; None when there is none."""
    choices = [quiet.end_after(wanted, tz), quiet.start_before(wanted, tz)] if quiet.covers(wanted, tz) \
        else [wanted]
    return next((choice.astimezone(UTC) for choice in choices
                 if after < choice <= latest and not quiet.covers(choice, tz)), None)


@dataclass(frozen=True)
class ContactPreferences:
    """How a patient may be reached, as flags only: the address and number themselves never enter
    the reminder workflow's state."""

    preferred: Channel | None
    has_email: bool
    has_phone: bool
    opted_out: frozenset[Channel] = frozenset()
    opted_out_all: bool = False

    def allows(self, channel: Channel) -> bool:
        """Whether `channel` reaches the patient and they have not opted out of it."""
        reachable = self.has_email if channel is Channel.EMAIL else self.has_phone
        return reachable and not self.opted_out_all and channel not in self.opted_out


def choose_channel(preferences: ContactPreferences) -> Channel | None:
    """The patient's preferred channel if it is allowed, else another allowed one, else None."""
    preferred = [preferences.preferred] if preferences.preferred is not None else []
    return next((channel for channel in (*preferred, *Channel) if preferences.allows(channel)), None)


@dataclass(frozen=True)
class Send:
    """Send the reminder now, by `channel`."""

    channel: Channel


@dataclass(frozen=True)
class Skip:
    """Why a reminder is not sent; a rule, never a patient's details."""

    reason: str


ReminderDecision: TypeAlias = Send | Skip

CLOSED_APPOINTMENT_REASONS = {
    "cancelled": "the appointment is cancelled",
    "noshow": "the appointment is marked as a no-show",
    "fulfilled": "the appointment has taken place",
    "entered-in-error": "the appointment was entered in error",
    "arrived": "the patient has arrived",
    "checked-in": "the patient has arrived",
}
NOT_BOOKED = "the appointment is not booked"
SUPERSEDED = "superseded by a newer plan"
ALREADY_SENT = "already sent"
STALE = "the send time passed more than an hour ago"
TOO_CLOSE = "too close to the appointment's start"
QUIET_NOW = "it is quiet hours in the clinic's time zone"
OPTED_OUT = "the patient opted out of reminders"
NO_CHANNEL = "no channel reaches the patient that they have not opted out of"


def decide(*, appointment_status: str, appointment_version: str, planned_for_version: str,
           already_sent: bool, preferences: ContactPreferences, now: datetime, send_at: datetime,
           appointment_start: datetime, policy: ReminderPolicy, zone: str) -> ReminderDecision:
    """Whether the reminder planned for `send_at` is sent now, and how: the appointment must still
    be booked and unchanged since the plan (a reschedule plans anew, so the old plan's reminders
    are superseded), not yet reminded, the send not stale nor too close to the start nor in quiet
    hours (a delayed workflow can land there), and a channel must reach the patient."""
    for name, instant in (("now", now), ("send_at", send_at), ("appointment_start", appointment_start)):
        _require_aware(name, instant)
    tz = _zone(zone)
    if appointment_status != BOOKED:
        return Skip(CLOSED_APPOINTMENT_REASONS.get(appointment_status, NOT_BOOKED))
    if appointment_version != planned_for_version:
        return Skip(SUPERSEDED)
    if already_sent:
        return Skip(ALREADY_SENT)
    if now.astimezone(UTC) - send_at.astimezone(UTC) > STALE_AFTER:  # in UTC: real time, not wall-clock
        return Skip(STALE)
    if now > appointment_start.astimezone(UTC) - policy.minimum_notice:
        return Skip(TOO_CLOSE)
    if policy.quiet_hours.covers(now, tz):
        return Skip(QUIET_NOW)
    channel = choose_channel(preferences)
    if channel is None:
        return Skip(OPTED_OUT if preferences.opted_out_all else NO_CHANNEL)
    return Send(channel)


def plan_medication_doses(times_of_day: Sequence[time], zone: str, start_date: date, days: int,
                          now: datetime, *, quiet_hours: QuietHours = DEFAULT_QUIET_HOURS,
                          ) -> list[PlannedReminder]:
    """A reminder at each dose time on each of `days` local days from `start_date`, those after
    `now`. A dose reminder must come at the dose, so it is never moved: a dose time in quiet hours
    is refused (the clinic narrows its quiet hours, or the dose goes without a reminder). On the
    spring-forward night a skipped dose time is reminded when the clocks resume, unless that is
    quiet."""
    tz = _zone(zone)
    _require_aware("now", now)
    if not times_of_day or any(dose.tzinfo is not None for dose in times_of_day):
        raise InvalidReminderRequest("times_of_day: give at least one local wall time without a time zone")
    if any(quiet_hours.covers_wall(dose) for dose in times_of_day):
        raise InvalidReminderRequest(f"times_of_day: a dose time falls in the clinic's quiet hours "
                                     f"({quiet_hours}); dose reminders are never moved")
    _require_range("days", days, 1, MAX_PLAN_DAYS)
    doses = ((dose, wall_instant(start_date + timedelta(days=offset), dose, tz))
             for offset in range(days) for dose in sorted(set(times_of_day)))
    return [PlannedReminder(ReminderKind.MEDICATION_DOSE, instant, f"{dose:%H:%M}")
            for dose, instant in doses if instant > now and not quiet_hours.covers(instant, tz)]


def plan_refill_due(last_fill_date: date, days_supply: int, lead_days: int, *, zone: str,
                    quiet_hours: QuietHours = DEFAULT_QUIET_HOURS) -> list[PlannedReminder]:
    """A reminder `lead_days` before the supply filled on `last_fill_date` runs out, so the refill
    arrives in time."""
    _require_range("days_supply", days_supply, 1, MAX_PLAN_DAYS)
    _require_range("lead_days", lead_days, 0, days_supply - 1)
    runs_out = last_fill_date + timedelta(days=days_supply)
    return [_on_day(ReminderKind.REFILL_DUE, runs_out - timedelta(days=lead_days), f"{lead_days}d", zone,
                    quiet_hours)]


def plan_bill(due_date: date, overdue_after_days: int, *, zone: str,
              quiet_hours: QuietHours = DEFAULT_QUIET_HOURS) -> list[PlannedReminder]:
    """A reminder on the day a bill is due and another once it is `overdue_after_days` overdue."""
    _require_range("overdue_after_days", overdue_after_days, 1, MAX_PLAN_DAYS)
    return [_on_day(ReminderKind.BILL_DUE, due_date, "due", zone, quiet_hours),
            _on_day(ReminderKind.BILL_OVERDUE, due_date + timedelta(days=overdue_after_days),
                    f"{overdue_after_days}d", zone, quiet_hours)]


def plan_recall(last_visit_date: date, interval_months: int, lead_days: int, *, zone: str,
                quiet_hours: QuietHours = DEFAULT_QUIET_HOURS) -> list[PlannedReminder]:
    """A reminder `lead_days` before a recurring visit (an annual wellness visit: 12 months) falls
    due after `last_visit_date`; a due day past the end of a month is the month's last day."""
    _require_range("interval_months", interval_months, 1, 120)
    due = _add_months(last_visit_date, interval_months)
    _require_range("lead_days", lead_days, 0, (due - last_visit_date).days - 1)
    return [_on_day(ReminderKind.RECALL, due - timedelta(days=lead_days), f"{interval_months}mo", zone,
                    quiet_hours)]


def plan_coverage_expiry(end_date: date, lead_days: int, *, zone: str,
                         quiet_hours: QuietHours = DEFAULT_QUIET_HOURS) -> list[PlannedReminder]:
    """A reminder `lead_days` before insurance coverage ends on `end_date`, time to renew or update it."""
    _require_range("lead_days", lead_days, 0, MAX_PLAN_DAYS)
    return [_on_day(ReminderKind.COVERAGE_EXPIRY, end_date - timedelta(days=lead_days), f"{lead_days}d",
                    zone, quiet_hours)]


def _on_day(kind: ReminderKind, day: date, label: str, zone: str, quiet: QuietHours) -> PlannedReminder:
    """A reminder mid-morning on the local `day`, or when a clinic's quiet hours covering that end."""
    tz = _zone(zone)
    send_at = wall_instant(day, DAYTIME, tz)
    if quiet.covers(send_at, tz):
        send_at = quiet.end_after(send_at, tz).astimezone(UTC)
    return PlannedReminder(kind, send_at, label)


def _add_months(day: date, months: int) -> date:
    years, month_index = divmod(day.month - 1 + months, 12)
    year, month = day.year + years, month_index + 1
    return date(year, month, min(day.day, calendar.monthrange(year, month)[1]))


def _zone(zone: str) -> ZoneInfo:
    try:
        return ZoneInfo(zone)
    except (ZoneInfoNotFoundError, ValueError):
        raise InvalidReminderRequest("time zone: use an IANA zone name such as America/New_York") from None


def _require_aware(name: str, instant: datetime) -> None:
    if instant.tzinfo is None:
        raise InvalidReminderRequest(f"{name} must carry a time zone (an aware datetime)")


def _require_range(name: str, value: int, low: int, high: int) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise InvalidReminderRequest(f"{name} must be a whole number from {low} to {high}")


__all__ = [
    "DEFAULT_QUIET_HOURS", "Channel", "ContactPreferences", "InvalidReminderPolicy", "InvalidReminderRequest",
    "PlannedReminder", "QuietHours", "ReminderDecision", "ReminderKind", "ReminderPolicy", "Send", "Skip",
    "choose_channel", "decide", "plan_bill", "plan_coverage_expiry", "plan_medication_doses",
    "plan_recall", "plan_refill_due", "plan_reminders",
]
