"""A clinic's rules for patients booking their own visits, read from the clinic's settings.

Patients book only the visit types the clinic lists, no sooner than the lead time (so staff can
prepare, and a slot does not vanish while a receptionist is offering it) and no further ahead
than the horizon (so a practitioner's future schedule stays open to change). Settings that are
absent take the defaults; settings that are present but wrong are refused with every problem
named, so an admin fixes them in one pass.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from cairn.scheduling.visit_types import DEFAULT_VISIT_TYPES, VisitType

LEAD_MINUTES = "self_booking_lead_minutes"
HORIZON_DAYS = "self_booking_horizon_days"
VISIT_TYPES = "self_booking_visit_types"
DEFAULT_LEAD_MINUTES = 120
DEFAULT_HORIZON_DAYS = 60
MAX_LEAD_MINUTES = 14 * 24 * 60  # two weeks' notice; more is no longer self-booking
MAX_HORIZON_DAYS = 365


class InvalidSelfBookingRules(ValueError):
    """The clinic's self-booking settings cannot be used; the message lists what to fix."""

    def __init__(self, problems: Sequence[str]) -> None:
        super().__init__("; ".join(problems))


@dataclass(frozen=True)
class SelfBookingRules:
    """How soon, how far ahead and which visit types a clinic's patients may book themselves."""

    lead_minutes: int
    horizon_days: int
    visit_types: frozenset[str]

    @classmethod
    def parse(cls, settings: Mapping[str, Any], types: Sequence[VisitType] = DEFAULT_VISIT_TYPES,
              ) -> SelfBookingRules:
        """The rules in `settings`; a missing setting takes its default (the visit types default to
        those of `types` marked patient_bookable; an empty list turns self-booking off)."""
        problems: list[str] = []
        lead = _whole_number(settings, LEAD_MINUTES, DEFAULT_LEAD_MINUTES, 0, MAX_LEAD_MINUTES, problems)
        horizon = _whole_number(settings, HORIZON_DAYS, DEFAULT_HORIZON_DAYS, 1, MAX_HORIZON_DAYS, problems)
        codes = _visit_type_codes(settings, types, problems)
        if not problems and lead >= horizon * 24 * 60:
            problems.append(f"{LEAD_MINUTES} must be shorter than {HORIZON_DAYS}, or nothing is bookable")
        if problems:
            raise InvalidSelfBookingRules(problems)
        return cls(lead, horizon, codes)

    def allows(self, code: str) -> bool:
        """Whether patients may book the visit type `code` themselves."""
        return code in self.visit_types


def _whole_number(settings: Mapping[str, Any], key: str, default: int, low: int, high: int,
                  problems: list[str]) -> int:
    value: object = settings.get(key, default)
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        problems.append(f"{key} must be a whole number from {low} to {high}")
        return default
    return value


def _visit_type_codes(settings: Mapping[str, Any], types: Sequence[VisitType],
                      problems: list[str]) -> frozenset[str]:
    if VISIT_TYPES not in settings:
        return frozenset(t.code for t in types if t.patient_bookable)
    value: object = settings[VISIT_TYPES]
    if isinstance(value, str) or not isinstance(value, list | tuple) or not all(
            isinstance(code, str) for code in value):
        problems.append(f"{VISIT_TYPES} must be a list of visit type codes")
        return frozenset()
    known = [t.code for t in types]
    if any(code not in known for code in value):
        problems.append(f"{VISIT_TYPES} may name only these visit types: {', '.join(known)}")
    return frozenset(value)


__all__ = ["InvalidSelfBookingRules", "SelfBookingRules"]
