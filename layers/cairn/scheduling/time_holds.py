"""How a booking holds a practitioner's time: one hold per 5 minutes of the visit, keyed by the
UTC instant the 5 minutes start, in the practitioner's hold partition.

Two visits overlap exactly when they share a 5-minute step (visits start and end on 5-minute
boundaries), so the holds' conditional writes make overlapping bookings of one practitioner
impossible, whichever schedule or location each was booked through. The same holds, read back
over a day, are the busy time a free-slot search leaves out.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime, timedelta

from cairn.errors import InvalidResource
from cairn.fhir.outcome import issue
from cairn.records.repository import Hold
from cairn.scheduling.availability import Interval, merged

STEP = timedelta(minutes=5)
KEY_FORMAT = "%Y-%m-%dT%H:%MZ"


def scope(practitioner_id: str) -> str:
    """The hold partition of one practitioner's time."""
    return f"practitioner#{practitioner_id}"


def step_key(instant: datetime) -> str:
    return instant.astimezone(UTC).strftime(KEY_FORMAT)


def steps(start: datetime, end: datetime) -> list[str]:
    """The keys of the 5-minute steps [start, end) covers; start and end lie on 5-minute
    boundaries (require_on_step)."""
    keys: list[str] = []
    moment = start.astimezone(UTC)
    while moment < end:
        keys.append(step_key(moment))
        moment += STEP
    return keys


def require_on_step(start: datetime, minutes: int, element: str) -> None:
    """Refuse a visit that does not start and last whole 5-minute steps."""
    if start.second or start.microsecond or start.minute % 5 or minutes % 5:
        raise InvalidResource(
            [
                issue(
                    "business-rule",
                    "visits start on a 5-minute boundary and last a multiple of 5 minutes",
                    element,
                )
            ]
        )


def takes(practitioner_id: str, keys: list[str], holder: str) -> list[Hold]:
    return [Hold(scope(practitioner_id), key, holder) for key in keys]


def releases(practitioner_id: str, keys: list[str], holder: str) -> list[Hold]:
    return [Hold(scope(practitioner_id), key, holder, take=False) for key in keys]


def busy(held: Mapping[str, str], *, except_holder: str | None = None) -> list[Interval]:
    """The held time as merged UTC intervals, leaving out `except_holder`'s own (a visit being
    moved does not collide with itself)."""
    spans = []
    for key, holder in held.items():
        if holder == except_holder:
            continue
        start = datetime.strptime(key, KEY_FORMAT).replace(tzinfo=UTC)
        spans.append((start, start + STEP))
    return merged(spans)


def window(start: datetime, end: datetime) -> tuple[str, str]:
    """The key range [lower, upper) of the holds between two instants."""
    return step_key(start), step_key(end)


__all__ = ["busy", "releases", "require_on_step", "scope", "steps", "takes", "window"]
