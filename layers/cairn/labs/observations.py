"""One OBX (with the NTE segments under it) as a FHIR Observation, and how urgent a set of
Observations is from their abnormal flags.

Warnings name the segment and field, never the value: they end up in the ledger and in ACKs.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Sequence
from datetime import tzinfo
from typing import Any

from cairn.labs.codings import UCUM, concept, is_ucum
from cairn.labs.framing import Repeat, Segment
from cairn.labs.model import MalformedMessage, Severity
from cairn.labs.timestamps import read_hl7_time

OBSERVATION_CATEGORY = "http://terminology.hl7.org/CodeSystem/observation-category"
INTERPRETATION_SYSTEM = "http://terminology.hl7.org/CodeSystem/v3-ObservationInterpretation"
LABORATORY = {"coding": [{"system": OBSERVATION_CATEGORY, "code": "laboratory", "display": "Laboratory"}]}
RESULT_STATUS = {  # HL7 table 0085 -> FHIR observation-status
    "F": "final", "U": "final", "C": "corrected", "A": "amended", "P": "preliminary", "R": "preliminary",
    "S": "preliminary", "I": "registered", "O": "registered", "D": "entered-in-error",
    "W": "entered-in-error", "X": "cancelled", "N": "cancelled",
}
INTERPRETATIONS = {  # HL7 table 0078 codes that are also v3 ObservationInterpretation codes
    "N": "Normal", "A": "Abnormal", "AA": "Critical abnormal", "H": "High", "HH": "Critical high",
    "L": "Low", "LL": "Critical low", "HU": "Significantly high", "LU": "Significantly low",
    "<": "Off scale low", ">": "Off scale high", "I": "Intermediate", "R": "Resistant",
    "S": "Susceptible", "MS": "moderately susceptible", "VS": "very susceptible", "POS": "Positive",
    "NEG": "Negative", "IND": "Indeterminate", "DET": "Detected", "ND": "Not detected", "E": "Equivocal",
    "U": "Significant change up", "D": "Significant change down", "B": "Better", "W": "Worse",
    "AC": "Anti-complementary substances present", "RR": "Reactive", "NR": "Non-reactive",
    "WR": "Weakly reactive", "QCF": "Quality control failure", "TOX": "Cytotoxic substance present",
    "EX": "outside threshold", "HX": "above high threshold", "LX": "below low threshold",
    "IE": "Insufficient evidence", "NS": "Non-susceptible", "SDD": "Susceptible-dose dependent",
}
CRITICAL_FLAGS = frozenset({"HH", "LL", "AA", "HU", "LU", "CRIT", "CRITICAL", "PANIC"})
NORMAL_FLAGS = frozenset({"", "N", "NEG", "ND", "NR", "S", "NORMAL"})
WITHDRAWN = frozenset({"entered-in-error", "cancelled"})
COMPARATORS = frozenset({"<", "<=", ">=", ">"})
TEXT_TYPES = frozenset({"ST", "TX", "FT"})
CODED_TYPES = frozenset({"CE", "CWE", "CNE", "CF"})
TIME_TYPES = frozenset({"DT", "TS", "DTM"})
NO_ZONE = "times sent without a UTC offset are kept as dates (the lab's time zone is not known)"
_NUMBER = r"[+-]?(?:\d+(?:\.\d*)?|\.\d+)"
_COMPARED = re.compile(rf"(<=|>=|<|>)\s*({_NUMBER})")
_RANGE = re.compile(rf"({_NUMBER})\s*(?:-|\u2013|_|to)\s*({_NUMBER})", re.IGNORECASE)


def read_observation(
    obx: Segment, notes: Sequence[Segment], *, position: int, where: str, effective: str | None,
    zone: tzinfo | None, warnings: list[str],
) -> dict[str, Any]:
    """The Observation for one OBX. `where` names the OBX in warnings ("OBX 2 of OBR 1");
    `effective` is the OBR's observation time, used when OBX-14 is empty."""
    status_code = obx.get(11).upper()
    if not status_code:
        raise MalformedMessage(
            f"{where} has no result status (OBX-11); the message may be truncated", "101")
    code = concept(obx.first(3))
    if code is None:
        raise MalformedMessage(f"{where} has no observation identifier (OBX-3)", "101")
    status = RESULT_STATUS.get(status_code)
    if status is None:
        warnings.append(f"{where}: result status (OBX-11) is not in HL7 table 0085; read as unknown")
    observation: dict[str, Any] = {
        "resourceType": "Observation",
        "_sequence": obx.get(1) or str(position),
        "status": status or "unknown",
        "category": [LABORATORY],
        "code": code,
    }
    observed = read_hl7_time(obx.get(14), zone)
    if observed and observed.lost_time:
        warnings.append(NO_ZONE)
    if observed or effective:
        observation["effectiveDateTime"] = observed.value if observed else effective
    unit = obx.first(6)
    value_type = obx.get(2).upper()
    observation.update(_value(value_type, obx.repeats(5), unit, where, zone, warnings))
    numeric = "valueQuantity" in observation or "valueRange" in observation
    interpretation = [_interpretation(flag.get(1).strip()) for flag in obx.repeats(8) if flag.get(1).strip()]
    if interpretation:
        observation["interpretation"] = interpretation
    reference = obx.first(7).get(1).strip()
    if reference:
        observation["referenceRange"] = [_reference_range(reference, unit if numeric else None)]
    annotations = [{"text": text} for text in (note_text(nte) for nte in notes) if text]
    if annotations:
        observation["note"] = annotations
    return observation


def severity(observations: Iterable[dict[str, Any]]) -> Severity:
    """CRITICAL when any standing result carries a critical flag (HH, LL, AA...), ABNORMAL when
    one carries another non-normal flag (H, L, A, <, >...), else NORMAL. Withdrawn results
    (entered in error, cancelled) do not count."""
    flags = {
        flag.upper()
        for observation in observations
        if observation.get("status") not in WITHDRAWN
        for interpretation in observation.get("interpretation", ())
        for flag in _flag_codes(interpretation)
    }
    if flags & CRITICAL_FLAGS:
        return Severity.CRITICAL
    if flags - NORMAL_FLAGS:
        return Severity.ABNORMAL
    return Severity.NORMAL


def note_text(nte: Segment) -> str:
    """NTE-3 as text, its repetitions as lines."""
    return "\n".join(raw_text(line) for line in nte.repeats(3)).strip()


def raw_text(value: Repeat) -> str:
    """A repetition as the text the sender meant: a lab that wrote ^ or & unescaped in free
    text gets them back instead of losing the rest of the text."""
    return "^".join("&".join(component) for component in value.components).rstrip("^&")


def number(text: str) -> int | float | None:
    """A decimal as a JSON number (int when written without a point); None when not a number."""
    text = text.strip()
    if not re.fullmatch(_NUMBER, text):
        return None
    if "." not in text:
        return int(text)
    found = float(text)
    return found if math.isfinite(found) else None


def _value(
    value_type: str, values: tuple[Repeat, ...], unit: Repeat, where: str, zone: tzinfo | None,
    warnings: list[str],
) -> dict[str, Any]:
    if not values:
        return {}
    if value_type in TEXT_TYPES:
        return {"valueString": "\n".join(raw_text(v) for v in values)}
    if len(values) > 1:
        warnings.append(f"{where}: OBX-5 repeats; only its first value is kept")
    first = values[0]
    if value_type == "NM":
        return _numeric(raw_text(first), unit, where, warnings)
    if value_type == "SN":
        return _structured_numeric(first, unit, where, warnings)
    if value_type in CODED_TYPES:
        coded = concept(first)
        return {"valueCodeableConcept": coded} if coded else {}
    if value_type in TIME_TYPES:
        when = read_hl7_time(first.get(1), zone)
        if when and when.lost_time:
            warnings.append(NO_ZONE)
        if when:
            return {"valueDateTime": when.value}
        warnings.append(f"{where}: OBX-5 is not an HL7 date/time; kept as text")
        return {"valueString": raw_text(first)}
    if value_type == "RP":
        return {"valueString": first.get(1)}
    if value_type == "ED":
        warnings.append(f"{where}: encapsulated data (ED) is not stored as a result value")
        return {}
    warnings.append(f"{where}: value type (OBX-2) {value_type[:3] or 'missing'} is kept as text")
    return {"valueString": first.text()}


def _numeric(text: str, unit: Repeat, where: str, warnings: list[str]) -> dict[str, Any]:
    value = number(text)
    if value is not None:
        return {"valueQuantity": _quantity(value, unit)}
    compared = _COMPARED.fullmatch(text.strip())
    if compared:
        quantity = _quantity(_number(compared.group(2)), unit)
        return {"valueQuantity": {**quantity, "comparator": compared.group(1)}}
    warnings.append(f"{where}: NM value is not a number; kept as text")
    return {"valueString": text}


def _structured_numeric(value: Repeat, unit: Repeat, where: str, warnings: list[str]) -> dict[str, Any]:
    comparator, separator = value.get(1).strip(), value.get(3).strip()
    first, second = number(value.get(2)), number(value.get(4))
    if first is not None and not separator and (comparator in COMPARATORS or comparator in ("", "=")):
        quantity = _quantity(first, unit)
        return {"valueQuantity": {**quantity, "comparator": comparator} if comparator in COMPARATORS
                else quantity}
    if first is not None and second is not None and not comparator:
        if separator == "-":
            return {"valueRange": {"low": _quantity(first, unit), "high": _quantity(second, unit)}}
        if separator in (":", "/"):
            return {"valueRatio": {"numerator": {"value": first}, "denominator": {"value": second}}}
    if first is not None and separator == "+" and second is None:
        return {"valueString": f"{value.get(2).strip()}+"}
    warnings.append(f"{where}: SN value has a form Cairn does not map; kept as text")
    return {"valueString": "".join(value.get(n).strip() for n in (1, 2, 3, 4))}


def _quantity(value: int | float, unit: Repeat) -> dict[str, Any]:
    code, text, system = unit.get(1).strip(), unit.get(2).strip(), unit.get(3).strip()
    quantity: dict[str, Any] = {"value": value}
    if code and (system.upper() == "UCUM" or is_ucum(code)):
        quantity.update(unit=code, system=UCUM, code=code)
    elif code or text:
        quantity["unit"] = code or text
    return quantity


def _reference_range(text: str, unit: Repeat | None) -> dict[str, Any]:
    """OBX-7 as a referenceRange: bounds when it reads as "a-b", "a to b", "<b" or ">a" on a
    numeric result, always with the lab's text."""
    found: dict[str, Any] = {}
    if unit is not None:
        bounded = _RANGE.fullmatch(text.strip())
        compared = _COMPARED.fullmatch(text.strip())
        if bounded:
            found["low"] = _quantity(_number(bounded.group(1)), unit)
            found["high"] = _quantity(_number(bounded.group(2)), unit)
        elif compared:
            side = "high" if compared.group(1).startswith("<") else "low"
            found[side] = _quantity(_number(compared.group(2)), unit)
    found["text"] = text
    return found


def _interpretation(flag: str) -> dict[str, Any]:
    code = flag.upper()
    if code in INTERPRETATIONS:
        return {"coding": [{"system": INTERPRETATION_SYSTEM, "code": code, "display": INTERPRETATIONS[code]}]}
    return {"text": flag}


def _flag_codes(interpretation: dict[str, Any]) -> list[str]:
    codes = [str(c.get("code", "")) for c in interpretation.get("coding", ())]
    return codes or [str(interpretation.get("text", ""))]


def _number(text: str) -> int | float:
    found = number(text)
    if found is None:
        raise ValueError("not a number")
    return found

