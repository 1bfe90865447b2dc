"""A file from the clearinghouse inbox: read, matched to the clinic's claims by their numbers,
recorded on each claim, handed to the workflows that wait for it, and filed away.

  - a 999 names the interchange (GS06 of the 837 it answers): every claim that file carried;
  - a 277CA and an 835 name each claim by its control number (CLM01: TRN02, CLP01).
An answer recorded before its workflow waits is handed over when the workflow gets there
(ClaimSteps.wait). A file that cannot be read, or whose claims this clinic does not have, is
quarantined with its reasons; a file partly matched is processed for what matched and
quarantined with the reasons for the rest. Nothing that arrives is dropped.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from cairn.claims.clearinghouse import BaseClearinghouse
from cairn.claims.ledger import BaseClaimsLedger
from cairn.claims.record import ClaimRecord, ClaimState, Posted
from cairn.claims.steps import Resume, answer_of
from cairn.claims.workflow import ACKNOWLEDGEMENT, CLAIM_ACKNOWLEDGEMENT, REMITTANCE
from cairn.claims.x12.acknowledgements import read_277ca, read_999
from cairn.claims.x12.errors import MalformedX12
from cairn.claims.x12.files import file_kind
from cairn.claims.x12.remittance import read_835
from cairn.clock import Clock, fhir_instant, utc_now

MAX_FILE_BYTES = 20 * 1024 * 1024  # a clearinghouse file larger than this is quarantined unread
# What each answer moves a waiting claim to: the states in which a claim expects it.
EXPECTING = {
    ACKNOWLEDGEMENT: {ClaimState.SUBMITTED},
    CLAIM_ACKNOWLEDGEMENT: {ClaimState.SUBMITTED, ClaimState.ACCEPTED},
    REMITTANCE: {ClaimState.SUBMITTED, ClaimState.ACCEPTED, ClaimState.ACKNOWLEDGED},
}


@dataclass
class Received:
    """What one inbox file did: its kind, the claims it was recorded on, and the reasons for
    whatever could not be matched."""

    kind: str
    matched: list[str] = field(default_factory=list)  # claim ids
    reasons: list[str] = field(default_factory=list)
    resumed: int = 0

    @property
    def folder(self) -> str:
        return "quarantine" if self.reasons else "processed"


class ClearinghouseInbox:
    """One clinic's inbox files (system context)."""

    def __init__(
        self,
        ledger: BaseClaimsLedger,
        clearinghouse: BaseClearinghouse,
        resume: Resume,
        clock: Clock = utc_now,
    ) -> None:
        self._ledger = ledger
        self._clearinghouse = clearinghouse
        self._resume = resume
        self._clock = clock

    def receive(self, key: str) -> Received | None:
        """Read, match, record and file the inbox file at `key`; None when it is gone already
        (another delivery of the same event handled it)."""
        try:
            body = self._clearinghouse.read_inbox(key)
        except KeyError:
            return None
        received = self._read(body)
        self._clearinghouse.file_away(key, received.folder, received.reasons, body=body)
        return received

    def _read(self, body: bytes) -> Received:
        if len(body) > MAX_FILE_BYTES:
            return Received(
                "unknown", reasons=[f"the file is {len(body):,} bytes; the most read is {MAX_FILE_BYTES:,}"]
            )
        try:
            text = body.decode("utf-8")
        except UnicodeDecodeError:
            try:
                text = body.decode("latin-1")
            except UnicodeDecodeError:  # pragma: no cover - latin-1 decodes any bytes
                return Received("unknown", reasons=["the file is not text"])
        try:
            kind = file_kind(text)
            if kind == ACKNOWLEDGEMENT:
                return self._acknowledgement(text)
            if kind == CLAIM_ACKNOWLEDGEMENT:
                return self._claim_acknowledgement(text)
            return self._remittance(text)
        except MalformedX12 as malformed:
            return Received("unknown", reasons=[str(malformed)])

    def _acknowledgement(self, text: str) -> Received:
        ack = read_999(text)
        received = Received(ACKNOWLEDGEMENT)
        interchange = ack.group_control_number.lstrip("0") or "0"
        claims = self._ledger.claims_for_interchange(interchange)
        if not claims:
            received.reasons.append(
                f"999 for group {ack.group_control_number}: this clinic sent no claims in that interchange"
            )
            return received
        errors = tuple(error for t in ack.transactions for error in t.errors)
        accepted = ack.accepted and all(t.accepted for t in ack.transactions)
        verdict = "accepted" if accepted else "rejected"
        for claim_id in claims:
            self._record(
                received,
                claim_id,
                ACKNOWLEDGEMENT,
                verdict,
                f"999 {ack.code or verdict}",
                problems=() if accepted else errors or (f"999 code {ack.code}",),
                status=ClaimState.ACCEPTED if accepted else None,
                answers=("interchange", interchange),
            )
        return received

    def _claim_acknowledgement(self, text: str) -> Received:
        ack = read_277ca(text)
        received = Received(CLAIM_ACKNOWLEDGEMENT)
        for status in ack.claims:
            claim_id = self._ledger.claim_for_control_number(status.control_number)
            if claim_id is None:
                received.reasons.append(
                    f"277CA for control number {status.control_number}: no such claim here"
                )
                continue
            verdict = "accepted" if status.accepted else "rejected"
            code = f"{status.category}:{status.status_code}"
            problem = f"277CA {code}" + (f": {status.message}" if status.message else "")
            self._record(
                received,
                claim_id,
                CLAIM_ACKNOWLEDGEMENT,
                verdict,
                f"277CA {code}",
                problems=() if status.accepted else (problem,),
                status=ClaimState.ACKNOWLEDGED if status.accepted else None,
                payer_claim_number=status.payer_claim_number,
                answers=("control_number", status.control_number),
            )
        return received

    def _remittance(self, text: str) -> Received:
        remittance = read_835(text)
        received = Received(REMITTANCE)
        for payment in remittance.claims:
            claim_id = self._ledger.claim_for_control_number(payment.control_number)
            if claim_id is None:
                received.reasons.append(
                    f"835 {remittance.trace_number} pays control number {payment.control_number}: "
                    "no such claim here"
                )
                continue
            posted = Posted(
                remittance.trace_number,
                remittance.payer.payer_id,
                remittance.payment_date.isoformat() if remittance.payment_date else "",
                payment,
            )
            self._record(
                received,
                claim_id,
                REMITTANCE,
                remittance.trace_number,
                f"835 {remittance.trace_number} CLP02 {payment.status}",
                answers=("control_number", payment.control_number),
                posted=posted,
            )
        return received

    def _record(
        self,
        received: Received,
        claim_id: str,
        what: str,
        verdict: str,
        event: str,
        *,
        problems: tuple[str, ...] = (),
        status: ClaimState | None = None,
        payer_claim_number: str = "",
        posted: Posted | None = None,
        answers: tuple[str, str] = ("", ""),
    ) -> None:
        """Record the answer on the claim (once), then hand it to the workflow waiting for it.
        `answers` names the submission the file answers (its interchange or control number): an
        answer to an earlier submission of a claim since resubmitted is not the latest one's."""
        now = fhir_instant(self._clock())
        late: list[str] = []
        taken: list[str] = []  # the waiting workflow's task token, taken off the record with the answer

        def change(record: ClaimRecord) -> ClaimRecord:
            late.clear()
            taken.clear()
            if posted is not None and (posted in record.pending or posted in record.remittances):
                return record  # the same remittance delivered again
            if posted is None and record.received.get(what) == verdict:
                return record
            field_name, number = answers
            latest = getattr(record, field_name) if field_name else number
            if latest != number:
                submission = f"{field_name.replace('_', ' ')} {number}; the latest is {latest}"
                late.append(
                    f"{what} for claim {record.claim_number} answers its earlier submission ({submission}): "
                    "nothing was recorded; the file is kept here for the billing staff"
                )
                return record
            if record.status not in EXPECTING[what]:
                late.append(
                    f"{what} for claim {record.claim_number} came while the claim is {record.status}: "
                    "nothing was recorded; the file is kept here for the billing staff"
                )
                return record
            changes: dict[str, Any] = {"received": {**record.received, what: verdict}}
            if status is not None:
                changes["status"] = status
            if problems:
                changes["problems"] = problems
            if payer_claim_number:
                changes["payer_claim_number"] = payer_claim_number
            if posted is not None:
                changes["pending"] = (*record.pending, posted)
            if what in record.waiting:
                taken.append(record.waiting[what])
                changes["waiting"] = {k: v for k, v in record.waiting.items() if k != what}
            return record.with_event(now, event, "", **changes)

        stored = self._ledger.change(claim_id, change)
        if late:
            received.reasons += late
            return
        received.matched.append(claim_id)
        # The workflow waited first: its token was taken off the record in the same write.
        if taken and self._resume(taken[0], answer_of(what, stored.received[what])):
            received.resumed += 1
