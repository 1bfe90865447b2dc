"""Posting an 835 remittance: the claims ledger's record updated, the payer's answer as a FHIR R4
ClaimResponse, and the patient's share as a FHIR Invoice that cairn.billing collects.

Pure functions over plain values: the caller (cairn.claims.inbound) reads the 835, finds the
record and the FHIR Claim, and writes what these return. A remittance is posted once per (trace
number, claim control number, reversal or not): a payer may send a reversal and its correction
for one claim in the same 835, and both must post.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from datetime import date, timedelta
from typing import Any

from cairn.billing.invoices import (
    DUE_DAYS,
    DUE_EXTENSION,
    ENCOUNTER_EXTENSION,
    money,
)
from cairn.claims.adjustment_codes import (
    COINSURANCE,
    COPAY,
    DEDUCTIBLE,
    GROUP_CODES,
    describe_adjustment,
    describe_remark,
    reason_text,
)
from cairn.claims.model import Adjustment, ClaimPayment, LinePayment
from cairn.claims.record import ClaimRecord, ClaimState, Posted

PAYER_CLAIM_NUMBER_SYSTEM = "https://cairn.health/fhir/sid/payer-claim-number"
TRACE_NUMBER_SYSTEM = "https://cairn.health/fhir/sid/remittance-trace-number"
PAYER_ID_SYSTEM = "https://cairn.health/fhir/sid/payer-id"  # the payer's id at the clearinghouse
INVOICE_CLAIM_SYSTEM = "https://cairn.health/fhir/sid/invoice-claim"
ADJUDICATION_SYSTEM = "http://terminology.hl7.org/CodeSystem/adjudication"
PAYMENT_TYPE_SYSTEM = "http://terminology.hl7.org/CodeSystem/ex-paymenttype"
CARC_SYSTEM = "https://x12.org/codes/claim-adjustment-reason-codes"
GROUP_SYSTEM = "https://x12.org/codes/claim-adjustment-group-codes"
RARC_SYSTEM = "https://x12.org/codes/remittance-advice-remark-codes"
PATIENT = "PR"
CONTRACTUAL = "CO"
# The patient's share, by CARC, as the adjudication category FHIR has for it (none for coinsurance).
SHARE_CATEGORIES: Mapping[str, str] = {DEDUCTIBLE: "deductible", COPAY: "copay"}
SHARE_LABELS: Mapping[str, str] = {DEDUCTIBLE: "Deductible", COINSURANCE: "Coinsurance", COPAY: "Copay"}


# --- The ledger's record ------------------------------------------------------------------------


def apply_remittance(record: ClaimRecord, posted: Posted, at: str) -> ClaimRecord:
    """`record` with the payment in `posted` filed at `at` (an ISO instant); unchanged if it was
    filed before. A reversal takes back what was posted and reopens the claim as acknowledged."""
    if any(_key(earlier) == _key(posted) for earlier in record.remittances):
        return record
    payment = posted.payment
    remittances = (*record.remittances, posted)
    standing = standing_postings(remittances)
    paid = record.paid_cents + payment.paid_cents
    patient = record.patient_responsibility_cents + payment.patient_responsibility_cents
    changes: dict[str, Any] = {
        "paid_cents": paid,
        "patient_responsibility_cents": patient,
        "adjustments": tuple(adjustment for each in standing for adjustment in all_adjustments(each.payment)),
        "remarks": _unique(remark for each in standing for remark in all_remarks(each.payment)),
        "payer_claim_number": payment.payer_claim_number or record.payer_claim_number,
        "remittances": remittances,
    }
    if payment.reversal:
        return record.with_event(
            at,
            "835 reversed",
            _detail(posted),
            status=ClaimState.ACKNOWLEDGED,
            closed="",
            problems=(),
            **changes,
        )
    denied = payment.denied or (paid <= 0 and patient <= 0)
    waiting = {name: token for name, token in record.waiting.items() if name != "835"}
    return record.with_event(
        at,
        "835 denied" if denied else "835 paid",
        _detail(posted),
        status=ClaimState.DENIED if denied else ClaimState.PAID,
        closed=at,
        problems=denial_reasons(payment) if denied else _partial_denials(payment),
        waiting=waiting,
        **changes,
    )


def standing_postings(remittances: Sequence[Posted]) -> tuple[Posted, ...]:
    """The postings a later reversal has not taken back (each reversal cancels the latest earlier
    posting of the same claim control number), oldest first, reversals left out."""
    standing: list[Posted] = []
    for posted in remittances:
        if not posted.payment.reversal:
            standing.append(posted)
            continue
        for index in range(len(standing) - 1, -1, -1):
            if standing[index].payment.control_number == posted.payment.control_number:
                del standing[index]
                break
    return tuple(standing)


def all_adjustments(payment: ClaimPayment) -> tuple[Adjustment, ...]:
    """Claim-level CAS, then each line's."""
    return (*payment.adjustments, *(adjustment for line in payment.lines for adjustment in line.adjustments))


def all_remarks(payment: ClaimPayment) -> tuple[str, ...]:
    """Claim-level RARC, then each line's, each once."""
    return _unique((*payment.remarks, *(remark for line in payment.lines for remark in line.remarks)))


def denial_reasons(payment: ClaimPayment) -> tuple[str, ...]:
    """Every adjustment of the claim and its lines, described, then every remark, each once."""
    return _reasons(all_adjustments(payment), all_remarks(payment))


def is_patient_share(adjustment: Adjustment) -> bool:
    """Deductible, coinsurance or copay: the patient owes it, the payer did not deny it."""
    return adjustment.group == PATIENT and adjustment.reason in SHARE_LABELS


def _partial_denials(payment: ClaimPayment) -> tuple[str, ...]:
    """Why the lines a paid claim paid nothing for were not paid."""
    unpaid = [line for line in payment.lines if line.paid_cents == 0 and line.charge_cents > 0]
    return _reasons(
        [
            adjustment
            for line in unpaid
            for adjustment in line.adjustments
            if not is_patient_share(adjustment)
        ],
        [remark for line in unpaid for remark in line.remarks],
    )


def _reasons(adjustments: Iterable[Adjustment], remarks: Iterable[str]) -> tuple[str, ...]:
    return _unique(
        [
            *(describe_adjustment(adjustment.group, adjustment.reason) for adjustment in adjustments),
            *(describe_remark(remark) for remark in remarks),
        ]
    )


def _unique(values: Iterable[str]) -> tuple[str, ...]:
    return tuple(dict.fromkeys(values))


def _key(posted: Posted) -> tuple[str, str, bool]:
    return posted.trace_number, posted.payment.control_number, posted.payment.reversal


def _dollars(cents: int) -> str:
    return f"{cents / 100:.2f}"


def _detail(posted: Posted) -> str:
    """Codes and amounts only: what was posted, never who it was for."""
    payment = posted.payment
    parts = [
        f"trace {posted.trace_number}",
        f"CLP01 {payment.control_number}",
        f"CLP02 {payment.status}",
        f"paid {_dollars(payment.paid_cents)}",
        f"patient {_dollars(payment.patient_responsibility_cents)}",
    ]
    adjustments = all_adjustments(payment)
    if adjustments:
        parts.append(
            "adjustments "
            + ", ".join(f"{a.group}-{a.reason} {_dollars(a.amount_cents)}" for a in adjustments)
        )
    remarks = all_remarks(payment)
    if remarks:
        parts.append("remarks " + ", ".join(remarks))
    return "; ".join(parts)


# --- Matching the payer's lines to the Claim's items --------------------------------------------


def _item_code(item: Mapping[str, Any]) -> str:
    codings = (item.get("productOrService") or {}).get("coding") or [{}]
    return str(codings[0].get("code") or "")


def _item_system(item: Mapping[str, Any]) -> str:
    codings = (item.get("productOrService") or {}).get("coding") or [{}]
    return str(codings[0].get("system") or "")


def _item_date(item: Mapping[str, Any]) -> str:
    return str(item.get("servicedDate") or (item.get("servicedPeriod") or {}).get("start") or "")[:10]


def match_items(
    items: Sequence[Mapping[str, Any]], lines: Sequence[LinePayment]
) -> list[Mapping[str, Any] | None]:
    """The Claim item each payment line answers (None where none does): same service code and,
    where the line has one, the same date; of several, the one at the line's position, else the
    first not yet matched."""
    used: set[int] = set()
    matched: list[Mapping[str, Any] | None] = []
    for position, line in enumerate(lines):
        day = line.service_date.isoformat() if line.service_date else ""
        candidates = [
            index
            for index, item in enumerate(items)
            if index not in used and _item_code(item) == line.code and (not day or _item_date(item) == day)
        ]
        if not candidates:
            matched.append(None)
            continue
        chosen = position if position in candidates else candidates[0]
        used.add(chosen)
        matched.append(items[chosen])
    return matched


# --- The FHIR ClaimResponse ---------------------------------------------------------------------


def _category(code: str) -> dict[str, Any]:
    return {"coding": [{"system": ADJUDICATION_SYSTEM, "code": code}]}


def _adjudication(adjustment: Adjustment) -> dict[str, Any]:
    category = SHARE_CATEGORIES.get(adjustment.reason) if adjustment.group == PATIENT else None
    return {
        "category": _category(category)
        if category
        else {
            "coding": [
                {
                    "system": GROUP_SYSTEM,
                    "code": adjustment.group,
                    "display": GROUP_CODES.get(adjustment.group, adjustment.group),
                }
            ]
        },
        "reason": {
            "coding": [
                {"system": CARC_SYSTEM, "code": adjustment.reason, "display": reason_text(adjustment.reason)}
            ]
        },
        "amount": money(adjustment.amount_cents),
    }


def _line_adjudication(line: LinePayment) -> list[dict[str, Any]]:
    patient = sum(a.amount_cents for a in line.adjustments if a.group == PATIENT)
    return [
        {"category": _category("submitted"), "amount": money(line.charge_cents)},
        {"category": _category("eligible"), "amount": money(line.paid_cents + patient)},
        {"category": _category("benefit"), "amount": money(line.paid_cents)},
        *(_adjudication(adjustment) for adjustment in line.adjustments),
    ]


def _disposition(payment: ClaimPayment) -> str:
    if payment.reversal:
        return f"Reversed: the payer took back {_dollars(-payment.paid_cents)} paid earlier"
    if payment.denied or (payment.paid_cents <= 0 and payment.patient_responsibility_cents <= 0):
        reasons = "; ".join(denial_reasons(payment)) or "no reason given"
        return f"Denied: {reasons}"
    return (
        f"Paid {_dollars(payment.paid_cents)} of {_dollars(payment.charge_cents)} billed; "
        f"patient responsibility {_dollars(payment.patient_responsibility_cents)}"
    )


def claim_response(claim: Mapping[str, Any], posted: Posted, created: date) -> dict[str, Any]:
    """The payer's answer to `claim` (a FHIR R4 Claim with an id) as a FHIR R4 ClaimResponse."""
    payment = posted.payment
    items: Sequence[Mapping[str, Any]] = claim.get("item") or ()
    notes = all_remarks(payment)
    note_numbers = {remark: number for number, remark in enumerate(notes, start=1)}
    answered: dict[int, LinePayment] = {}
    added: list[dict[str, Any]] = []
    for line, item in zip(payment.lines, match_items(items, payment.lines), strict=True):
        if item is not None:
            answered[int(item["sequence"])] = line
            continue
        extra: dict[str, Any] = {
            "productOrService": {"coding": [{"code": line.code}]},
            "adjudication": _line_adjudication(line),
        }
        if line.service_date:
            extra["servicedDate"] = line.service_date.isoformat()
        if line.remarks:
            extra["noteNumber"] = [note_numbers[remark] for remark in _unique(line.remarks)]
        added.append(extra)
    response_items = []
    for item in items:
        sequence = int(item["sequence"])
        line_answer = answered.get(sequence)
        entry: dict[str, Any] = {"itemSequence": sequence}
        if line_answer is None:
            submitted: dict[str, Any] = {"category": _category("submitted")}
            if item.get("net"):
                submitted["amount"] = dict(item["net"])
            entry["adjudication"] = [submitted]
        else:
            entry["adjudication"] = _line_adjudication(line_answer)
            if line_answer.remarks:
                entry["noteNumber"] = [note_numbers[remark] for remark in _unique(line_answer.remarks)]
        response_items.append(entry)

    identifiers = []
    if payment.payer_claim_number:
        identifiers.append({"system": PAYER_CLAIM_NUMBER_SYSTEM, "value": payment.payer_claim_number})
    if posted.trace_number:
        identifiers.append({"system": TRACE_NUMBER_SYSTEM, "value": posted.trace_number})
    response: dict[str, Any] = {
        "resourceType": "ClaimResponse",
        "status": "active",
        "type": dict(claim["type"]),
        "use": "claim",
        "patient": dict(claim["patient"]),
        "created": created.isoformat(),
        "insurer": dict(
            claim.get("insurer") or {"identifier": {"system": PAYER_ID_SYSTEM, "value": posted.payer_id}}
        ),
        "request": {"reference": f"Claim/{claim['id']}"},
        "outcome": "complete",
        "disposition": _disposition(payment),
        "total": [
            {"category": _category("submitted"), "amount": money(payment.charge_cents)},
            {
                "category": _category("eligible"),
                "amount": money(payment.paid_cents + payment.patient_responsibility_cents),
            },
            {"category": _category("benefit"), "amount": money(payment.paid_cents)},
        ],
    }
    if claim.get("provider"):
        response["requestor"] = dict(claim["provider"])
    if identifiers:
        response["identifier"] = identifiers
    if response_items:
        response["item"] = response_items
    if added:
        response["addItem"] = added
    if payment.adjustments:
        response["adjudication"] = [_adjudication(adjustment) for adjustment in payment.adjustments]
    if payment.paid_cents:
        paid: dict[str, Any] = {
            "type": {"coding": [{"system": PAYMENT_TYPE_SYSTEM, "code": "complete"}]},
            "amount": money(payment.paid_cents),
        }
        if posted.payment_date:
            paid["date"] = posted.payment_date
        if posted.trace_number:
            paid["identifier"] = {"system": TRACE_NUMBER_SYSTEM, "value": posted.trace_number}
        response["payment"] = paid
    if notes:
        response["processNote"] = [
            {"number": note_numbers[remark], "type": "display", "text": describe_remark(remark)}
            for remark in notes
        ]
    return response


# --- The patient's share as an Invoice ----------------------------------------------------------


def _share_text(adjustment: Adjustment) -> str:
    return (
        SHARE_LABELS.get(adjustment.reason)
        or f"Patient responsibility ({adjustment.group}-{adjustment.reason})"
    )


def _reason_coding(adjustment: Adjustment) -> dict[str, Any]:
    return {"system": CARC_SYSTEM, "code": adjustment.reason, "display": reason_text(adjustment.reason)}


def patient_share_invoice(
    claim: Mapping[str, Any], encounter_id: str, claim_number: str, posted: Posted, issued: date
) -> dict[str, Any] | None:
    """What the patient owes after insurance (deductible, coinsurance, copay: the PR adjustments,
    per service line, or the claim's CLP05 where no adjustment says why) as a FHIR Invoice that
    cairn.billing.invoices reads; None when the patient owes nothing.

    The Invoice is identified by the claim number (create it with if_none_exist on that
    identifier), not by the encounter: billing's own invoice for the encounter keeps that one."""
    payment = posted.payment
    items: Sequence[Mapping[str, Any]] = claim.get("item") or ()
    visit_day = _visit_day(claim, issued)
    charges: list[tuple[dict[str, Any], str, int]] = []  # (chargeItemCodeableConcept, text, cents)
    for line, item in zip(payment.lines, match_items(items, payment.lines), strict=True):
        day = line.service_date.isoformat() if line.service_date else (_item_date(item or {}) or visit_day)
        service = {
            "code": line.code,
            **({"system": _item_system(item)} if item and _item_system(item) else {}),
        }
        for adjustment in line.adjustments:
            if adjustment.group == PATIENT and adjustment.amount_cents > 0:
                text = f"{_share_text(adjustment)} for {line.code} on {day}"
                charges.append(
                    (
                        {"coding": [service, _reason_coding(adjustment)], "text": text},
                        text,
                        adjustment.amount_cents,
                    )
                )
    for adjustment in payment.adjustments:
        if adjustment.group == PATIENT and adjustment.amount_cents > 0:
            text = f"{_share_text(adjustment)} for the visit on {visit_day}"
            charges.append(
                ({"coding": [_reason_coding(adjustment)], "text": text}, text, adjustment.amount_cents)
            )
    if not charges and payment.patient_responsibility_cents > 0:
        text = f"Patient responsibility after insurance for the visit on {visit_day}"
        concept = {"coding": [{"system": GROUP_SYSTEM, "code": PATIENT, "display": GROUP_CODES[PATIENT]}]}
        charges.append(({**concept, "text": text}, text, payment.patient_responsibility_cents))
    total = sum(amount for _, _, amount in charges)
    if total <= 0:
        return None
    due = issued + timedelta(days=DUE_DAYS)
    invoice: dict[str, Any] = {
        "resourceType": "Invoice",
        "status": "issued",
        "identifier": [{"system": INVOICE_CLAIM_SYSTEM, "value": claim_number}],
        "subject": dict(claim["patient"]),
        "date": visit_day,
        "lineItem": [
            {
                "sequence": sequence,
                "chargeItemCodeableConcept": concept,
                "priceComponent": [{"type": "base", "factor": 1, "amount": money(amount)}],
            }
            for sequence, (concept, _, amount) in enumerate(charges, start=1)
        ],
        "totalNet": money(total),
        "totalGross": money(total),
        "paymentTerms": f"Due by {due.isoformat()}",
        "extension": [{"url": DUE_EXTENSION, "valueDate": due.isoformat()}],
    }
    if encounter_id:  # a claim coded without an encounter bills without the link
        invoice["extension"].insert(
            0, {"url": ENCOUNTER_EXTENSION, "valueReference": {"reference": f"Encounter/{encounter_id}"}}
        )
    physician = _physician(claim)
    if physician:
        invoice["participant"] = [{"role": {"text": "physician"}, "actor": physician}]
    return invoice


def _visit_day(claim: Mapping[str, Any], fallback: date) -> str:
    start = (claim.get("billablePeriod") or {}).get("start")
    days = sorted(day for day in (_item_date(item) for item in claim.get("item") or ()) if day)
    return str(start or (days[0] if days else "") or fallback.isoformat())[:10]


def _physician(claim: Mapping[str, Any]) -> dict[str, Any] | None:
    for member in claim.get("careTeam") or ():
        provider = member.get("provider") or {}
        if str(provider.get("reference", "")).startswith("Practitioner/"):
            return dict(provider)
    provider = claim.get("provider") or {}
    return dict(provider) if str(provider.get("reference", "")).startswith("Practitioner/") else None
