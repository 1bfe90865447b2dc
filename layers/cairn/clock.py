"""Time, injectable: services take a `Clock` so tests can fix the instant.

`utc_now` is real time. The embedded runtime alone (devkit/clock.py) may shift it with
`follow_virtual_clock`, so that its workflows and functions share one virtual clock that tests
and `cairn clock` advance; nothing deployed calls that hook, so on Lambda `utc_now` is the
system clock.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta

Clock = Callable[[], datetime]

_shift: Callable[[], timedelta] | None = None  # set by the embedded runtime only


def utc_now() -> datetime:
    """Now, in UTC (shifted by the embedded runtime's virtual clock where it runs)."""
    now = datetime.now(UTC)
    return now if _shift is None else now + _shift()


def follow_virtual_clock(offset: Callable[[], timedelta] | None) -> None:
    """Shift `utc_now` by what `offset()` answers at each call; None puts real time back.
    For the embedded runtime's virtual clock (devkit/clock.py) only."""
    global _shift
    _shift = offset


def fhir_instant(moment: datetime) -> str:
    """A FHIR instant in UTC with milliseconds, e.g. "2026-11-22T10:15:30.123Z"."""
    return moment.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")
