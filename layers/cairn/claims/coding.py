"""The coding of an encounter, as the physician or the biller sends it: its diagnoses (ICD-10-CM),
the services rendered (codes of the clinic's fee schedule: Cairn ships no CPT), and where.

    {"diagnoses": ["E11.9", "I10"],
     "services": [{"code": "99213", "modifiers": ["25"], "units": 1, "diagnoses": [1, 2]}],
     "place_of_service": "11"}

`parse_coding` refuses a coding with every problem named by its element, so it is fixed in one
pass; a service's "diagnoses" are 1-based positions in the diagnoses list (the 837P's pointers).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from cairn.billing.fee_schedule import FeeSchedule
from cairn.claims.icd10 import Icd10Codes, dotted
from cairn.errors import MalformedRequest

MAX_DIAGNOSES = 12  # HI segment of the 837P
MAX_POINTERS = 4  # SV107
MAX_MODIFIERS = 4  # SV101-3 to -6
MAX_SERVICES = 50  # loop 2400
MAX_UNITS = 99
MODIFIER = re.compile(r"^[A-Z0-9]{2}$")
DEFAULT_PLACE_OF_SERVICE = "11"
# CMS place of service codes (https://www.cms.gov/medicare/coding-billing/place-of-service-codes).
PLACES_OF_SERVICE: Mapping[str, str] = {
    "01": "Pharmacy",
    "02": "Telehealth Provided Other than in Patient's Home",
    "03": "School",
    "04": "Homeless Shelter",
    "05": "Indian Health Service Free-standing Facility",
    "06": "Indian Health Service Provider-based Facility",
    "07": "Tribal 638 Free-standing Facility",
    "08": "Tribal 638 Provider-based Facility",
    "09": "Prison/Correctional Facility",
    "10": "Telehealth Provided in Patient's Home",
    "11": "Office",
    "12": "Home",
    "13": "Assisted Living Facility",
    "14": "Group Home",
    "15": "Mobile Unit",
    "16": "Temporary Lodging",
    "17": "Walk-in Retail Health Clinic",
    "18": "Place of Employment-Worksite",
    "19": "Off Campus-Outpatient Hospital",
    "20": "Urgent Care Facility",
    "21": "Inpatient Hospital",
    "22": "On Campus-Outpatient Hospital",
    "23": "Emergency Room - Hospital",
    "24": "Ambulatory Surgical Center",
    "25": "Birthing Center",
    "26": "Military Treatment Facility",
    "27": "Outreach Site/Street",
    "31": "Skilled Nursing Facility",
    "32": "Nursing Facility",
    "33": "Custodial Care Facility",
    "34": "Hospice",
    "41": "Ambulance - Land",
    "42": "Ambulance - Air or Water",
    "49": "Independent Clinic",
    "50": "Federally Qualified Health Center",
    "51": "Inpatient Psychiatric Facility",
    "52": "Psychiatric Facility-Partial Hospitalization",
    "53": "Community Mental Health Center",
    "54": "Intermediate Care Facility/Individuals with Intellectual Disabilities",
    "55": "Residential Substance Abuse Treatment Facility",
    "56": "Psychiatric Residential Treatment Center",
    "57": "Non-residential Substance Abuse Treatment Facility",
    "58": "Non-residential Opioid Treatment Facility",
    "60": "Mass Immunization Center",
    "61": "Comprehensive Inpatient Rehabilitation Facility",
    "62": "Comprehensive Outpatient Rehabilitation Facility",
    "65": "End-Stage Renal Disease Treatment Facility",
    "66": "Programs of All-Inclusive Care for the Elderly (PACE) Center",
    "71": "State or Local Public Health Clinic",
    "72": "Rural Health Clinic",
    "81": "Independent Laboratory",
    "99": "Other Place of Service",
}


@dataclass(frozen=True)
class CodedService:
    """One service rendered: a fee schedule code, its modifiers, units and diagnosis pointers."""

    code: str
    diagnoses: tuple[int, ...] = (1,)  # 1-based positions in EncounterCoding.diagnoses
    units: int = 1
    modifiers: tuple[str, ...] = ()

    def as_dict(self) -> dict[str, Any]:
        return {
            "code": self.code,
            "modifiers": list(self.modifiers),
            "units": self.units,
            "diagnoses": list(self.diagnoses),
        }


@dataclass(frozen=True)
class EncounterCoding:
    """An encounter's diagnoses (ICD-10-CM as FHIR writes them, principal first) and services."""

    diagnoses: tuple[str, ...]
    services: tuple[CodedService, ...]
    place_of_service: str = DEFAULT_PLACE_OF_SERVICE

    def as_dict(self) -> dict[str, Any]:
        return {
            "diagnoses": list(self.diagnoses),
            "services": [service.as_dict() for service in self.services],
            "place_of_service": self.place_of_service,
        }


EXAMPLE = (
    '{"diagnoses": ["E11.9"], "services": [{"code": "99213", "modifiers": [], "units": 1, '
    '"diagnoses": [1]}], "place_of_service": "11"}'
)


def parse_coding(raw: object, icd10: Icd10Codes, fees: FeeSchedule) -> EncounterCoding:
    """The coding in `raw`; MalformedRequest naming every problem by its element."""
    if not isinstance(raw, Mapping):
        raise MalformedRequest(f"send the coding as a JSON object: {EXAMPLE}")
    problems: list[str] = []
    diagnoses = _diagnoses(raw.get("diagnoses"), icd10, problems)
    # With no usable diagnoses list, pointers cannot be checked against it: that one problem is named.
    services = _services(raw.get("services"), len(diagnoses) or None, fees, problems)
    place = raw.get("place_of_service", DEFAULT_PLACE_OF_SERVICE)
    if not isinstance(place, str) or place not in PLACES_OF_SERVICE:
        problems.append("place_of_service must be a CMS place of service code: two digits, e.g. 11 office")
    if problems:
        raise MalformedRequest("; ".join(problems))
    return EncounterCoding(tuple(diagnoses), tuple(services), str(place))


def _diagnoses(raw: object, icd10: Icd10Codes, problems: list[str]) -> list[str]:
    """The diagnoses as sent (normalized), so pointers count them even where one is wrong."""
    if not isinstance(raw, list) or not 1 <= len(raw) <= MAX_DIAGNOSES:
        problems.append(f"diagnoses must be a list of 1 to {MAX_DIAGNOSES} ICD-10-CM codes, principal first")
        return list(raw) if isinstance(raw, list) else []
    codes: list[str] = []
    for index, code in enumerate(raw):
        where = f"diagnoses[{index}]"
        if not isinstance(code, str):
            problems.append(f"{where} must be an ICD-10-CM code as text, e.g. E11.9")
            codes.append("")
            continue
        normalized = dotted(code)
        problem = icd10.problem(normalized)
        if problem is not None:
            problems.append(f"{where}: {problem}")
        elif normalized in codes:
            problems.append(f"{where} repeats diagnoses[{codes.index(normalized)}]: list each diagnosis once")
        codes.append(normalized)
    return codes


def _services(
    raw: object, diagnoses: int | None, fees: FeeSchedule, problems: list[str]
) -> list[CodedService]:
    if not isinstance(raw, list) or not 1 <= len(raw) <= MAX_SERVICES:
        problems.append(
            f'services must be a list of 1 to {MAX_SERVICES} {{"code", "units", "diagnoses"}} objects'
        )
        return []
    services = []
    for index, entry in enumerate(raw):
        where = f"services[{index}]"
        if not isinstance(entry, Mapping):
            problems.append(f'{where} must be an object with "code", "modifiers", "units" and "diagnoses"')
            continue
        before = len(problems)
        code = entry.get("code")
        if not isinstance(code, str) or fees.fee(code.strip()) is None:
            known = ", ".join(fee.code for fee in fees.fees[:20]) or "none yet: an admin enters them first"
            problems.append(f"{where}.code must be a code of the clinic's fee schedule (it has {known})")
        units = entry.get("units", 1)
        if isinstance(units, bool) or not isinstance(units, int) or not 1 <= units <= MAX_UNITS:
            problems.append(f"{where}.units must be a whole number from 1 to {MAX_UNITS}")
        modifiers = _modifiers(entry.get("modifiers", []), where, problems)
        pointers = _pointers(entry.get("diagnoses", [1]), diagnoses, where, problems)
        if len(problems) == before:
            services.append(CodedService(str(code).strip(), pointers, int(units), modifiers))
    return services


def _modifiers(raw: object, where: str, problems: list[str]) -> tuple[str, ...]:
    if not isinstance(raw, list) or len(raw) > MAX_MODIFIERS:
        problems.append(f"{where}.modifiers must be a list of up to {MAX_MODIFIERS} modifiers")
        return ()
    modifiers: list[str] = []
    for index, modifier in enumerate(raw):
        text = modifier.strip().upper() if isinstance(modifier, str) else ""
        if not MODIFIER.match(text):
            problems.append(f"{where}.modifiers[{index}] must be two letters or digits, e.g. 25")
        elif text in modifiers:
            problems.append(f"{where}.modifiers[{index}] repeats modifiers[{modifiers.index(text)}]")
        modifiers.append(text)
    return tuple(modifiers)


def _pointers(raw: object, diagnoses: int | None, where: str, problems: list[str]) -> tuple[int, ...]:
    if not isinstance(raw, list) or not 1 <= len(raw) <= MAX_POINTERS:
        problems.append(
            f"{where}.diagnoses must be a list of 1 to {MAX_POINTERS} positions in diagnoses (1 is the first)"
        )
        return ()
    pointers: list[int] = []
    for index, pointer in enumerate(raw):
        at = f"{where}.diagnoses[{index}]"
        if isinstance(pointer, bool) or not isinstance(pointer, int) or pointer < 1:
            problems.append(f"{at} must be a position in diagnoses: 1 for the first")
        elif diagnoses is not None and pointer > diagnoses:
            problems.append(f"{at} points at diagnosis {pointer}; the claim has {diagnoses}")
        elif pointer in pointers:
            problems.append(f"{at} repeats diagnosis {pointer}")
        pointers.append(pointer if isinstance(pointer, int) else 0)
    return tuple(pointers)


__all__ = ["PLACES_OF_SERVICE", "CodedService", "EncounterCoding", "parse_coding"]
