"""A clinic's claims settings: defaults, a round trip through as_dict, and every problem named."""

from __future__ import annotations

from typing import Any

import pytest

from cairn.claims.model import Submitter
from cairn.claims.settings import CLAIMS_SETTINGS, ClaimsSettings, InvalidClaimsSettings, PayerRules

SUBMITTER = {
    "sender_id": "HUDSONFM01",
    "receiver_id": "AVAILITY",
    "name": "Hudson Family Medicine",
    "contact_name": "Billing Office",
    "contact_phone": "5185550100",
    "receiver_name": "Availity LLC",
}
SETTINGS: dict[str, Any] = {
    "submitter": {**SUBMITTER, "production": True},
    "billing_organization": "org-hudson",
    "payers": [
        {"payer_id": "EMP01", "name": "Empire Health", "requires_group_number": True},
        {
            "payer_id": "60054",
            "name": "Aetna",
            "timely_filing_days": 90,
            "requires_rendering_provider": False,
            "allowed_places_of_service": ["11", "02", "10"],
            "max_lines": 6,
        },
    ],
    "acknowledgement_hours": 24,
    "remittance_days": 30,
}


def test_every_setting_is_read() -> None:
    settings = ClaimsSettings.parse(SETTINGS)
    assert settings.submitter == Submitter(
        "HUDSONFM01",
        "AVAILITY",
        "Hudson Family Medicine",
        "Billing Office",
        "5185550100",
        "Availity LLC",
        True,
    )
    assert settings.billing_organization == "org-hudson"
    assert settings.rules("60054") == PayerRules(
        payer_id="60054",
        name="Aetna",
        timely_filing_days=90,
        requires_rendering_provider=False,
        requires_group_number=False,
        allowed_places_of_service=("11", "02", "10"),
        max_lines=6,
    )
    assert settings.acknowledgement_hours == 24
    assert settings.remittance_days == 30
    assert settings.missing() == ()


def test_a_payers_absent_rules_take_their_defaults() -> None:
    rules = ClaimsSettings.parse(SETTINGS).rules("EMP01")
    assert rules == PayerRules("EMP01", "Empire Health", requires_group_number=True)
    assert rules is not None
    assert (rules.timely_filing_days, rules.requires_rendering_provider, rules.max_lines) == (365, True, 50)
    assert rules.allowed_places_of_service == ()


def test_a_payer_the_clinic_has_not_set_up_has_no_rules() -> None:
    assert ClaimsSettings.parse(SETTINGS).rules("99999") is None


def test_no_settings_is_a_clinic_that_has_not_enrolled_yet() -> None:
    settings = ClaimsSettings.parse({})
    assert settings == ClaimsSettings()
    assert (settings.submitter, settings.billing_organization, dict(settings.payers)) == (None, "", {})
    assert (settings.acknowledgement_hours, settings.remittance_days) == (48, 45)
    assert settings.missing() == (
        "submitter: enter the clinic's clearinghouse enrolment (sender and receiver ids)",
        "billing_organization: name the Organization in the clinic's record that bills",
        "payers: add the payers the clinic bills, with their clearinghouse payer ids",
    )


def test_a_submitter_not_in_production_sends_test_files() -> None:
    settings = ClaimsSettings.parse({"submitter": SUBMITTER})
    assert settings.submitter is not None
    assert settings.submitter.production is False


@pytest.mark.parametrize("raw", [SETTINGS, {}, {"submitter": SUBMITTER}, {"payers": SETTINGS["payers"][1:]}])
def test_as_dict_parses_back_to_the_same_value(raw: dict[str, Any]) -> None:
    settings = ClaimsSettings.parse(raw)
    assert ClaimsSettings.parse(settings.as_dict()) == settings


def test_the_clinics_other_settings_are_ignored() -> None:
    settings = ClaimsSettings.parse({**SETTINGS, "time_zone": "America/New_York", "visit_types": []})
    assert settings == ClaimsSettings.parse(SETTINGS)
    assert set(settings.as_dict()) == set(CLAIMS_SETTINGS)


def test_every_problem_is_named_at_once() -> None:
    with pytest.raises(InvalidClaimsSettings) as raised:
        ClaimsSettings.parse(
            {
                "submitter": {
                    **SUBMITTER,
                    "sender_id": "HUDSON*FM",
                    "contact_phone": "518-555-0100",
                    "production": "yes",
                },
                "billing_organization": "Organization/org-hudson",
                "payers": [
                    {"payer_id": "EMP01", "name": "Empire Health"},
                    {"payer_id": "EMP01", "name": "Empire again"},
                    {"payer_id": "E", "name": "", "timely_filing_days": 0, "requires_group_number": "no"},
                    {
                        "payer_id": "60054",
                        "name": "Aetna",
                        "allowed_places_of_service": ["11", "98"],
                        "max_lines": 51,
                    },
                    "Cigna",
                ],
                "acknowledgement_hours": True,
                "remittance_days": 400,
            }
        )
    assert raised.value.problems == (
        "submitter.sender_id must be the 2 to 15 letters or digits the clearinghouse assigned",
        "submitter.contact_phone must be ten digits, e.g. 5555550100",
        "submitter.production must be true (production) or false (test files)",
        "billing_organization must be the id of an Organization in the clinic's record",
        "payers[1].payer_id repeats payers[0]'s",
        "payers[2].payer_id must be the payer's id at the clearinghouse: 2 to 80 letters or digits",
        "payers[2].name must be 1 to 60 letters, digits, spaces or . , & ' ( ) / # @ + -",
        "payers[2].timely_filing_days must be a whole number from 1 to 1095",
        "payers[2].requires_group_number must be true or false",
        "payers[3].allowed_places_of_service must be a list of CMS place of service codes (two digits, "
        "e.g. 11 office, 02 telehealth); empty allows any",
        "payers[3].max_lines must be a whole number from 1 to 50",
        'payers[4] must be an object with "payer_id" and "name"',
        "acknowledgement_hours must be a whole number from 1 to 720",
        "remittance_days must be a whole number from 1 to 365",
    )
    assert str(raised.value).startswith("submitter.sender_id must be")


def test_a_submitter_that_is_not_an_object_is_named() -> None:
    with pytest.raises(InvalidClaimsSettings) as raised:
        ClaimsSettings.parse({"submitter": "HUDSONFM01", "payers": {"EMP01": {}}})
    assert raised.value.problems == (
        "submitter must be an object with sender_id, receiver_id, name, contact_name, contact_phone and "
        "receiver_name",
        'payers must be a list of up to 500 {"payer_id", "name", ...} objects',
    )


def test_a_name_with_an_x12_separator_is_refused() -> None:
    with pytest.raises(InvalidClaimsSettings) as raised:
        ClaimsSettings.parse({"submitter": {**SUBMITTER, "name": "Hudson~Family"}})
    assert raised.value.problems == (
        "submitter.name must be 1 to 60 letters, digits, spaces or . , & ' ( ) / # @ + -",
    )
