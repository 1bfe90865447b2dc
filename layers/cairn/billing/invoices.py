"""Patient invoices as FHIR R4 Invoices: charged from an encounter at the clinic's fee schedule,
viewed with what is due, paid and refunded, and the payments and refunds Stripe reports posted
onto them (each once, however often Stripe reports it).

An invoice is `issued` until it is paid in full (`balanced`); Cairn shows it as due, overdue
(past its due date) or paid. Payments and refunds are extensions on the Invoice (FHIR R4 has no
stored payment type Cairn serves), each with its Stripe id, amount, time and receipt number.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from datetime import date, timedelta
from typing import Any

from cairn.billing.fee_schedule import FeeSchedule
from cairn.errors import MalformedRequest

STRUCTURE = "https://cairn.health/fhir/StructureDefinition/"
ENCOUNTER_EXTENSION = STRUCTURE + "invoice-encounter"
VISIT_TYPE_EXTENSION = STRUCTURE + "invoice-visit-type"
DUE_EXTENSION = STRUCTURE + "invoice-due-date"
PAYMENT_EXTENSION = STRUCTURE + "invoice-payment"
REFUND_EXTENSION = STRUCTURE + "invoice-refund"
NUMBER_SYSTEM = "https://cairn.health/fhir/sid/invoice-number"
ENCOUNTER_SYSTEM = "https://cairn.health/fhir/sid/invoice-encounter"
DUE_DAYS = 30
MAX_CHARGES = 50
MAX_QUANTITY = 99


@dataclass(frozen=True)
class Charge:
    code: str
    quantity: int = 1


def parse_charges(raw: object) -> list[Charge]:
    """[{"code": "99213", "quantity": 1}, ...]; MalformedRequest naming each problem."""
    if not isinstance(raw, list) or not 1 <= len(raw) <= MAX_CHARGES:
        raise MalformedRequest(f'charges must be a list of 1 to {MAX_CHARGES} {{"code", "quantity"}} objects')
    problems, charges = [], []
    for index, entry in enumerate(raw):
        code = entry.get("code") if isinstance(entry, Mapping) else None
        quantity = entry.get("quantity", 1) if isinstance(entry, Mapping) else None
        if not isinstance(code, str) or not code:
            problems.append(f"charges[{index}].code must be a code of the clinic's fee schedule")
        elif isinstance(quantity, bool) or not isinstance(quantity, int) or not 1 <= quantity <= MAX_QUANTITY:
            problems.append(f"charges[{index}].quantity must be a whole number from 1 to {MAX_QUANTITY}")
        else:
            charges.append(Charge(code, quantity))
    if problems:
        raise MalformedRequest("; ".join(problems))
    return charges


def money(cents: int) -> dict[str, Any]:
    return {"value": round(cents / 100, 2), "currency": "USD"}


def cents(value: Mapping[str, Any] | None) -> int:
    return round(float((value or {}).get("value") or 0) * 100)


def _extension(resource: Mapping[str, Any], url: str) -> list[Mapping[str, Any]]:
    return [e for e in resource.get("extension") or () if e.get("url") == url]


def _concept_text(concept: Mapping[str, Any] | None) -> str:
    concept = concept or {}
    codings = concept.get("coding") or [{}]
    return str(concept.get("text") or codings[0].get("display") or codings[0].get("code") or "")


def build_invoice(
    encounter: Mapping[str, Any], schedule: FeeSchedule, charges: list[Charge], issued: date
) -> dict[str, Any]:
    """A new Invoice for `charges` of `encounter` at `schedule`'s prices; MalformedRequest for a
    code the schedule does not have (listing the ones it has) or an encounter with no patient."""
    unknown = [charge.code for charge in charges if schedule.fee(charge.code) is None]
    if unknown:
        known = ", ".join(fee.code for fee in schedule.fees) or "none yet: an admin enters them first"
        raise MalformedRequest(f"not in the clinic's fee schedule: {', '.join(unknown)} (it has {known})")
    subject = (encounter.get("subject") or {}).get("reference", "")
    if not str(subject).startswith("Patient/"):
        raise MalformedRequest("the encounter names no patient (Encounter.subject): it cannot be billed")
    lines, total = [], 0
    for sequence, charge in enumerate(charges, start=1):
        fee = schedule.fee(charge.code)
        assert fee is not None  # checked above
        amount = fee.amount_cents * charge.quantity
        total += amount
        lines.append(
            {
                "sequence": sequence,
                "chargeItemCodeableConcept": {
                    "coding": [{"system": fee.system, "code": fee.code, "display": fee.display}],
                    "text": fee.display,
                },
                "priceComponent": [{"type": "base", "factor": charge.quantity, "amount": money(amount)}],
            }
        )
    physicians = [
        p["individual"]
        for p in encounter.get("participant") or ()
        if str((p.get("individual") or {}).get("reference", "")).startswith("Practitioner/")
    ]
    visit_day = str((encounter.get("period") or {}).get("start") or issued.isoformat())[:10]
    due = issued + timedelta(days=DUE_DAYS)
    encounter_id = str(encounter.get("id"))
    invoice: dict[str, Any] = {
        "resourceType": "Invoice",
        "status": "issued",
        "identifier": [{"system": ENCOUNTER_SYSTEM, "value": encounter_id}],
        "subject": {"reference": subject},
        "date": visit_day,
        "lineItem": lines,
        "totalNet": money(total),
        "totalGross": money(total),
        "paymentTerms": f"Due by {due.isoformat()}",
        "extension": [
            {"url": ENCOUNTER_EXTENSION, "valueReference": {"reference": f"Encounter/{encounter_id}"}},
            {"url": DUE_EXTENSION, "valueDate": due.isoformat()},
        ],
    }
    visit_type = _concept_text((encounter.get("type") or [None])[0])
    if visit_type:  # FHIR forbids empty strings: an encounter without a type bills without one
        invoice["extension"].insert(1, {"url": VISIT_TYPE_EXTENSION, "valueString": visit_type})
    if physicians:  # FHIR forbids empty arrays: an encounter with no physician bills without one
        invoice["participant"] = [{"role": {"text": "physician"}, "actor": physicians[0]}]
    return invoice


@dataclass(frozen=True)
class Posting:
    """A payment or refund posted on an invoice."""

    stripe_id: str
    amount_cents: int
    at: str
    receipt: str
    payment: str = ""  # a refund's payment (PaymentIntent id)


@dataclass(frozen=True)
class InvoiceView:
    """An invoice as the clinic and the patient see it."""

    invoice_id: str
    number: str
    status: str  # due | overdue | paid | cancelled
    patient: str
    physician: str
    visit_type: str
    date: str
    due_date: str
    total_cents: int
    paid_cents: int
    refunded_cents: int
    lines: list[dict[str, Any]] = field(default_factory=list)
    payments: list[Posting] = field(default_factory=list)
    refunds: list[Posting] = field(default_factory=list)

    @property
    def amount_due_cents(self) -> int:
        return (
            max(0, self.total_cents - self.paid_cents + self.refunded_cents)
            if self.status != "cancelled"
            else 0
        )

    def as_dict(self) -> dict[str, Any]:
        answer = asdict(self)
        for name in ("total_cents", "paid_cents", "refunded_cents"):
            answer[name.removesuffix("_cents")] = answer.pop(name) / 100
        answer["amount_due"] = self.amount_due_cents / 100
        answer["currency"] = "usd"
        for kind in ("payments", "refunds"):
            answer[kind] = [{**entry, "amount": entry.pop("amount_cents") / 100} for entry in answer[kind]]
        return answer


def _postings(invoice: Mapping[str, Any], url: str) -> list[Posting]:
    postings = []
    for extension in _extension(invoice, url):
        parts = {part["url"]: part for part in extension.get("extension") or ()}
        postings.append(
            Posting(
                stripe_id=parts["id"]["valueString"],
                amount_cents=cents(parts["amount"]["valueMoney"]),
                at=parts["at"]["valueDateTime"],
                receipt=parts["receipt"]["valueString"],
                payment=parts.get("payment", {}).get("valueString", ""),
            )
        )
    return postings


def view(invoice: Mapping[str, Any], today: date) -> InvoiceView:
    """What is due on `invoice` on `today`."""
    due = str((_extension(invoice, DUE_EXTENSION) or [{}])[0].get("valueDate", ""))
    payments, refunds = _postings(invoice, PAYMENT_EXTENSION), _postings(invoice, REFUND_EXTENSION)
    fhir_status = invoice.get("status")
    if fhir_status == "balanced":
        status = "paid"
    elif fhir_status in ("cancelled", "entered-in-error"):
        status = "cancelled"
    else:
        status = "overdue" if due and due < today.isoformat() else "due"
    lines = [
        {
            "code": (line["chargeItemCodeableConcept"]["coding"] or [{}])[0].get("code"),
            "display": line["chargeItemCodeableConcept"].get("text", ""),
            "quantity": line["priceComponent"][0].get("factor", 1),
            "amount": cents(line["priceComponent"][0].get("amount")) / 100,
        }
        for line in invoice.get("lineItem") or ()
    ]
    participant = (invoice.get("participant") or [{}])[0].get("actor") or {}
    return InvoiceView(
        invoice_id=str(invoice.get("id")),
        number=invoice_number(invoice),
        status=status,
        patient=str((invoice.get("subject") or {}).get("reference", "")),
        physician=str(participant.get("display") or participant.get("reference") or ""),
        visit_type=str((_extension(invoice, VISIT_TYPE_EXTENSION) or [{}])[0].get("valueString", "")),
        date=str(invoice.get("date", ""))[:10],
        due_date=due,
        total_cents=cents(invoice.get("totalGross")),
        paid_cents=sum(p.amount_cents for p in payments),
        refunded_cents=sum(r.amount_cents for r in refunds),
        lines=lines,
        payments=payments,
        refunds=refunds,
    )


def invoice_number(invoice: Mapping[str, Any]) -> str:
    """The number printed on the invoice: INV- and the first 8 characters of its id, upper case."""
    return f"INV-{str(invoice.get('id', ''))[:8].upper()}"


def _posting_extension(url: str, posting: Posting) -> dict[str, Any]:
    parts = [
        {"url": "id", "valueString": posting.stripe_id},
        {"url": "amount", "valueMoney": money(posting.amount_cents)},
        {"url": "at", "valueDateTime": posting.at},
        {"url": "receipt", "valueString": posting.receipt},
    ]
    if posting.payment:
        parts.append({"url": "payment", "valueString": posting.payment})
    return {"url": url, "extension": parts}


def with_payment(
    invoice: Mapping[str, Any], payment_intent: str, amount_cents: int, at: str
) -> dict[str, Any] | None:
    """The invoice with the payment posted and its receipt numbered; None if it is posted already."""
    current = view(invoice, date.min)
    if any(p.stripe_id == payment_intent for p in current.payments):
        return None
    receipt = f"R-{current.number.removeprefix('INV-')}-{len(current.payments) + 1}"
    changed = {
        **invoice,
        "extension": [
            *invoice.get("extension", []),
            _posting_extension(PAYMENT_EXTENSION, Posting(payment_intent, amount_cents, at, receipt)),
        ],
    }
    if current.total_cents - current.paid_cents - amount_cents + current.refunded_cents <= 0:
        changed["status"] = "balanced"
    return changed


def with_refund(
    invoice: Mapping[str, Any], refund_id: str, payment_intent: str, amount_cents: int, at: str
) -> dict[str, Any] | None:
    """The invoice with the refund posted (it is due again by what was refunded); None if posted."""
    current = view(invoice, date.min)
    if any(r.stripe_id == refund_id for r in current.refunds):
        return None
    receipt = f"RF-{current.number.removeprefix('INV-')}-{len(current.refunds) + 1}"
    changed = {
        **invoice,
        "extension": [
            *invoice.get("extension", []),
            _posting_extension(
                REFUND_EXTENSION, Posting(refund_id, amount_cents, at, receipt, payment_intent)
            ),
        ],
    }
    if (
        current.total_cents - current.paid_cents + current.refunded_cents + amount_cents > 0
        and changed.get("status") == "balanced"
    ):
        changed["status"] = "issued"
    return changed
