"""The claims desk's reports over the claims ledger's records: claims by status, accounts
receivable by age, denials by reason code, and payments by payer.

Pure: the caller reads the tenant's records from the ledger. Amounts are dollars (cents / 100);
every list is in a fixed order, so the same records always give the same report.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from typing import Any

from cairn.claims.adjustment_codes import reason_text
from cairn.claims.posting import CONTRACTUAL, is_patient_share, standing_postings
from cairn.claims.record import ClaimRecord, ClaimState

# Accounts receivable age buckets: (label, oldest age in whole days, or None for no limit).
AGE_BUCKETS: tuple[tuple[str, int | None], ...] = (
    ("0-30", 30),
    ("31-60", 60),
    ("61-90", 90),
    ("91-120", 120),
    ("over 120", None),
)


def claims_report(
    records: Sequence[ClaimRecord],
    today: date,
    *,
    payer_id: str | None = None,
    created_since: date | None = None,
) -> dict[str, Any]:
    """The four sections over `records` (optionally only one payer's, or those coded on or after
    `created_since`), with ages counted in whole days up to `today`."""
    chosen = sorted(
        (
            record
            for record in records
            if (payer_id is None or record.payer_id == payer_id)
            and (created_since is None or _day(record.created) >= created_since)
        ),
        key=lambda record: (record.created, record.claim_id),
    )
    return {
        "claims": len(chosen),
        "by_status": _by_status(chosen),
        "accounts_receivable": _accounts_receivable(chosen, today),
        "denials": _denials(chosen),
        "payments_by_payer": _payments_by_payer(chosen),
    }


def _dollars(cents: int) -> float:
    return round(cents / 100, 2)


def _day(instant: str) -> date:
    return date.fromisoformat(instant[:10])


def _average(values: Sequence[int]) -> float | None:
    return round(sum(values) / len(values), 1) if values else None


def _by_status(records: Sequence[ClaimRecord]) -> list[dict[str, Any]]:
    return [
        {
            "status": str(state),
            "count": sum(1 for record in records if record.status is state),
            "charges": _dollars(sum(record.charge_cents for record in records if record.status is state)),
        }
        for state in ClaimState
    ]


def _submitted(record: ClaimRecord) -> str:
    """When the claim went out: its latest submission, else its first "submitted" event."""
    if record.submitted:
        return record.submitted
    return next((event.at for event in record.events if event.what.startswith("submitted")), "")


def _paid_at(record: ClaimRecord) -> str:
    if record.closed:
        return record.closed
    return next((event.at for event in reversed(record.events) if event.what == "835 paid"), "")


def _bucket(age: int) -> str:
    return next(label for label, oldest in AGE_BUCKETS if oldest is None or age <= oldest)


def _accounts_receivable(records: Sequence[ClaimRecord], today: date) -> dict[str, Any]:
    counts = {label: 0 for label, _ in AGE_BUCKETS}
    outstanding = {label: 0 for label, _ in AGE_BUCKETS}
    ages = []
    for record in records:
        if not record.status.open:
            continue
        age = max(0, (today - _day(_submitted(record) or record.created)).days)
        ages.append(age)
        label = _bucket(age)
        counts[label] += 1
        outstanding[label] += record.charge_cents - record.paid_cents
    to_payment = [
        (_day(_paid_at(record)) - _day(_submitted(record))).days
        for record in records
        if record.status is ClaimState.PAID and _submitted(record) and _paid_at(record)
    ]
    return {
        "open_claims": len(ages),
        "outstanding": _dollars(sum(outstanding.values())),
        "buckets": [
            {"age": label, "count": counts[label], "outstanding": _dollars(outstanding[label])}
            for label, _ in AGE_BUCKETS
        ],
        "average_days_in_ar": _average(ages),
        "average_days_to_payment": _average(to_payment),
    }


@dataclass
class _Tally:
    count: int = 0
    cents: int = 0


def _denials(records: Sequence[ClaimRecord]) -> dict[str, Any]:
    """Why payers did not pay: every adjustment of a denied claim, and of each line a paid claim
    paid nothing for, by CARC (a deductible, coinsurance or copay is owed, not denied)."""
    by_reason: dict[str, _Tally] = {}
    denied_claims = zero_paid_lines = 0
    for record in records:
        if record.status not in (ClaimState.DENIED, ClaimState.PAID):
            continue
        denied = record.status is ClaimState.DENIED
        if denied:
            denied_claims += 1
        for posted in standing_postings(record.remittances):
            payment = posted.payment
            adjustments = list(payment.adjustments) if denied else []
            for line in payment.lines:
                if denied:
                    adjustments += line.adjustments
                elif line.paid_cents == 0 and line.charge_cents > 0:
                    zero_paid_lines += 1
                    adjustments += line.adjustments
            for adjustment in adjustments:
                if is_patient_share(adjustment):
                    continue
                tally = by_reason.setdefault(adjustment.reason, _Tally())
                tally.count += 1
                tally.cents += adjustment.amount_cents
    ordered = sorted(
        by_reason.items(), key=lambda item: (-item[1].cents, -item[1].count, _code_order(item[0]))
    )
    return {
        "denied_claims": denied_claims,
        "zero_paid_lines": zero_paid_lines,
        "by_reason": [
            {
                "reason": reason,
                "description": reason_text(reason),
                "count": tally.count,
                "amount": _dollars(tally.cents),
            }
            for reason, tally in ordered
        ],
    }


def _code_order(code: str) -> tuple[int, str]:
    """Numeric CARCs in number order, then lettered ones (B7, ...)."""
    return (int(code), "") if code.isdigit() else (10**9, code)


def _payments_by_payer(records: Sequence[ClaimRecord]) -> list[dict[str, Any]]:
    payers: dict[str, dict[str, Any]] = {}
    for record in records:  # oldest first: the latest record's payer name wins
        totals = payers.setdefault(
            record.payer_id, {"claims": 0, "paid": 0, "patient_responsibility": 0, "contractual": 0}
        )
        totals["name"] = record.payer_name or totals.get("name", "")
        totals["claims"] += 1
        totals["paid"] += record.paid_cents
        totals["patient_responsibility"] += record.patient_responsibility_cents
        totals["contractual"] += sum(a.amount_cents for a in record.adjustments if a.group == CONTRACTUAL)
    return [
        {
            "payer_id": payer,
            "name": totals["name"],
            "claims": totals["claims"],
            "paid": _dollars(totals["paid"]),
            "patient_responsibility": _dollars(totals["patient_responsibility"]),
            "contractual": _dollars(totals["contractual"]),
        }
        for payer, totals in sorted(payers.items())
    ]
