"""Orders Cairn sends: a ServiceRequest as ORM^O01 (v2.3) or OML^O21 (v2.5.1), parsed back with
python-hl7 and with Cairn's own reader."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import hl7
import pytest

from cairn.labs.framing import Segment, read_header, segments
from cairn.labs.model import LabEndpoint
from cairn.labs.orders import order_message

NOW = datetime(2024, 3, 1, 9, 0, tzinfo=UTC)
OML_LAB = LabEndpoint("acme", "org-1", "Acme Lab", order_message_type="OML^O21", hl7_version="2.5.1",
                      application="ACME LIS", facility="ACME LAB")
ORM_LAB = LabEndpoint("old", "org-2", "Old Lab", order_message_type="ORM^O01", hl7_version="2.3",
                      application="OLD LIS", facility="OLD LAB")
SERVICE_REQUEST: dict[str, Any] = {
    "resourceType": "ServiceRequest", "status": "active", "intent": "order", "priority": "stat",
    "code": {"coding": [{"system": "http://loinc.org", "code": "2345-7",
                         "display": "Glucose [Mass/volume] in Serum or Plasma"}]},
    "authoredOn": "2024-03-01T10:00:00+01:00",
    "occurrenceDateTime": "2024-03-02T08:00:00+01:00",
    "note": [{"text": "Fasting | since 8pm\nsecond line"}],
    "reasonCode": [{"coding": [{"system": "http://hl7.org/fhir/sid/icd-10-cm", "code": "E11.9",
                                "display": "Type 2 diabetes mellitus without complications"}]}],
}
PATIENT: dict[str, Any] = {
    "resourceType": "Patient", "id": "pat-1",
    "identifier": [{"type": {"coding": [{"system": "http://terminology.hl7.org/CodeSystem/v2-0203",
                                         "code": "MR"}]}, "system": "urn:cairn:mrn", "value": "MRN-42"}],
    "name": [{"use": "nickname", "given": ["Al"]},
             {"use": "official", "family": "O'Neil", "given": ["Alex", "B"]}],
    "birthDate": "1980-02-03", "gender": "female",
}
REQUESTER: dict[str, Any] = {
    "resourceType": "Practitioner",
    "identifier": [{"system": "http://hl7.org/fhir/sid/us-npi", "value": "1234567893"}],
    "name": [{"family": "Smith", "given": ["Jo"]}],
}


def order(lab: LabEndpoint = OML_LAB, **changes: Any) -> str:
    arguments: dict[str, Any] = {
        "lab": lab, "service_request": SERVICE_REQUEST, "patient": PATIENT, "requester": REQUESTER,
        "placer_number": "CAIRN-0001", "control_id": "ORD-1", "now": NOW, "clinic_name": "Fairview & Co",
    }
    return order_message(**{**arguments, **changes})


def by_name(message: str) -> dict[str, Segment]:
    return {s.name: s for s in segments(message)}


def test_oml_o21_round_trips_through_python_hl7() -> None:
    message = order()
    parsed = hl7.parse(message)
    assert [str(s[0]) for s in parsed] == ["MSH", "PID", "PV1", "ORC", "TQ1", "OBR", "NTE", "DG1"]
    assert str(parsed.segment("MSH")(9)) == "OML^O21^OML_O21"
    assert str(parsed.segment("OBR")(4)) == "2345-7^Glucose [Mass/volume] in Serum or Plasma^LN"


def test_oml_o21_fields() -> None:
    header = read_header(order())
    assert (header.message_type, header.version, header.control_id) == ("OML^O21", "2.5.1", "ORD-1")
    assert (header.sending_application, header.sending_facility) == ("CAIRN", "Fairview \\T\\ Co")
    assert (header.receiving_application, header.receiving_facility) == ("ACME LIS", "ACME LAB")
    found = by_name(order())
    pid, orc, obr = found["PID"], found["ORC"], found["OBR"]
    assert (pid.get(3), pid.get(3, 5)) == ("MRN-42", "MR")
    assert (pid.get(5), pid.get(5, 2), pid.get(5, 3)) == ("O'Neil", "Alex", "B")
    assert (pid.get(7), pid.get(8)) == ("19800203", "F")
    assert (orc.get(1), orc.get(2), orc.get(9)) == ("NW", "CAIRN-0001", "20240301090000+0000")
    assert [orc.get(12, n) for n in (1, 2, 3, 13)] == ["1234567893", "Smith", "Jo", "NPI"]
    assert (obr.get(2), obr.get(4), obr.get(4, 3)) == ("CAIRN-0001", "2345-7", "LN")
    assert (obr.get(6), obr.get(7)) == ("20240301100000+0100", "20240302080000+0100")
    assert obr.get(5) == ""  # v2.5.1 carries the priority in TQ1
    assert obr.get(16) == "1234567893"
    assert found["TQ1"].get(9) == "S"
    assert [r.get(1) for r in found["NTE"].repeats(3)] == ["Fasting | since 8pm", "second line"]
    assert (found["DG1"].get(3), found["DG1"].get(3, 3), found["DG1"].get(6)) == ("E11.9", "I10C", "W")


def test_orm_o01_for_a_version_2_3_lab_puts_priority_in_obr() -> None:
    message = order(ORM_LAB, service_request={**SERVICE_REQUEST, "priority": "routine"})
    parsed = hl7.parse(message)
    assert [str(s[0]) for s in parsed] == ["MSH", "PID", "PV1", "ORC", "OBR", "NTE", "DG1"]
    header = read_header(message)
    assert (header.message_type, header.version) == ("ORM^O01", "2.3")
    assert str(parsed.segment("MSH")(9)) == "ORM^O01"
    obr = by_name(message)["OBR"]
    assert (obr.get(5), obr.get(27, 6)) == ("R", "R")


@pytest.mark.parametrize(("priority", "code"), [
    ("stat", "S"), ("asap", "A"), ("routine", "R"), ("urgent", "A"),
])
def test_priorities(priority: str, code: str) -> None:
    message = order(service_request={**SERVICE_REQUEST, "priority": priority})
    assert by_name(message)["TQ1"].get(9) == code


def test_a_minimal_order_without_requester_priority_notes_or_reasons() -> None:
    minimal = {"resourceType": "ServiceRequest", "status": "active", "intent": "order",
               "code": {"text": "Random glucose"}}
    message = order(service_request=minimal, requester=None, patient={"resourceType": "Patient", "id": "p-7"})
    parsed = hl7.parse(message)
    assert [str(s[0]) for s in parsed] == ["MSH", "PID", "PV1", "ORC", "OBR"]
    found = by_name(message)
    assert (found["OBR"].get(4), found["OBR"].get(4, 2)) == ("", "Random glucose")
    assert (found["PID"].get(3), found["PID"].get(3, 4)) == ("p-7", "CAIRN")
    assert found["ORC"].get(12) == ""


def test_free_text_with_delimiters_cannot_break_the_message() -> None:
    tricky = {**SERVICE_REQUEST, "note": [{"text": "a|b^c~d&e\\f\rPID|evil"}]}
    message = order(service_request=tricky)
    parsed = hl7.parse(message)
    assert [str(s[0]) for s in parsed].count("PID") == 1
    assert [r.get(1) for r in by_name(message)["NTE"].repeats(3)] == ["a|b^c~d&e\\f", "PID|evil"]
