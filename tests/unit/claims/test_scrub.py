"""The scrubber: a clean claim passes; each rule, broken alone, is named with its exact message;
every problem comes at once; no message repeats the patient's name, birth date or member id."""

from __future__ import annotations

from dataclasses import replace
from datetime import date, timedelta
from typing import Any

import pytest

from cairn.claims.building import UNKNOWN_DATE
from cairn.claims.icd10 import Icd10Codes
from cairn.claims.model import REPLACEMENT, VOID, Address, ClaimSubmission, Person, Provider, ServiceLine
from cairn.claims.scrub import ScrubProblem, scrub
from cairn.claims.settings import PayerRules
from tests.unit.claims.conftest import MEMBER_ID, TODAY

EMPIRE = PayerRules(payer_id="EMP01", name="Empire Health", requires_group_number=True)
SERVED = date(2026, 11, 30)


def problems(
    submission: ClaimSubmission, icd10: Icd10Codes, rules: PayerRules | None = EMPIRE, today: date = TODAY
) -> list[tuple[str, str]]:
    return [(p.element, p.message) for p in scrub(submission, rules, icd10, today)]


def with_line(submission: ClaimSubmission, index: int = 0, **changes: Any) -> ClaimSubmission:
    lines = list(submission.lines)
    lines[index] = replace(lines[index], **changes)
    return replace(submission, lines=tuple(lines))


def with_billing(submission: ClaimSubmission, **changes: Any) -> ClaimSubmission:
    return replace(submission, billing=replace(submission.billing, **changes))


def with_subscriber(submission: ClaimSubmission, **changes: Any) -> ClaimSubmission:
    subscriber = replace(submission.coverage.subscriber, **changes)
    return replace(submission, coverage=replace(submission.coverage, subscriber=subscriber))


def test_a_clean_claim_has_no_problems(submission: ClaimSubmission, icd10: Icd10Codes) -> None:
    assert scrub(submission, EMPIRE, icd10, TODAY) == ()


def test_a_problem_is_an_element_and_what_to_fix(submission: ClaimSubmission, icd10: Icd10Codes) -> None:
    assert scrub(with_billing(submission, name=""), EMPIRE, icd10, TODAY) == (
        ScrubProblem(
            "billing.name", "the billing provider's name is missing (the billing Organization's name)"
        ),
    )


# --- the claim ----------------------------------------------------------------------------------


@pytest.mark.parametrize("number", ["", "CLM 0001", "C" * 21])
def test_the_control_number_is_one_to_twenty_characters(
    submission: ClaimSubmission, icd10: Icd10Codes, number: str
) -> None:
    assert problems(replace(submission, control_number=number), icd10) == [
        ("control_number", "the claim's control number must be 1 to 20 letters, digits or '-'")
    ]


def test_an_unknown_frequency_is_named(submission: ClaimSubmission, icd10: Icd10Codes) -> None:
    assert problems(replace(submission, frequency="2"), icd10) == [
        ("frequency", "the claim's frequency must be 1 (original), 7 (replacement) or 8 (void)")
    ]


@pytest.mark.parametrize(("frequency", "kind"), [(REPLACEMENT, "a replacement"), (VOID, "a void")])
def test_a_replacement_or_void_needs_the_payers_claim_number(
    submission: ClaimSubmission, icd10: Icd10Codes, frequency: str, kind: str
) -> None:
    assert problems(replace(submission, frequency=frequency), icd10) == [
        (
            "payer_claim_number",
            f"{kind} must name the payer's claim number of the claim it changes; it is missing (the payer "
            "sends it on the 277CA or the 835)",
        )
    ]
    assert problems(replace(submission, frequency=frequency, payer_claim_number="PCN-778"), icd10) == []


# --- the billing provider -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("npi", "message"),
    [
        ("", "the billing provider's NPI is missing"),
        ("12453195", "the billing provider's NPI must be ten digits starting with 1 or 2"),
        (
            "1245319598",
            "the billing provider's NPI fails the NPI check digit: check it against the NPPES registry",
        ),
    ],
)
def test_the_billing_npi_is_present_and_passes_its_check_digit(
    submission: ClaimSubmission, icd10: Icd10Codes, npi: str, message: str
) -> None:
    assert problems(with_billing(submission, npi=npi), icd10) == [("billing.npi", message)]


@pytest.mark.parametrize(
    ("ein", "message"),
    [
        ("", "the billing provider's EIN is missing (an identifier of system urn:oid:2.16.840.1.113883.4.4)"),
        ("12345678", "the billing provider's EIN must be nine digits, e.g. 12-3456789"),
    ],
)
def test_the_billing_ein_is_nine_digits(
    submission: ClaimSubmission, icd10: Icd10Codes, ein: str, message: str
) -> None:
    assert problems(with_billing(submission, tax_id=ein), icd10) == [("billing.tax_id", message)]


def test_the_billing_address_is_required(submission: ClaimSubmission, icd10: Icd10Codes) -> None:
    assert problems(with_billing(submission, address=None), icd10) == [
        ("billing.address", "the billing provider's address is missing")
    ]


def test_each_part_of_the_billing_address_is_checked(submission: ClaimSubmission, icd10: Icd10Codes) -> None:
    broken = with_billing(submission, address=Address("", "", "New York", "1220"))
    assert problems(broken, icd10) == [
        ("billing.address.line1", "the billing provider's street address is missing"),
        ("billing.address.city", "the billing provider's city is missing"),
        ("billing.address.state", "the billing provider's state must be a two-letter USPS code, e.g. NY"),
        ("billing.address.postal_code", "the billing provider's ZIP code must be 5 or 9 digits"),
    ]


@pytest.mark.parametrize("zip_code", ["12207", "122071234"])
def test_a_five_or_nine_digit_zip_in_a_real_state_passes(
    submission: ClaimSubmission, icd10: Icd10Codes, zip_code: str
) -> None:
    address = Address("100 State St", "San Juan", "PR", zip_code)
    assert problems(with_billing(submission, address=address), icd10) == []


# --- the payer ----------------------------------------------------------------------------------


def test_the_payers_name_and_id_are_required(submission: ClaimSubmission, icd10: Icd10Codes) -> None:
    assert problems(replace(submission, payer=replace(submission.payer, name="", payer_id="")), icd10) == [
        ("payer.name", "the payer's name is missing (the payer Organization's name)"),
        (
            "payer.payer_id",
            "the payer's clearinghouse id is missing: add it to the payer Organization as an identifier of "
            "system https://cairn.health/fhir/sid/payer-id",
        ),
    ]


def test_a_payer_the_clinic_has_not_set_up_is_a_problem(
    submission: ClaimSubmission, icd10: Icd10Codes
) -> None:
    assert problems(submission, icd10, rules=None) == [
        (
            "payer.payer_id",
            "payer EMP01 is not set up in the clinic's claims settings: add it to payers with its rules "
            "before billing it",
        )
    ]


# --- the coverage and the people ----------------------------------------------------------------


def test_the_member_id_is_required(submission: ClaimSubmission, icd10: Icd10Codes) -> None:
    assert problems(replace(submission, coverage=replace(submission.coverage, member_id="")), icd10) == [
        ("coverage.member_id", "the subscriber's member id is missing (Coverage.subscriberId)")
    ]


def test_the_group_number_is_required_where_the_payer_requires_it(
    submission: ClaimSubmission, icd10: Icd10Codes
) -> None:
    without = replace(submission, coverage=replace(submission.coverage, group_number=""))
    assert problems(without, icd10) == [
        (
            "coverage.group_number",
            "Empire Health requires the group number: add it to the Coverage as a class of type group",
        )
    ]
    assert problems(without, icd10, rules=replace(EMPIRE, requires_group_number=False)) == []


def test_the_subscribers_name_birth_date_and_sex_are_required(
    submission: ClaimSubmission, icd10: Icd10Codes
) -> None:
    nobody = with_subscriber(submission, last_name="", first_name="", birth_date=UNKNOWN_DATE, sex="")
    assert problems(nobody, icd10) == [
        ("coverage.subscriber.last_name", "the subscriber's last name is missing"),
        ("coverage.subscriber.first_name", "the subscriber's first name is missing"),
        ("coverage.subscriber.birth_date", "the subscriber's birth date is missing"),
        ("coverage.subscriber.sex", "the subscriber's sex is missing (administrative gender)"),
    ]


def test_a_birth_date_after_today_and_an_unknown_sex_code_are_named(
    submission: ClaimSubmission, icd10: Icd10Codes
) -> None:
    unborn = with_subscriber(submission, birth_date=TODAY + timedelta(days=1), sex="X")
    assert problems(unborn, icd10) == [
        ("coverage.subscriber.birth_date", "the subscriber's birth date is after today: check it"),
        ("coverage.subscriber.sex", "the subscriber's sex must be F, M or U"),
        ("lines[0].service_date", "the date of service is before the patient's birth date: check both"),
        ("lines[1].service_date", "the date of service is before the patient's birth date: check both"),
    ]


def test_a_dependent_patient_is_checked_too(submission: ClaimSubmission, icd10: Icd10Codes) -> None:
    dependent = replace(
        submission,
        coverage=replace(submission.coverage, relationship="19"),
        patient=Person("", "Leo", UNKNOWN_DATE, "M"),
    )
    assert problems(dependent, icd10) == [
        ("patient.last_name", "the patient's last name is missing"),
        ("patient.birth_date", "the patient's birth date is missing"),
        ("patient.address", "the patient's address is missing"),
    ]


def test_the_patients_address_goes_on_the_claim_and_is_checked(
    submission: ClaimSubmission, icd10: Icd10Codes
) -> None:
    spelled_out = replace(submission.coverage.subscriber.address, state="Massachusetts")
    assert problems(with_subscriber(submission, address=spelled_out), icd10) == [
        (
            "coverage.subscriber.address.state",
            "the subscriber's state must be a two-letter USPS code, e.g. NY",
        )
    ]
    assert problems(with_subscriber(submission, address=None), icd10) == [
        ("coverage.subscriber.address", "the subscriber's address is missing")
    ]


def test_a_service_before_the_patients_birth_is_named(submission: ClaimSubmission, icd10: Icd10Codes) -> None:
    newborn = replace(
        submission,
        patient=Person(
            "Rivera", "Mia", SERVED + timedelta(days=1), "F", submission.coverage.subscriber.address
        ),
    )
    assert problems(newborn, icd10) == [
        ("lines[0].service_date", "the date of service is before the patient's birth date: check both"),
        ("lines[1].service_date", "the date of service is before the patient's birth date: check both"),
    ]


# --- the rendering provider ---------------------------------------------------------------------


def test_the_rendering_provider_is_required_where_the_payer_requires_it(
    submission: ClaimSubmission, icd10: Icd10Codes
) -> None:
    alone = replace(submission, rendering=None)
    assert problems(alone, icd10) == [
        ("rendering", "Empire Health requires the rendering provider: name the practitioner on the encounter")
    ]
    assert problems(alone, icd10, rules=replace(EMPIRE, requires_rendering_provider=False)) == []


def test_a_rendering_provider_has_a_name_and_a_valid_npi(
    submission: ClaimSubmission, icd10: Icd10Codes
) -> None:
    assert problems(
        replace(submission, rendering=Provider(name="", npi="1003000127", first_name="Grace")), icd10
    ) == [
        ("rendering.name", "the rendering provider's last name is missing"),
        (
            "rendering.npi",
            "the rendering provider's NPI fails the NPI check digit: check it against the NPPES registry",
        ),
    ]
    assert problems(replace(submission, rendering=Provider(name="Okafor", npi="")), icd10) == [
        ("rendering.npi", "the rendering provider's NPI is missing")
    ]


# --- diagnoses ----------------------------------------------------------------------------------


def test_every_diagnosis_is_a_billable_icd10cm_code(submission: ClaimSubmission, icd10: Icd10Codes) -> None:
    assert problems(replace(submission, diagnoses=("E11", "I10", "ZZ9")), icd10) == [
        (
            "diagnoses[0]",
            "E11 is a category (Type 2 diabetes mellitus), not a billable code: choose the most specific of "
            "the 87 billable codes under it, E11.00 to E11.A",
        ),
        (
            "diagnoses[2]",
            "ZZ9 is not an ICD-10-CM code: a code is a letter, a digit, a letter or digit, then up to four "
            "more after a dot (such as E11.9 or Z00.00)",
        ),
    ]


def test_a_diagnosis_listed_twice_is_named(submission: ClaimSubmission, icd10: Icd10Codes) -> None:
    assert problems(replace(submission, diagnoses=("E119", "I10", "E119")), icd10) == [
        ("diagnoses[2]", "repeats diagnoses[0]: list each diagnosis once")
    ]


@pytest.mark.parametrize("count", [0, 13])
def test_a_claim_carries_one_to_twelve_diagnoses(
    submission: ClaimSubmission, icd10: Icd10Codes, count: int
) -> None:
    codes = (
        "I10",
        "E119",
        "E785",
        "Z794",
        "E669",
        "Z6830",
        "J45909",
        "K219",
        "M5450",
        "F411",
        "G4733",
        "N1830",
    )
    diagnoses = (codes * 2)[:count] if count <= 12 else (*codes, "R69")
    broken = replace(
        submission,
        diagnoses=diagnoses,
        lines=tuple(replace(line, diagnosis_pointers=(1,)) for line in submission.lines),
    )
    found = problems(broken, icd10)
    assert found[0] == ("diagnoses", f"a claim carries 1 to 12 diagnoses; it has {count}")
    if count == 0:
        assert found[1:] == [
            ("lines[0].diagnosis_pointers[0]", "points at diagnosis 1; the claim has 0"),
            ("lines[1].diagnosis_pointers[0]", "points at diagnosis 1; the claim has 0"),
        ]
    else:
        assert found[1:] == []


# --- service lines ------------------------------------------------------------------------------


def test_a_claim_without_lines_is_named(submission: ClaimSubmission, icd10: Icd10Codes) -> None:
    assert problems(replace(submission, lines=(), claim_total_cents=None), icd10) == [
        ("lines", "the claim has no service lines: code the encounter's services")
    ]


def _lines(count: int) -> tuple[ServiceLine, ...]:
    return tuple(ServiceLine(i, "36415", 1500, SERVED, (1,)) for i in range(1, count + 1))


def test_an_837p_holds_fifty_lines(submission: ClaimSubmission, icd10: Icd10Codes) -> None:
    assert problems(replace(submission, lines=_lines(50), claim_total_cents=None), icd10) == []
    assert problems(replace(submission, lines=_lines(51), claim_total_cents=None), icd10) == [
        ("lines", "an 837P holds at most 50 service lines per claim; this one has 51: split it")
    ]


def test_a_payer_may_accept_fewer_lines(submission: ClaimSubmission, icd10: Icd10Codes) -> None:
    few = replace(EMPIRE, max_lines=6)
    assert problems(replace(submission, lines=_lines(7), claim_total_cents=None), icd10, rules=few) == [
        ("lines", "Empire Health accepts at most 6 service lines per claim; this one has 7: split it")
    ]


def test_lines_are_numbered_from_one(submission: ClaimSubmission, icd10: Icd10Codes) -> None:
    assert problems(with_line(submission, 1, sequence=3), icd10) == [
        ("lines[1].sequence", "service lines are numbered from 1 in order; this one should be 2")
    ]


def test_a_line_has_a_code(submission: ClaimSubmission, icd10: Icd10Codes) -> None:
    assert problems(with_line(submission, 0, code=""), icd10) == [
        ("lines[0].code", "the service code is missing")
    ]


def test_a_line_charges_more_than_zero(submission: ClaimSubmission, icd10: Icd10Codes) -> None:
    assert problems(replace(with_line(submission, 1, charge_cents=0), claim_total_cents=12000), icd10) == [
        ("lines[1].charge_cents", "the line's charge must be more than zero")
    ]


def test_the_claims_total_is_the_sum_of_its_lines(submission: ClaimSubmission, icd10: Icd10Codes) -> None:
    assert problems(replace(submission, claim_total_cents=16000), icd10) == [
        (
            "claim_total_cents",
            "the claim's total ($160.00) is not the sum of its lines ($150.00): code the encounter again",
        )
    ]


def test_a_total_of_nothing_is_named(submission: ClaimSubmission, icd10: Icd10Codes) -> None:
    free = replace(submission, lines=(ServiceLine(1, "36415", 0, SERVED, (1,)),), claim_total_cents=0)
    assert problems(free, icd10) == [
        ("lines[0].charge_cents", "the line's charge must be more than zero"),
        ("claim_total_cents", "the claim's total charge must be more than zero"),
    ]


@pytest.mark.parametrize("units", [0, 100])
def test_units_are_one_to_ninety_nine(submission: ClaimSubmission, icd10: Icd10Codes, units: int) -> None:
    assert problems(with_line(submission, 0, units=units), icd10) == [
        ("lines[0].units", "units must be a whole number from 1 to 99")
    ]


def test_every_line_points_at_a_diagnosis(submission: ClaimSubmission, icd10: Icd10Codes) -> None:
    assert problems(with_line(submission, 1, diagnosis_pointers=()), icd10) == [
        (
            "lines[1].diagnosis_pointers",
            "the line points at no diagnosis: point it at 1 to 4 of the claim's diagnoses",
        )
    ]


def test_pointers_are_within_the_diagnoses_and_not_repeated(
    submission: ClaimSubmission, icd10: Icd10Codes
) -> None:
    assert problems(with_line(submission, 0, diagnosis_pointers=(1, 3, 1, 0, 2)), icd10) == [
        ("lines[0].diagnosis_pointers", "a line points at most at 4 diagnoses; this one at 5"),
        ("lines[0].diagnosis_pointers[1]", "points at diagnosis 3; the claim has 2"),
        ("lines[0].diagnosis_pointers[2]", "repeats diagnosis 1"),
        ("lines[0].diagnosis_pointers[3]", "points at diagnosis 0; the claim has 2"),
    ]


def test_modifiers_are_two_characters_and_at_most_four(
    submission: ClaimSubmission, icd10: Icd10Codes
) -> None:
    assert problems(with_line(submission, 0, modifiers=("25", "5", "gt", "59", "XU")), icd10) == [
        ("lines[0].modifiers", "a line carries at most 4 modifiers"),
        ("lines[0].modifiers[1]", "a modifier is two capital letters or digits, e.g. 25"),
        ("lines[0].modifiers[2]", "a modifier is two capital letters or digits, e.g. 25"),
    ]


def test_the_place_of_service_is_a_cms_code(submission: ClaimSubmission, icd10: Icd10Codes) -> None:
    assert problems(
        with_line(replace(submission, place_of_service="00"), 1, place_of_service="98"), icd10
    ) == [
        ("place_of_service", "the place of service must be a CMS place of service code, e.g. 11 (office)"),
        (
            "lines[1].place_of_service",
            "the place of service must be a CMS place of service code, e.g. 11 (office)",
        ),
    ]


def test_the_place_of_service_is_one_the_payer_accepts(
    submission: ClaimSubmission, icd10: Icd10Codes
) -> None:
    telehealth_only = replace(EMPIRE, allowed_places_of_service=("02", "10"))
    assert problems(with_line(submission, 1, place_of_service="10"), icd10, rules=telehealth_only) == [
        (
            "place_of_service",
            "Empire Health does not accept place of service 11 (Office); it accepts 02, 10",
        )
    ]


def test_a_missing_service_date_is_named(submission: ClaimSubmission, icd10: Icd10Codes) -> None:
    assert problems(with_line(submission, 0, service_date=UNKNOWN_DATE), icd10) == [
        ("lines[0].service_date", "the date of service is missing")
    ]


def test_a_service_date_after_today_is_named(submission: ClaimSubmission, icd10: Icd10Codes) -> None:
    assert problems(with_line(submission, 0, service_date=TODAY + timedelta(days=1)), icd10) == [
        ("lines[0].service_date", "the date of service is after today: bill a service once it is rendered")
    ]


def test_a_service_past_the_payers_timely_filing_limit_is_named(
    submission: ClaimSubmission, icd10: Icd10Codes
) -> None:
    ninety = replace(EMPIRE, timely_filing_days=90)
    assert problems(submission, icd10, rules=ninety, today=SERVED + timedelta(days=90)) == []
    assert problems(submission, icd10, rules=ninety, today=SERVED + timedelta(days=91)) == [
        (
            f"lines[{index}].service_date",
            "the service was more than 90 days ago: past Empire Health's timely filing limit (appeal with "
            "proof of timely filing, or write it off)",
        )
        for index in range(2)
    ]


# --- all at once, and nothing that identifies the patient ---------------------------------------


def test_every_problem_comes_at_once_and_none_names_the_patient(
    submission: ClaimSubmission, icd10: Icd10Codes
) -> None:
    wrecked = replace(
        with_subscriber(
            with_billing(submission, npi="1245319598", tax_id=""), birth_date=date(2027, 1, 1), sex="X"
        ),
        coverage=replace(
            submission.coverage,
            member_id="",
            group_number="",
            subscriber=Person("Rivera", "Ana", date(2027, 1, 1), "X"),
        ),
        patient=Person("Rivera", "Leo", date(2018, 9, 3), ""),
        diagnoses=("E11", "I10"),
        frequency=REPLACEMENT,
        rendering=None,
        lines=(ServiceLine(1, "99213", 0, date(2027, 2, 1), (3,), units=0, modifiers=("x",)),),
    )
    found = scrub(wrecked, EMPIRE, icd10, TODAY)
    assert [p.element for p in found] == [
        "payer_claim_number",
        "billing.npi",
        "billing.tax_id",
        "coverage.member_id",
        "coverage.group_number",
        "coverage.subscriber.birth_date",
        "coverage.subscriber.sex",
        "patient.sex",
        "patient.address",
        "rendering",
        "diagnoses[0]",
        "lines[0].charge_cents",
        "lines[0].units",
        "lines[0].diagnosis_pointers[0]",
        "lines[0].modifiers[0]",
        "lines[0].service_date",
        "claim_total_cents",
    ]
    shown = " ".join(p.message for p in found)
    for identifying in ("Rivera", "Ana", "Leo", MEMBER_ID, "2027", "2018", "1980"):
        assert identifying not in shown
