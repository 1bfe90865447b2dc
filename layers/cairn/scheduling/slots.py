"""The free slots a practitioner's availability offers, and whether one asked-for time may be booked.

Slots are laid on a grid from the start of each open window (after a lunch break ending 12:30 the
next slot is 12:30), stepping by the visit length unless a finer step is asked for, so the times
offered are the same whatever range or moment the search starts from. All times are half-open:
a visit may end at the minute the next one, a break or time off begins.
"""

from __future__ import annotations

from bisect import bisect_left
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from enum import StrEnum

from cairn.scheduling.availability import Availability, Interval, merged, overlaps

MAX_SEARCH_DAYS = 90  # one search covers at most a quarter: it bounds the work a request can ask for


class InvalidSchedulingRequest(ValueError):
    """A search or booking check asked in a way that has no answer; the message says what to fix."""


class RefusalReason(StrEnum):
    IN_THE_PAST = "in the past"
    WITHIN_LEAD_TIME = "within the lead time"
    BEYOND_HORIZON = "beyond the horizon"
    OUTSIDE_WORKING_HOURS = "outside working hours"
    DURING_BREAK = "during a break"
    DURING_TIME_OFF = "during time off"
    OVERLAPS_BOOKING = "overlaps a booking"


_ADVICE = {
    RefusalReason.IN_THE_PAST: "choose a time that has not passed",
    RefusalReason.WITHIN_LEAD_TIME: "the clinic needs more notice; choose a later time",
    RefusalReason.BEYOND_HORIZON: "the clinic does not book that far ahead; choose an earlier date",
    RefusalReason.OUTSIDE_WORKING_HOURS: "choose a time within the practitioner's working hours",
    RefusalReason.DURING_BREAK: "choose a time outside the practitioner's break",
    RefusalReason.DURING_TIME_OFF: "the practitioner is away then; choose another date",
    RefusalReason.OVERLAPS_BOOKING: "that time is taken; choose a free slot",
}


class BookingRefused(Exception):
    """A visit may not be booked at the time asked for; `reason` says why, as a code for callers."""

    def __init__(self, reason: RefusalReason) -> None:
        self.reason = reason
        super().__init__(f"the visit would be {reason}: {_ADVICE[reason]}")


@dataclass(frozen=True, order=True)
class Slot:
    """A bookable stretch, in UTC."""

    start: datetime
    end: datetime


def free_slots(
    availability: Availability,
    visit_type_minutes: int,
    start: datetime,
    end: datetime,
    booked: Sequence[Interval],
    *,
    step_minutes: int | None = None,
    now: datetime,
    lead_minutes: int = 0,
) -> list[Slot]:
    """Every slot of `visit_type_minutes` lying within [start, end] that is open (working hours,
    not a break, not time off), overlaps no booked interval and starts no sooner than `now` plus
    the lead time; in time order. At most MAX_SEARCH_DAYS may be searched at once."""
    step_minutes = visit_type_minutes if step_minutes is None else step_minutes
    _require_aware(start=start, end=end, now=now)
    _require_positive(visit_type_minutes=visit_type_minutes, step_minutes=step_minutes)
    if lead_minutes < 0:
        raise InvalidSchedulingRequest("lead_minutes must not be negative")
    if end <= start:
        raise InvalidSchedulingRequest("the search must end after it starts")
    if end - start > timedelta(days=MAX_SEARCH_DAYS):
        raise InvalidSchedulingRequest(f"search at most {MAX_SEARCH_DAYS} days at a time")
    length = timedelta(minutes=visit_type_minutes)
    step = timedelta(minutes=step_minutes)
    earliest = max(start, now + timedelta(minutes=lead_minutes))
    busy = _Busy(booked)
    slots: list[Slot] = []
    for day in _local_days(availability, start, end):
        for open_start, open_end in availability.windows(day):
            slot_start = open_start
            while slot_start + length <= min(open_end, end):
                slot_end = slot_start + length
                if slot_start >= earliest and not busy.overlaps((slot_start, slot_end)):
                    slots.append(Slot(slot_start, slot_end))
                slot_start += step
    return slots


def check_bookable(
    availability: Availability,
    start: datetime,
    minutes: int,
    booked: Sequence[Interval],
    *,
    now: datetime,
    lead_minutes: int = 0,
    horizon_days: int,
) -> None:
    """Refuse (BookingRefused) a visit of `minutes` at `start` that is in the past, inside the lead
    time, beyond the horizon, outside working hours, in a break, in time off or over a booking;
    checked in that order, so the reason given is the first one a person would fix. Off-grid
    times are allowed: staff may fit a visit in where the slot grid would not."""
    _require_aware(start=start, now=now)
    _require_positive(minutes=minutes)
    visit = (start.astimezone(UTC), start.astimezone(UTC) + timedelta(minutes=minutes))
    if start < now:
        raise BookingRefused(RefusalReason.IN_THE_PAST)
    if start < now + timedelta(minutes=lead_minutes):
        raise BookingRefused(RefusalReason.WITHIN_LEAD_TIME)
    if start > now + timedelta(days=horizon_days):
        raise BookingRefused(RefusalReason.BEYOND_HORIZON)
    day = availability.local_day(start)
    working = availability.working_windows(day)
    if not any(opens <= visit[0] and visit[1] <= closes for opens, closes in working):
        raise BookingRefused(RefusalReason.OUTSIDE_WORKING_HOURS)
    if any(overlaps(visit, pause) for pause in availability.breaks_on(day)):
        raise BookingRefused(RefusalReason.DURING_BREAK)
    if any(overlaps(visit, away) for away in availability.time_off_intervals()):
        raise BookingRefused(RefusalReason.DURING_TIME_OFF)
    if _Busy(booked).overlaps(visit):
        raise BookingRefused(RefusalReason.OVERLAPS_BOOKING)


class _Busy:
    """Booked intervals joined and sorted, so each overlap question is a binary search."""

    def __init__(self, booked: Sequence[Interval]) -> None:
        for booked_start, booked_end in booked:
            _require_aware(booked_start=booked_start, booked_end=booked_end)
            if booked_end <= booked_start:
                raise InvalidSchedulingRequest("a booked interval must end after it starts")
        self._intervals = merged((s.astimezone(UTC), e.astimezone(UTC)) for s, e in booked)
        self._starts = [s for s, _ in self._intervals]

    def overlaps(self, interval: Interval) -> bool:
        before_end = bisect_left(self._starts, interval[1])  # intervals starting before this one ends
        return before_end > 0 and overlaps(self._intervals[before_end - 1], interval)


def _local_days(availability: Availability, start: datetime, end: datetime) -> list[date]:
    first, last = availability.local_day(start), availability.local_day(end)
    return [first + timedelta(days=offset) for offset in range((last - first).days + 1)]


def _require_aware(**instants: datetime) -> None:
    for name, instant in instants.items():
        if instant.tzinfo is None or instant.utcoffset() is None:
            raise InvalidSchedulingRequest(f"{name} must carry a time zone (an aware datetime)")


def _require_positive(**counts: int) -> None:
    for name, count in counts.items():
        if count < 1:
            raise InvalidSchedulingRequest(f"{name} must be a whole number of minutes of at least 1")


__all__ = [
    "MAX_SEARCH_DAYS", "BookingRefused", "InvalidSchedulingRequest", "RefusalReason", "Slot",
    "check_bookable", "free_slots",
]
