"""A FHIR ServiceRequest as the HL7 v2 order a lab reads: ORM^O01 (v2.3/2.4 style, priority in
OBR-5) or OML^O21 (v2.5.1, priority in TQ1), as the lab's endpoint says.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from datetime import datetime
from typing import Any

from cairn.labs.codings import hl7_system_name
from cairn.labs.framing import STANDARD_SEPARATORS, escape, segment
from cairn.labs.model import CAIRN_APPLICATION, LabEndpoint
from cairn.labs.timestamps import hl7_time, hl7_time_from_fhir

NPI_SYSTEM = "http://hl7.org/fhir/sid/us-npi"
NPI_AUTHORITY = "NPI&2.16.840.1.113883.4.6&ISO"
V2_IDENTIFIER_TYPES = "http://terminology.hl7.org/CodeSystem/v2-0203"
PRIORITIES = {"stat": "S", "asap": "A", "urgent": "A", "routine": "R"}  # FHIR -> HL7 table 0485
SEXES = {"male": "M", "female": "F", "other": "O", "unknown": "U"}
TIMING_SEGMENT_VERSIONS = frozenset({"2.5", "2.5.1"})  # OBR-5 priority gave way to TQ1 in v2.5


def order_message(
    *, lab: LabEndpoint, service_request: Mapping[str, Any], patient: Mapping[str, Any],
    requester: Mapping[str, Any] | None, placer_number: str, control_id: str, now: datetime, clinic_name: str,
) -> str:
    """The order message for one ServiceRequest, segments separated by CR. `requester` is the
    ordering Practitioner (ORC-12, OBR-16), `placer_number` Cairn's order number (ORC-2, OBR-2)."""
    kind = lab.order_message_type
    version = lab.hl7_version
    structure = "" if version == "2.3" else "^" + kind.replace("^", "_")
    provider = _provider(requester)
    priority = PRIORITIES.get(str(service_request.get("priority", "")), "")
    timed = version in TIMING_SEGMENT_VERSIONS
    authored = hl7_time_from_fhir(str(service_request.get("authoredOn", "")))
    occurrence = hl7_time_from_fhir(str(service_request.get("occurrenceDateTime", "")))
    segments = [
        segment("MSH", {2: STANDARD_SEPARATORS[1:], 3: CAIRN_APPLICATION, 4: escape(clinic_name),
                         5: escape(lab.application), 6: escape(lab.facility), 7: hl7_time(now),
                         9: kind + structure, 10: escape(control_id), 11: "P", 12: version}),
        segment("PID", {1: "1", 3: _patient_identifier(patient), 5: _patient_name(patient),
                         7: hl7_time_from_fhir(str(patient.get("birthDate", ""))),
                         8: SEXES.get(str(patient.get("gender", "")), "")}),
        segment("PV1", {1: "1", 2: "O"}),
        segment("ORC", {1: "NW", 2: escape(placer_number), 9: hl7_time(now), 12: provider}),
    ]
    if timed and priority:
        segments.append(segment("TQ1", {1: "1", 9: priority}))
    # Before v2.5 the priority goes in OBR-5 and in OBR-27 (quantity/timing), where 2.3 labs read it.
    legacy_priority = {5: priority, 27: f"^^^^^{priority}"} if priority and not timed else {}
    segments.append(segment("OBR", {
        1: "1", 2: escape(placer_number), 4: _service(service_request.get("code")),
        6: authored or occurrence, 7: occurrence, 16: provider, **legacy_priority,
    }))
    notes = enumerate(_notes(service_request), start=1)
    segments += [segment("NTE", {1: str(n), 2: "P", 3: text}) for n, text in notes]
    reasons = enumerate(_reasons(service_request), start=1)
    segments += [segment("DG1", {1: str(n), 3: reason, 6: "W"}) for n, reason in reasons]
    return "\r".join(segments)


def _patient_identifier(patient: Mapping[str, Any]) -> str:
    """PID-3: the Patient's first identifier (with its v2 type code), else Cairn's resource id."""
    for identifier in patient.get("identifier", ()):
        if identifier.get("value"):
            type_code = next((str(c.get("code", "")) for c in identifier.get("type", {}).get("coding", ())
                              if c.get("system") == V2_IDENTIFIER_TYPES), "")
            return f"{escape(str(identifier['value']))}^^^^{escape(type_code)}".rstrip("^")
    return f"{escape(str(patient.get('id', '')))}^^^{CAIRN_APPLICATION}"


def _patient_name(patient: Mapping[str, Any]) -> str:
    names = list(patient.get("name", ()))
    name = next((n for n in names if n.get("use") == "official"), names[0] if names else {})
    return "^".join(_name_parts(name)).rstrip("^")


def _name_parts(name: Mapping[str, Any]) -> list[str]:
    """XPN/XCN family, given and middle names, escaped."""
    given = [str(g) for g in name.get("given", ())]
    parts = (str(name.get("family", "")), given[0] if given else "", " ".join(given[1:]))
    return [escape(part) for part in parts]


def _provider(requester: Mapping[str, Any] | None) -> str:
    """ORC-12/OBR-16: the Practitioner's NPI and name, the NPI named as such (XCN-9, XCN-13)."""
    if not requester:
        return ""
    npis = [str(i.get("value", "")) for i in requester.get("identifier", ()) if i.get("system") == NPI_SYSTEM]
    npi = npis[0] if npis else ""
    names = list(requester.get("name", ()))
    name = _name_parts(names[0]) if names else ["", "", ""]
    qualifiers = ["", "", "", "", NPI_AUTHORITY, "L", "", "", "NPI"] if npi else []
    return "^".join([escape(npi), *name, *qualifiers]).rstrip("^")


def _service(code: Any) -> str:
    """OBR-4 from the ServiceRequest's first coding (LOINC as LN), else its text."""
    concept = code if isinstance(code, Mapping) else {}
    codings = [c for c in concept.get("coding", ()) if c.get("code")]
    if codings:
        return _coded(codings[0])
    return f"^{escape(str(concept.get('text', '')))}".rstrip("^")


def _coded(coding: Mapping[str, Any]) -> str:
    system = hl7_system_name(str(coding.get("system", "")))
    return f"{escape(str(coding['code']))}^{escape(str(coding.get('display', '')))}^{system}"


def _notes(service_request: Mapping[str, Any]) -> Iterator[str]:
    """NTE-3 per note, its lines as repetitions."""
    for note in service_request.get("note", ()):
        lines = [escape(line) for line in str(note.get("text", "")).splitlines() if line.strip()]
        if lines:
            yield "~".join(lines)


def _reasons(service_request: Mapping[str, Any]) -> Iterator[str]:
    for reason in service_request.get("reasonCode", ()):
        codings = [c for c in reason.get("coding", ()) if c.get("code")]
        if codings:
            yield _coded(codings[0])
        elif reason.get("text"):
            yield f"^{escape(str(reason['text']))}"
