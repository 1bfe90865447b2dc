"""Posting an 835: the claims record paid, denied, partly paid, posted once and reversed; the
payer's answer as a ClaimResponse the FHIR API would accept; the patient's share as an Invoice
that billing reads back with the right amount due."""

from __future__ import annotations

from dataclasses import replace
from datetime import date

import pytest

from cairn.billing.invoices import DUE_EXTENSION, ENCOUNTER_EXTENSION, view
from cairn.claims.model import Adjustment, ClaimPayment, LinePayment
from cairn.claims.posting import (
    CARC_SYSTEM,
    INVOICE_CLAIM_SYSTEM,
    PAYER_CLAIM_NUMBER_SYSTEM,
    TRACE_NUMBER_SYSTEM,
    apply_remittance,
    claim_response,
    denial_reasons,
    patient_share_invoice,
)
from cairn.claims.record import ClaimRecord, ClaimState, Posted, decode, encode
from cairn.errors import InvalidResource
from cairn.fhir.validation import validate_resource

CPT = "http://www.ama-assn.org/go/cpt"
VISIT = date(2026, 11, 2)
AT = "2026-12-01T14:00:00Z"
CLAIM = {
    "resourceType": "Claim",
    "id": "claim-1",
    "status": "active",
    "type": {
        "coding": [{"system": "http://terminology.hl7.org/CodeSystem/claim-type", "code": "professional"}]
    },
    "use": "claim",
    "patient": {"reference": "Patient/p1"},
    "created": "2026-11-02",
    "insurer": {"reference": "Organization/payer-aetna", "display": "Aetna"},
    "provider": {"reference": "Organization/clinic"},
    "priority": {
        "coding": [{"system": "http://terminology.hl7.org/CodeSystem/processpriority", "code": "normal"}]
    },
    "careTeam": [{"sequence": 1, "provider": {"reference": "Practitioner/dr1"}}],
    "diagnosis": [
        {
            "sequence": 1,
            "diagnosisCodeableConcept": {
                "coding": [{"system": "http://hl7.org/fhir/sid/icd-10-cm", "code": "E11.9"}]
            },
        }
    ],
    "insurance": [{"sequence": 1, "focal": True, "coverage": {"reference": "Coverage/cov1"}}],
    "item": [
        {
            "sequence": 1,
            "productOrService": {"coding": [{"system": CPT, "code": "99213"}]},
            "servicedDate": "2026-11-02",
            "net": {"value": 150.0, "currency": "USD"},
        },
        {
            "sequence": 2,
            "productOrService": {"coding": [{"system": CPT, "code": "36415"}]},
            "servicedDate": "2026-11-02",
            "net": {"value": 20.0, "currency": "USD"},
        },
    ],
    "total": {"value": 170.0, "currency": "USD"},
}
RECORD = ClaimRecord(
    claim_id="claim-1",
    claim_number="C-1001",
    status=ClaimState.ACKNOWLEDGED,
    payer_id="60054",
    payer_name="Aetna",
    charge_cents=17_000,
    created="2026-11-02T16:00:00Z",
    control_number="C-1001-1",
    submitted="2026-11-03T09:00:00Z",
    payer_claim_number="",
    waiting={"835": "token-835"},
)


def visit_line(code: str, charge: int, paid: int, *adjustments: Adjustment, remarks: tuple[str, ...] = ()):
    return LinePayment(code, charge, paid, service_date=VISIT, adjustments=adjustments, remarks=remarks)


def paid_with_coinsurance() -> ClaimPayment:
    """99213 allowed 100.00: 80.00 paid, 20.00 coinsurance, 50.00 over the fee schedule;
    36415 allowed 20.00 and paid in full."""
    return ClaimPayment(
        "C-1001-1",
        "1",
        17_000,
        10_000,
        2_000,
        payer_claim_number="PCN-778",
        lines=(
            visit_line("99213", 15_000, 8_000, Adjustment("CO", "45", 5_000), Adjustment("PR", "2", 2_000)),
            visit_line("36415", 2_000, 2_000),
        ),
    )


def denied_not_necessary() -> ClaimPayment:
    return ClaimPayment(
        "C-1001-1",
        "4",
        17_000,
        0,
        0,
        payer_claim_number="PCN-779",
        adjustments=(Adjustment("CO", "50", 17_000),),
        remarks=("N115",),
    )


def partly_paid() -> ClaimPayment:
    """The venipuncture is bundled into the visit: that line pays nothing."""
    return ClaimPayment(
        "C-1001-1",
        "1",
        17_000,
        8_000,
        2_000,
        payer_claim_number="PCN-780",
        lines=(
            visit_line("99213", 15_000, 8_000, Adjustment("CO", "45", 5_000), Adjustment("PR", "2", 2_000)),
            visit_line("36415", 2_000, 0, Adjustment("CO", "97", 2_000), remarks=("N19",)),
        ),
    )


def reversal_of(payment: ClaimPayment) -> ClaimPayment:
    def negate(adjustments: tuple[Adjustment, ...]) -> tuple[Adjustment, ...]:
        return tuple(replace(a, amount_cents=-a.amount_cents) for a in adjustments)

    return replace(
        payment,
        status="22",
        charge_cents=-payment.charge_cents,
        paid_cents=-payment.paid_cents,
        patient_responsibility_cents=-payment.patient_responsibility_cents,
        adjustments=negate(payment.adjustments),
        remarks=(),
        lines=tuple(
            replace(
                line,
                charge_cents=-line.charge_cents,
                paid_cents=-line.paid_cents,
                adjustments=negate(line.adjustments),
                remarks=(),
            )
            for line in payment.lines
        ),
    )


def posted(payment: ClaimPayment, trace: str = "EFT-5501") -> Posted:
    return Posted(trace_number=trace, payer_id="60054", payment_date="2026-11-28", payment=payment)


def test_the_claim_fixture_is_a_claim_the_fhir_api_accepts():
    assert validate_resource(CLAIM, "Claim") is CLAIM


# --- The record ---------------------------------------------------------------------------------


def test_a_paid_claim_records_payment_patient_share_adjustments_and_stops_waiting_for_the_835():
    record = apply_remittance(RECORD, posted(paid_with_coinsurance()), AT)

    assert record.status is ClaimState.PAID
    assert (record.paid_cents, record.patient_responsibility_cents) == (10_000, 2_000)
    assert record.adjustments == (Adjustment("CO", "45", 5_000), Adjustment("PR", "2", 2_000))
    assert (record.payer_claim_number, record.closed, record.problems) == ("PCN-778", AT, ())
    assert record.waiting == {}
    assert record.remittances == (posted(paid_with_coinsurance()),)
    assert record.events[-1].what == "835 paid"
    assert record.events[-1].at == AT
    assert record.events[-1].detail == (
        "trace EFT-5501; CLP01 C-1001-1; CLP02 1; paid 100.00; patient 20.00; "
        "adjustments CO-45 50.00, PR-2 20.00"
    )
    assert decode(encode(record)) == record


def test_a_denial_lists_its_reasons_described_and_closes_the_claim_denied():
    record = apply_remittance(RECORD, posted(denied_not_necessary()), AT)

    assert record.status is ClaimState.DENIED
    assert record.problems == (
        "CO-50: not covered: not deemed a medical necessity by the payer (contractual obligation)",
        "N115: decided under a Local Coverage Determination (LCD)",
    )
    assert record.remarks == ("N115",)
    assert (record.paid_cents, record.closed, record.waiting) == (0, AT, {})
    assert record.events[-1].what == "835 denied"
    assert "remarks N115" in record.events[-1].detail


def test_a_claim_paying_nothing_and_owing_nothing_is_denied_whatever_clp02_says():
    nothing = replace(denied_not_necessary(), status="1")

    assert apply_remittance(RECORD, posted(nothing), AT).status is ClaimState.DENIED


def test_a_claim_paying_nothing_but_leaving_a_deductible_is_paid():
    deductible = ClaimPayment(
        "C-1001-1",
        "1",
        17_000,
        0,
        9_000,
        adjustments=(Adjustment("CO", "45", 8_000), Adjustment("PR", "1", 9_000)),
    )

    record = apply_remittance(RECORD, posted(deductible), AT)

    assert (record.status, record.patient_responsibility_cents, record.problems) == (
        ClaimState.PAID,
        9_000,
        (),
    )


def test_a_partial_payment_is_paid_and_names_why_the_unpaid_line_was_not_paid():
    record = apply_remittance(RECORD, posted(partly_paid()), AT)

    assert record.status is ClaimState.PAID
    assert record.paid_cents == 8_000
    assert record.problems == (
        "CO-97: included in the payment or allowance for another service already adjudicated "
        "(contractual obligation)",
        "N19: procedure code incidental to the primary procedure",
    )
    assert record.remarks == ("N19",)


def test_denial_reasons_cover_claim_and_line_codes_and_remarks_once_each():
    payment = replace(partly_paid(), remarks=("N19", "MA18"))

    assert denial_reasons(payment) == (
        "CO-45: charge exceeds the fee schedule or maximum allowable (contractual obligation)",
        "PR-2: coinsurance amount (patient responsibility)",
        "CO-97: included in the payment or allowance for another service already adjudicated "
        "(contractual obligation)",
        "N19: procedure code incidental to the primary procedure",
        "MA18: the claim information was also forwarded to the patient's supplemental insurer",
    )


def test_the_same_remittance_posted_twice_changes_nothing_the_second_time():
    once = apply_remittance(RECORD, posted(paid_with_coinsurance()), AT)

    twice = apply_remittance(once, posted(paid_with_coinsurance()), "2026-12-02T08:00:00Z")

    assert twice is once
    assert (len(twice.remittances), len(twice.events), twice.paid_cents) == (1, 1, 10_000)


def test_a_reversal_takes_back_what_was_paid_and_reopens_the_claim():
    paid = apply_remittance(RECORD, posted(paid_with_coinsurance()), AT)

    reversed_ = apply_remittance(
        paid, posted(reversal_of(paid_with_coinsurance()), "EFT-6001"), "2026-12-15T10:00:00Z"
    )

    assert reversed_.status is ClaimState.ACKNOWLEDGED
    assert (reversed_.paid_cents, reversed_.patient_responsibility_cents) == (0, 0)
    assert (reversed_.adjustments, reversed_.remarks, reversed_.closed, reversed_.problems) == (
        (),
        (),
        "",
        (),
    )
    assert len(reversed_.remittances) == 2
    assert reversed_.events[-1].what == "835 reversed"
    assert "CLP02 22; paid -100.00" in reversed_.events[-1].detail


def test_a_reversal_and_its_correction_in_the_same_835_both_post():
    paid = apply_remittance(RECORD, posted(paid_with_coinsurance()), AT)
    corrected = replace(partly_paid(), payer_claim_number="PCN-781")

    reversed_ = apply_remittance(paid, posted(reversal_of(paid_with_coinsurance()), "EFT-6001"), AT)
    reposted = apply_remittance(reversed_, posted(corrected, "EFT-6001"), AT)

    assert reposted.status is ClaimState.PAID
    assert (reposted.paid_cents, reposted.patient_responsibility_cents) == (8_000, 2_000)
    assert reposted.adjustments == (
        Adjustment("CO", "45", 5_000),
        Adjustment("PR", "2", 2_000),
        Adjustment("CO", "97", 2_000),
    )
    assert reposted.payer_claim_number == "PCN-781"
    assert apply_remittance(reposted, posted(corrected, "EFT-6001"), AT) is reposted


# --- The ClaimResponse --------------------------------------------------------------------------


def codes(concept: dict) -> list[str]:
    return [coding["code"] for coding in concept["coding"]]


def test_a_paid_claims_response_is_valid_fhir_and_adjudicates_each_item():
    response = claim_response(CLAIM, posted(paid_with_coinsurance()), date(2026, 12, 1))

    assert validate_resource(response, "ClaimResponse") is response
    assert (response["request"], response["requestor"], response["insurer"]) == (
        {"reference": "Claim/claim-1"},
        {"reference": "Organization/clinic"},
        CLAIM["insurer"],
    )
    assert (response["patient"], response["type"], response["created"]) == (
        {"reference": "Patient/p1"},
        CLAIM["type"],
        "2026-12-01",
    )
    assert response["identifier"] == [
        {"system": PAYER_CLAIM_NUMBER_SYSTEM, "value": "PCN-778"},
        {"system": TRACE_NUMBER_SYSTEM, "value": "EFT-5501"},
    ]
    assert response["disposition"] == "Paid 100.00 of 170.00 billed; patient responsibility 20.00"
    visit, draw = response["item"]
    assert visit["itemSequence"] == 1
    assert [(codes(a["category"])[0], a["amount"]["value"]) for a in visit["adjudication"]] == [
        ("submitted", 150.0),
        ("eligible", 100.0),
        ("benefit", 80.0),
        ("CO", 50.0),
        ("PR", 20.0),
    ]
    assert visit["adjudication"][3]["reason"]["coding"][0] == {
        "system": CARC_SYSTEM,
        "code": "45",
        "display": "charge exceeds the fee schedule or maximum allowable",
    }
    assert (draw["itemSequence"], draw["adjudication"][2]["amount"]["value"]) == (2, 20.0)
    assert [(codes(t["category"])[0], t["amount"]["value"]) for t in response["total"]] == [
        ("submitted", 170.0),
        ("eligible", 120.0),
        ("benefit", 100.0),
    ]
    assert response["payment"] == {
        "type": {
            "coding": [{"system": "http://terminology.hl7.org/CodeSystem/ex-paymenttype", "code": "complete"}]
        },
        "amount": {"value": 100.0, "currency": "USD"},
        "date": "2026-11-28",
        "identifier": {"system": TRACE_NUMBER_SYSTEM, "value": "EFT-5501"},
    }
    assert "processNote" not in response


def test_deductible_and_copay_use_fhirs_adjudication_categories():
    payment = ClaimPayment(
        "C-1001-1",
        "1",
        15_000,
        6_500,
        3_500,
        lines=(
            visit_line(
                "99213",
                15_000,
                6_500,
                Adjustment("CO", "45", 5_000),
                Adjustment("PR", "1", 1_000),
                Adjustment("PR", "3", 2_500),
            ),
        ),
    )

    response = claim_response(CLAIM, posted(payment), date(2026, 12, 1))

    validate_resource(response, "ClaimResponse")
    shares = response["item"][0]["adjudication"][4:]
    assert [(codes(a["category"]), codes(a["reason"]), a["amount"]["value"]) for a in shares] == [
        (["deductible"], ["1"], 10.0),
        (["copay"], ["3"], 25.0),
    ]


def test_a_denied_claims_response_is_valid_and_carries_the_reason_and_remark():
    response = claim_response(CLAIM, posted(denied_not_necessary()), date(2026, 12, 1))

    assert validate_resource(response, "ClaimResponse") is response
    assert response["disposition"].startswith("Denied: CO-50: not covered")
    assert [codes(a["reason"]) for a in response["adjudication"]] == [["50"]]
    assert response["processNote"] == [
        {"number": 1, "type": "display", "text": "N115: decided under a Local Coverage Determination (LCD)"}
    ]
    assert "payment" not in response
    assert [item["itemSequence"] for item in response["item"]] == [1, 2]
    assert response["item"][0]["adjudication"] == [
        {
            "category": {
                "coding": [
                    {"system": "http://terminology.hl7.org/CodeSystem/adjudication", "code": "submitted"}
                ]
            },
            "amount": {"value": 150.0, "currency": "USD"},
        }
    ]


def test_a_line_remark_is_a_process_note_the_item_points_to():
    response = claim_response(CLAIM, posted(partly_paid()), date(2026, 12, 1))

    validate_resource(response, "ClaimResponse")
    assert response["item"][1]["noteNumber"] == [1]
    assert response["processNote"][0]["text"].startswith("N19: ")
    assert response["item"][1]["adjudication"][2]["amount"]["value"] == 0.0


def test_lines_match_items_by_code_and_date_and_a_line_the_claim_lacks_is_an_added_item():
    payment = ClaimPayment(
        "C-1001-1",
        "1",
        17_500,
        2_000,
        0,
        lines=(
            visit_line("36415", 2_000, 2_000),
            visit_line("99214", 15_500, 0, Adjustment("CO", "16", 15_500), remarks=("M51",)),
        ),
    )

    response = claim_response(CLAIM, posted(payment), date(2026, 12, 1))

    validate_resource(response, "ClaimResponse")
    sequences = {
        item["itemSequence"]: item["adjudication"][-1]["amount"]["value"] for item in response["item"]
    }
    assert sequences == {1: 150.0, 2: 20.0}  # 99213 unanswered shows what was submitted
    (added,) = response["addItem"]
    assert (codes(added["productOrService"]), added["servicedDate"], added["noteNumber"]) == (
        ["99214"],
        "2026-11-02",
        [1],
    )


def test_a_reversals_response_is_valid_and_says_what_was_taken_back():
    response = claim_response(
        CLAIM, posted(reversal_of(paid_with_coinsurance()), "EFT-6001"), date(2026, 12, 15)
    )

    validate_resource(response, "ClaimResponse")
    assert response["disposition"] == "Reversed: the payer took back 100.00 paid earlier"
    assert response["payment"]["amount"]["value"] == -100.0


def test_a_claim_response_missing_its_outcome_would_be_refused_on_write():
    response = claim_response(CLAIM, posted(paid_with_coinsurance()), date(2026, 12, 1))
    response.pop("outcome")

    with pytest.raises(InvalidResource):
        validate_resource(response, "ClaimResponse")


# --- The patient's share ------------------------------------------------------------------------


def stored(invoice: dict) -> dict:
    return {**invoice, "id": "9b1e4c2d-0000", "meta": {"versionId": "1"}}


def test_the_patients_coinsurance_is_an_invoice_billing_reads_with_the_amount_due():
    invoice = patient_share_invoice(
        CLAIM, "enc1", "C-1001", posted(paid_with_coinsurance()), date(2026, 12, 1)
    )

    assert invoice is not None
    assert validate_resource(invoice, "Invoice") is invoice
    assert invoice["identifier"] == [{"system": INVOICE_CLAIM_SYSTEM, "value": "C-1001"}]
    shown = view(stored(invoice), date(2026, 12, 2))
    assert (shown.status, shown.total_cents, shown.amount_due_cents) == ("due", 2_000, 2_000)
    assert (shown.patient, shown.physician, shown.date, shown.due_date) == (
        "Patient/p1",
        "Practitioner/dr1",
        "2026-11-02",
        "2026-12-31",
    )
    assert shown.lines == [
        {"code": "99213", "display": "Coinsurance for 99213 on 2026-11-02", "quantity": 1, "amount": 20.0}
    ]
    assert view(stored(invoice), date(2027, 1, 1)).status == "overdue"
    assert invoice["extension"][0] == {
        "url": ENCOUNTER_EXTENSION,
        "valueReference": {"reference": "Encounter/enc1"},
    }


def test_a_claim_without_an_encounter_bills_without_the_encounter_link():
    invoice = patient_share_invoice(CLAIM, "", "C-1001", posted(paid_with_coinsurance()), date(2026, 12, 1))

    assert invoice is not None
    validate_resource(invoice, "Invoice")
    assert [extension["url"] for extension in invoice["extension"]] == [DUE_EXTENSION]


def test_deductible_and_copay_are_a_line_each_and_add_up():
    payment = ClaimPayment(
        "C-1001-1",
        "1",
        17_000,
        4_500,
        5_500,
        lines=(
            visit_line(
                "99213",
                15_000,
                4_500,
                Adjustment("CO", "45", 5_000),
                Adjustment("PR", "1", 3_000),
                Adjustment("PR", "3", 2_500),
            ),
            visit_line("36415", 2_000, 0, Adjustment("CO", "97", 2_000)),
        ),
    )

    invoice = patient_share_invoice(CLAIM, "enc1", "C-1001", posted(payment), date(2026, 12, 1))

    assert invoice is not None
    validate_resource(invoice, "Invoice")
    shown = view(stored(invoice), date(2026, 12, 2))
    assert shown.amount_due_cents == 5_500
    assert [(line["display"], line["amount"]) for line in shown.lines] == [
        ("Deductible for 99213 on 2026-11-02", 30.0),
        ("Copay for 99213 on 2026-11-02", 25.0),
    ]


def test_a_claim_level_patient_share_with_no_line_detail_is_one_line():
    payment = ClaimPayment("C-1001-1", "1", 17_000, 12_000, 5_000)

    invoice = patient_share_invoice(CLAIM, "enc1", "C-1001", posted(payment), date(2026, 12, 1))

    assert invoice is not None
    validate_resource(invoice, "Invoice")
    shown = view(stored(invoice), date(2026, 12, 2))
    assert shown.amount_due_cents == 5_000
    assert [line["display"] for line in shown.lines] == [
        "Patient responsibility after insurance for the visit on 2026-11-02"
    ]


def test_a_claim_level_deductible_is_named_as_one():
    payment = ClaimPayment(
        "C-1001-1", "1", 17_000, 12_000, 5_000, adjustments=(Adjustment("PR", "1", 5_000),)
    )

    invoice = patient_share_invoice(CLAIM, "enc1", "C-1001", posted(payment), date(2026, 12, 1))

    assert invoice is not None
    assert [line["display"] for line in view(stored(invoice), date(2026, 12, 2)).lines] == [
        "Deductible for the visit on 2026-11-02"
    ]


@pytest.mark.parametrize(
    "payment",
    [
        denied_not_necessary(),
        replace(paid_with_coinsurance(), patient_responsibility_cents=0, lines=()),
        reversal_of(paid_with_coinsurance()),
    ],
    ids=["denied", "paid in full", "reversal"],
)
def test_no_invoice_when_the_patient_owes_nothing(payment):
    assert patient_share_invoice(CLAIM, "enc1", "C-1001", posted(payment), date(2026, 12, 1)) is None
