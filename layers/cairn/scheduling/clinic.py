"""A clinic's scheduling settings in one typed value: its time zone, visit types, self-booking
rules and reminder policy, read from the clinic's settings item (multitenant.provisioning).

Absent settings take their defaults; present but wrong ones are refused with every problem
named (InvalidClinicSchedule), so an admin fixes them in one pass.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from cairn.scheduling.reminders import InvalidReminderPolicy, ReminderPolicy
from cairn.scheduling.rules import InvalidSelfBookingRules, SelfBookingRules
from cairn.scheduling.visit_types import CODE_PATTERN, DEFAULT_VISIT_TYPES, MAX_VISIT_MINUTES, VisitType

TIME_ZONE = "time_zone"
VISIT_TYPES = "visit_types"
DEFAULT_TIME_ZONE = "UTC"
MAX_VISIT_TYPES = 40
SCHEDULING_SETTINGS = (
    TIME_ZONE, VISIT_TYPES, "self_booking_lead_minutes", "self_booking_horizon_days",
    "self_booking_visit_types", "reminder_offsets_hours", "reminder_quiet_hours",
    "reminder_minimum_notice_minutes",
)


class InvalidClinicSchedule(ValueError):
    """The clinic's scheduling settings cannot be used; the message lists what to fix."""

    def __init__(self, problems: Sequence[str]) -> None:
        self.problems = tuple(problems)
        super().__init__("; ".join(problems))


@dataclass(frozen=True)
class ClinicSchedule:
    """How one clinic books: its IANA time zone, the visit types it offers, what its patients may
    book themselves, and when reminders go out."""

    zone: str
    visit_types: tuple[VisitType, ...]
    self_booking: SelfBookingRules
    reminders: ReminderPolicy

    @classmethod
    def parse(cls, settings: Mapping[str, Any]) -> ClinicSchedule:
        problems: list[str] = []
        zone = _zone(settings, problems)
        types = _visit_types(settings, problems)
        try:
            rules = SelfBookingRules.parse(settings, types)
        except InvalidSelfBookingRules as invalid:
            problems.append(str(invalid))
            rules = SelfBookingRules.parse({}, DEFAULT_VISIT_TYPES)
        try:
            policy = ReminderPolicy.parse(settings)
        except InvalidReminderPolicy as invalid:
            problems.append(str(invalid))
            policy = ReminderPolicy()
        if problems:
            raise InvalidClinicSchedule(problems)
        return cls(zone, types, rules, policy)

    @property
    def tz(self) -> ZoneInfo:
        return ZoneInfo(self.zone)


def _zone(settings: Mapping[str, Any], problems: list[str]) -> str:
    value: object = settings.get(TIME_ZONE, DEFAULT_TIME_ZONE)
    try:
        if not isinstance(value, str) or not value:
            raise ValueError
        ZoneInfo(value)
    except (ZoneInfoNotFoundError, ValueError):
        problems.append(f"{TIME_ZONE} must be an IANA zone name such as America/New_York")
        return DEFAULT_TIME_ZONE
    return value


def _visit_types(settings: Mapping[str, Any], problems: list[str]) -> tuple[VisitType, ...]:
    if VISIT_TYPES not in settings:
        return DEFAULT_VISIT_TYPES
    value: object = settings[VISIT_TYPES]
    if not isinstance(value, list) or not 1 <= len(value) <= MAX_VISIT_TYPES:
        problems.append(f"{VISIT_TYPES} must be a list of 1 to {MAX_VISIT_TYPES} visit types")
        return DEFAULT_VISIT_TYPES
    types: list[VisitType] = []
    for index, entry in enumerate(value):
        where = f"{VISIT_TYPES}[{index}]"
        if not isinstance(entry, dict):
            problems.append(f'{where} must be an object with "code", "display" and "minutes"')
            continue
        code, display, minutes = entry.get("code"), entry.get("display"), entry.get("minutes")
        if not isinstance(code, str) or not CODE_PATTERN.match(code):
            problems.append(f"{where}.code must be lowercase letters and digits joined by '-'")
            continue
        if not isinstance(display, str) or not 1 <= len(display.strip()) <= 80:
            problems.append(f"{where}.display must be a name of 1 to 80 characters")
            continue
        if isinstance(minutes, bool) or not isinstance(minutes, int) \
                or not 5 <= minutes <= MAX_VISIT_MINUTES or minutes % 5:
            problems.append(f"{where}.minutes must be a multiple of 5 from 5 to {MAX_VISIT_MINUTES}")
            continue
        types.append(VisitType(code, display.strip(), minutes,
                               patient_bookable=entry.get("patientBookable") is True,
                               telehealth=entry.get("telehealth") is True))
    codes = [t.code for t in types]
    if len(set(codes)) != len(codes):
        problems.append(f"{VISIT_TYPES}: each code may appear once")
    return tuple(types) or DEFAULT_VISIT_TYPES


__all__ = ["SCHEDULING_SETTINGS", "ClinicSchedule", "InvalidClinicSchedule"]
