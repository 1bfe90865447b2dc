"""Generated HL7 v2 lab results: Cairn's own fixtures, so a clone without ../shared still drives
every path of the labs codec, and `cairn dev` and the benchmark have results to ingest.

A small catalogue of panels (LOINC codes, UCUM units, adult reference ranges, critical limits)
gives normal, abnormal or critical values from a seed: the same seed gives the same message.
Helpers break a message the ways labs do: cut short, wrong separators, a segment missing.
"""

from __future__ import annotations

import random
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum

from cairn.labs.framing import segment as _segment
from cairn.labs.model import CAIRN_APPLICATION, PatientIdentity
from cairn.labs.timestamps import hl7_time

SEXES = {"male": "M", "female": "F", "other": "O", "unknown": "U"}


class Outcome(StrEnum):
    """How a generated panel turns out: every value in range, one out of range, one critical."""

    NORMAL = "normal"
    ABNORMAL = "abnormal"
    CRITICAL = "critical"


@dataclass(frozen=True)
class CatalogueTest:
    """A test a panel reports: its LOINC code, UCUM unit, reference range and critical limits."""

    loinc: str
    name: str
    unit: str
    low: float | None
    high: float | None
    decimals: int = 1
    critical_low: float | None = None
    critical_high: float | None = None

    @property
    def reference_range(self) -> str:
        if self.low is None:
            return f"<{self._text(self.high)}"
        if self.high is None:
            return f">{self._text(self.low)}"
        return f"{self._text(self.low)}-{self._text(self.high)}"

    def _text(self, value: float | None) -> str:
        return f"{value:.{self.decimals}f}" if value is not None else ""


@dataclass(frozen=True)
class Panel:
    """An orderable panel (OBR-4) and the tests it reports (OBX-3)."""

    loinc: str
    name: str
    tests: tuple[CatalogueTest, ...]


@dataclass(frozen=True)
class GeneratedTest:
    """One result line of a generated message, as written in its OBX."""

    loinc: str
    name: str
    value: str
    unit: str = ""
    reference_range: str = ""
    flag: str = "N"  # OBX-8
    value_type: str = "NM"  # OBX-2
    status: str = "F"  # OBX-11
    note: str = ""  # an NTE after the OBX


POTASSIUM = CatalogueTest("2823-3", "Potassium [Moles/volume] in Serum or Plasma", "mmol/L", 3.5, 5.1,
                          critical_low=2.5, critical_high=6.5)
GLUCOSE = CatalogueTest("2345-7", "Glucose [Mass/volume] in Serum or Plasma", "mg/dL", 70, 99, 0,
                        critical_low=40, critical_high=500)
PANELS: Mapping[str, Panel] = {
    "cbc": Panel("58410-2", "CBC panel - Blood by Automated count", (
        CatalogueTest("6690-2", "Leukocytes [#/volume] in Blood by Automated count", "10*3/uL", 4.0, 11.0,
                      critical_low=2.0, critical_high=30.0),
        CatalogueTest("789-8", "Erythrocytes [#/volume] in Blood by Automated count", "10*6/uL", 4.2, 5.9, 2),
        CatalogueTest("718-7", "Hemoglobin [Mass/volume] in Blood", "g/dL", 12.0, 17.5,
                      critical_low=7.0, critical_high=20.0),
        CatalogueTest("4544-3", "Hematocrit [Volume Fraction] of Blood by Automated count", "%", 36, 52),
        CatalogueTest("777-3", "Platelets [#/volume] in Blood by Automated count", "10*3/uL", 150, 400, 0,
                      critical_low=20, critical_high=1000),
    )),
    "bmp": Panel("51990-0", "Basic metabolic panel - Blood", (
        CatalogueTest("2951-2", "Sodium [Moles/volume] in Serum or Plasma", "mmol/L", 135, 145, 0,
                      critical_low=120, critical_high=160),
        POTASSIUM,
        CatalogueTest("2075-0", "Chloride [Moles/volume] in Serum or Plasma", "mmol/L", 98, 107, 0),
        CatalogueTest("2028-9", "Carbon dioxide, total [Moles/volume] in Serum or Plasma", "mmol/L",
                      22, 29, 0),
        CatalogueTest("3094-0", "Urea nitrogen [Mass/volume] in Serum or Plasma", "mg/dL", 7, 20, 0),
        CatalogueTest("2160-0", "Creatinine [Mass/volume] in Serum or Plasma", "mg/dL", 0.6, 1.3, 2),
        GLUCOSE,
        CatalogueTest("17861-6", "Calcium [Mass/volume] in Serum or Plasma", "mg/dL", 8.6, 10.3,
                      critical_low=6.0, critical_high=13.0),
    )),
    "lipid": Panel("57698-3", "Lipid panel with direct LDL - Serum or Plasma", (
        CatalogueTest("2093-3", "Cholesterol [Mass/volume] in Serum or Plasma", "mg/dL", None, 200, 0),
        CatalogueTest("2571-8", "Triglyceride [Mass/volume] in Serum or Plasma", "mg/dL", None, 150, 0,
                      critical_high=1000),
        CatalogueTest("2085-9", "Cholesterol in HDL [Mass/volume] in Serum or Plasma", "mg/dL", 40, None, 0),
        CatalogueTest("18262-6", "Cholesterol in LDL [Mass/volume] in Serum or Plasma by Direct assay",
                      "mg/dL", None, 100, 0),
    )),
    "hba1c": Panel("4548-4", "Hemoglobin A1c/Hemoglobin.total in Blood", (
        CatalogueTest("4548-4", "Hemoglobin A1c/Hemoglobin.total in Blood", "%", 4.0, 5.6,
                      critical_high=14.0),
    )),
    "potassium": Panel(POTASSIUM.loinc, POTASSIUM.name, (POTASSIUM,)),
}


def panel_results(panel: Panel, *, seed: int, outcome: Outcome = Outcome.NORMAL) -> tuple[GeneratedTest, ...]:
    """Values for every test of `panel`: all in range, or one (chosen by the seed) high or low
    (flag H/L), or one beyond a critical limit (HH/LL) among tests that have one."""
    rng = random.Random(seed)
    candidates = [t for t in panel.tests if outcome is not Outcome.CRITICAL
                  or t.critical_low is not None or t.critical_high is not None]
    if not candidates:
        raise ValueError(f"no test of panel {panel.loinc} has a critical limit")
    odd_one = rng.choice(candidates) if outcome is not Outcome.NORMAL else None
    return tuple(_result(test, rng, outcome if test is odd_one else Outcome.NORMAL) for test in panel.tests)


def result_message(
    *, patient: PatientIdentity, control_id: str, placer: str | None, filler: str,
    tests: Sequence[GeneratedTest], version: str = "2.5.1", sending_facility: str = "ACME LAB",
    collected: datetime, panel: Panel | None = None, status: str = "F", comment: str = "",
    sending_application: str = "ACME LIS", receiving_facility: str = "",
) -> str:
    """An ORU^R01 with one order group, in v2.5.1 style (ORC, SPM) or v2.3 style (OBR-15
    specimen source). `panel` is OBR-4 (default: the first test); `comment` an NTE under OBR."""
    if version not in ("2.3", "2.3.1", "2.4", "2.5", "2.5.1"):
        raise ValueError(f"generated messages are v2.3 to v2.5.1, not {version}")
    modern = version in ("2.5", "2.5.1")
    ordered = (panel.loinc, panel.name) if panel else (tests[0].loinc, tests[0].name)
    issued = collected + timedelta(hours=2)
    message_type = "ORU^R01^ORU_R01" if modern else "ORU^R01"
    segments = [
        _segment("MSH", {2: "^~\\&", 3: sending_application, 4: sending_facility, 5: CAIRN_APPLICATION,
                         6: receiving_facility, 7: hl7_time(issued), 9: message_type, 10: control_id, 11: "P",
                         12: version}),
        _segment("PID", {1: "1", 3: _identifiers(patient), 5: _name(patient),
                         7: (patient.birth_date or "").replace("-", ""),
                         8: SEXES.get(patient.sex or "", "")}),
    ]
    if modern:
        segments.append(_segment("ORC", {1: "RE", 2: placer or "", 3: filler}))
    segments.append(_segment("OBR", {
        1: "1", 2: placer or "", 3: filler, 4: f"{ordered[0]}^{ordered[1]}^LN", 7: hl7_time(collected),
        15: "" if modern else "BLD&Blood&HL70070", 22: hl7_time(issued), 25: status,
    }))
    if comment:
        segments.append(_segment("NTE", {1: "1", 2: "L", 3: comment}))
    for number, test in enumerate(tests, start=1):
        segments.append(_segment("OBX", {
            1: str(number), 2: test.value_type, 3: f"{test.loinc}^{test.name}^LN", 5: test.value,
            6: f"{test.unit}^^UCUM" if test.unit else "", 7: test.reference_range, 8: test.flag,
            11: test.status, 14: hl7_time(collected),
        }))
        if test.note:
            segments.append(_segment("NTE", {1: "1", 2: "L", 3: test.note}))
    if modern:
        received = collected + timedelta(hours=1)
        segments.append(_segment("SPM", {1: "1", 4: "119297000^Blood specimen^SCT",
                                         17: hl7_time(collected), 18: hl7_time(received)}))
    return "\r".join(segments)


def batch_file(messages: Sequence[str], *, sender: str = "ACME LAB", control_id: str = "BATCH-1") -> str:
    """Messages wrapped in a file (FHS/FTS) holding one batch (BHS/BTS), as labs send them by SFTP."""
    return "\r".join([
        f"FHS|^~\\&|ACME LIS|{sender}|{CAIRN_APPLICATION}||||||{control_id}",
        f"BHS|^~\\&|ACME LIS|{sender}|{CAIRN_APPLICATION}||||||{control_id}",
        *messages,
        f"BTS|{len(messages)}",
        "FTS|1",
    ])


def truncated(message: str) -> str:
    """The message cut in the middle of its last OBX, inside the value, as a dropped connection
    or a full buffer leaves it: the OBX loses its unit, range, flag and status."""
    segments = message.split("\r")
    last = max(i for i, segment in enumerate(segments) if segment.startswith("OBX"))
    fields = segments[last].split("|")
    value = fields[5] if len(fields) > 5 else ""
    cut = "|".join([*fields[:5], value[: max(1, len(value) // 2)]])
    return "\r".join([*segments[:last], cut])


def with_separators(message: str, field: str = "|", encoding: str = "^~\\&") -> str:
    """The message with MSH-1/MSH-2 declaring other separators than the ones its fields use."""
    return "MSH" + field + encoding + message[8:]


def without_segment(message: str, name: str) -> str:
    """The message with every `name` segment removed."""
    return "\r".join(segment for segment in message.split("\r") if segment[:3] != name)


def _result(test: CatalogueTest, rng: random.Random, outcome: Outcome) -> GeneratedTest:
    low = test.low if test.low is not None else (test.high or 0) * 0.5
    high = test.high if test.high is not None else low * 1.5
    choices: list[tuple[float, str]] = []
    if outcome is Outcome.CRITICAL:
        if test.critical_high is not None:
            choices.append((test.critical_high * rng.uniform(1.05, 1.2), "HH"))
        if test.critical_low is not None:
            choices.append((test.critical_low * rng.uniform(0.7, 0.95), "LL"))
    elif outcome is Outcome.ABNORMAL:
        # Out of range but short of the critical limits, so the flag tells the truth.
        ceiling = min(high * 1.3, (test.critical_high or high * 2) * 0.98)
        floor = max(low * 0.7, (test.critical_low or 0) * 1.02)
        if test.high is not None:
            choices.append((rng.uniform(high + (ceiling - high) * 0.2, ceiling), "H"))
        if test.low is not None:
            choices.append((rng.uniform(floor, low - (low - floor) * 0.2), "L"))
    else:
        choices.append((rng.uniform(low, high), "N"))
    value, flag = rng.choice(choices)
    return GeneratedTest(test.loinc, test.name, f"{value:.{test.decimals}f}", test.unit, test.reference_range,
                         flag)


def _identifiers(patient: PatientIdentity) -> str:
    return "~".join(f"{i.value}^^^{i.assigning_authority}^{i.type_code}".rstrip("^")
                    for i in patient.identifiers)


def _name(patient: PatientIdentity) -> str:
    given = list(patient.given)
    return "^".join((patient.family, given[0] if given else "", " ".join(given[1:]))).rstrip("^")
