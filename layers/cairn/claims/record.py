"""Where a claim stands: one record per claim in the clinic's claims ledger (cairn.claims.ledger).

The ledger is what the worklist, the reports and the inbound files read. It holds no patient
identifier, name or date of birth: the claim's id, its numbers, the payer, amounts, statuses and
reason codes. The clinical content (diagnoses, services, the patient) stays in the FHIR Claim.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass, field, replace
from datetime import date
from enum import StrEnum
from typing import Any

from cairn.claims.model import Adjustment, ClaimPayment, LinePayment


class ClaimState(StrEnum):
    """A claim's place in its lifecycle (stepfunctions/claims.asl.json)."""

    CODED = "coded"  # the FHIR Claim exists; its workflow is starting
    SCRUB_FAILED = "scrub-failed"  # problems listed on a billing Task; fix, then resubmit
    SUBMITTED = "submitted"  # the 837P is in the clearinghouse outbox; waiting for the 999
    ACCEPTED = "accepted"  # the 999 accepted it; waiting for the payer's 277CA
    ACKNOWLEDGED = "acknowledged"  # the payer accepted it (277CA); waiting for the 835
    REJECTED = "rejected"  # the clearinghouse (999) or payer (277CA) rejected it
    PAID = "paid"  # the 835 paid it (wholly or in part); the patient's share is invoiced
    DENIED = "denied"  # the 835 paid nothing: a denial, on a billing Task with its reasons
    VOIDED = "voided"  # withdrawn: never sent, or a void (frequency 8) sent to the payer
    STALLED = "stalled"  # an acknowledgement or remittance never came; on a billing Task

    @property
    def open(self) -> bool:
        """Still in accounts receivable: sent and not finally answered."""
        return self in {ClaimState.SUBMITTED, ClaimState.ACCEPTED, ClaimState.ACKNOWLEDGED}

    @property
    def resubmittable(self) -> bool:
        return self in {
            ClaimState.SCRUB_FAILED,
            ClaimState.REJECTED,
            ClaimState.DENIED,
            ClaimState.STALLED,
        }


@dataclass(frozen=True)
class Posted:
    """A remittance posted on the claim (one CLP of an 835)."""

    trace_number: str
    payer_id: str
    payment_date: str  # ISO date, or "" when the 835 gave none
    payment: ClaimPayment


@dataclass(frozen=True)
class ClaimEvent:
    at: str  # ISO instant
    what: str  # e.g. "submitted", "999 accepted", "277CA rejected A7:21"
    detail: str = ""  # codes and numbers only, never PHI


@dataclass(frozen=True)
class ClaimRecord:
    claim_id: str  # the FHIR Claim's id
    claim_number: str  # the clinic-visible number; CLM01 is claim_number + attempt suffix
    status: ClaimState
    payer_id: str
    payer_name: str
    charge_cents: int
    created: str  # ISO instant the claim was coded
    attempt: int = 1  # submissions so far (a resubmission or void adds one)
    control_number: str = ""  # CLM01 of the latest submission
    interchange: str = ""  # ISA13/GS06 of the latest submission's file
    outbox_key: str = ""  # where the latest 837P was put
    submitted: str = ""  # ISO instant of the latest submission
    closed: str = ""  # ISO instant it was paid, denied or voided
    payer_claim_number: str = ""  # REF*1K / CLP07: the payer's number, needed to replace or void
    frequency: str = "1"  # of the latest submission: 1 original, 7 replacement, 8 void
    paid_cents: int = 0
    patient_responsibility_cents: int = 0
    adjustments: tuple[Adjustment, ...] = ()  # every CAS posted, claim and line level
    remarks: tuple[str, ...] = ()
    problems: tuple[str, ...] = ()  # the latest scrub's, rejection's or denial's reasons
    task_id: str = ""  # the open billing Task for this claim, if any
    invoice_id: str = ""  # the patient's invoice for their share
    claim_response_id: str = ""
    execution: str = ""  # the running workflow execution's name
    waiting: Mapping[str, str] = field(default_factory=dict)  # "999" | "277CA" | "835" -> task token
    remittances: tuple[Posted, ...] = ()
    events: tuple[ClaimEvent, ...] = ()
    # What came back for the latest submission: "999" | "277CA" -> accepted | rejected, "835" -> the
    # trace number posted. An answer that arrives before its workflow waits is kept here.
    received: Mapping[str, str] = field(default_factory=dict)
    overdue: int = 0  # reminders sent that an answer is late, for the latest submission
    pending: tuple[Posted, ...] = ()  # 835 claim payments received, for the workflow to post

    def with_event(self, at: str, what: str, detail: str = "", **changes: Any) -> ClaimRecord:
        return replace(self, events=(*self.events, ClaimEvent(at, what, detail)), **changes)

    def as_view(self) -> dict[str, Any]:
        """What the clinic's billing staff see (no task tokens)."""
        answer = encode(self)
        answer.pop("waiting")
        for name in ("charge_cents", "paid_cents", "patient_responsibility_cents"):
            answer[name.removesuffix("_cents")] = answer.pop(name) / 100
        answer["waiting_for"] = sorted(self.waiting)
        return answer


def encode(record: ClaimRecord) -> dict[str, Any]:
    """A JSON-ready dict that `decode` reads back to the same record."""
    raw = asdict(record)
    raw["status"] = str(record.status)
    raw["waiting"] = dict(record.waiting)
    raw["received"] = dict(record.received)
    encoded: dict[str, Any] = _dates_to_text(raw)
    return encoded


def _dates_to_text(value: Any) -> Any:
    if isinstance(value, dict):
        return {key: _dates_to_text(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [_dates_to_text(item) for item in value]
    if hasattr(value, "isoformat"):
        return value.isoformat()
    return value


def _adjustments(raw: Any) -> tuple[Adjustment, ...]:
    return tuple(Adjustment(**item) for item in raw or ())


def _payment(raw: Mapping[str, Any]) -> ClaimPayment:
    lines = tuple(
        LinePayment(
            **{
                **line,
                "modifiers": tuple(line.get("modifiers") or ()),
                "service_date": date.fromisoformat(line["service_date"])
                if line.get("service_date")
                else None,
                "adjustments": _adjustments(line.get("adjustments")),
                "remarks": tuple(line.get("remarks") or ()),
            }
        )
        for line in raw.get("lines") or ()
    )
    return ClaimPayment(
        **{
            **raw,
            "adjustments": _adjustments(raw.get("adjustments")),
            "remarks": tuple(raw.get("remarks") or ()),
            "lines": lines,
        }
    )


def _posted(raw: Any) -> tuple[Posted, ...]:
    return tuple(Posted(**{**posted, "payment": _payment(posted["payment"])}) for posted in raw or ())


def decode(raw: Mapping[str, Any]) -> ClaimRecord:
    return ClaimRecord(
        **{
            **raw,
            "status": ClaimState(raw["status"]),
            "adjustments": _adjustments(raw.get("adjustments")),
            "remarks": tuple(raw.get("remarks") or ()),
            "problems": tuple(raw.get("problems") or ()),
            "waiting": dict(raw.get("waiting") or {}),
            "received": dict(raw.get("received") or {}),
            "remittances": _posted(raw.get("remittances")),
            "pending": _posted(raw.get("pending")),
            "events": tuple(ClaimEvent(**event) for event in raw.get("events") or ()),
        }
    )
