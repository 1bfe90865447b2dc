"""ACKs Cairn sends back: addressed to the sender, MSA/ERR fields a lab's engine reads, delimiters
escaped; checked by parsing them with python-hl7."""

from __future__ import annotations

from datetime import UTC, datetime

import hl7

from cairn.labs.acks import acknowledgement
from cairn.labs.framing import read_header
from cairn.labs.model import AckCode, MalformedMessage, MessageHeader

NOW = datetime(2024, 4, 5, 6, 7, 8, tzinfo=UTC)
HEADER = MessageHeader(
    control_id="LAB-123", message_type="ORU^R01", version="2.5.1", sending_application="ACME LIS",
    sending_facility="ACME LAB^1.2.3^ISO", receiving_application="CAIRN", receiving_facility="FAIRVIEW",
    processing_id="T",
)


def field(message: hl7.Message, segment: str, number: int) -> str:
    return str(message.segment(segment)(number))


def test_an_application_accept_answers_the_sender_with_its_control_id() -> None:
    ack = acknowledgement(HEADER, AckCode.APPLICATION_ACCEPT, control_id="ACK-1", now=NOW, text="stored")
    parsed = hl7.parse(ack)
    assert [str(s[0]) for s in parsed] == ["MSH", "MSA"]
    assert (field(parsed, "MSH", 3), field(parsed, "MSH", 4)) == ("CAIRN", "FAIRVIEW")
    assert (field(parsed, "MSH", 5), field(parsed, "MSH", 6)) == ("ACME LIS", "ACME LAB^1.2.3^ISO")
    assert field(parsed, "MSH", 7) == "20240405060708+0000"
    assert field(parsed, "MSH", 9) == "ACK^R01^ACK"
    assert [field(parsed, "MSH", n) for n in (10, 11, 12)] == ["ACK-1", "T", "2.5.1"]
    assert [field(parsed, "MSA", n) for n in (1, 2, 3)] == ["AA", "LAB-123", "stored"]
    assert "\n" not in ack
    assert not ack.endswith("\r")


def test_an_error_carries_err_with_the_table_0357_code_severity_and_reason() -> None:
    error = MalformedMessage("OBX 2 of OBR 1 has no result status (OBX-11); the message may be truncated",
                             "101")
    ack = acknowledgement(HEADER, AckCode.APPLICATION_ERROR, control_id="ACK-2", now=NOW, error=error)
    parsed = hl7.parse(ack)
    err = parsed.segment("ERR")
    assert str(err(3)) == "101^Required field missing^HL70357"
    assert str(err(4)) == "E"
    assert parsed.unescape(str(err(8))) == error.reason
    assert field(parsed, "MSA", 1) == "AE"
    assert parsed.unescape(field(parsed, "MSA", 3)) == error.reason[:80]


def test_a_message_whose_header_failed_is_answered_by_its_raw_control_id() -> None:
    error = MalformedMessage("wrong separators: MSH-1 must be ...", "102", reject=True)
    ack = acknowledgement(None, AckCode.COMMIT_REJECT, control_id="ACK-3", now=NOW, error=error,
                          raw_control_id="RAW-9")
    parsed = hl7.parse(ack)
    assert field(parsed, "MSH", 9) == "ACK^^ACK"
    assert field(parsed, "MSH", 12) == "2.5.1"
    assert (field(parsed, "MSA", 1), field(parsed, "MSA", 2)) == ("CR", "RAW-9")
    assert str(parsed.segment("ERR")(3)) == "102^Data type error^HL70357"


def test_an_error_without_a_malformed_message_is_an_application_internal_error() -> None:
    ack = acknowledgement(HEADER, AckCode.COMMIT_ERROR, control_id="ACK-4", now=NOW,
                          text="storage unavailable")
    err = hl7.parse(ack).segment("ERR")
    assert str(err(3)) == "207^Application internal error^HL70357"
    assert str(err(8)) == "storage unavailable"


def test_version_2_3_gets_its_version_and_the_code_in_err_1() -> None:
    old = MessageHeader("OLD-1", "ORU^R01", "2.3", "LIS", "LAB", "CAIRN", "CLINIC")
    ack = acknowledgement(old, AckCode.APPLICATION_REJECT, control_id="ACK-5", now=NOW,
                          error=MalformedMessage("event R03 is not read", "201", reject=True))
    parsed = hl7.parse(ack)
    assert field(parsed, "MSH", 12) == "2.3"
    assert str(parsed.segment("ERR")(1)) == "^^^201&Unsupported event code&HL70357"


def test_free_text_delimiters_are_escaped_so_the_ack_still_parses() -> None:
    text = "bad | field ^ with & and ~ and \\ inside"
    ack = acknowledgement(HEADER, AckCode.APPLICATION_ERROR, control_id="A|B", now=NOW,
                          error=MalformedMessage(text, "207"))
    parsed = hl7.parse(ack)
    assert len(parsed.segment("MSA")) == 4
    assert parsed.unescape(field(parsed, "MSA", 3)) == text
    assert parsed.unescape(str(parsed.segment("ERR")(8))) == text
    assert parsed.unescape(field(parsed, "MSH", 10)) == "A|B"


def test_ack_of_a_read_header_round_trips_through_cairns_own_reader() -> None:
    ack = acknowledgement(HEADER, AckCode.COMMIT_ACCEPT, control_id="ACK-6", now=NOW)
    header = read_header(ack)
    assert (header.message_type, header.control_id, header.version) == ("ACK^R01", "ACK-6", "2.5.1")
    assert (header.receiving_application, header.receiving_facility) == ("ACME LIS", "ACME LAB^1.2.3^ISO")
