"""What the FHIR API's scheduling requests ask, read from the query string or a Parameters body:
a free-slot search, and the parameters of the Appointment operations. Every mistake is named."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta

from cairn.errors import InvalidSearch, MalformedRequest

FREE_SLOT_PARAMETERS = ("schedule", "status", "start", "appointment-type", "service-type", "_count")
DEFAULT_COUNT = 100
MAX_COUNT = 500
OPERATION_PARAMETERS: Mapping[str, tuple[str, ...]] = {
    "$reschedule": ("slot",),
    "$cancel": ("reason",),
    "$confirm": (),
    "$check-in": (),
    "$complete": (),
    "$no-show": (),
}


@dataclass(frozen=True)
class FreeSlotQuery:
    schedule_id: str
    start: datetime | None
    end: datetime | None
    visit_type: str | None
    count: int
    links: list[tuple[str, str]]  # the parameters as asked, for the Bundle's self link


def free_slot_query(params: Mapping[str, Sequence[str]]) -> FreeSlotQuery:
    """Slot?schedule=<id>&status=free, optionally start=ge<date|instant> (and lt/le/gt),
    appointment-type=<visit type code> (or service-type) and _count."""
    unknown = sorted(set(params) - set(FREE_SLOT_PARAMETERS))
    if unknown:
        raise InvalidSearch(
            f"a free-slot search takes {', '.join(FREE_SLOT_PARAMETERS)}; not {unknown[0][:40]!r}"
        )
    schedules = [s.removeprefix("Schedule/") for s in params.get("schedule", []) if s]
    if len(schedules) != 1:
        raise InvalidSearch("name one schedule: Slot?schedule=<Schedule id>&status=free")
    start = end = None
    for value in params.get("start", []):
        prefix, moment = (value[:2], value[2:]) if value[:2] in ("ge", "gt", "le", "lt") else ("ge", value)
        instant = _moment(moment)
        if prefix in ("ge", "gt"):
            start = instant
        else:
            end = instant if prefix == "lt" or len(moment) > 10 else instant + timedelta(days=1)
    visit_types = [*params.get("appointment-type", []), *params.get("service-type", [])]
    codes = [v.rsplit("|", 1)[-1] for v in visit_types if v]
    if len(codes) > 1:
        raise InvalidSearch("search the free slots of one visit type at a time")
    counts = params.get("_count", [str(DEFAULT_COUNT)])
    if not counts[-1].isdigit() or not 1 <= int(counts[-1]) <= MAX_COUNT:
        raise InvalidSearch(f"_count is a number from 1 to {MAX_COUNT}")
    links = [(name, value) for name, values in params.items() for value in values]
    return FreeSlotQuery(schedules[0], start, end, codes[0] if codes else None, int(counts[-1]), links)


def operation_parameters(body: object, operation: str) -> dict[str, str]:
    """The named values of an Appointment operation's Parameters body (no body: none);
    references and strings alike, e.g. {"slot": "Slot/<id>", "reason": "..."}."""
    names = OPERATION_PARAMETERS[operation]
    if body is None:
        return {}
    if not isinstance(body, dict) or body.get("resourceType") != "Parameters":
        raise MalformedRequest(f"the {operation} body is a FHIR Parameters resource (or no body)")
    given: dict[str, str] = {}
    for entry in body.get("parameter") or []:
        name = entry.get("name") if isinstance(entry, dict) else None
        if name not in names or name in given:
            raise MalformedRequest(
                f"{operation} takes the parameters: {', '.join(names) or 'none'}, each once"
            )
        value = (
            (entry.get("valueReference") or {}).get("reference")
            or entry.get("valueString")
            or entry.get("valueCode")
        )
        if not isinstance(value, str) or not value:
            raise MalformedRequest(f"parameter {name} of {operation} needs a valueReference or valueString")
        given[name] = value
    return given


def agenda_day(value: str | None) -> date:
    """The agenda's ?date=YYYY-MM-DD, a local day of the clinic."""
    try:
        return date.fromisoformat(value or "")
    except ValueError:
        raise MalformedRequest("date is the agenda's day as YYYY-MM-DD, e.g. ?date=2026-12-07") from None


def _moment(text: str) -> datetime:
    try:
        moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise InvalidSearch(
            "start is a date (2026-12-07) or an instant with an offset "
            "(2026-12-07T09:00:00-05:00), after ge/gt/le/lt"
        ) from None
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


__all__ = ["FreeSlotQuery", "agenda_day", "free_slot_query", "operation_parameters"]
