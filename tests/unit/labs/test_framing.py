"""Framing: bytes as labs send them to clean messages, batches split, the MSH header checked."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import pytest

from cairn.labs.framing import escape, normalize, read_header, segments, split_batch, unescape
from cairn.labs.model import MalformedMessage, PatientIdentifier, PatientIdentity
from cairn.labs.timestamps import FhirTime, fhir_date, hl7_time, hl7_time_from_fhir, read_hl7_time
from devkit.lab_messages import (
    PANELS,
    batch_file,
    panel_results,
    result_message,
    with_separators,
    without_segment,
)

HL7_FIXTURES = Path(__file__).resolve().parents[3] / ".." / "shared" / "fixtures" / "hl7"
FIXTURE_FILES = sorted(p.name for p in HL7_FIXTURES.glob("*.hl7")) if HL7_FIXTURES.is_dir() else []
needs_fixtures = pytest.mark.skipif(
    not FIXTURE_FILES, reason=f"the shared HL7 fixtures are not beside this clone: {HL7_FIXTURES} is missing")
HEADERS = {  # file -> (message type, version); None when the version is refused
    "LAB-ORM-1.hl7": ("ORM^O01", "2.3"),
    "LAB-ORU-1.hl7": ("ORU^R01", "2.5"),
    "LAB-ORU-2.hl7": ("ORU^R01", "2.5"),
    "LRI_2.0-NG_CBC_Typ_Message.hl7": ("ORU^R01", "2.5.1"),
    "MDHHS-OML-O21-1.hl7": ("OML^O21", "2.5.1"),
    "OML-O21-01.hl7": None,
    "ORM-O01-01.hl7": None,
    "ORM-O01-02.hl7": None,
    "ORU-R01-01.hl7": ("ORU^R01", "2.5.1"),
    "ORU-R01-RMGEAD.hl7": ("ORU^R01", "2.4"),
    "python-hl7_sample_hl7_GHH_ORU_R01.hl7": ("ORU^R01", "2.4"),
}
PATIENT = PatientIdentity((PatientIdentifier("MRN-77", "FAIRVIEW", "MR"),), "Tester", ("Pat",), "1970-01-31",
                          "other")
COLLECTED = datetime(2024, 5, 6, 7, 30, tzinfo=UTC)


def generated(control_id: str = "GEN-1", version: str = "2.5.1") -> str:
    tests = panel_results(PANELS["potassium"], seed=1)
    return result_message(patient=PATIENT, control_id=control_id, placer="PL-1", filler="FI-1", tests=tests,
                          version=version, collected=COLLECTED)


@needs_fixtures
@pytest.mark.parametrize("name", FIXTURE_FILES or ["(none)"])
def test_every_fixture_normalises_splits_and_gives_its_header(name: str) -> None:
    messages = split_batch(normalize((HL7_FIXTURES / name).read_bytes()))
    assert len(messages) == 1
    message = messages[0]
    assert message.startswith("MSH|^~\\&|")
    assert [c for c in ("\n", "\ufeff", "\r\r") if c in message] == []
    expected = HEADERS[name]
    if expected is None:
        with pytest.raises(MalformedMessage) as refused:
            read_header(message)
        assert (refused.value.hl7_error, refused.value.reject) == ("203", True)
        assert "2.6" in refused.value.reason
    else:
        header = read_header(message)
        assert (header.message_type, header.version) == expected
        assert header.control_id


@needs_fixtures
def test_fixture_header_keeps_hierarchic_designators_and_time_zone() -> None:
    header = read_header(normalize((HL7_FIXTURES / "ORU-R01-01.hl7").read_bytes()))
    assert header.sending_application == "IA PHIMS Stage^2.16.840.1.114222.4.3.3.5.1.2^ISO"
    assert header.sending_facility == "IA Public Health Lab^2.16.840.1.114222.4.1.10411^ISO"
    assert header.control_id == "2.16.840.1.114222.4.3.3.5.1.2-20120314235954.325"
    assert header.sent_at == "2012-03-14T12:59:00-02:15"
    assert header.processing_id == "T"


def test_normalize_takes_bom_lf_crlf_and_mllp_framing_to_the_same_message() -> None:
    message = generated()
    variants = [
        message,
        "\ufeff" + message.replace("\r", "\n"),
        message.replace("\r", "\r\n") + "\r\n\r\n",
        ("\x0b" + message + "\x1c\r").encode(),
        ("\ufeff" + message.replace("\r", "  \n\n")).encode("utf-8"),
    ]
    assert {normalize(variant) for variant in variants} == {message}


def test_normalize_reads_8_bit_labs_as_cp1252() -> None:
    message = generated().replace("Tester^Pat", "Müller^Zoë")
    assert "Müller" in normalize(message.encode("cp1252"))
    assert normalize(message.encode("utf-8")) == message


def test_split_batch_drops_file_and_batch_envelopes() -> None:
    first, second = generated("A-1"), generated("A-2", version="2.3")
    messages = split_batch(normalize(batch_file([first, second])))
    assert messages == [first, second]
    assert [read_header(m).control_id for m in messages] == ["A-1", "A-2"]


def test_split_batch_keeps_text_before_the_first_msh_as_a_message_that_fails() -> None:
    messages = split_batch("garbage line\rPID|1\r" + generated())
    assert len(messages) == 2
    assert messages[0] == "garbage line\rPID|1"
    with pytest.raises(MalformedMessage) as refused:
        read_header(messages[0])
    assert (refused.value.hl7_error, refused.value.reject) == ("100", True)


@pytest.mark.parametrize(("field", "encoding"), [(";", "^~\\&"), ("|", "^^\\&"), ("|", "^~"), ("|", "a~\\&")])
def test_wrong_separators_are_refused_with_a_clear_reason(field: str, encoding: str) -> None:
    with pytest.raises(MalformedMessage) as refused:
        read_header(with_separators(generated(), field, encoding))
    assert refused.value.reason.startswith("wrong separators")
    assert (refused.value.hl7_error, refused.value.reject) == ("102", True)


def test_consistent_non_standard_separators_are_read() -> None:
    message = generated().replace("|", "#")
    header = read_header(message)
    assert (header.control_id, header.message_type) == ("GEN-1", "ORU^R01")


@pytest.mark.parametrize("version", ["2.6", "2.7", "2.2", "3.0"])
def test_unsupported_versions_are_rejected_with_203(version: str) -> None:
    with pytest.raises(MalformedMessage) as refused:
        read_header(generated().replace("|P|2.5.1", f"|P|{version}", 1))
    assert (refused.value.hl7_error, refused.value.reject) == ("203", True)


def with_msh_field(message: str, number: int, value: str) -> str:
    msh, rest = message.split("\r", 1)
    fields = msh.split("|")
    fields[number - 1] = value  # fields[0] is "MSH" and MSH-1 is the "|" itself
    return "|".join(fields) + "\r" + rest


@pytest.mark.parametrize("number", [9, 10, 12])
def test_missing_required_header_fields_are_named(number: int) -> None:
    with pytest.raises(MalformedMessage) as refused:
        read_header(with_msh_field(generated(), number, ""))
    assert f"MSH-{number}" in refused.value.reason
    assert (refused.value.hl7_error, refused.value.reject) == ("101", True)


def test_a_message_without_pid_still_has_a_readable_header() -> None:
    assert read_header(without_segment(generated(), "PID")).control_id == "GEN-1"


def test_segments_never_fail_on_absent_fields_components_or_repetitions() -> None:
    pid = next(s for s in segments(generated()) if s.name == "PID")
    assert pid.get(3) == "MRN-77"
    assert pid.get(3, 4) == "FAIRVIEW"
    assert pid.get(3, 40, 3) == ""
    assert pid.get(99) == ""
    assert pid.repeats(0) == ()
    assert pid.first(42).is_empty


def test_escaped_delimiters_are_read_back_and_written_safely() -> None:
    text = "a|b^c&d~e\\f"
    assert escape(text) == "a\\F\\b\\S\\c\\T\\d\\R\\e\\E\\f"
    assert unescape(escape(text)) == text
    assert unescape("line one\\.br\\line two\\X41\\\\Zunknown\\") == "line one\nline twoA"
    assert escape("two\r\nlines\x07") == "two lines"
    nte = segments("MSH|^~\\&|LIS|LAB|||20240101||ORU^R01|1|P|2.5.1\rNTE|1||A\\T\\B and \\F\\")[1]
    assert nte.get(3) == "A&B and |"


@pytest.mark.parametrize(("hl7", "fhir"), [
    ("2011", "2011"),
    ("201101", "2011-01"),
    ("20110103", "2011-01-03"),
    ("20110103143428-0800", "2011-01-03T14:34:28-08:00"),
    ("202110201200+0215", "2021-10-20T12:00:00+02:15"),
    ("2011010314+0000", "2011-01-03T14:00:00+00:00"),
    ("20110103143428.1234+0100", "2011-01-03T14:34:28.1234+01:00"),
])
def test_hl7_times_become_fhir_dates_and_datetimes(hl7: str, fhir: str) -> None:
    found = read_hl7_time(hl7)
    assert found is not None
    assert found.value == fhir
    assert found.has_time == ("T" in fhir)


def test_a_time_without_offset_keeps_its_date_unless_the_zone_is_known() -> None:
    assert read_hl7_time("200202150930") == FhirTime("2002-02-15", lost_time=True)
    zone = timezone(timedelta(hours=-5))
    found = read_hl7_time("200202150930", zone)
    assert found == FhirTime("2002-02-15T09:30:00-05:00", has_time=True)


@pytest.mark.parametrize("text", ["196203520", "20110230", "2011013", "", "20110103256000+0000", "abc"])
def test_impossible_hl7_dates_are_not_read(text: str) -> None:
    assert read_hl7_time(text) is None


def test_birth_dates_drop_the_time_and_fhir_times_go_back_to_hl7() -> None:
    assert fhir_date("198808181126+0215") == "1988-08-18"
    assert fhir_date("196203520") is None
    assert hl7_time_from_fhir("2024-03-01T10:00:00+01:00") == "20240301100000+0100"
    assert hl7_time_from_fhir("2024-03-01T10:00:00Z") == "20240301100000+0000"
    assert hl7_time_from_fhir("1980-02-03") == "19800203"
    assert hl7_time_from_fhir("not a date") == ""
    assert hl7_time(datetime(2024, 1, 2, 3, 4, 5, tzinfo=UTC)) == "20240102030405+0000"
    with pytest.raises(ValueError, match="timezone-aware"):
        hl7_time(datetime(2024, 1, 2))
