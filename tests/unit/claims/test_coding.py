"""An encounter's coding as a request: what is accepted, and every problem named by its element."""

from __future__ import annotations

from typing import Any

import pytest

from cairn.billing.fee_schedule import FeeSchedule
from cairn.claims.coding import CodedService, EncounterCoding, parse_coding
from cairn.claims.icd10 import Icd10Codes
from cairn.errors import MalformedRequest
from tests.unit.claims.conftest import CODING


def problems(raw: object, icd10: Icd10Codes, fees: FeeSchedule) -> list[str]:
    with pytest.raises(MalformedRequest) as raised:
        parse_coding(raw, icd10, fees)
    return str(raised.value).split("; ")


def test_a_coding_is_read_with_dotted_codes_and_defaults(icd10: Icd10Codes, fees: FeeSchedule) -> None:
    coding = parse_coding(
        {
            "diagnoses": ["e119", " I10 "],
            "services": [{"code": "99213", "modifiers": ["25"], "diagnoses": [2, 1]}],
        },
        icd10,
        fees,
    )
    assert coding == EncounterCoding(
        diagnoses=("E11.9", "I10"),
        services=(CodedService("99213", diagnoses=(2, 1), units=1, modifiers=("25",)),),
        place_of_service="11",
    )


def test_a_service_without_pointers_points_at_the_principal_diagnosis(
    icd10: Icd10Codes, fees: FeeSchedule
) -> None:
    coding = parse_coding({"diagnoses": ["Z00.00"], "services": [{"code": "G0439"}]}, icd10, fees)
    assert coding.services == (CodedService("G0439", diagnoses=(1,)),)


def test_modifiers_are_upper_cased(icd10: Icd10Codes, fees: FeeSchedule) -> None:
    coding = parse_coding(
        {
            "diagnoses": ["I10"],
            "services": [{"code": "99213", "modifiers": ["gt", "25"]}],
            "place_of_service": "02",
        },
        icd10,
        fees,
    )
    assert coding.services[0].modifiers == ("GT", "25")
    assert coding.place_of_service == "02"


def test_as_dict_parses_back_to_the_same_coding(
    coding: EncounterCoding, icd10: Icd10Codes, fees: FeeSchedule
) -> None:
    assert coding.as_dict() == {
        "diagnoses": ["E11.9", "I10"],
        "services": [
            {"code": "99213", "modifiers": ["25"], "units": 1, "diagnoses": [1, 2]},
            {"code": "36415", "modifiers": [], "units": 2, "diagnoses": [1]},
        ],
        "place_of_service": "11",
    }
    assert parse_coding(coding.as_dict(), icd10, fees) == coding


def test_a_pointer_past_the_diagnoses_is_named_by_element(icd10: Icd10Codes, fees: FeeSchedule) -> None:
    raw = {
        "diagnoses": ["E11.9", "I10"],
        "services": [{"code": "99213"}, {"code": "36415", "diagnoses": [3]}],
    }
    assert problems(raw, icd10, fees) == ["services[1].diagnoses[0] points at diagnosis 3", "the claim has 2"]
    with pytest.raises(
        MalformedRequest, match=r"^services\[1\]\.diagnoses\[0\] points at diagnosis 3; the claim has 2$"
    ):
        parse_coding(raw, icd10, fees)


def test_every_problem_is_named_at_once(icd10: Icd10Codes, fees: FeeSchedule) -> None:
    raw: dict[str, Any] = {
        "diagnoses": ["E11", "I10", "i10", "ZZ", 7],
        "services": [
            {"code": "99215", "modifiers": ["2", "25", "25"], "units": 0, "diagnoses": [1, 1, 0]},
            {"code": "36415", "units": True, "modifiers": ["59", "76", "77", "91", "XU"], "diagnoses": []},
            {"code": "99213", "units": 100, "diagnoses": [1, 2, 3, 4, 5]},
            "99213",
        ],
        "place_of_service": "13x",
    }
    with pytest.raises(MalformedRequest) as raised:
        parse_coding(raw, icd10, fees)
    assert str(raised.value) == "; ".join(
        [
            "diagnoses[0]: E11 is a category (Type 2 diabetes mellitus), not a billable code: choose the "
            "most specific of the 87 billable codes under it, E11.00 to E11.A",
            "diagnoses[2] repeats diagnoses[1]: list each diagnosis once",
            "diagnoses[3]: ZZ is not an ICD-10-CM code: a code is a letter, a digit, a letter or digit, "
            "then up to four more after a dot (such as E11.9 or Z00.00)",
            "diagnoses[4] must be an ICD-10-CM code as text, e.g. E11.9",
            "services[0].code must be a code of the clinic's fee schedule "
            "(it has 99213, 99214, 36415, G0439)",
            "services[0].units must be a whole number from 1 to 99",
            "services[0].modifiers[0] must be two letters or digits, e.g. 25",
            "services[0].modifiers[2] repeats modifiers[1]",
            "services[0].diagnoses[1] repeats diagnosis 1",
            "services[0].diagnoses[2] must be a position in diagnoses: 1 for the first",
            "services[1].units must be a whole number from 1 to 99",
            "services[1].modifiers must be a list of up to 4 modifiers",
            "services[1].diagnoses must be a list of 1 to 4 positions in diagnoses (1 is the first)",
            "services[2].units must be a whole number from 1 to 99",
            "services[2].diagnoses must be a list of 1 to 4 positions in diagnoses (1 is the first)",
            'services[3] must be an object with "code", "modifiers", "units" and "diagnoses"',
            "place_of_service must be a CMS place of service code: two digits, e.g. 11 office",
        ]
    )


@pytest.mark.parametrize(
    ("diagnoses", "message"),
    [
        ([], "diagnoses must be a list of 1 to 12 ICD-10-CM codes, principal first"),
        (["I10"] * 13, "diagnoses must be a list of 1 to 12 ICD-10-CM codes, principal first"),
        ("E11.9", "diagnoses must be a list of 1 to 12 ICD-10-CM codes, principal first"),
    ],
)
def test_a_claim_has_one_to_twelve_diagnoses(
    icd10: Icd10Codes, fees: FeeSchedule, diagnoses: object, message: str
) -> None:
    assert problems({"diagnoses": diagnoses, "services": [{"code": "99213"}]}, icd10, fees) == [message]


def test_twelve_distinct_diagnoses_are_accepted(icd10: Icd10Codes, fees: FeeSchedule) -> None:
    twelve = [
        "E11.9",
        "I10",
        "E78.5",
        "Z79.4",
        "E66.9",
        "Z68.30",
        "J45.909",
        "K21.9",
        "M54.50",
        "F41.1",
        "G47.33",
        "N18.30",
    ]
    assert (
        len(parse_coding({"diagnoses": twelve, "services": [{"code": "99214"}]}, icd10, fees).diagnoses) == 12
    )


@pytest.mark.parametrize("services", [[], [{"code": "99213"}] * 51, {"code": "99213"}])
def test_a_claim_has_one_to_fifty_services(icd10: Icd10Codes, fees: FeeSchedule, services: object) -> None:
    assert problems({"diagnoses": ["I10"], "services": services}, icd10, fees) == [
        'services must be a list of 1 to 50 {"code", "units", "diagnoses"} objects'
    ]


def test_fifty_services_are_accepted(icd10: Icd10Codes, fees: FeeSchedule) -> None:
    coding = parse_coding({"diagnoses": ["I10"], "services": [{"code": "36415"}] * 50}, icd10, fees)
    assert len(coding.services) == 50


def test_a_clinic_with_no_fee_schedule_is_told_to_enter_one(icd10: Icd10Codes) -> None:
    none = "must be a code of the clinic's fee schedule (it has none yet: an admin enters them first)"
    assert problems(CODING, icd10, FeeSchedule(())) == [
        f"services[0].code {none}",
        f"services[1].code {none}",
    ]


def test_a_coding_that_is_not_an_object_shows_the_shape(icd10: Icd10Codes, fees: FeeSchedule) -> None:
    with pytest.raises(
        MalformedRequest, match=r'^send the coding as a JSON object: \{"diagnoses": \["E11.9"\]'
    ):
        parse_coding(["E11.9"], icd10, fees)
