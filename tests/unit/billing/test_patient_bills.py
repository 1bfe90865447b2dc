"""Fee schedules, invoices charged from an encounter, what is due, payments and refunds posted
once, and the PDF writer's output."""

from __future__ import annotations

import re
from datetime import date

import pytest

from cairn.billing.fee_schedule import FeeSchedule, FeeScheduleChanged, InMemoryFeeSchedules
from cairn.billing.invoices import Charge, build_invoice, parse_charges, view, with_payment, with_refund
from cairn.billing.pdf import Line, render
from cairn.errors import MalformedRequest

FEES = FeeSchedule.parse(
    {
        "fees": [
            {"code": "99213", "display": "Office visit", "amount": 120.0},
            {"code": "36415", "display": "Venipuncture", "amount": 15.5},
        ]
    }
)
ENCOUNTER = {
    "resourceType": "Encounter",
    "id": "enc1",
    "subject": {"reference": "Patient/p1"},
    "participant": [{"individual": {"reference": "Practitioner/dr1"}}],
    "type": [{"coding": [{"display": "Follow-up"}]}],
    "period": {"start": "2026-11-30T10:00:00Z"},
}


def invoice() -> dict:
    built = build_invoice(ENCOUNTER, FEES, [Charge("99213"), Charge("36415", 2)], date(2026, 12, 1))
    return {**built, "id": "3f2a9c1b-0000", "meta": {"versionId": "1"}}


def test_a_fee_schedule_names_every_mistake_at_once():
    with pytest.raises(MalformedRequest) as refused:
        FeeSchedule.parse(
            {
                "fees": [
                    {"code": "", "display": "x", "amount": 1},
                    {"code": "A1", "display": "", "amount": 1.234},
                    {"code": "A1", "display": "ok", "amount": 2},
                ]
            }
        )
    message = str(refused.value)
    assert "fees[0].code" in message
    assert "fees[1].display" in message
    assert "fees[1].amount must be dollars and cents" in message


def test_saving_a_fee_schedule_changed_meanwhile_is_refused_and_clinics_never_share_one():
    store: dict[str, str] = {}
    acme, birch = InMemoryFeeSchedules("acme", store), InMemoryFeeSchedules("birch", store)
    _, read = acme.get()
    acme.save(FEES, read)
    with pytest.raises(FeeScheduleChanged):
        acme.save(FEES, read)
    assert acme.get()[0] == FEES
    assert birch.get()[0].fees == ()


def test_an_invoice_charges_the_encounter_at_the_clinics_prices_and_is_due_then_overdue():
    shown = view(invoice(), date(2026, 12, 2))

    assert (shown.total_cents, shown.amount_due_cents, shown.status) == (15_100, 15_100, "due")
    assert (shown.patient, shown.physician, shown.visit_type, shown.date) == (
        "Patient/p1",
        "Practitioner/dr1",
        "Follow-up",
        "2026-11-30",
    )
    assert view(invoice(), date(2027, 1, 1)).status == "overdue"


def test_a_code_not_in_the_schedule_is_refused_listing_the_codes_it_has():
    with pytest.raises(
        MalformedRequest, match=r"not in the clinic's fee schedule: 99999 \(it has 99213, 36415\)"
    ):
        build_invoice(ENCOUNTER, FEES, [Charge("99999")], date(2026, 12, 1))
    with pytest.raises(MalformedRequest, match=r"charges\[0\].quantity"):
        parse_charges([{"code": "99213", "quantity": 0}])


def test_a_payment_and_a_refund_are_each_posted_once_with_receipts():
    paid = with_payment(invoice(), "pi_1", 15_100, "2026-12-03T10:00:00.000Z")
    assert paid is not None
    assert with_payment(paid, "pi_1", 15_100, "2026-12-03T10:00:01.000Z") is None
    shown = view(paid, date(2026, 12, 3))
    assert (shown.status, shown.amount_due_cents, shown.payments[0].receipt) == ("paid", 0, "R-3F2A9C1B-1")

    refunded = with_refund(paid, "re_1", "pi_1", 1_550, "2026-12-04T10:00:00.000Z")
    assert refunded is not None
    assert with_refund(refunded, "re_1", "pi_1", 1_550, "2026-12-04T10:00:00.000Z") is None
    after = view(refunded, date(2026, 12, 4))
    assert (after.status, after.amount_due_cents, after.refunds[0].receipt) == ("due", 1_550, "RF-3F2A9C1B-1")


def test_a_partial_payment_leaves_the_rest_due():
    part = with_payment(invoice(), "pi_2", 5_000, "2026-12-03T10:00:00.000Z")
    assert part is not None
    assert (part["status"], view(part, date(2026, 12, 3)).amount_due_cents) == ("issued", 10_100)


def test_the_pdf_is_well_formed_every_object_where_its_xref_says_and_text_escaped():
    lines = [Line("Café (Demo) \\ Clinic", bold=True, size=16)] + [Line(f"line {i}") for i in range(70)]
    pdf = render(lines, "Demo invoice")

    assert pdf.startswith(b"%PDF-1.4\n")
    assert pdf.endswith(b"%%EOF\n")
    xref = int(re.search(rb"startxref\n(\d+)\n", pdf).group(1))  # type: ignore[union-attr]
    assert pdf[xref : xref + 4] == b"xref"
    offsets = [int(o) for o in re.findall(rb"(\d{10}) 00000 n ", pdf)]
    for number, offset in enumerate(offsets, start=1):
        assert pdf[offset:].startswith(b"%d 0 obj" % number)
    assert b"/Count 2" in pdf  # 70 lines need a second page
    assert b"(Caf\xe9 \\(Demo\\) \\\\ Clinic) Tj" in pdf
    assert render(lines, "Demo invoice") == pdf
