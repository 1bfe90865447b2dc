"""A patient's trend of one test: clinical-date order over every page, void results left out,
numbers with units and ranges, text for the rest, and a patient user seeing released ones only."""

from __future__ import annotations

import json
from typing import Any

import pytest

from cairn.labs.release import release_results, with_release_tag
from cairn.labs.trend import Trend, TrendPoint, trend
from multitenant.context import Role
from tests.unit.labs.test_release import LOINC, POTASSIUM, Clinic, lab_observation

K = f"{LOINC}|2823-3"
SODIUM = {"coding": [{"system": LOINC, "code": "2951-2", "display": "Sodium"}]}


@pytest.fixture
def clinic() -> Clinic:
    return Clinic()


def store(clinic: Clinic, observation: dict[str, Any], *, released: bool = False) -> str:
    if released:
        observation = with_release_tag(observation)
    return f"Observation/{clinic.system().create('Observation', observation).resource['id']}"


def test_the_points_are_in_clinical_date_order_whatever_order_they_were_stored_in(clinic):
    patient_id = clinic.patient()
    march = store(clinic, lab_observation(patient_id, 4.4, effective="2026-03-01T08:00:00Z"))
    january = store(clinic, lab_observation(patient_id, 3.9, effective="2026-01-10T08:00:00Z"))
    february = store(clinic, lab_observation(patient_id, 5.6, effective="2026-02-03T08:00:00+01:00"))

    found = trend(clinic.service(), patient_id=patient_id, code=K)

    assert [p.observation for p in found.points] == [january, february, march]
    assert [p.value for p in found.points] == [3.9, 5.6, 4.4]


def test_a_point_holds_value_unit_range_interpretation_status_and_its_observation(clinic):
    patient_id = clinic.patient()
    observation = lab_observation(patient_id, 6.8)
    observation["interpretation"] = [{"coding": [
        {"system": "http://terminology.hl7.org/CodeSystem/v3-ObservationInterpretation", "code": "HH"}
    ]}]
    reference = store(clinic, observation)

    (point,) = trend(clinic.service(), patient_id=patient_id, code=K).points

    assert point == TrendPoint(
        observation=reference, effective="2026-03-04T08:00:00Z", status="final", value=6.8, unit="mmol/L",
        comparator=None, text=None, low=3.5, high=5.1, range_text=None, interpretation=("HH",),
    )


def test_a_value_that_is_no_number_is_text_and_a_comparator_is_kept(clinic):
    patient_id = clinic.patient()
    worded = lab_observation(patient_id, 0, effective="2026-01-01T08:00:00Z")
    del worded["valueQuantity"]
    worded["valueString"] = "hemolyzed, see comment"
    below = lab_observation(patient_id, 0.5, effective="2026-02-01T08:00:00Z")
    below["valueQuantity"]["comparator"] = "<"
    store(clinic, worded)
    store(clinic, below)

    first, second = trend(clinic.service(), patient_id=patient_id, code=K).points

    assert (first.value, first.unit, first.text) == (None, None, "hemolyzed, see comment")
    assert (second.value, second.comparator, second.unit) == (0.5, "<", "mmol/L")


def test_cancelled_and_entered_in_error_results_are_left_out(clinic):
    patient_id = clinic.patient()
    kept = {
        store(clinic, lab_observation(patient_id, 4.0, status=status))
        for status in ("final", "amended", "preliminary")
    }
    for status in ("cancelled", "entered-in-error"):
        store(clinic, lab_observation(patient_id, 9.9, status=status))

    found = trend(clinic.service(), patient_id=patient_id, code=K)

    assert {p.observation for p in found.points} == kept


def test_only_the_patients_results_of_that_test_are_in_the_trend(clinic):
    patient_id, other_id = clinic.patient(), clinic.patient(mrn="MRN-2")
    mine = store(clinic, lab_observation(patient_id, 4.0))
    store(clinic, lab_observation(other_id, 4.1))
    store(clinic, lab_observation(patient_id, 140, code=SODIUM))

    for code in (K, "2823-3"):
        found = trend(clinic.service(), patient_id=patient_id, code=code)
        assert [p.observation for p in found.points] == [mine]
    assert trend(clinic.service(), patient_id=patient_id, code="http://snomed.info/sct|2823-3").points == ()


def test_every_page_of_a_long_history_is_read(clinic):
    patient_id = clinic.patient()
    for day in range(105):
        effective = f"2025-{1 + day // 28:02d}-{1 + day % 28:02d}"
        store(clinic, lab_observation(patient_id, 4.0, effective=effective))
    found = trend(clinic.service(), patient_id=patient_id, code=K)
    assert len(found.points) == 105
    assert [p.effective for p in found.points] == sorted(p.effective or "" for p in found.points)


def test_a_patient_user_sees_only_their_released_results(clinic):
    patient_id = clinic.patient()
    released_report = clinic.report(patient_id, (3.9,), effective="2026-01-10T08:00:00Z")
    clinic.report(patient_id, (6.8,), effective="2026-03-04T08:00:00Z")  # awaiting review
    release_results(clinic.service(), released_report)
    patient = clinic.service(Role.PATIENT, patient_id=patient_id)

    assert [p.value for p in trend(clinic.service(), patient_id=patient_id, code=K).points] == [3.9, 6.8]
    assert [p.value for p in trend(patient, patient_id=patient_id, code=K).points] == [3.9]


def test_a_patient_user_asking_for_another_patients_trend_gets_nothing(clinic):
    patient_id, other_id = clinic.patient(), clinic.patient(mrn="MRN-2")
    store(clinic, lab_observation(other_id, 4.4), released=True)
    patient = clinic.service(Role.PATIENT, patient_id=patient_id)
    assert trend(patient, patient_id=other_id, code=K).points == ()


def test_another_clinic_sees_no_trend(clinic):
    patient_id = clinic.patient()
    store(clinic, lab_observation(patient_id, 4.4))
    assert trend(clinic.service(tenant="globex"), patient_id=patient_id, code=K).points == ()


def test_the_trend_as_json_names_the_test_and_its_unit(clinic):
    patient_id = clinic.patient()
    reference = store(clinic, lab_observation(patient_id, 4.4))

    found = trend(clinic.service(), patient_id=patient_id, code=K)

    assert found == Trend(code=K, display="Potassium", unit="mmol/L", points=found.points)
    document = json.loads(json.dumps(found.as_dict()))
    assert document["display"] == POTASSIUM["coding"][0]["display"]
    assert document["unit"] == "mmol/L"
    assert document["points"][0]["observation"] == reference
    assert document["points"][0]["interpretation"] == []


def test_a_trend_with_no_results_has_no_display_or_unit(clinic):
    found = trend(clinic.service(), patient_id=clinic.patient(), code=K)
    assert found == Trend(code=K, display=None, unit=None, points=())
