"""A patient's results of one test over time, for the chart's and the portal's graphs.

The points come from the record service like any search, so a patient user sees only their own
released results (multitenant.permissions) without this module knowing about release at all.
Cancelled results and results entered in error are left out: they were never true of the patient.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping
from dataclasses import asdict, dataclass
from typing import Any

from cairn.fhir.search import timeline_start
from cairn.labs.matching import search_every_page
from cairn.records.service import RecordService

OBSERVATION = "Observation"
NOT_RESULTS = frozenset({"cancelled", "entered-in-error"})


@dataclass(frozen=True)
class TrendPoint:
    """One result: a number with its unit when it is one, else its text ("positive", "<5")."""

    observation: str
    effective: str | None
    status: str
    value: float | None
    unit: str | None
    comparator: str | None
    text: str | None
    low: float | None
    high: float | None
    range_text: str | None
    interpretation: tuple[str, ...]


@dataclass(frozen=True)
class Trend:
    """The points of one test in clinical-date order; `unit` is the one most points use."""

    code: str
    display: str | None
    unit: str | None
    points: tuple[TrendPoint, ...]

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready, for the portal's charts."""
        return {
            "code": self.code,
            "display": self.display,
            "unit": self.unit,
            "points": [{**asdict(p), "interpretation": list(p.interpretation)} for p in self.points],
        }


def trend(records: RecordService, *, patient_id: str, code: str) -> Trend:
    """The patient's results of `code` ("system|code" or "code") the caller may see, oldest first."""
    found = search_every_page(
        records, OBSERVATION, {"patient": [patient_id], "code": [code], "_sort": ["date"]}
    )
    results = [o for o in found if o.get("status") not in NOT_RESULTS]
    # Stable: equal dates keep the repository's order; undated results go last.
    results.sort(key=_clinical_order)
    points = tuple(_point(o) for o in results)
    units = Counter(p.unit for p in points if p.unit)
    return Trend(
        code=code,
        display=_display(results, code),
        unit=units.most_common(1)[0][0] if units else None,
        points=points,
    )


def _clinical_order(observation: Mapping[str, Any]) -> tuple[bool, str]:
    start = timeline_start(OBSERVATION, observation)
    return start is None, start or ""


def _point(observation: Mapping[str, Any]) -> TrendPoint:
    value, unit, comparator, text = _value(observation)
    low, high, range_text = _range(observation)
    return TrendPoint(
        observation=f"{OBSERVATION}/{observation['id']}",
        effective=_effective(observation),
        status=str(observation.get("status", "unknown")),
        value=value,
        unit=unit,
        comparator=comparator,
        text=text,
        low=low,
        high=high,
        range_text=range_text,
        interpretation=tuple(
            str(coding["code"])
            for concept in observation.get("interpretation") or ()
            for coding in concept.get("coding") or ()
            if coding.get("code")
        ),
    )


def _effective(observation: Mapping[str, Any]) -> str | None:
    for key in ("effectiveDateTime", "effectiveInstant"):
        if isinstance(observation.get(key), str):
            return str(observation[key])
    period = observation.get("effectivePeriod")
    return str(period["start"]) if isinstance(period, Mapping) and period.get("start") else None


def _value(observation: Mapping[str, Any]) -> tuple[float | None, str | None, str | None, str | None]:
    """(number, unit, comparator, text): a quantity or integer is a number; anything else text."""
    quantity = observation.get("valueQuantity")
    if isinstance(quantity, Mapping) and _number(quantity.get("value")) is not None:
        unit = quantity.get("unit") or quantity.get("code")
        return _number(quantity["value"]), unit, quantity.get("comparator"), None
    if _number(observation.get("valueInteger")) is not None:
        return _number(observation["valueInteger"]), None, None, None
    for key in ("valueString", "valueDateTime", "valueTime"):
        if isinstance(observation.get(key), str):
            return None, None, None, str(observation[key])
    if isinstance(observation.get("valueBoolean"), bool):
        return None, None, None, "true" if observation["valueBoolean"] else "false"
    concept = observation.get("valueCodeableConcept")
    return None, None, None, concept_text(concept) if isinstance(concept, Mapping) else None


def _range(observation: Mapping[str, Any]) -> tuple[float | None, float | None, str | None]:
    ranges = observation.get("referenceRange") or ()
    first = ranges[0] if ranges and isinstance(ranges[0], Mapping) else {}
    return _bound(first.get("low")), _bound(first.get("high")), first.get("text")


def _bound(quantity: object) -> float | None:
    return _number(quantity.get("value")) if isinstance(quantity, Mapping) else None


def _number(value: object) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return float(value)


def concept_text(concept: Mapping[str, Any]) -> str | None:
    """What a clinician reads for a code: its text, else the first coding's display or code."""
    if concept.get("text"):
        return str(concept["text"])
    for coding in concept.get("coding") or ():
        label = coding.get("display") or coding.get("code")
        if label:
            return str(label)
    return None


def _display(results: list[dict[str, Any]], code: str) -> str | None:
    """The test's name from the newest result: the coding asked for, else the code's text."""
    system, _, value = code.rpartition("|")
    for observation in reversed(results):
        concept = observation.get("code") or {}
        for coding in concept.get("coding") or ():
            wanted = coding.get("code") == value and (not system or coding.get("system") == system)
            if wanted and coding.get("display"):
                return str(coding["display"])
        if concept.get("text"):
            return str(concept["text"])
    return None
