"""HL7 v2 coded values (CE, CWE, CNE) as FHIR CodeableConcepts, coding-system names (HL7 table
0396) as FHIR system URIs and back, and whether a unit is a UCUM code.

A coding system Cairn has no URI for is kept as a coding without a system (with its code and
text), not given an invented URI: the code stays searchable and nothing claims a meaning it has
not got.
"""

from __future__ import annotations

import re
from typing import Any

from cairn.labs.framing import Repeat

LOINC = "http://loinc.org"
SNOMED = "http://snomed.info/sct"
UCUM = "http://unitsofmeasure.org"
V2_TABLE = "http://terminology.hl7.org/CodeSystem/v2-"
SYSTEM_URIS = {
    "LN": LOINC,
    "LOINC": LOINC,
    "SCT": SNOMED,
    "SNM": SNOMED,
    "UCUM": UCUM,
    "I10": "http://hl7.org/fhir/sid/icd-10",
    "I10C": "http://hl7.org/fhir/sid/icd-10-cm",
    "I9": "http://hl7.org/fhir/sid/icd-9-cm",
    "I9C": "http://hl7.org/fhir/sid/icd-9-cm",
    "C4": "http://www.ama-assn.org/go/cpt",
    "CPT": "http://www.ama-assn.org/go/cpt",
    "NDC": "http://hl7.org/fhir/sid/ndc",
    "CVX": "http://hl7.org/fhir/sid/cvx",
    "RXNORM": "http://www.nlm.nih.gov/research/umls/rxnorm",
    "CDCREC": "urn:oid:2.16.840.1.113883.6.238",
}
HL7_NAMES = {LOINC: "LN", SNOMED: "SCT", UCUM: "UCUM", "http://hl7.org/fhir/sid/icd-10-cm": "I10C",
             "http://hl7.org/fhir/sid/icd-10": "I10", "http://hl7.org/fhir/sid/icd-9-cm": "I9C",
             "http://www.ama-assn.org/go/cpt": "C4"}
_HL7_TABLE = re.compile(r"HL7\s?(\d{4})")
_OID = re.compile(r"[0-2](?:\.\d+)+")

_PREFIXES = "da|Y|Z|E|P|T|G|M|k|h|d|c|m|u|n|p|f|a|z|y"
_ATOMS = sorted((
    "g", "m", "l", "L", "s", "min", "h", "d", "wk", "mo", "a", "mol", "eq", "osm", "kat", "U", "[IU]",
    "[iU]", "Cel", "[degF]", "K", "Pa", "m[Hg]", "m[H2O]", "bar", "atm", "[ppm]", "[ppb]", "[ppth]",
    "[pH]", "[arb'U]", "[HPF]", "[LPF]", "[drp]", "[in_i]", "[ft_i]", "[lb_av]", "[oz_av]", "Ohm",
    "V", "A", "J", "cal", "W", "Hz", "Bq", "Ci", "Gy", "Sv", "cd", "lm", "lx", "B", "deg", "rad",
    "sr", "t", "ar", "[sft_i]", "[sin_i]", "[CFU]", "[AU]", "[beth'U]", "[GPL'U]", "[MPL'U]",
), key=len, reverse=True)
_UNIT = (
    r"(?:(?:(?:" + _PREFIXES + r")?(?:" + "|".join(re.escape(a) for a in _ATOMS) + r"))-?\d*"
    r"|10[*^][-+]?\d+|\d+|%)(?:\{[^{}]*\})?|\{[^{}]*\}"
)
_UCUM_TERM = re.compile(rf"/?(?:{_UNIT})(?:[./](?:{_UNIT}))*")


def system_uri(name: str) -> str | None:
    """The FHIR system URI for an HL7 coding-system name (LN, SCT, HL70078, an OID...)."""
    name = name.strip()
    if name.upper() in SYSTEM_URIS:
        return SYSTEM_URIS[name.upper()]
    table = _HL7_TABLE.fullmatch(name.upper())
    if table:
        return V2_TABLE + table.group(1)
    if _OID.fullmatch(name):
        return f"urn:oid:{name}"
    return None


def hl7_system_name(uri: str) -> str:
    """The HL7 coding-system name for a FHIR system URI; "L" (local) when HL7 has none."""
    if uri in HL7_NAMES:
        return HL7_NAMES[uri]
    if uri.startswith(V2_TABLE):
        return "HL7" + uri.removeprefix(V2_TABLE)
    return "L"


def coding(code: str, display: str, system_name: str, *, default_system: str | None = None) -> dict[str, str]:
    """One FHIR Coding; `default_system` applies when the lab named no system at all."""
    system = system_uri(system_name) if system_name else default_system
    found = {"system": system or "", "code": code, "display": display}
    return {key: value for key, value in found.items() if value}


def concept(value: Repeat, *, default_system: str | None = None) -> dict[str, Any] | None:
    """A CE/CWE/CNE as a CodeableConcept: the identifier and the alternate identifier as codings,
    the original text (CWE-9) or first text as its text. None when the value is empty.
    `default_system` is the table the field is bound to, for a first code sent without a system."""
    codings = [
        coding(value.get(code).strip(), value.get(text).strip(), value.get(system).strip(),
               default_system=default_system if code == 1 else None)
        for code, text, system in ((1, 2, 3), (4, 5, 6))
        if value.get(code).strip()
    ]
    text = value.get(9).strip() or value.get(2).strip() or value.get(5).strip()
    if not codings and not text:
        return None
    found: dict[str, Any] = {}
    if codings:
        found["coding"] = codings
    if text:
        found["text"] = text
    return found


def is_ucum(unit: str) -> bool:
    """Whether a unit reads as a UCUM expression (mg/dL, 10*3/uL, {cells}/uL, %), so it can be
    given as a UCUM code; lab shorthand such as "IU/L" or "tera.l-1" is not."""
    return bool(unit) and _UCUM_TERM.fullmatch(unit) is not None
