"""The clearinghouse's files: what kind each is, the 999, 277CA and 835 read (the public samples
and the fake clearinghouse's answers, whose sums must hold), and what is refused and why."""

from __future__ import annotations

import io
from dataclasses import replace
from datetime import date

import pytest
import pyx12.params
import pyx12.x12n_document

from cairn.claims.model import Adjustment
from cairn.claims.x12.acknowledgements import read_277ca, read_999
from cairn.claims.x12.claim_837p import write_837p
from cairn.claims.x12.errors import MalformedX12
from cairn.claims.x12.files import file_kind
from cairn.claims.x12.remittance import read_835, read_remittances
from devkit.clearinghouse_fake import answer_277ca, answer_835, answer_999
from tests.unit.claims.x12 import claims_factory as factory
from tests.unit.claims.x12.claims_factory import interchange


def one_payer_837() -> str:
    modifiers = replace(factory.modifiers_claim("CRN-2"), billing=factory.CLINIC)
    claims = [factory.self_claim("CRN-1"), modifiers, factory.twelve_diagnoses_claim("CRN-3")]
    return write_837p(interchange(), claims).text


def malformed(read: object, text: str) -> str:
    with pytest.raises(MalformedX12) as raised:
        read(text)  # type: ignore[operator]
    return raised.value.reason


def pyx12_accepts(text: str) -> bool:
    return bool(pyx12.x12n_document.x12n_document(pyx12.params.params(), io.StringIO(text), None, None, None))


@pytest.mark.parametrize(
    ("name", "kind"),
    [
        ("managed-care.835", "835"),
        ("medicare-part-a.835", "835"),
        ("secondary-payment.835", "835"),
        ("cob-contractural-adjustment.835", "835"),
        ("pyx12_835_mult_loops.txt", "835"),
    ],
)
def test_the_public_sample_remittances_are_835s(name: str, kind: str, x12_sample) -> None:  # type: ignore[no-untyped-def]
    assert file_kind(x12_sample(name)) == kind


def test_the_fake_clearinghouse_answers_are_of_their_kinds() -> None:
    text = one_payer_837()

    assert [file_kind(answer_999(text)), file_kind(answer_277ca(text)), file_kind(answer_835(text))] == [
        "999",
        "277CA",
        "835",
    ]


def test_an_837_in_the_inbox_is_refused_with_a_reason(x12_sample) -> None:  # type: ignore[no-untyped-def]
    expected = (
        "this is an 837 claim file (ST01 837), which Cairn sends, not an answer from the clearinghouse: "
        "it does not belong in the inbox"
    )
    assert malformed(file_kind, one_payer_837()) == expected
    assert malformed(file_kind, x12_sample("demo.example1.837")) == expected


def test_a_file_that_is_not_x12_is_refused_by_file_kind() -> None:
    assert malformed(file_kind, "Patient,Amount\nDOE,125.00\n") == (
        "not an X12 interchange: the file does not start with an ISA segment"
    )


def test_a_truncated_answer_is_refused() -> None:
    text = answer_835(one_payer_837())

    assert malformed(file_kind, text[: text.index("CLP*")]) == (
        "the transaction set ST02 0001 has no SE: the file ends at segment 14 (it may have been cut short)"
    )


def test_a_277_that_is_not_a_claim_acknowledgement_is_refused() -> None:
    text = answer_277ca(one_payer_837()).replace("005010X214", "005010X212")

    assert malformed(file_kind, text) == (
        "this 277 is not a claim acknowledgement (GS08 005010X212; a 277CA is 005010X214): "
        "ask the clearinghouse for 277CA files"
    )


def test_the_fake_999_accepts_every_transaction_set_and_reads_back() -> None:
    text = write_837p(interchange(), factory.batch(12)).text

    ack = read_999(answer_999(text))

    assert (ack.group_control_number, ack.accepted, ack.code) == ("42", True, "A")
    assert [(t.transaction_control_number, t.accepted, t.errors) for t in ack.transactions] == [
        ("0001", True, ()),
        ("0002", True, ()),
    ]


def test_a_rejecting_999_names_segments_and_elements_not_values() -> None:
    ack = read_999(answer_999(one_payer_837(), accept=False))

    assert (ack.accepted, ack.code) == (False, "R")
    assert ack.transactions[0].accepted is False
    assert ack.transactions[0].errors == (
        "CLM at position 19 in loop 2300: segment has data element errors (IK304 8)",
        "CLM05-1 (data element 1331): invalid code value (IK403 7)",
        "transaction set: one or more segments in error (IK502 5)",
    )


def test_a_999_without_its_verdict_is_refused() -> None:
    text = answer_999(one_payer_837())
    lines = [line for line in text.splitlines() if not line.startswith("AK9")]
    lines = [line.replace("SE*6*0001", "SE*5*0001") for line in lines]

    assert (
        malformed(read_999, "\n".join(lines) + "\n") == "the 999 has no AK9 (the functional group's verdict)"
    )


def test_the_fake_277ca_accepts_and_rejects_claims_by_clm01() -> None:
    ack = read_277ca(answer_277ca(one_payer_837(), rejected={"CRN-2": "SUBSCRIBER NOT FOUND"}))

    assert [
        (c.control_number, c.accepted, c.category, c.status_code, c.payer_claim_number) for c in ack.claims
    ] == [
        ("CRN-1", True, "A2", "20", "0000000420001"),
        ("CRN-2", False, "A7", "21", ""),
        ("CRN-3", True, "A2", "20", "0000000420003"),
    ]
    assert ack.claims[1].message == "SUBSCRIBER NOT FOUND"
    assert ack.claims[0].message == "accepted into adjudication (status 20)"


def test_a_277ca_claim_without_a_status_is_refused() -> None:
    text = answer_277ca(one_payer_837())
    lines = text.splitlines()
    first_claim_stc = next(i for i, line in enumerate(lines) if line.startswith("STC*A2"))
    del lines[first_claim_stc]
    count = next(line for line in lines if line.startswith("SE*")).split("*")[1]
    lines = [line.replace(f"SE*{count}*", f"SE*{int(count) - 1}*") for line in lines]

    assert (
        malformed(read_277ca, "\n".join(lines) + "\n")
        == "the claim whose TRN is at segment 24 has no STC (its status)"
    )


def test_the_fake_835_pays_80_percent_less_coinsurance_and_its_sums_hold() -> None:
    text = one_payer_837()

    remittance = read_835(answer_835(text, denied={"CRN-3": "96"}))

    assert (remittance.payer.payer_id, remittance.payee_npi, remittance.trace_number) == (
        "ACME1",
        "1234567893",
        "EFT000000042",
    )
    assert (remittance.payment_method, remittance.payment_date) == ("ACH", date(2026, 12, 7))
    assert remittance.payment_cents == sum(claim.paid_cents for claim in remittance.claims)
    first = remittance.claims[0]
    assert (first.control_number, first.status, first.charge_cents, first.paid_cents) == (
        "CRN-1",
        "1",
        12500,
        8000,
    )
    assert first.patient_responsibility_cents == 2000
    assert first.lines[0].adjustments == (Adjustment("CO", "45", 2500), Adjustment("PR", "2", 2000))
    for claim in remittance.claims:
        assert claim.charge_cents == sum(line.charge_cents for line in claim.lines)
        assert claim.paid_cents == sum(line.paid_cents for line in claim.lines)
        for line in claim.lines:
            assert line.charge_cents == line.paid_cents + sum(a.amount_cents for a in line.adjustments)
        pr = sum(a.amount_cents for line in claim.lines for a in line.adjustments if a.group == "PR")
        assert claim.patient_responsibility_cents == pr


def test_the_fake_835_rounds_each_line_to_the_cent() -> None:
    remittance = read_835(answer_835(one_payer_837()))
    modifiers = remittance.claims[1]

    # 45.99 charged: allowed 36.79 (80%, half up), coinsurance 7.36, paid 29.43
    assert (modifiers.lines[0].code, modifiers.lines[0].modifiers, modifiers.lines[0].units) == (
        "97110",
        ("GP", "59", "KX", "XU"),
        3,
    )
    assert (modifiers.lines[0].charge_cents, modifiers.lines[0].paid_cents) == (4599, 2943)
    assert [line.line_control_number for line in modifiers.lines] == ["1", "2", "3"]
    assert modifiers.lines[2].service_date == date(2026, 11, 21)


def test_a_denied_claim_is_status_4_with_its_carc_and_nothing_paid() -> None:
    remittance = read_835(answer_835(one_payer_837(), denied={"CRN-3": "96"}))
    denied = remittance.claims[2]

    assert (denied.denied, denied.paid_cents, denied.patient_responsibility_cents) == (True, 0, 0)
    assert [a for line in denied.lines for a in line.adjustments] == [Adjustment("CO", "96", 12500)]


def test_the_fake_answers_validate_clean_under_pyx12() -> None:
    text = one_payer_837()

    assert pyx12_accepts(answer_999(text))
    assert pyx12_accepts(answer_999(text, accept=False))
    assert pyx12_accepts(answer_277ca(text, rejected={"CRN-1": "INVALID MEMBER ID"}))
    assert pyx12_accepts(answer_835(text, denied={"CRN-2": "18"}))


@pytest.mark.parametrize(
    ("old", "new", "expected"),
    [
        (
            "CLP*CRN-1*1*125*80*",
            "CLP*CRN-1*1*125**",
            "CLP04 (the claim's payment) is missing in segment 15 (CLP)",
        ),
        (
            "CLP*CRN-1*1*125*80*",
            "CLP*CRN-1*1*125*80.001*",
            "CLP04 (the claim's payment) in segment 15 (CLP) has more than two decimals",
        ),
        (
            "CLP*CRN-1*1*125*80*",
            "CLP*CRN-1*1*12X*80*",
            "CLP03 (the claim's charge) in segment 15 (CLP) is not a number",
        ),
        ("CLP*CRN-1*1*", "CLP**1*", "CLP01 (the claim's control number) is missing in segment 15 (CLP)"),
        ("BPR*I*", "BPR*I**", "BPR02 (the total payment) is missing in segment 4 (BPR)"),
        (
            "TRN*1*EFT000000042*",
            "TRN*1**",
            "TRN02 (the check or EFT trace number) is missing in segment 5 (TRN)",
        ),
    ],
)
def test_an_835_missing_a_required_piece_is_refused(old: str, new: str, expected: str) -> None:
    text = answer_835(one_payer_837())
    if old not in text:
        pytest.fail(f"the fake's 835 no longer has {old!r}")
    assert malformed(read_835, text.replace(old, new, 1)).startswith(expected)


def test_the_medicare_sample_remittance_is_read_to_the_cent(x12_sample) -> None:  # type: ignore[no-untyped-def]
    remittance = read_835(x12_sample("medicare-part-a.835"))

    assert (remittance.payer.name, remittance.payer.payer_id) == ("INSURANCE COMPANY OF TIMBUCKTU", "999")
    assert (remittance.payee_npi, remittance.payment_cents, remittance.payment_method) == (
        "6543210903",
        15000000,
        "ACH",
    )
    assert (remittance.payment_date, remittance.trace_number) == (date(2002, 9, 13), "12345")
    assert [
        (c.control_number, c.charge_cents, c.paid_cents, c.payer_claim_number) for c in remittance.claims
    ] == [
        ("666123", 21136697, 13801840, "1999999444444"),
        ("777777", 1500000, 1198033, "1999999444445"),
    ]
    assert remittance.claims[0].adjustments == (Adjustment("CO", "45", 7334857),)
    assert remittance.claims[1].remarks == ("MA02",)


def test_the_pyx12_sample_remittance_reads_its_denied_lines(x12_sample) -> None:  # type: ignore[no-untyped-def]
    (remittance,) = read_remittances(x12_sample("pyx12_835_mult_loops.txt"))

    (claim,) = remittance.claims
    assert (claim.control_number, claim.denied, claim.charge_cents, claim.paid_cents) == (
        "2005555A",
        True,
        91539,
        0,
    )
    assert (remittance.payment_cents, remittance.payment_method, remittance.payee_npi) == (0, "NON", "")
    assert [(line.charge_cents, line.units, line.service_date, line.remarks) for line in claim.lines] == [
        (50004, 68, date(2003, 11, 29), ("N14",)),
        (12780, 16, date(2003, 10, 30), ("N14",)),
        (28755, 36, date(2003, 10, 31), ("N14",)),
    ]
    assert sum(a.amount_cents for line in claim.lines for a in line.adjustments) == claim.charge_cents


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("managed-care.835", "BPR16 (the payment's date) in segment 4 (BPR) is not a date (CCYYMMDD)"),
        (
            "secondary-payment.835",
            "SVC01 in segment 29 (SVC) has no procedure code after its qualifier "
            "(components must be separated by ISA16 ':')",
        ),
        (
            "cob-contractural-adjustment.835",
            "SVC01 in segment 21 (SVC) has no procedure code after its qualifier "
            "(components must be separated by ISA16 ':')",
        ),
    ],
)
def test_the_abbreviated_sample_remittances_are_refused_where_pyx12_flags_them(  # type: ignore[no-untyped-def]
    name: str, expected: str, x12_sample
) -> None:
    assert malformed(read_835, x12_sample(name)) == expected


def test_a_file_of_two_remittances_is_read_by_read_remittances_only() -> None:
    first = answer_835(one_payer_837())
    lines = first.splitlines()
    st = lines.index("ST*835*0001~")
    se = next(i for i, line in enumerate(lines) if line.startswith("SE*"))
    second = [
        line.replace("0001~", "0002~") if line.startswith(("ST*", "SE*")) else line
        for line in lines[st : se + 1]
    ]
    doubled = lines[: se + 1] + second + ["GE*2*42~", lines[-1]]

    assert len(read_remittances("\n".join(doubled) + "\n")) == 2
    assert malformed(read_835, "\n".join(doubled) + "\n") == (
        "the file holds 2 remittances (835 transaction sets), read it with read_remittances"
    )
