"""The 837P: generated claims of every shape written, valid under pyx12's 005010X222A1 map and
read back equal; batching by billing provider; claims that cannot be written; the public sample
837Ps validated and read."""

from __future__ import annotations

from dataclasses import replace
from datetime import date

import pytest

from cairn.claims.model import REPLACEMENT, ClaimSubmission
from cairn.claims.x12.claim_837p import read_837p, write_837p
from cairn.claims.x12.errors import MalformedX12, X12ValueRefused
from cairn.claims.x12.validation import X12Problem, validate_837p
from tests.unit.claims.x12 import claims_factory as factory
from tests.unit.claims.x12.claims_factory import as_written, interchange, shapes


@pytest.mark.parametrize("claim", shapes(), ids=lambda claim: claim.control_number)
def test_each_shape_is_valid_and_reads_back_as_written(claim: ClaimSubmission) -> None:
    text = write_837p(interchange(), [claim]).text

    assert validate_837p(text) == ()
    assert read_837p(text) == (as_written(claim),)


def test_a_batch_of_every_shape_is_valid_and_reads_back_in_file_order() -> None:
    claims = factory.batch(60)
    text = write_837p(interchange(), claims).text
    in_file_order = [c for c in claims if c.billing == factory.CLINIC] + [
        c for c in claims if c.billing == factory.SECOND_CLINIC
    ]

    assert validate_837p(text) == ()
    assert read_837p(text) == tuple(as_written(claim) for claim in in_file_order)


def test_claims_are_grouped_into_one_transaction_set_per_billing_provider() -> None:
    claims = factory.batch(12)

    outbound = write_837p(interchange(7), claims)

    second = {c.control_number for c in claims if c.billing == factory.SECOND_CLINIC}
    assert outbound.group_control_number == "7"
    assert list(outbound.transactions) == ["0001", "0002"]
    assert outbound.transactions["0001"] == tuple(
        c.control_number for c in claims if c.billing == factory.CLINIC
    )
    assert set(outbound.transactions["0002"]) == second
    assert outbound.text.count("\nHL*1**20*1~") == 2


def test_the_segments_a_payer_reads_are_as_the_tr3_spells_them() -> None:
    lines = write_837p(
        interchange(), [factory.dependent_claim(), factory.replacement_claim()]
    ).text.splitlines()

    assert "BHT*0019*00*420001*20261123*1405*CH~" in lines
    assert (
        "SBR*P***KIDS CARE*****MC~" in lines
    )  # the patient is a dependent: no SBR02, the plan name, Medicaid
    assert "PAT*19~" in lines
    assert "CLM*CRN-0002*240.5***11:B:1*Y*A*Y*Y~" in lines
    assert "DTP*431*D8*20261118~" in lines
    assert "HI*ABK:S52521A*ABF:W1830XA~" in lines
    assert "SV1*HC:73090*60.5*UN*1***1:2~" in lines
    assert "CLM*CRN-0003*125***11:B:7*Y*A*Y*Y~" in lines
    assert "REF*F8*PAYER778899~" in lines
    assert "NM1*82*1*HOLMES*SARAH****XX*1987654323~" in lines
    assert "PRV*PE*PXC*207Q00000X~" in lines


def test_four_modifiers_and_a_line_place_of_service_are_written() -> None:
    lines = write_837p(interchange(), [factory.modifiers_claim()]).text.splitlines()

    assert "SV1*HC:97110:GP:59:KX:XU*45.99*UN*3***1~" in lines
    assert "SV1*HC:99214:95*200.01*UN*1*02**1~" in lines
    assert "NM1*85*1*OSLER*WILLIAM****XX*1098765430~" in lines


def test_names_are_written_upper_case() -> None:
    claim = replace(
        factory.self_claim(),
        coverage=replace(
            factory.self_claim().coverage, subscriber=replace(factory.SUBSCRIBER, first_name="jane ")
        ),
    )

    (back,) = read_837p(write_837p(interchange(), [claim]).text)

    assert back.coverage.subscriber.first_name == "JANE"


@pytest.mark.parametrize(
    ("claim", "expected"),
    [
        (
            replace(factory.self_claim(), frequency=REPLACEMENT),
            "claim CRN-0001: a replacement or void must name the payer's claim number (2300 REF*F8)",
        ),
        (
            replace(factory.self_claim(), diagnoses=("E119",) * 13),
            "claim CRN-0001: an 837P carries 1 to 12 diagnoses (HI)",
        ),
        (
            replace(factory.self_claim(), lines=(factory.line(1, diagnosis_pointers=(2,)),)),
            "claim CRN-0001, line 1: SV107 needs 1 to 4 pointers to the claim's diagnoses",
        ),
        (
            replace(factory.self_claim(), billing=replace(factory.CLINIC, tax_id="")),
            "claim CRN-0001: the billing provider needs an address (2010AA N3/N4) "
            "and a tax id (2010AA REF*EI)",
        ),
        (
            replace(
                factory.dependent_claim(),
                coverage=replace(factory.dependent_claim().coverage, relationship="18"),
            ),
            "claim CRN-0002: a patient apart from the subscriber cannot have relationship 18 (self)",
        ),
    ],
)
def test_a_claim_an_837p_cannot_carry_is_refused(claim: ClaimSubmission, expected: str) -> None:
    with pytest.raises(X12ValueRefused) as raised:
        write_837p(interchange(), [claim])

    assert raised.value.reason == expected


def test_validation_names_a_wrong_qualifier_without_its_value() -> None:
    text = write_837p(interchange(), [factory.self_claim()]).text.replace(
        "****MI*W123456789~", "****ZZ*W123456789~"
    )

    assert validate_837p(text) == (
        X12Problem(
            "NM1",
            16,
            "NM108",
            "7",
            "(value withheld) is not a valid code for Identification Code Qualifier (NM108)",
        ),
    )


def test_validation_reports_a_missing_required_segment() -> None:
    lines = write_837p(interchange(), [factory.self_claim()]).text.splitlines()
    without_date = "\n".join(line for line in lines if not line.startswith("DTP*472")) + "\n"

    problems = validate_837p(without_date.replace("SE*27*0001~", "SE*26*0001~"))

    assert problems == (
        X12Problem("DTP", 27, "", "3", 'Mandatory segment "Date - Service Date" (DTP) missing'),
    )


def test_validation_counts_segments_as_pyx12_does() -> None:
    text = write_837p(interchange(), [factory.self_claim()]).text.replace("SE*27*0001~", "SE*28*0001~")

    assert validate_837p(text) == (
        X12Problem("SE", 29, "", "4", "SE count of 28 for SE02=0001 is wrong. I count 27"),
    )


def test_validation_refuses_a_file_that_is_not_an_837p() -> None:
    from devkit.clearinghouse_fake import answer_999

    with pytest.raises(MalformedX12) as raised:
        validate_837p(answer_999(write_837p(interchange(), [factory.self_claim()]).text))

    assert raised.value.reason == (
        "the functional group at segment 2 is not an 837P 005010X222A1 "
        "(GS01 must be HC and GS08 005010X222A1)"
    )


def test_a_clm02_that_is_not_the_sum_of_its_lines_is_refused() -> None:
    text = write_837p(interchange(), [factory.self_claim()]).text.replace(
        "CLM*CRN-0001*125*", "CLM*CRN-0001*126*"
    )

    with pytest.raises(MalformedX12) as raised:
        read_837p(text)

    assert (
        raised.value.reason == "CLM02 in segment 21 (CLM) is not the sum of its service lines' SV102 charges"
    )


@pytest.mark.parametrize("name", ["demo.example1.837", "demo.example2.837"])
def test_the_public_sample_837ps_validate_clean_as_a1(name: str, x12_sample) -> None:  # type: ignore[no-untyped-def]
    assert validate_837p(x12_sample(name).replace("X222A2", "X222A1")) == ()


def test_the_cob_sample_has_the_problem_pyx12_finds_in_it(x12_sample) -> None:  # type: ignore[no-untyped-def]
    problems = validate_837p(x12_sample("demo.cob.example4.837").replace("X222A2", "X222A1"))

    assert [(p.segment, p.position, p.element, p.code) for p in problems] == [("AMT", 31, "", "1")]


def test_a_public_sample_837p_is_read(x12_sample) -> None:  # type: ignore[no-untyped-def]
    (claim,) = read_837p(x12_sample("demo.example1.837"))

    assert (claim.control_number, claim.total_charge_cents, claim.diagnoses) == (
        "26463774",
        10000,
        ("0340", "V7389"),
    )
    assert (claim.billing.npi, claim.billing.tax_id, claim.billing.taxonomy) == (
        "1912301953",
        "587654321",
        "203BF0100Y",
    )
    assert (claim.payer.payer_id, claim.coverage.member_id, claim.coverage.relationship) == (
        "999996666",
        "JS00111223333",
        "19",
    )
    assert claim.patient is not None
    assert claim.patient.birth_date == date(1973, 5, 1)
    assert [(line.code, line.charge_cents, line.diagnosis_pointers) for line in claim.lines] == [
        ("99213", 4000, (1,)),
        ("87070", 1500, (1,)),
        ("99214", 3500, (2,)),
        ("86663", 1000, (2,)),
    ]


def test_the_cob_sample_837p_reads_its_own_claim_and_not_the_other_payers(x12_sample) -> None:  # type: ignore[no-untyped-def]
    (claim,) = read_837p(x12_sample("demo.cob.example4.837"))

    assert (claim.control_number, claim.coverage.member_id, claim.payer.payer_id) == (
        "101KEN6055",
        "102200221B1",
        "10234",
    )
    assert claim.rendering is not None
    assert claim.rendering.npi == "9090909090"
    assert [(line.code, line.modifiers) for line in claim.lines] == [("99203", ("25",))]
