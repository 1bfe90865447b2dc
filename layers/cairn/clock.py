"""Time, injectable: services take a `Clock` so tests can fix the instant."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime

Clock = Callable[[], datetime]


def utc_now() -> datetime:
    return datetime.now(UTC)


def fhir_instant(moment: datetime) -> str:
    """A FHIR instant in UTC with milliseconds, e.g. "2026-11-22T10:15:30.123Z"."""
    return moment.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")
