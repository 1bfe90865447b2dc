"""A clinic's self-booking rules read from its settings: defaults, its own choices, clear refusals."""

from __future__ import annotations

from typing import Any

import pytest

from cairn.scheduling.rules import InvalidSelfBookingRules, SelfBookingRules
from cairn.scheduling.visit_types import VisitType
from multitenant.onboarding import DEFAULT_SETTINGS


def test_a_new_clinics_settings_give_the_default_rules() -> None:
    rules = SelfBookingRules.parse(DEFAULT_SETTINGS)
    assert rules == SelfBookingRules(120, 60, frozenset({"new-symptom", "annual-wellness", "follow-up",
                                                         "telehealth"}))
    assert rules.allows("follow-up")
    assert not rules.allows("urgent")


def test_a_clinics_own_choices_replace_the_defaults() -> None:
    rules = SelfBookingRules.parse({"self_booking_lead_minutes": 0, "self_booking_horizon_days": 14,
                                    "self_booking_visit_types": ["telehealth", "urgent"]})
    assert rules == SelfBookingRules(0, 14, frozenset({"telehealth", "urgent"}))


def test_an_empty_list_of_visit_types_turns_self_booking_off() -> None:
    rules = SelfBookingRules.parse({"self_booking_visit_types": []})
    assert not any(rules.allows(code) for code in ("urgent", "new-symptom", "telehealth"))


def test_the_default_visit_types_come_from_the_clinics_own_types() -> None:
    own = (VisitType("prenatal", "Prenatal visit", 30, patient_bookable=True, telehealth=False),
           VisitType("procedure", "Procedure", 60, patient_bookable=False, telehealth=False))
    assert SelfBookingRules.parse({}, own).visit_types == frozenset({"prenatal"})
    with pytest.raises(InvalidSelfBookingRules, match="prenatal, procedure"):
        SelfBookingRules.parse({"self_booking_visit_types": ["follow-up"]}, own)


@pytest.mark.parametrize("lead", [-1, 20161, "120", 12.5, True, None])
def test_a_lead_time_must_be_a_whole_number_of_minutes_up_to_two_weeks(lead: Any) -> None:
    with pytest.raises(InvalidSelfBookingRules, match="lead_minutes must be a whole number from 0 to 20160"):
        SelfBookingRules.parse({"self_booking_lead_minutes": lead})


@pytest.mark.parametrize("horizon", [0, 366, "60", False])
def test_a_horizon_must_be_a_whole_number_of_days_up_to_a_year(horizon: Any) -> None:
    with pytest.raises(InvalidSelfBookingRules, match="horizon_days must be a whole number from 1 to 365"):
        SelfBookingRules.parse({"self_booking_horizon_days": horizon})


@pytest.mark.parametrize("codes", ["follow-up", ["follow-up", 3], {"follow-up": True}])
def test_visit_types_must_be_a_list_of_codes(codes: Any) -> None:
    with pytest.raises(InvalidSelfBookingRules, match="must be a list of visit type codes"):
        SelfBookingRules.parse({"self_booking_visit_types": codes})


def test_an_unknown_visit_type_is_refused_naming_the_types_there_are() -> None:
    with pytest.raises(InvalidSelfBookingRules) as refused:
        SelfBookingRules.parse({"self_booking_visit_types": ["follow-up", "massage"]})
    assert "urgent, new-symptom, annual-wellness, follow-up, chronic-care, telehealth" in str(refused.value)


def test_a_lead_time_as_long_as_the_horizon_is_refused_since_nothing_could_be_booked() -> None:
    with pytest.raises(InvalidSelfBookingRules, match="shorter than self_booking_horizon_days"):
        SelfBookingRules.parse({"self_booking_lead_minutes": 1440, "self_booking_horizon_days": 1})
    assert SelfBookingRules.parse({"self_booking_lead_minutes": 1439, "self_booking_horizon_days": 1})


def test_every_problem_is_named_at_once() -> None:
    with pytest.raises(InvalidSelfBookingRules) as refused:
        SelfBookingRules.parse({"self_booking_lead_minutes": -5, "self_booking_horizon_days": 0,
                                "self_booking_visit_types": "telehealth"})
    assert isinstance(refused.value, ValueError)
    assert str(refused.value).count(";") == 2
