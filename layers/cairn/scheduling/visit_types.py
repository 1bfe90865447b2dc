"""The kinds of visit a clinic books, each with its length, as a FHIR CodeSystem's codes.

The length decides how many slots a day holds; `patient_bookable` is the default for whether
patients may book the type themselves (a clinic narrows or widens that in its self-booking
settings, cairn.scheduling.rules), since some visits (urgent care, chronic care planning) need
staff to triage or prepare them first.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

VISIT_TYPE_SYSTEM = "https://cairn.health/fhir/CodeSystem/visit-type"
CODE_PATTERN = re.compile(r"^[a-z0-9]+(-[a-z0-9]+)*$")
MAX_VISIT_MINUTES = 240  # half a day: longer is not one visit, and a booking holds its time in 5-minute steps


class UnknownVisitType(ValueError):
    """A visit type code the clinic does not offer."""

    def __init__(self, known: Sequence[str]) -> None:
        super().__init__(f"unknown visit type; use one of: {', '.join(known)}")


@dataclass(frozen=True)
class VisitType:
    """One kind of visit: its code in VISIT_TYPE_SYSTEM, its display text and its length."""

    code: str
    display: str
    minutes: int
    patient_bookable: bool
    telehealth: bool

    def __post_init__(self) -> None:
        if not CODE_PATTERN.match(self.code):
            raise ValueError("a visit type code must be lowercase letters and digits joined by '-'")
        if not 1 <= self.minutes <= MAX_VISIT_MINUTES:
            raise ValueError(f"a visit lasts from 1 to {MAX_VISIT_MINUTES} minutes")


DEFAULT_VISIT_TYPES: tuple[VisitType, ...] = (
    VisitType("urgent", "Urgent visit", 15, patient_bookable=False, telehealth=False),
    VisitType("new-symptom", "New symptom visit", 20, patient_bookable=True, telehealth=False),
    VisitType("annual-wellness", "Annual wellness visit", 40, patient_bookable=True, telehealth=False),
    VisitType("follow-up", "Follow-up visit", 20, patient_bookable=True, telehealth=False),
    VisitType("chronic-care", "Chronic care visit", 30, patient_bookable=False, telehealth=False),
    VisitType("telehealth", "Telehealth visit", 20, patient_bookable=True, telehealth=True),
)


def visit_type(code: str, types: Sequence[VisitType] = DEFAULT_VISIT_TYPES) -> VisitType:
    """The visit type `code` names among `types`; UnknownVisitType lists the codes there are."""
    for candidate in types:
        if candidate.code == code:
            return candidate
    raise UnknownVisitType([known.code for known in types])


__all__ = [
    "DEFAULT_VISIT_TYPES", "VISIT_TYPE_SYSTEM", "UnknownVisitType", "VisitType", "visit_type",
]
