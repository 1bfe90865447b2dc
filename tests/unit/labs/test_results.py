"""Reading ORU^R01 results: every shared fixture with its content asserted, valid FHIR R4 for every
resource, and the ways a message can be wrong."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest

from cairn.fhir.validation import validate_resource
from cairn.labs.framing import normalize, split_batch
from cairn.labs.model import LabResultMessage, MalformedMessage, PatientIdentifier, PatientIdentity, Severity
from cairn.labs.results import read_results
from devkit.lab_messages import (
    PANELS,
    GeneratedTest,
    panel_results,
    result_message,
    truncated,
    without_segment,
)

HL7_FIXTURES = Path(__file__).resolve().parents[3] / ".." / "shared" / "fixtures" / "hl7"
needs_fixtures = pytest.mark.skipif(
    not HL7_FIXTURES.is_dir(),
    reason=f"the shared HL7 fixtures are not beside this clone: {HL7_FIXTURES} is missing")
RESULT_FIXTURES = {  # file -> observations per group, message severity
    "LAB-ORU-1.hl7": ((5, 5), Severity.NORMAL),
    "LAB-ORU-2.hl7": ((5, 5), Severity.NORMAL),
    "LRI_2.0-NG_CBC_Typ_Message.hl7": ((28,), Severity.CRITICAL),
    "ORU-R01-01.hl7": ((1,), Severity.ABNORMAL),
    "ORU-R01-RMGEAD.hl7": ((1,), Severity.ABNORMAL),
    "python-hl7_sample_hl7_GHH_ORU_R01.hl7": ((2,), Severity.ABNORMAL),
}
ORDER_FIXTURES = ("LAB-ORM-1.hl7", "MDHHS-OML-O21-1.hl7", "OML-O21-01.hl7", "ORM-O01-01.hl7",
                  "ORM-O01-02.hl7")
LOINC = "http://loinc.org"
UCUM = "http://unitsofmeasure.org"
SNOMED = "http://snomed.info/sct"
V2 = "http://terminology.hl7.org/CodeSystem/v2-"
MG_DL = {"unit": "mg/dL", "system": UCUM, "code": "mg/dL"}
PATIENT = PatientIdentity((PatientIdentifier("MRN-5", "FAIRVIEW", "MR"),), "Example", ("Sam", "Q"),
                          "1955-07-04", "female")
COLLECTED = datetime(2024, 2, 3, 8, 15, tzinfo=UTC)


def fixture(name: str) -> LabResultMessage:
    (message,) = split_batch(normalize((HL7_FIXTURES / name).read_bytes()))
    return read_results(message)


def generated(tests: list[GeneratedTest] | None = None, **options: Any) -> str:
    tests = tests or list(panel_results(PANELS["cbc"], seed=3))
    return result_message(patient=PATIENT, control_id="R-1", placer="PL-9", filler="FI-9", tests=tests,
                          collected=COLLECTED, **options)


def line(value: str, value_type: str = "NM", *, unit: str = "mg/dL", reference: str = "", flag: str = "N",
         status: str = "F", note: str = "") -> GeneratedTest:
    return GeneratedTest("2345-7", "Glucose", value, unit, reference, flag, value_type, status, note)


def only_observation(message: str) -> dict[str, Any]:
    (group,) = read_results(message).groups
    (observation,) = group.observations
    return observation


def assert_valid_fhir(result: LabResultMessage) -> None:
    """Every resource validates as FHIR R4 once the workflow's subject is added."""
    for group in result.groups:
        for resource in (group.report, *group.observations):
            content = {k: v for k, v in resource.items() if k != "_sequence"}
            content["subject"] = {"reference": "Patient/x"}
            validate_resource(content, str(resource["resourceType"]))


def codes(concept: dict[str, Any]) -> list[tuple[str | None, str]]:
    return [(c.get("system"), c["code"]) for c in concept.get("coding", ())]


@needs_fixtures
@pytest.mark.parametrize("name", sorted(RESULT_FIXTURES))
def test_every_result_fixture_maps_to_valid_fhir_with_its_groups_and_severity(name: str) -> None:
    result = fixture(name)
    sizes, severity = RESULT_FIXTURES[name]
    assert tuple(len(g.observations) for g in result.groups) == sizes
    assert result.severity is severity
    assert_valid_fhir(result)
    for group in result.groups:
        positions = [str(n) for n in range(1, len(group.observations) + 1)]
        assert [o["_sequence"] for o in group.observations] == positions


@needs_fixtures
@pytest.mark.parametrize("name", ORDER_FIXTURES)
def test_order_fixtures_are_refused_as_results(name: str) -> None:
    (message,) = split_batch(normalize((HL7_FIXTURES / name).read_bytes()))
    with pytest.raises(MalformedMessage) as refused:
        read_results(message)
    assert refused.value.reject
    assert refused.value.hl7_error in ("200", "203")


@needs_fixtures
def test_nist_lri_cbc_maps_codes_units_ranges_flags_and_specimen() -> None:
    result = fixture("LRI_2.0-NG_CBC_Typ_Message.hl7")
    assert result.patient.identifiers == (PatientIdentifier("PATID1234", "NIST MPI", "MR"),)
    assert (result.patient.family, result.patient.given) == ("Jones", ("William", "A"))
    assert (result.patient.birth_date, result.patient.sex) == ("1961-06-15", "male")
    assert result.warnings == ()
    (group,) = result.groups
    assert (group.order.placer, group.order.filler) == ("ORD666555", "R-991133")
    assert group.ordering_provider == "57422"
    report = group.report
    assert codes(report["code"])[0] == (LOINC, "57021-8")
    assert report["status"] == "final"
    assert report["effectiveDateTime"] == "2011-01-03T14:34:28-08:00"
    assert report["issued"] == "2011-01-04T17:00:28-08:00"
    assert report["specimen"] == [{"reference": "#specimen-1"}]
    (specimen,) = report["contained"]
    assert codes(specimen["type"]) == [(SNOMED, "119297000")]
    assert specimen["collection"] == {"collectedDateTime": "2011-01-03T14:34:28-08:00"}
    by_code = {codes(o["code"])[0][1]: o for o in group.observations}
    leukocytes = by_code["26464-8"]
    assert leukocytes["valueQuantity"] == {"value": 105600, "unit": "{cells}/uL", "system": UCUM,
                                           "code": "{cells}/uL"}
    assert leukocytes["referenceRange"][0]["low"]["value"] == 4300
    assert leukocytes["referenceRange"][0]["high"]["value"] == 10800
    assert leukocytes["referenceRange"][0]["text"] == "4300 to 10800"
    assert codes(leukocytes["interpretation"][0]) == [
        ("http://terminology.hl7.org/CodeSystem/v3-ObservationInterpretation", "HH")]
    assert by_code["718-7"]["interpretation"][0]["coding"][0]["code"] == "L"
    assert by_code["718-7"]["valueQuantity"]["value"] == 12.5
    assert codes(by_code["38892-6"]["valueCodeableConcept"]) == [(SNOMED, "260348001")]
    assert by_code["6742-1"]["valueString"] == "Many spherocytes present."
    assert all(o["status"] == "final" for o in group.observations)
    assert all(o["category"][0]["coding"][0]["code"] == "laboratory" for o in group.observations)


@needs_fixtures
def test_lab_oru_1_maps_statuses_units_and_a_missing_report_status() -> None:
    result = fixture("LAB-ORU-1.hl7")
    first, second = result.groups
    assert (first.order.placer, first.order.filler) == ("88502218", "82503246")
    assert codes(first.report["code"]) == [(LOINC, "24317-0")]
    assert [o["status"] for o in first.observations] == [
        "registered", "preliminary", "registered", "preliminary", "final"]
    assert "valueQuantity" not in first.observations[0]
    assert first.observations[1]["valueQuantity"] == {"value": 4.06, "unit": "tera.l-1"}
    assert second.observations[0]["valueQuantity"] == {"value": 72, "unit": "%", "system": UCUM, "code": "%"}
    assert second.report["status"] == "final"
    assert "OBR 2 has no result status (OBR-25); read as final" in result.warnings
    assert first.report["contained"][0]["receivedTime"] == "2014-10-06T08:21:00+07:00"
    assert codes(first.report["contained"][0]["type"]) == [(V2 + "0487", "BLD")]


@needs_fixtures
def test_public_health_oru_maps_coded_result_notes_and_skips_observations_outside_orders() -> None:
    result = fixture("ORU-R01-01.hl7")
    (group,) = result.groups
    (observation,) = group.observations
    assert codes(observation["valueCodeableConcept"]) == [(SNOMED, "27268008")]
    assert observation["status"] == "preliminary"
    assert observation["note"] == [{"text": "Submission of serum"}, {"text": "No Antibodies Detected"}]
    assert codes(group.report["code"]) == [(None, "625-4")]  # a local coding system keeps no invented URI
    assert "E.coli O157:H7 & other STECs" in group.report["conclusion"]
    assert (group.order.placer, group.order.filler) == ("845439", "986")
    assert result.patient.identifiers == (PatientIdentifier("14", "IA PHIMS Stage", "PI"),)
    assert any("outside an order group" in w for w in result.warnings)
    assert any("specimen OBX" in w for w in result.warnings)


@needs_fixtures
def test_version_2_4_structured_numeric_glucose() -> None:
    result = fixture("ORU-R01-RMGEAD.hl7")
    (group,) = result.groups
    (glucose,) = group.observations
    assert glucose["valueQuantity"] == {"value": 182, "unit": "mg/dl", "system": UCUM, "code": "mg/dl"}
    (reference,) = glucose["referenceRange"]
    assert (reference["low"]["value"], reference["high"]["value"], reference["text"]) == (70, 105, "70_105")
    assert glucose["effectiveDateTime"] == "2002-02-15T07:30:00+06:00"
    assert group.ordering_provider == "555-55-5555"
    assert (result.patient.sex, result.patient.birth_date) == ("female", "1962-03-20")


@needs_fixtures
def test_python_hl7_sample_keeps_what_it_can_and_says_what_it_left_out() -> None:
    result = fixture("python-hl7_sample_hl7_GHH_ORU_R01.hl7")
    assert result.patient.birth_date is None
    assert "PID-7 birth date is not an HL7 date; left out" in result.warnings
    assert any("FN is kept as text" in w for w in result.warnings)
    assert any("without a UTC offset" in w for w in result.warnings)
    assert result.groups[0].observations[1]["valueString"] == "182"
    assert result.groups[0].report["effectiveDateTime"] == "2002-02-15"


@pytest.mark.parametrize("version", ["2.3", "2.5.1"])
def test_generated_messages_map_to_valid_fhir(version: str) -> None:
    result = read_results(generated(version=version, comment="specimen slightly hemolysed"))
    assert_valid_fhir(result)
    (group,) = result.groups
    assert group.report["conclusion"] == "specimen slightly hemolysed"
    assert group.report["contained"][0]["collection"] == {"collectedDateTime": "2024-02-03T08:15:00+00:00"}


def test_missing_pid_is_a_clear_error() -> None:
    with pytest.raises(MalformedMessage) as refused:
        read_results(without_segment(generated(), "PID"))
    assert refused.value.reason.startswith("the message has no PID segment: ")
    assert (refused.value.hl7_error, refused.value.reject) == ("100", False)


def test_missing_obr_is_a_clear_error() -> None:
    with pytest.raises(MalformedMessage, match="no OBR segment"):
        read_results(without_segment(generated(), "OBR"))


def test_two_patients_in_one_message_are_refused() -> None:
    message = generated()
    pid = next(s for s in message.split("\r") if s.startswith("PID"))
    with pytest.raises(MalformedMessage, match="more than one PID"):
        read_results(message + "\r" + pid)


@pytest.mark.parametrize(("message_type", "code"), [
    ("ORM^O01", "200"), ("ADT^A01", "200"), ("ORU^R30", "201"), ("ORU", "201"),
])
def test_other_message_types_are_rejected(message_type: str, code: str) -> None:
    with pytest.raises(MalformedMessage) as refused:
        read_results(generated().replace("ORU^R01^ORU_R01", message_type))
    assert (refused.value.hl7_error, refused.value.reject) == (code, True)


@pytest.mark.parametrize("version", ["2.3", "2.5.1"])
def test_a_message_cut_inside_an_obx_is_refused_not_mapped_in_part(version: str) -> None:
    cut = truncated(generated(version=version))
    with pytest.raises(MalformedMessage) as refused:
        read_results(cut)
    assert "truncated" in refused.value.reason
    assert refused.value.hl7_error == "101"


def test_a_message_cut_inside_a_segment_id_is_refused() -> None:
    with pytest.raises(MalformedMessage, match="no valid segment id"):
        read_results(generated() + "\rOB")


def test_an_observation_without_identifier_is_refused() -> None:
    with pytest.raises(MalformedMessage, match=r"OBX-3"):
        read_results(generated([line("5")]).replace("|NM|2345-7^Glucose^LN|", "|NM||"))


@pytest.mark.parametrize(("value", "expected"), [
    ("^182", {"valueQuantity": {"value": 182, **MG_DL}}),
    ("<^5", {"valueQuantity": {"value": 5, "comparator": "<", **MG_DL}}),
    (">=^10.5", {"valueQuantity": {"value": 10.5, "comparator": ">=", **MG_DL}}),
    ("^10^-^20", {"valueRange": {"low": {"value": 10, **MG_DL}, "high": {"value": 20, **MG_DL}}}),
    ("^1^:^128", {"valueRatio": {"numerator": {"value": 1}, "denominator": {"value": 128}}}),
    ("^2^+", {"valueString": "2+"}),
])
def test_structured_numeric_values(value: str, expected: dict[str, Any]) -> None:
    observation = only_observation(generated([line(value, "SN")]))
    assert {k: v for k, v in observation.items() if k.startswith("value")} == expected


def test_numeric_values_with_a_comparator_or_text() -> None:
    below = only_observation(generated([line("<0.5", unit="IU/L")]).replace("IU/L^^UCUM", "IU/L"))
    assert below["valueQuantity"] == {"value": 0.5, "comparator": "<", "unit": "IU/L"}  # not a UCUM code
    result = read_results(generated([line("see note")]))
    assert result.groups[0].observations[0]["valueString"] == "see note"
    assert any("NM value is not a number" in w for w in result.warnings)
    assert all("see note" not in w for w in result.warnings)


@pytest.mark.parametrize(("value_type", "value", "expected"), [
    ("ST", "clear yellow", {"valueString": "clear yellow"}),
    ("TX", "line one~line two", {"valueString": "line one\nline two"}),
    ("FT", "bold\\.br\\text", {"valueString": "bold\ntext"}),
    ("CWE", "260385009^Negative^SCT", {"valueCodeableConcept": {
        "coding": [{"system": SNOMED, "code": "260385009", "display": "Negative"}], "text": "Negative"}}),
    ("CE", "POS^Positive^HL70078", {"valueCodeableConcept": {
        "coding": [{"system": V2 + "0078", "code": "POS", "display": "Positive"}], "text": "Positive"}}),
    ("CWE", "X1^Local thing^99LAB^^^^^^as written", {"valueCodeableConcept": {
        "coding": [{"code": "X1", "display": "Local thing"}], "text": "as written"}}),
    ("DT", "20240101", {"valueDateTime": "2024-01-01"}),
    ("TS", "202401011230-0500", {"valueDateTime": "2024-01-01T12:30:00-05:00"}),
])
def test_value_types(value_type: str, value: str, expected: dict[str, Any]) -> None:
    observation = only_observation(generated([line(value, value_type, unit="")]))
    assert {k: v for k, v in observation.items() if k.startswith("value")} == expected


@pytest.mark.parametrize(("reference", "expected"), [
    ("3.5-5.0", {"low": 3.5, "high": 5.0}),
    ("3.5 - 5.0", {"low": 3.5, "high": 5.0}),
    ("<5", {"high": 5}),
    (">10", {"low": 10}),
    ("-2-2", {"low": -2, "high": 2}),
    ("negative", {}),
])
def test_reference_ranges(reference: str, expected: dict[str, float]) -> None:
    (found,) = only_observation(generated([line("4", reference=reference)]))["referenceRange"]
    assert found["text"] == reference
    assert {side: found[side]["value"] for side in ("low", "high") if side in found} == expected
    assert all(found[side]["code"] == "mg/dL" for side in expected)


def test_reference_range_of_a_coded_result_is_text_only() -> None:
    (found,) = only_observation(generated([line("N^Normal^L", "CWE", reference="1-2")]))["referenceRange"]
    assert found == {"text": "1-2"}


@pytest.mark.parametrize(("flags", "severity"), [
    (["N", "N"], Severity.NORMAL),
    (["", "N"], Severity.NORMAL),
    (["H", "N"], Severity.ABNORMAL),
    (["<", "N"], Severity.ABNORMAL),
    (["A", "N"], Severity.ABNORMAL),
    (["HH", "H"], Severity.CRITICAL),
    (["LL", "N"], Severity.CRITICAL),
    (["AA", "N"], Severity.CRITICAL),
])
def test_severity_follows_the_abnormal_flags(flags: list[str], severity: Severity) -> None:
    result = read_results(generated([line("5", flag=flag) for flag in flags]))
    assert result.groups[0].severity is severity
    assert result.severity is severity


def test_a_critical_flag_on_a_result_entered_in_error_does_not_raise_severity() -> None:
    result = read_results(generated([line("900", flag="HH", status="D"), line("90")]))
    assert result.groups[0].observations[0]["status"] == "entered-in-error"
    assert result.severity is Severity.NORMAL


@pytest.mark.parametrize(("obx_status", "fhir"), [
    ("F", "final"), ("C", "corrected"), ("P", "preliminary"), ("X", "cancelled"), ("D", "entered-in-error"),
    ("R", "preliminary"), ("I", "registered"), ("A", "amended"),
])
def test_observation_status_from_obx_11(obx_status: str, fhir: str) -> None:
    assert only_observation(generated([line("5", status=obx_status)]))["status"] == fhir


@pytest.mark.parametrize(("obr_status", "fhir"), [
    ("F", "final"), ("C", "corrected"), ("P", "preliminary"), ("X", "cancelled"), ("I", "registered"),
    ("O", "registered"), ("S", "registered"), ("A", "partial"),
])
def test_report_status_from_obr_25(obr_status: str, fhir: str) -> None:
    (group,) = read_results(generated(status=obr_status)).groups
    assert group.report["status"] == fhir


def test_notes_after_an_obx_are_its_notes() -> None:
    observation = only_observation(generated([line("5", note="repeat confirmed")]))
    assert observation["note"] == [{"text": "repeat confirmed"}]


def test_times_without_offset_are_read_in_the_labs_zone_when_known() -> None:
    message = generated().replace("+0000", "")
    assert read_results(message).groups[0].report["effectiveDateTime"] == "2024-02-03"
    zoned = read_results(message, zone=timezone(timedelta(hours=2)))
    assert zoned.groups[0].report["effectiveDateTime"] == "2024-02-03T08:15:00+02:00"
    assert zoned.groups[0].report["issued"] == "2024-02-03T10:15:00+02:00"


def test_patient_identity_from_pid() -> None:
    patient = read_results(generated()).patient
    assert patient == PATIENT


def test_warnings_never_quote_patient_values() -> None:
    message = generated([line("ExampleSecret", "XX")]).replace("19550704", "19550799")
    result = read_results(message)
    assert len(result.warnings) >= 2
    leaked = [w for w in result.warnings if "Secret" in w or "19550799" in w or "Example" in w]
    assert leaked == []
