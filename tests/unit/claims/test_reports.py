"""The claims desk's report over a realistic month of one clinic's claims: every figure exact."""

from __future__ import annotations

from dataclasses import replace
from datetime import date

from cairn.claims.model import Adjustment, ClaimPayment, LinePayment
from cairn.claims.posting import apply_remittance
from cairn.claims.record import ClaimRecord, ClaimState, Posted
from cairn.claims.reports import claims_report

TODAY = date(2026, 12, 31)
VISIT = date(2026, 11, 2)
AETNA, BLUE, MEDICARE = ("60054", "Aetna"), ("00590", "Blue Cross"), ("MCR01", "Medicare Part B")


def claim(
    claim_id: str,
    payer: tuple[str, str],
    status: ClaimState,
    charge: int,
    submitted: str = "",
    created: str = "",
) -> ClaimRecord:
    return ClaimRecord(
        claim_id=claim_id,
        claim_number=f"C-{claim_id}",
        status=status,
        payer_id=payer[0],
        payer_name=payer[1],
        charge_cents=charge,
        created=created or f"{submitted[:10]}T08:00:00Z",
        control_number=f"C-{claim_id}-1",
        submitted=submitted,
    )


def line(
    code: str, charge: int, paid: int, *adjustments: Adjustment, remarks: tuple[str, ...] = ()
) -> LinePayment:
    return LinePayment(code, charge, paid, service_date=VISIT, adjustments=adjustments, remarks=remarks)


def post(record: ClaimRecord, payment: ClaimPayment, at: str, trace: str = "EFT-1") -> ClaimRecord:
    return apply_remittance(record, Posted(trace, record.payer_id, at[:10], payment), at)


def paid_with_coinsurance(control: str) -> ClaimPayment:
    return ClaimPayment(
        control,
        "1",
        17_000,
        10_000,
        2_000,
        lines=(
            line("99213", 15_000, 8_000, Adjustment("CO", "45", 5_000), Adjustment("PR", "2", 2_000)),
            line("36415", 2_000, 2_000),
        ),
    )


def reversal(payment: ClaimPayment) -> ClaimPayment:
    return replace(
        payment,
        status="22",
        charge_cents=-payment.charge_cents,
        paid_cents=-payment.paid_cents,
        patient_responsibility_cents=-payment.patient_responsibility_cents,
        lines=tuple(
            replace(
                each,
                charge_cents=-each.charge_cents,
                paid_cents=-each.paid_cents,
                adjustments=tuple(replace(a, amount_cents=-a.amount_cents) for a in each.adjustments),
            )
            for each in payment.lines
        ),
    )


def month_of_claims() -> list[ClaimRecord]:
    sent = ClaimState.ACKNOWLEDGED
    paid = post(
        claim("a", AETNA, sent, 17_000, "2026-11-03T09:00:00Z"),
        paid_with_coinsurance("C-a-1"),
        "2026-12-01T10:00:00Z",
    )
    partly = post(
        claim("b", AETNA, sent, 17_000, "2026-11-10T09:00:00Z"),
        ClaimPayment(
            "C-b-1",
            "1",
            17_000,
            8_000,
            2_000,
            lines=(
                line("99213", 15_000, 8_000, Adjustment("CO", "45", 5_000), Adjustment("PR", "2", 2_000)),
                line("36415", 2_000, 0, Adjustment("CO", "97", 2_000), remarks=("N19",)),
            ),
        ),
        "2026-12-20T10:00:00Z",
    )
    necessity = post(
        claim("c", AETNA, sent, 17_000, "2026-11-05T09:00:00Z"),
        ClaimPayment(
            "C-c-1", "4", 17_000, 0, 0, adjustments=(Adjustment("CO", "50", 17_000),), remarks=("N115",)
        ),
        "2026-12-05T10:00:00Z",
    )
    missing_info = post(
        claim("d", BLUE, sent, 12_000, "2026-11-12T09:00:00Z"),
        ClaimPayment(
            "C-d-1",
            "4",
            12_000,
            0,
            0,
            lines=(
                line("99214", 10_000, 0, Adjustment("CO", "16", 10_000), remarks=("M51",)),
                line("36415", 2_000, 0, Adjustment("CO", "16", 2_000)),
            ),
        ),
        "2026-12-10T10:00:00Z",
    )
    taken_back = post(
        post(
            claim("k", AETNA, sent, 17_000, "2026-10-20T09:00:00Z"),
            paid_with_coinsurance("C-k-1"),
            "2026-11-20T10:00:00Z",
        ),
        reversal(paid_with_coinsurance("C-k-1")),
        "2026-12-15T10:00:00Z",
        trace="EFT-2",
    )
    return [
        paid,
        partly,
        necessity,
        missing_info,
        taken_back,
        claim("e", BLUE, ClaimState.SUBMITTED, 9_000, "2026-12-01T09:00:00Z"),
        claim("f", BLUE, ClaimState.ACCEPTED, 20_000, "2026-11-15T09:00:00Z"),
        claim("g", MEDICARE, ClaimState.ACKNOWLEDGED, 30_000, "2026-09-01T09:00:00Z"),
        claim("h", MEDICARE, ClaimState.ACKNOWLEDGED, 11_000, "2026-10-01T09:00:00Z"),
        claim("i", MEDICARE, ClaimState.SCRUB_FAILED, 5_000, created="2026-12-20T08:00:00Z"),
        claim("j", MEDICARE, ClaimState.CODED, 7_000, created="2026-12-28T08:00:00Z"),
    ]


def test_claims_by_status_count_every_state_with_its_charges():
    report = claims_report(month_of_claims(), TODAY)

    assert report["claims"] == 11
    assert [(row["status"], row["count"], row["charges"]) for row in report["by_status"]] == [
        ("coded", 1, 70.0),
        ("scrub-failed", 1, 50.0),
        ("submitted", 1, 90.0),
        ("accepted", 1, 200.0),
        ("acknowledged", 3, 580.0),
        ("rejected", 0, 0.0),
        ("paid", 2, 340.0),
        ("denied", 2, 290.0),
        ("voided", 0, 0.0),
        ("stalled", 0, 0.0),
    ]


def test_open_claims_are_aged_in_whole_days_since_submission():
    receivable = claims_report(month_of_claims(), TODAY)["accounts_receivable"]

    assert receivable["buckets"] == [
        {"age": "0-30", "count": 1, "outstanding": 90.0},  # 30 days: still the first bucket
        {"age": "31-60", "count": 1, "outstanding": 200.0},
        {"age": "61-90", "count": 1, "outstanding": 170.0},  # paid, then reversed: open again
        {"age": "91-120", "count": 1, "outstanding": 110.0},
        {"age": "over 120", "count": 1, "outstanding": 300.0},
    ]
    assert (receivable["open_claims"], receivable["outstanding"]) == (5, 870.0)
    assert receivable["average_days_in_ar"] == 72.0  # (30 + 46 + 72 + 91 + 121) / 5
    assert receivable["average_days_to_payment"] == 34.0  # (28 + 40) / 2; the reversed one is not paid


def test_denials_are_grouped_by_reason_code_over_denied_claims_and_unpaid_lines():
    denials = claims_report(month_of_claims(), TODAY)["denials"]

    assert (denials["denied_claims"], denials["zero_paid_lines"]) == (2, 1)
    assert denials["by_reason"] == [
        {
            "reason": "50",
            "description": "not covered: not deemed a medical necessity by the payer",
            "count": 1,
            "amount": 170.0,
        },
        {
            "reason": "16",
            "description": "the claim or service lacks information or has submission or billing errors",
            "count": 2,
            "amount": 120.0,
        },
        {
            "reason": "97",
            "description": "included in the payment or allowance for another service already adjudicated",
            "count": 1,
            "amount": 20.0,
        },
    ]


def test_payments_by_payer_sum_what_each_paid_left_to_the_patient_and_wrote_off():
    payers = claims_report(month_of_claims(), TODAY)["payments_by_payer"]

    assert payers == [
        {
            "payer_id": "00590",
            "name": "Blue Cross",
            "claims": 3,
            "paid": 0.0,
            "patient_responsibility": 0.0,
            "contractual": 120.0,
        },
        {
            "payer_id": "60054",
            "name": "Aetna",
            "claims": 4,
            "paid": 180.0,
            "patient_responsibility": 40.0,
            "contractual": 290.0,  # 50 + 50 + 20 + 170; the reversed claim's write-off is taken back
        },
        {
            "payer_id": "MCR01",
            "name": "Medicare Part B",
            "claims": 4,
            "paid": 0.0,
            "patient_responsibility": 0.0,
            "contractual": 0.0,
        },
    ]


def test_the_report_is_the_same_whatever_order_the_records_come_in():
    records = month_of_claims()

    assert claims_report(records[::-1], TODAY) == claims_report(records, TODAY)


def test_the_report_can_be_narrowed_to_one_payer_or_to_recent_claims():
    records = month_of_claims()

    aetna = claims_report(records, TODAY, payer_id="60054")
    recent = claims_report(records, TODAY, created_since=date(2026, 12, 1))

    assert aetna["claims"] == 4
    assert [row["payer_id"] for row in aetna["payments_by_payer"]] == ["60054"]
    assert aetna["accounts_receivable"]["average_days_in_ar"] == 72.0
    assert recent["claims"] == 3
    assert {row["status"]: row["count"] for row in recent["by_status"] if row["count"]} == {
        "coded": 1,
        "scrub-failed": 1,
        "submitted": 1,
    }


def test_an_empty_ledger_reports_zeros_and_no_averages():
    report = claims_report([], TODAY)

    assert report["claims"] == 0
    assert report["accounts_receivable"]["average_days_in_ar"] is None
    assert report["accounts_receivable"]["average_days_to_payment"] is None
    assert report["denials"] == {"denied_claims": 0, "zero_paid_lines": 0, "by_reason": []}
    assert report["payments_by_payer"] == []
