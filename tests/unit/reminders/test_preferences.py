"""A patient's reminder channels and opt-outs as the Patient resource holds them (telecom rank,
the reminder-opt-out extension), read into flags and written back."""

from __future__ import annotations

from typing import Any

import pytest

from cairn.reminders.preferences import (
    OPT_OUT_URL,
    PreferencesNotPossible,
    contact_details,
    preferences_view,
    with_preferences,
)
from cairn.scheduling.reminders import Channel, ContactPreferences


def patient(*telecom: dict[str, Any], opt_outs: tuple[str, ...] = ()) -> dict[str, Any]:
    resource: dict[str, Any] = {"resourceType": "Patient", "id": "p1", "telecom": list(telecom)}
    if opt_outs:
        resource["extension"] = [{"url": OPT_OUT_URL, "valueCode": code} for code in opt_outs]
    return resource


EMAIL = {"system": "email", "value": "ada@example.com"}
MOBILE = {"system": "phone", "value": "+15555550100", "use": "mobile"}


def test_the_lowest_rank_among_reachable_channels_is_the_preferred_one() -> None:
    details = contact_details(patient({**EMAIL, "rank": 2}, {**MOBILE, "rank": 1}))

    assert details.preferences == ContactPreferences(Channel.SMS, has_email=True, has_phone=True)
    assert (details.email, details.sms) == ("ada@example.com", "+15555550100")


def test_without_any_rank_there_is_no_preference_and_a_home_phone_takes_no_text() -> None:
    details = contact_details(patient(EMAIL, {"system": "phone", "value": "+15555550199", "use": "home"}))

    assert details.preferences == ContactPreferences(None, has_email=True, has_phone=False)
    assert details.sms is None


def test_old_and_empty_contact_points_are_not_used() -> None:
    details = contact_details(patient({**EMAIL, "use": "old"}, {"system": "sms", "value": "  "}))

    assert details.preferences == ContactPreferences(None, has_email=False, has_phone=False)


def test_opt_outs_come_from_the_extension() -> None:
    assert contact_details(patient(EMAIL, opt_outs=("sms",))).preferences.opted_out == frozenset(
        {Channel.SMS}
    )
    assert contact_details(patient(EMAIL, opt_outs=("all",))).preferences.opted_out_all


def test_preferring_a_channel_ranks_it_first_and_keeps_the_others_in_their_order() -> None:
    before = patient(
        {**EMAIL, "rank": 1}, MOBILE, {"system": "phone", "value": "+15555550199", "use": "home"}
    )

    after = with_preferences(before, Channel.SMS, {Channel.EMAIL}, opted_out_all=False)

    assert [point.get("rank") for point in after["telecom"]] == [2, 1, None]  # the home phone untouched
    assert after["extension"] == [{"url": OPT_OUT_URL, "valueCode": "email"}]
    assert contact_details(after).preferences == ContactPreferences(
        Channel.SMS, has_email=True, has_phone=True, opted_out=frozenset({Channel.EMAIL})
    )
    assert before["telecom"][0]["rank"] == 1  # the input is not changed


def test_no_preference_and_no_opt_outs_clear_ranks_and_the_extension_but_keep_other_extensions() -> None:
    other = {"url": "http://hl7.org/fhir/us/core/StructureDefinition/us-core-birthsex", "valueCode": "F"}
    before = {
        **patient({**EMAIL, "rank": 1}, opt_outs=("all",)),
        "extension": [other, {"url": OPT_OUT_URL, "valueCode": "all"}],
    }

    after = with_preferences(before, None, set(), opted_out_all=False)

    assert "rank" not in after["telecom"][0]
    assert after["extension"] == [other]


def test_opting_out_of_everything_is_one_extension() -> None:
    after = with_preferences(patient(EMAIL), None, {Channel.EMAIL}, opted_out_all=True)

    assert after["extension"] == [{"url": OPT_OUT_URL, "valueCode": "all"}]


def test_a_channel_the_patient_cannot_be_reached_on_cannot_be_preferred() -> None:
    with pytest.raises(PreferencesNotPossible, match="no mobile phone number on file"):
        with_preferences(patient(EMAIL), Channel.SMS, set(), opted_out_all=False)


def test_the_view_holds_flags_and_never_the_addresses() -> None:
    view = preferences_view(contact_details(patient({**EMAIL, "rank": 1}, MOBILE, opt_outs=("sms",))))

    assert view == {
        "preferred": "email",
        "channels": {"email": True, "sms": True},
        "optedOut": ["sms"],
        "optedOutAll": False,
    }
