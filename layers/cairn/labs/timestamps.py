"""HL7 v2 dates and times (DT, DTM, TS) to FHIR date, dateTime and instant, and back.

HL7 writes `YYYY[MM[DD[HH[MM[SS[.S+]]]]]][+/-ZZZZ]`; FHIR needs separators, seconds once a time
is given, and a UTC offset with every time. A time the lab sent without an offset is read in
`zone` when the caller knows the lab's zone; otherwise only its date is kept (a guessed offset
would move a collection time by hours).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, datetime, timedelta, tzinfo

_HL7_TIME = re.compile(
    r"(?P<year>\d{4})(?P<month>\d{2})?(?P<day>\d{2})?"
    r"(?P<hour>\d{2})?(?P<minute>\d{2})?(?P<second>\d{2})?(?:\.(?P<fraction>\d{1,4}))?"
    r"(?P<offset>[+-]\d{4})?"
)
_FHIR_TIME = re.compile(
    r"(?P<year>\d{4})(?:-(?P<month>\d{2})(?:-(?P<day>\d{2})"
    r"(?:T(?P<hour>\d{2}):(?P<minute>\d{2})(?::(?P<second>\d{2})(?:\.\d+)?)?"
    r"(?P<offset>Z|[+-]\d{2}:\d{2})?)?)?)?"
)


@dataclass(frozen=True)
class FhirTime:
    """An HL7 time read for FHIR: `value` is a FHIR date or dateTime; `has_time` says whether a
    time of day survived (a FHIR instant needs one); `lost_time` that the lab sent a time Cairn
    could not place in a zone, so only the date is kept."""

    value: str
    has_time: bool = False
    lost_time: bool = False


def read_hl7_time(text: str, zone: tzinfo | None = None) -> FhirTime | None:
    """The FHIR form of an HL7 DT/DTM/TS value; None when it is empty or not a real date."""
    found = _HL7_TIME.fullmatch(text.strip())
    if found is None:
        return None
    parts = found.groupdict()
    year = int(parts["year"])
    month = int(parts["month"] or 1)
    day = int(parts["day"] or 1)
    try:
        date(year, month, day)
    except ValueError:
        return None
    day_text = "-".join(p for p in (parts["year"], parts["month"], parts["day"]) if p)
    if parts["hour"] is None or parts["day"] is None:
        return FhirTime(day_text)
    hour, minute, second = int(parts["hour"]), int(parts["minute"] or 0), int(parts["second"] or 0)
    if hour > 23 or minute > 59 or second > 59:
        return None
    offset = _offset(parts["offset"]) if parts["offset"] else _zone_offset(zone, year, month, day, hour)
    if offset is None:
        return FhirTime(day_text, lost_time=True)
    fraction = f".{parts['fraction']}" if parts["fraction"] else ""
    return FhirTime(f"{day_text}T{hour:02d}:{minute:02d}:{second:02d}{fraction}{offset}", has_time=True)


def fhir_date(text: str) -> str | None:
    """An HL7 DT/TS as a FHIR date (the time of day dropped), as for a birth date."""
    read = read_hl7_time(text[:8])
    return read.value if read else None


def hl7_time(moment: datetime) -> str:
    """A timezone-aware datetime as an HL7 DTM to the second, with its UTC offset."""
    if moment.tzinfo is None:
        raise ValueError("an HL7 time needs a timezone-aware datetime")
    return moment.strftime("%Y%m%d%H%M%S%z")


def hl7_time_from_fhir(value: str) -> str:
    """A FHIR date or dateTime as an HL7 DT/DTM at the same precision; "" when unreadable."""
    found = _FHIR_TIME.fullmatch(value.strip())
    if found is None:
        return ""
    parts = found.groupdict()
    digits = "".join(parts[name] or "" for name in ("year", "month", "day", "hour", "minute", "second"))
    offset = parts["offset"]
    if offset is None or parts["hour"] is None:
        return digits
    return digits + ("+0000" if offset == "Z" else offset.replace(":", ""))


def _offset(hl7_offset: str) -> str | None:
    hours, minutes = int(hl7_offset[1:3]), int(hl7_offset[3:5])
    if hours > 14 or minutes > 59:
        return None
    return f"{hl7_offset[0]}{hours:02d}:{minutes:02d}"


def _zone_offset(zone: tzinfo | None, year: int, month: int, day: int, hour: int) -> str | None:
    if zone is None:
        return None
    delta = datetime(year, month, day, hour, tzinfo=zone).utcoffset() or timedelta(0)
    sign = "-" if delta < timedelta(0) else "+"
    minutes = abs(int(delta.total_seconds())) // 60
    return f"{sign}{minutes // 60:02d}:{minutes % 60:02d}"

