"""The 835's codes described for billing staff: group, reason and remark codes, known or not."""

from __future__ import annotations

import pytest

from cairn.claims.adjustment_codes import (
    GROUP_CODES,
    REASON_CODES,
    REMARK_CODES,
    describe_adjustment,
    describe_remark,
    reason_text,
)

# The codes a small practice meets most, written as one checks them against a code table.
COMMON_REASONS = (  # noqa: SIM905
    "1 2 3 4 5 6 11 16 18 22 23 24 26 27 29 31 45 50 96 97 109 119 129 140 146 151 167 170 181 182 "
    "185 197 204 222 227 234 236 242 251 252 253"
).split()
COMMON_REMARKS = (  # noqa: SIM905
    "M15 M20 M51 M76 M77 MA04 MA18 MA130 N4 N19 N20 N30 N56 N115 N130 N290 N362 N386 N432 N522"
).split()


def test_a_contractual_adjustment_names_its_reason_and_its_group():
    assert describe_adjustment("CO", "45") == (
        "CO-45: charge exceeds the fee schedule or maximum allowable (contractual obligation)"
    )
    assert describe_adjustment("PR", "2") == "PR-2: coinsurance amount (patient responsibility)"
    assert describe_adjustment(" oa ", " 23 ").startswith("OA-23: the impact of prior payers")


def test_an_unknown_reason_code_is_still_described_by_its_number():
    assert describe_adjustment("CO", "999") == "CO-999: reason code 999 (not in Cairn's list)"
    assert reason_text("999") == "reason code 999 (not in Cairn's list)"


def test_an_unknown_group_is_named_as_sent():
    assert describe_adjustment("ZZ", "45").endswith("(group ZZ)")


def test_remarks_are_described_and_unknown_ones_named():
    assert describe_remark("n115") == "N115: decided under a Local Coverage Determination (LCD)"
    assert describe_remark("N9999") == "N9999: remark code N9999 (not in Cairn's list)"


@pytest.mark.parametrize("reason", COMMON_REASONS)
def test_every_common_reason_code_has_its_own_description(reason):
    assert REASON_CODES[reason]
    assert "not in Cairn's list" not in describe_adjustment("CO", reason)


@pytest.mark.parametrize("remark", COMMON_REMARKS)
def test_every_common_remark_code_has_its_own_description(remark):
    assert REMARK_CODES[remark]
    assert describe_remark(remark).startswith(f"{remark}: ")


def test_the_lists_are_big_enough_for_a_small_practice_and_every_group_has_a_meaning():
    assert len(REASON_CODES) >= 50
    assert len(REMARK_CODES) >= 20
    assert GROUP_CODES == {
        "CO": "contractual obligation",
        "PR": "patient responsibility",
        "OA": "other adjustment",
        "PI": "payer initiated reduction",
        "CR": "correction and reversal",
    }
    assert all(text and text == text.strip() and not text.endswith(".") for text in REASON_CODES.values())
