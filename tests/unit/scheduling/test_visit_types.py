"""The visit types a clinic starts with, and finding one by its code."""

from __future__ import annotations

import pytest

from cairn.scheduling.visit_types import (
    CODE_PATTERN,
    DEFAULT_VISIT_TYPES,
    VISIT_TYPE_SYSTEM,
    UnknownVisitType,
    VisitType,
    visit_type,
)


def test_the_default_visit_types_are_the_six_a_primary_care_clinic_books_with_their_lengths() -> None:
    assert {t.code: t.minutes for t in DEFAULT_VISIT_TYPES} == {
        "urgent": 15, "new-symptom": 20, "annual-wellness": 40, "follow-up": 20, "chronic-care": 30,
        "telehealth": 20,
    }


def test_every_default_code_is_a_slug_in_cairns_code_system() -> None:
    assert VISIT_TYPE_SYSTEM == "https://cairn.health/fhir/CodeSystem/visit-type"
    assert all(CODE_PATTERN.match(t.code) for t in DEFAULT_VISIT_TYPES)
    assert len({t.code for t in DEFAULT_VISIT_TYPES}) == len(DEFAULT_VISIT_TYPES)


def test_only_the_telehealth_type_is_remote_and_triaged_types_are_not_patient_bookable() -> None:
    assert [t.code for t in DEFAULT_VISIT_TYPES if t.telehealth] == ["telehealth"]
    assert {t.code for t in DEFAULT_VISIT_TYPES if not t.patient_bookable} == {"urgent", "chronic-care"}


def test_a_visit_type_is_found_by_its_code() -> None:
    found = visit_type("annual-wellness")
    assert found.display == "Annual wellness visit"
    assert found.minutes == 40


def test_a_visit_type_is_found_among_a_clinics_own_types() -> None:
    own = (VisitType("prenatal", "Prenatal visit", 30, patient_bookable=True, telehealth=False),)
    assert visit_type("prenatal", own).minutes == 30
    with pytest.raises(UnknownVisitType):
        visit_type("urgent", own)


def test_an_unknown_code_is_refused_naming_the_codes_there_are() -> None:
    with pytest.raises(UnknownVisitType) as refused:
        visit_type("massage")
    assert isinstance(refused.value, ValueError)
    message = str(refused.value)
    assert all(t.code in message for t in DEFAULT_VISIT_TYPES)
    assert "massage" not in message


@pytest.mark.parametrize(("code", "minutes"), [("Follow Up", 20), ("-x", 20), ("ok", 0), ("ok", 481)])
def test_a_visit_type_needs_a_slug_code_and_at_most_a_working_day(code: str, minutes: int) -> None:
    with pytest.raises(ValueError, match="visit"):
        VisitType(code, "Some visit", minutes, patient_bookable=True, telehealth=False)
