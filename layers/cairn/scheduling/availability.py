"""A practitioner's working week at one location, kept in the clinic's wall-clock time.

Hours and breaks repeat weekly in local time ("Mondays 9:00-17:00 in America/New_York"), so they
are turned into UTC one local day at a time: 9:00-17:00 stays eight hours on both DST change
days. Time off is a pair of real instants, because a vacation or conference spans days.

A wall time the clocks skip (02:30 on the spring-forward night) is clipped to the moment the
clocks resume: the skipped hour is never worked, a window that starts in it opens when the
clock jumps, one that ends in it closes there, and one wholly inside it is empty. A wall time
the clocks repeat (01:30 on the fall-back night) means its first occurrence.
"""

from __future__ import annotations

import calendar
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time
from itertools import pairwise
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

Interval = tuple[datetime, datetime]
MAX_TIME_OFF_REASON = 80  # a category ("vacation", "conference"), never a patient's details


class InvalidAvailability(ValueError):
    """A working week that cannot be scheduled against; the message says what to fix."""


def _check_weekly(kind: str, weekday: int, start: time, end: time) -> None:
    if not 0 <= weekday <= 6:
        raise InvalidAvailability(f"{kind}: weekday must be 0 (Monday) to 6 (Sunday)")
    if start.tzinfo is not None or end.tzinfo is not None:
        raise InvalidAvailability(f"{kind}: give local wall times without a time zone; "
                                  "the clinic's zone applies")
    if end <= start:
        raise InvalidAvailability(f"{kind} on {calendar.day_name[weekday]}: end must be after start "
                                  "(hours that cross midnight are two entries, one per day)")


@dataclass(frozen=True)
class WorkingHours:
    """Hours worked every week on one weekday (0 Monday - 6 Sunday), in local wall time."""

    weekday: int
    start: time
    end: time

    def __post_init__(self) -> None:
        _check_weekly("working hours", self.weekday, self.start, self.end)


@dataclass(frozen=True)
class Break:
    """A weekly pause (lunch, admin time) on one weekday, in local wall time."""

    weekday: int
    start: time
    end: time

    def __post_init__(self) -> None:
        _check_weekly("break", self.weekday, self.start, self.end)


@dataclass(frozen=True)
class TimeOff:
    """A stretch away from the clinic between two real instants; `reason` is a category, no PHI."""

    start: datetime
    end: datetime
    reason: str = ""

    def __post_init__(self) -> None:
        if self.start.tzinfo is None or self.end.tzinfo is None:
            raise InvalidAvailability("time off: start and end must carry a time zone (aware datetimes)")
        if self.end <= self.start:
            raise InvalidAvailability("time off: end must be after start")
        if len(self.reason) > MAX_TIME_OFF_REASON:
            raise InvalidAvailability(f"time off: the reason is a short category of at most "
                                      f"{MAX_TIME_OFF_REASON} characters")


@dataclass(frozen=True)
class Availability:
    """When one practitioner sees patients at one location, in the clinic's IANA time zone."""

    zone: str
    hours: tuple[WorkingHours, ...]
    breaks: tuple[Break, ...] = ()
    time_off: tuple[TimeOff, ...] = ()

    def __post_init__(self) -> None:
        try:
            ZoneInfo(self.zone)
        except (ZoneInfoNotFoundError, ValueError):
            raise InvalidAvailability("time zone: use an IANA zone name such as America/New_York") from None
        for weekday in range(7):
            day_hours = sorted((h for h in self.hours if h.weekday == weekday), key=lambda h: h.start)
            for earlier, later in pairwise(day_hours):
                if later.start < earlier.end:
                    raise InvalidAvailability(f"working hours on {calendar.day_name[weekday]} overlap; "
                                              "make them one entry or separate them")

    @property
    def tz(self) -> ZoneInfo:
        return ZoneInfo(self.zone)

    def local_day(self, instant: datetime) -> date:
        """The clinic's calendar date at `instant`."""
        return instant.astimezone(self.tz).date()

    def working_windows(self, day: date) -> list[Interval]:
        """The working hours of the local date `day` in UTC, touching entries joined."""
        return merged(self._weekly(self.hours, day))

    def breaks_on(self, day: date) -> list[Interval]:
        """The breaks of the local date `day` in UTC."""
        return merged(self._weekly(self.breaks, day))

    def time_off_intervals(self) -> list[Interval]:
        """All time off in UTC, joined where stretches meet (a conference then a vacation)."""
        return merged((off.start.astimezone(UTC), off.end.astimezone(UTC)) for off in self.time_off)

    def windows(self, day: date) -> list[Interval]:
        """When the practitioner is open for visits on the local date `day`, in UTC: working
        hours less breaks and time off (bookings are not known here; cairn.scheduling.slots)."""
        return subtract(self.working_windows(day), [*self.breaks_on(day), *self.time_off_intervals()])

    def _weekly(self, entries: Iterable[WorkingHours | Break], day: date) -> list[Interval]:
        spans = [(wall_instant(day, e.start, self.tz), wall_instant(day, e.end, self.tz))
                 for e in entries if e.weekday == day.weekday()]
        return [(start, end) for start, end in spans if start < end]  # wholly in a skipped hour: empty


def wall_instant(day: date, wall: time, zone: ZoneInfo) -> datetime:
    """The UTC instant the clocks in `zone` show `wall` on `day`; see the module docstring for the
    skipped and repeated hours."""
    local = datetime.combine(day, wall, tzinfo=zone)
    instant = local.astimezone(UTC)
    if instant.astimezone(zone).replace(tzinfo=None) == local.replace(tzinfo=None):
        return instant
    return _clocks_resume(local.replace(fold=1).astimezone(UTC), instant, zone)


def _clocks_resume(before: datetime, after: datetime, zone: ZoneInfo) -> datetime:
    """The transition instant in (before, after]: zoneinfo does not expose transitions, so a
    binary search over whole seconds (transitions fall on them) finds where the offset changes."""
    low, high = int(before.timestamp()), int(after.timestamp())
    resumed = datetime.fromtimestamp(high, zone).utcoffset()
    while high - low > 1:
        middle = (low + high) // 2
        if datetime.fromtimestamp(middle, zone).utcoffset() == resumed:
            high = middle
        else:
            low = middle
    return datetime.fromtimestamp(high, UTC)


def merged(intervals: Iterable[Interval]) -> list[Interval]:
    """The intervals sorted, with overlapping or touching ones joined."""
    joined: list[Interval] = []
    for start, end in sorted(intervals):
        if joined and start <= joined[-1][1]:
            joined[-1] = (joined[-1][0], max(joined[-1][1], end))
        else:
            joined.append((start, end))
    return joined


def subtract(intervals: Sequence[Interval], cuts: Iterable[Interval]) -> list[Interval]:
    """What is left of `intervals` once every cut is taken out (half-open: an end may meet a start)."""
    remaining = list(intervals)
    for cut_start, cut_end in cuts:
        pieces: list[Interval] = []
        for start, end in remaining:
            if cut_end <= start or end <= cut_start:
                pieces.append((start, end))
                continue
            if start < cut_start:
                pieces.append((start, cut_start))
            if cut_end < end:
                pieces.append((cut_end, end))
        remaining = pieces
    return remaining


def overlaps(first: Interval, second: Interval) -> bool:
    """Whether two half-open intervals share any time: a visit may end when the next begins."""
    return first[0] < second[1] and second[0] < first[1]


__all__ = [
    "Availability", "Break", "Interval", "InvalidAvailability", "TimeOff", "WorkingHours", "merged",
    "overlaps", "subtract", "wall_instant",
]
