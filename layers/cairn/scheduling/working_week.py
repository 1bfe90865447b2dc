"""A schedule's working week as JSON, the form the scheduling API takes and stores.

    {"hours":   [{"day": "monday", "start": "09:00", "end": "17:00"}, ...],
     "breaks":  [{"day": "monday", "start": "12:00", "end": "12:30"}, ...],
     "timeOff": [{"start": "2026-12-24T00:00:00-05:00", "end": "2026-12-27T00:00:00-05:00",
                  "reason": "vacation"}]}

Wall times are the clinic's (its time zone applies) on 5-minute boundaries, because a booking
holds a practitioner's time in 5-minute steps. Every problem is named at once.
"""

from __future__ import annotations

import calendar
import re
from collections.abc import Mapping
from datetime import datetime, time
from typing import Any

from cairn.scheduling.availability import Availability, Break, InvalidAvailability, TimeOff, WorkingHours

DAYS = tuple(name.lower() for name in calendar.day_name)  # monday .. sunday
WALL_TIME = re.compile(r"^([01]\d|2[0-3]):([0-5]\d)$")
MAX_ENTRIES = 200
STEP_MINUTES = 5


def parse_working_week(document: object, zone: str) -> Availability:
    """The Availability `document` describes in `zone`; InvalidAvailability lists what to fix."""
    if not isinstance(document, Mapping):
        raise InvalidAvailability('send a JSON object with "hours", and optionally "breaks" and "timeOff"')
    unknown = sorted(set(document) - {"hours", "breaks", "timeOff"})
    problems: list[str] = [f"unknown field {name!r}: use hours, breaks and timeOff" for name in unknown[:5]]
    hours = [WorkingHours(*entry) for entry in _weekly(document, "hours", problems)]
    breaks = [Break(*entry) for entry in _weekly(document, "breaks", problems)]
    time_off = _time_off(document, problems)
    if problems:
        raise InvalidAvailability("; ".join(problems))
    return Availability(zone, tuple(hours), tuple(breaks), tuple(time_off))


def working_week_document(availability: Availability) -> dict[str, Any]:
    """`availability` as the JSON document parse_working_week reads."""
    return {
        "hours": [_weekly_entry(h.weekday, h.start, h.end) for h in availability.hours],
        "breaks": [_weekly_entry(b.weekday, b.start, b.end) for b in availability.breaks],
        "timeOff": [{"start": off.start.isoformat(), "end": off.end.isoformat(), "reason": off.reason}
                    for off in availability.time_off],
    }


def _weekly_entry(weekday: int, start: time, end: time) -> dict[str, str]:
    return {"day": DAYS[weekday], "start": f"{start:%H:%M}", "end": f"{end:%H:%M}"}


def _entries(document: Mapping[str, Any], name: str, problems: list[str]) -> list[object]:
    value = document.get(name, [])
    if not isinstance(value, list) or len(value) > MAX_ENTRIES:
        problems.append(f"{name} must be a list of at most {MAX_ENTRIES} entries")
        return []
    return value


def _weekly(document: Mapping[str, Any], name: str, problems: list[str]) -> list[tuple[int, time, time]]:
    parsed: list[tuple[int, time, time]] = []
    for index, entry in enumerate(_entries(document, name, problems)):
        where = f"{name}[{index}]"
        if not isinstance(entry, Mapping):
            problems.append(f'{where} must be {{"day": "monday", "start": "09:00", "end": "17:00"}}')
            continue
        day = entry.get("day")
        if day not in DAYS:
            problems.append(f"{where}.day must be one of {', '.join(DAYS)}")
            continue
        start, end = _wall(entry.get("start"), f"{where}.start", problems), \
            _wall(entry.get("end"), f"{where}.end", problems)
        if start is None or end is None:
            continue
        if end <= start:
            problems.append(f"{where}: end must be after start (hours that cross midnight are two entries)")
            continue
        parsed.append((DAYS.index(day), start, end))
    return parsed


def _wall(value: object, where: str, problems: list[str]) -> time | None:
    form = WALL_TIME.match(value) if isinstance(value, str) else None
    if form is None:
        problems.append(f'{where} must be a 24-hour wall time "HH:MM"')
        return None
    hour, minute = int(form.group(1)), int(form.group(2))
    if minute % STEP_MINUTES:
        problems.append(f"{where} must fall on a {STEP_MINUTES}-minute boundary (e.g. 09:00, 12:35)")
        return None
    return time(hour, minute)


def _time_off(document: Mapping[str, Any], problems: list[str]) -> list[TimeOff]:
    stretches: list[TimeOff] = []
    for index, entry in enumerate(_entries(document, "timeOff", problems)):
        where = f"timeOff[{index}]"
        if not isinstance(entry, Mapping):
            problems.append(f"{where} must be an object with start, end (ISO instants) and a reason")
            continue
        start, end = _instant(entry.get("start")), _instant(entry.get("end"))
        if start is None or end is None:
            problems.append(f"{where}: start and end must be ISO 8601 instants with an offset, "
                            "e.g. 2026-12-24T00:00:00-05:00")
            continue
        reason = entry.get("reason", "")
        try:
            stretches.append(TimeOff(start, end, reason if isinstance(reason, str) else ""))
        except InvalidAvailability as invalid:
            problems.append(f"{where}: {invalid}")
    return stretches


def _instant(value: object) -> datetime | None:
    if not isinstance(value, str):
        return None
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    return parsed if parsed.tzinfo is not None else None


__all__ = ["parse_working_week", "working_week_document"]
