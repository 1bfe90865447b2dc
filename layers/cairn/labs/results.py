"""An ORU^R01 (HL7 v2.3 to 2.5.1) read into Cairn's terms: the patient as the lab names them and
one ResultGroup per OBR, with its DiagnosticReport and Observations as FHIR R4 dicts.

A message that is cut short (an OBX without its result status, a segment without a valid id)
is refused as a whole rather than mapped in part: a partial report can hide the one critical
value that was cut off, and the lab can resend.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import tzinfo
from typing import Any

from cairn.labs.codings import V2_TABLE, coding, concept
from cairn.labs.framing import Segment, is_segment_id, read_header, segments
from cairn.labs.model import (
    LabResultMessage,
    MalformedMessage,
    OrderNumbers,
    PatientIdentifier,
    PatientIdentity,
    ResultGroup,
)
from cairn.labs.observations import NO_ZONE, note_text, read_observation, severity
from cairn.labs.timestamps import FhirTime, fhir_date, read_hl7_time

REPORT_CATEGORY = {"coding": [{"system": V2_TABLE + "0074", "code": "LAB", "display": "Laboratory"}]}
REPORT_STATUS = {  # HL7 table 0123 -> FHIR diagnostic-report-status
    "F": "final", "C": "corrected", "M": "corrected", "P": "preliminary", "A": "partial", "R": "partial",
    "X": "cancelled", "I": "registered", "O": "registered", "S": "registered",
}
ADMINISTRATIVE_SEX = {"M": "male", "F": "female", "O": "other", "A": "other", "N": "other", "U": "unknown"}
SPECIMEN_TYPES = V2_TABLE + "0487"
SPECIMEN_SOURCES = V2_TABLE + "0070"


def read_results(message: str, *, zone: tzinfo | None = None) -> LabResultMessage:
    """The results of one ORU^R01. `zone` is the lab's time zone, for times sent without a UTC
    offset (without it those keep only their date, with a warning). MalformedMessage when the
    message is not a result message, names no patient, has no OBR or is cut short."""
    header = read_header(message)
    kind, _, event = header.message_type.partition("^")
    if kind != "ORU":
        raise MalformedMessage(f"message type {kind[:3]} is not a result message: send ORU^R01", "200",
                               reject=True)
    if event != "R01":
        raise MalformedMessage(f"event {event[:3] or '(none)'} is not read: send ORU^R01", "201", reject=True)
    parsed = segments(message)
    _check_segment_ids(parsed)
    patients = [s for s in parsed if s.name == "PID"]
    if not patients:
        raise MalformedMessage("the message has no PID segment: results need the patient they are for", "100")
    if len(patients) > 1:
        raise MalformedMessage(
            "the message holds more than one PID segment: send one patient's results per message", "100")
    warnings: list[str] = []
    orders = _orders(parsed, warnings)
    if not orders:
        raise MalformedMessage("the message has no OBR segment: results must come in an order group", "100")
    patient = _patient(patients[0], warnings)
    groups = tuple(_group(order, number, zone, warnings) for number, order in enumerate(orders, start=1))
    return LabResultMessage(header, patient, groups, tuple(dict.fromkeys(warnings)))


@dataclass
class _Order:
    """The segments of one ORDER_OBSERVATION group, as the message nests them."""

    obr: Segment
    orc: Segment | None
    notes: list[Segment] = field(default_factory=list)
    results: list[tuple[Segment, list[Segment]]] = field(default_factory=list)
    specimens: list[Segment] = field(default_factory=list)


def _orders(parsed: tuple[Segment, ...], warnings: list[str]) -> list[_Order]:
    orders: list[_Order] = []
    pending_orc: Segment | None = None
    place = ""  # where an NTE or OBX belongs: "order", "result", "specimen" or "" (outside any OBR)
    outside = under_specimen = 0
    for segment in parsed:
        if segment.name == "ORC":
            pending_orc, place = segment, ""
        elif segment.name == "OBR":
            orders.append(_Order(segment, pending_orc))
            pending_orc, place = None, "order"
        elif segment.name == "OBX":
            if place in ("order", "result"):
                orders[-1].results.append((segment, []))
                place = "result"
            elif place == "specimen":
                under_specimen += 1
            else:
                outside += 1
        elif segment.name == "NTE" and place == "order":
            orders[-1].notes.append(segment)
        elif segment.name == "NTE" and place == "result":
            orders[-1].results[-1][1].append(segment)
        elif segment.name == "SPM" and orders:
            orders[-1].specimens.append(segment)
            place = "specimen"
    if outside:
        warnings.append(f"{outside} OBX segment(s) outside an order group (no OBR before them) were not read")
    if under_specimen:
        warnings.append(f"{under_specimen} specimen OBX segment(s) (after SPM) were not read as results")
    return orders


def _group(order: _Order, number: int, zone: tzinfo | None, warnings: list[str]) -> ResultGroup:
    where = f"OBR {number}"
    obr = order.obr
    code = concept(obr.first(4))
    if code is None:
        raise MalformedMessage(f"{where} has no universal service identifier (OBR-4)", "101")
    effective = _time(obr.get(7), zone, warnings)
    observations = tuple(
        read_observation(obx, notes, position=position, where=f"OBX {position} of {where}",
                         effective=effective.value if effective else None, zone=zone, warnings=warnings)
        for position, (obx, notes) in enumerate(order.results, start=1)
    )
    report: dict[str, Any] = {
        "resourceType": "DiagnosticReport",
        "status": _report_status(obr.get(25).upper(), where, warnings),
        "category": [REPORT_CATEGORY],
        "code": code,
    }
    if effective:
        report["effectiveDateTime"] = effective.value
    issued = _time(obr.get(22), zone, warnings)
    if issued and issued.has_time:
        report["issued"] = issued.value
    conclusion = "\n".join(text for text in (note_text(nte) for nte in order.notes) if text)
    if conclusion:
        report["conclusion"] = conclusion
    specimens = [_specimen(spm, n, zone, warnings) for n, spm in enumerate(order.specimens, start=1)]
    if not specimens and obr.get(15):
        specimens = [_source_specimen(obr, effective)]
    if specimens:
        report["contained"] = specimens
        report["specimen"] = [{"reference": f"#{specimen['id']}"} for specimen in specimens]
    provider = obr.get(16) or (order.orc.get(12) if order.orc else "")
    return ResultGroup(
        order=_order_numbers(order),
        report=report,
        observations=observations,
        severity=severity(observations),
        ordering_provider=provider or None,
    )


def _order_numbers(order: _Order) -> OrderNumbers:
    orc_placer = order.orc.get(2) if order.orc else ""
    orc_filler = order.orc.get(3) if order.orc else ""
    return OrderNumbers(placer=orc_placer or order.obr.get(2) or None,
                        filler=orc_filler or order.obr.get(3) or None)


def _report_status(code: str, where: str, warnings: list[str]) -> str:
    if not code:
        warnings.append(f"{where} has no result status (OBR-25); read as final")
        return "final"
    if code not in REPORT_STATUS:
        warnings.append(f"{where}: result status (OBR-25) is not in HL7 table 0123; read as unknown")
    return REPORT_STATUS.get(code, "unknown")


def _specimen(spm: Segment, number: int, zone: tzinfo | None, warnings: list[str]) -> dict[str, Any]:
    """SPM (v2.5+) as a contained Specimen: its type (SPM-4), collection (SPM-17) and receipt (SPM-18)."""
    specimen: dict[str, Any] = {"resourceType": "Specimen", "id": f"specimen-{number}"}
    kind = concept(spm.first(4), default_system=SPECIMEN_TYPES)
    if kind:
        specimen["type"] = kind
    collected = _time(spm.get(17), zone, warnings)
    if collected:
        specimen["collection"] = {"collectedDateTime": collected.value}
    received = _time(spm.get(18), zone, warnings)
    if received and received.has_time:
        specimen["receivedTime"] = received.value
    return specimen


def _source_specimen(obr: Segment, collected: FhirTime | None) -> dict[str, Any]:
    """OBR-15 specimen source (v2.3, v2.4) as a contained Specimen, collected at OBR-7."""
    source = coding(obr.get(15, 1, 1), obr.get(15, 1, 2), obr.get(15, 1, 3), default_system=SPECIMEN_SOURCES)
    specimen: dict[str, Any] = {"resourceType": "Specimen", "id": "specimen-1"}
    if "code" in source:
        specimen["type"] = {"coding": [source]}
    elif source.get("display"):
        specimen["type"] = {"text": source["display"]}
    if collected:
        specimen["collection"] = {"collectedDateTime": collected.value}
    return specimen


def _patient(pid: Segment, warnings: list[str]) -> PatientIdentity:
    identifiers = tuple(
        PatientIdentifier(
            value=repeat.get(1).strip(),
            assigning_authority=(repeat.get(4, 1) or repeat.get(4, 2)).strip(),
            type_code=repeat.get(5).strip(),
        )
        for repeat in pid.repeats(3)
        if repeat.get(1).strip()
    )
    if not identifiers:
        warnings.append("PID-3 holds no patient identifier")
    names = pid.repeats(5)
    name = next((n for n in names if n.get(7).strip() == "L"), names[0] if names else None)
    family = name.get(1, 1).strip() if name else ""
    given = tuple(part for part in (name.get(2).strip(), name.get(3).strip()) if part) if name else ()
    birth_date = fhir_date(pid.get(7)) if pid.get(7) else None
    if pid.get(7) and birth_date is None:
        warnings.append("PID-7 birth date is not an HL7 date; left out")
    sex = ADMINISTRATIVE_SEX.get(pid.get(8).upper()) if pid.get(8) else None
    if pid.get(8) and sex is None:
        warnings.append("PID-8 administrative sex is not in HL7 table 0001; left out")
    return PatientIdentity(identifiers=identifiers, family=family, given=given, birth_date=birth_date,
                           sex=sex)


def _time(text: str, zone: tzinfo | None, warnings: list[str]) -> FhirTime | None:
    found = read_hl7_time(text, zone)
    if found and found.lost_time:
        warnings.append(NO_ZONE)
    return found


def _check_segment_ids(parsed: tuple[Segment, ...]) -> None:
    for position, segment in enumerate(parsed, start=1):
        if not is_segment_id(segment.name):
            raise MalformedMessage(
                f"segment {position} has no valid segment id; the message may be truncated or damaged", "100")
