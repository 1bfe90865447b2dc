"""The steps of the claims workflow (stepfunctions/claims.asl.json), for one clinic, acting as
the clinic's system context.

Each step reads what it needs again (the FHIR record, the claims ledger) rather than carrying it
through the workflow, whose state holds ids, numbers and codes only. Whatever needs a person
ends on the claim's billing Task (cairn.claims.tasks). Nothing here logs claim content.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any

from cairn.claims.building import billed_encounter, submission_from
from cairn.claims.clearinghouse import BaseClearinghouse
from cairn.claims.icd10 import Icd10Codes
from cairn.claims.ledger import BaseClaimsLedger
from cairn.claims.model import ORIGINAL, REPLACEMENT, VOID, ClaimSubmission, Interchange
from cairn.claims.posting import INVOICE_CLAIM_SYSTEM, apply_remittance, claim_response, patient_share_invoice
from cairn.claims.record import ClaimRecord, ClaimState
from cairn.claims.scrub import scrub
from cairn.claims.settings import ClaimsSettings
from cairn.claims.tasks import claim_task, completed, is_open
from cairn.claims.workflow import ACKNOWLEDGEMENT, ANSWERS, REMITTANCE
from cairn.claims.workflow import VOID as VOID_MODE
from cairn.claims.x12.claim_837p import write_837p
from cairn.claims.x12.validation import validate_837p
from cairn.clock import Clock, fhir_instant, utc_now
from cairn.errors import CairnError, ResourceGone, ResourceNotFound
from cairn.fhir.search import parse_search
from cairn.notes import is_signed
from cairn.records.service import RecordService

OVERDUE_REMINDERS = 3  # Tasks saying an answer is late before the claim counts as stalled


def control_number(record: ClaimRecord, attempt: int) -> str:
    """CLM01 of a submission: the claim number and the attempt (C1A2B3C4D5E-2)."""
    return f"{record.claim_number}-{attempt}"


def file_name(record: ClaimRecord, attempt: int, interchange: int) -> str:
    return f"{control_number(record, attempt)}.{interchange:09d}.837"


# Hands an answer to the execution waiting on a task token (ClaimWorkflow.resume).
Resume = Callable[[str, dict[str, Any]], bool]


def answer_of(what: str, received: str) -> dict[str, Any]:
    """What a waiting state receives for an answer recorded as `received`."""
    if what == REMITTANCE:
        return {"posted": received}
    return {"accepted": received == "accepted"}


@dataclass(frozen=True)
class ClaimParts:
    """The FHIR resources a submission is built from."""

    claim: dict[str, Any]
    encounter: dict[str, Any] | None
    patient: dict[str, Any] | None
    coverage: dict[str, Any] | None
    payer: dict[str, Any] | None
    billing: dict[str, Any] | None
    rendering: dict[str, Any] | None
    signed: bool


class ClaimSteps:
    """The workflow's steps for one clinic (system context)."""

    def __init__(
        self,
        records: RecordService,
        ledger: BaseClaimsLedger,
        clearinghouse: BaseClearinghouse,
        settings: ClaimsSettings,
        icd10: Callable[[], Icd10Codes],
        resume: Resume,
        clock: Clock = utc_now,
    ) -> None:
        self._records = records
        self._ledger = ledger
        self._clearinghouse = clearinghouse
        self._settings = settings
        self._icd10 = icd10
        self._resume = resume
        self._clock = clock

    # ------------------------------------------------------------------ the steps

    def build(self, claim_id: str, attempt: int, mode: str) -> dict[str, Any]:
        """This attempt's control number and frequency; what was received for an earlier one is
        cleared."""
        record = self._ledger.get(claim_id)
        number = control_number(record, attempt)
        frequency = ORIGINAL
        if mode == VOID_MODE:
            frequency = VOID
        elif record.payer_claim_number:
            frequency = REPLACEMENT
        self._ledger.change(
            claim_id,
            lambda r: (
                r
                if r.attempt == attempt and r.control_number == number
                else r.with_event(
                    self._now(),
                    f"attempt {attempt}",
                    f"frequency {frequency}",
                    attempt=attempt,
                    control_number=number,
                    frequency=frequency,
                    received={},
                    waiting={},
                    overdue=0,
                    pending=(),
                )
            ),
        )
        return {"control_number": number, "frequency": frequency}

    def scrub(self, claim_id: str) -> dict[str, Any]:
        """Every problem the claim has, on its billing Task; passed when there is none."""
        record = self._ledger.get(claim_id)
        parts = self._parts(record)
        submission = self._submission(record, parts)
        problems = self._preconditions(parts) + [
            f"{problem.element}: {problem.message}"
            for problem in scrub(
                submission,
                self._settings.rules(submission.payer.payer_id),
                self._icd10(),
                self._clock().date(),
            )
        ]
        if problems:
            self._needs_person(record, parts.claim, "scrub-failed", problems, ClaimState.SCRUB_FAILED)
            return {"passed": False, "problems": len(problems)}
        self._close_task(record)
        return {"passed": True}

    def generate(self, claim_id: str) -> dict[str, Any]:
        """The 837P of this attempt, validated with pyx12 and kept in the clinic's generated/ folder."""
        record = self._ledger.get(claim_id)
        parts = self._parts(record)
        submitter = self._settings.submitter
        if submitter is None:
            problems = ["claims settings: the clearinghouse enrolment (submitter) is not set"]
            self._needs_person(record, parts.claim, "scrub-failed", problems, ClaimState.SCRUB_FAILED)
            return {"valid": False}
        number = self._ledger.next_interchange()
        outbound = write_837p(
            Interchange(submitter, number, self._clock()), [self._submission(record, parts)]
        )
        problems = [
            f"{p.segment} (segment {p.position}) {p.element}: {p.message} [{p.code}]".replace(" :", ":")
            for p in validate_837p(outbound.text)
        ]
        if problems:
            self._needs_person(record, parts.claim, "invalid-837", problems, ClaimState.SCRUB_FAILED)
            return {"valid": False}
        name = file_name(record, record.attempt, number)
        self._clearinghouse.stage(name, outbound.text)
        self._ledger.change(claim_id, lambda r: replace(r, interchange=str(number), outbox_key=name))
        return {"valid": True, "interchange": str(number)}

    def submit(self, claim_id: str) -> dict[str, Any]:
        """The staged 837P handed to the clearinghouse; the claim now waits for its 999."""
        record = self._ledger.get(claim_id)
        # The staged file's name; a retried step finds the outbox key its first run stored.
        key = self._clearinghouse.submit(record.outbox_key.rsplit("/", 1)[-1])
        now = self._now()
        self._ledger.change(
            claim_id,
            lambda r: (
                r
                if r.status is ClaimState.SUBMITTED and r.outbox_key == key
                else r.with_event(
                    now,
                    "submitted",
                    f"{r.control_number} in interchange {r.interchange}",
                    status=ClaimState.SUBMITTED,
                    submitted=now,
                    outbox_key=key,
                    problems=(),
                )
            ),
            control_number=record.control_number,
            interchange=record.interchange,
        )
        return {"submitted": record.control_number}

    def wait(self, claim_id: str, what: str, token: str) -> dict[str, Any]:
        """Leave the task token where the inbox finds it; an answer that came first is handed over now."""
        if what not in ANSWERS:
            raise CairnError(f"nothing called {what!r} is waited for; one of {', '.join(ANSWERS)}")
        stored = self._ledger.change(
            claim_id,
            lambda r: r if what in r.received else replace(r, waiting={**r.waiting, what: token}),
        )
        if what in stored.received:
            self._resume(token, answer_of(what, stored.received[what]))
        return {"waiting": what}

    def rejected(self, claim_id: str, what: str) -> dict[str, Any]:
        """The clearinghouse (999) or the payer (277CA) rejected it: its reasons on a Task."""
        record = self._ledger.get(claim_id)
        claim = self._records.read("Claim", claim_id)
        reasons = list(record.problems) or [f"the {what} rejected it without a reason"]
        kind = "rejected-999" if what == ACKNOWLEDGEMENT else "rejected-277CA"
        self._needs_person(record, claim, kind, reasons, ClaimState.REJECTED)
        return {"rejected": what}

    def overdue(self, claim_id: str, what: str) -> dict[str, Any]:
        """An answer is late: say so on a Task; wait again unless that was the last reminder."""
        record = self._ledger.get(claim_id)
        claim = self._records.read("Claim", claim_id)
        late = record.overdue + 1
        hours = (
            self._settings.remittance_days * 24
            if what == REMITTANCE
            else self._settings.acknowledgement_hours
        ) * late
        reasons = [
            f"no {what} for control number {record.control_number} after about {hours} hours "
            f"(reminder {late} of {OVERDUE_REMINDERS})"
        ]
        self._needs_person(record, claim, f"overdue-{what}", reasons, record.status, overdue=late)
        return {"again": late < OVERDUE_REMINDERS}

    def stalled(self, claim_id: str) -> dict[str, Any]:
        record = self._ledger.get(claim_id)
        claim = self._records.read("Claim", claim_id)
        reasons = [f"no answer after {OVERDUE_REMINDERS} reminders; it stays matched if a file comes late"]
        self._needs_person(record, claim, "stalled", reasons, ClaimState.STALLED)
        return {"stalled": True}

    def post(self, claim_id: str) -> dict[str, Any]:
        """Each 835 payment received: a ClaimResponse, the patient's share as an invoice, the
        ledger's amounts; a denial goes on a Task, a payment completes the claim's Task."""
        record = self._ledger.get(claim_id)
        claim = self._records.read("Claim", claim_id)
        for posted in record.pending:
            response = claim_response(claim, posted, self._clock().date())
            response["id"] = _response_id(claim_id, posted.trace_number, posted.payment.control_number)
            [written] = self._records.commit_owned(
                "post-remittance",
                "Claim",
                claim_id,
                [(response, self._current("ClaimResponse", response["id"]))],
            )
            invoice_id = self._patient_invoice(record, claim, posted)
            now = self._now()

            def posting(
                r: ClaimRecord,
                posted: Any = posted,
                invoice_id: str = invoice_id,
                response_id: str = str(written["id"]),
                now: str = now,
            ) -> ClaimRecord:
                if posted not in r.pending:
                    return r
                applied = apply_remittance(
                    replace(r, pending=tuple(p for p in r.pending if p != posted)), posted, now
                )
                return replace(
                    applied, claim_response_id=response_id, invoice_id=invoice_id or applied.invoice_id
                )

            record = self._ledger.change(claim_id, posting)
        if record.status is ClaimState.DENIED:
            self._needs_person(record, claim, "denied", list(record.problems), ClaimState.DENIED)
        else:
            self._close_task(record)
        return {"denied": record.status is ClaimState.DENIED}

    def voided(self, claim_id: str) -> dict[str, Any]:
        """The payer accepted the void: the claim is withdrawn (cancelled in the record)."""
        record = self._ledger.get(claim_id)
        claim = self._records.read("Claim", claim_id)
        if claim.get("status") != "cancelled":
            self._records.commit_owned("void", "Claim", claim_id, [({**claim, "status": "cancelled"}, claim)])
        now = self._now()
        self._ledger.change(
            claim_id,
            lambda r: (
                r
                if r.status is ClaimState.VOIDED
                else r.with_event(now, "voided", r.control_number, status=ClaimState.VOIDED, closed=now)
            ),
        )
        self._close_task(record)
        return {"voided": True}

    def failed(self, claim_id: str, error: Mapping[str, Any]) -> dict[str, Any]:
        """An unexpected failure, recorded with the error's type only (its cause may hold data)."""
        kind = str(error.get("Error") or "an unknown error")[:80]
        record = self._ledger.get(claim_id)
        try:
            claim = self._records.read("Claim", claim_id)
        except (ResourceNotFound, ResourceGone):
            claim = {"id": claim_id}
        self._needs_person(record, claim, "failed", [f"the workflow stopped with {kind}"], record.status)
        return {"failed": kind}

    # ------------------------------------------------------------------ helpers

    def _now(self) -> str:
        return fhir_instant(self._clock())

    def _current(self, resource_type: str, resource_id: str) -> dict[str, Any] | None:
        try:
            return self._records.read(resource_type, resource_id)
        except (ResourceNotFound, ResourceGone):
            return None

    def _reference(self, reference: object) -> dict[str, Any] | None:
        """The resource a relative reference names, or None (the scrub says what is missing)."""
        text = str((reference or {}).get("reference", "")) if isinstance(reference, Mapping) else ""
        resource_type, _, resource_id = text.partition("/")
        if not resource_type or not resource_id:
            return None
        return self._current(resource_type, resource_id)

    def _parts(self, record: ClaimRecord) -> ClaimParts:
        claim = self._records.read("Claim", record.claim_id)
        billed = billed_encounter(claim)
        encounter = self._current("Encounter", billed) if billed else None
        coverage = self._reference(((claim.get("insurance") or [{}])[0]).get("coverage"))
        care_team = (claim.get("careTeam") or [{}])[0].get("provider")
        signed = False
        if encounter is not None:
            notes = self._records.search(
                parse_search("Composition", {"encounter": [f"Encounter/{encounter['id']}"]})
            ).resources
            signed = any(is_signed(note) for note in notes)
        return ClaimParts(
            claim=claim,
            encounter=encounter,
            patient=self._reference(claim.get("patient")),
            coverage=coverage,
            payer=self._reference(
                (coverage or {}).get("payor", [None])[0] if coverage else claim.get("insurer")
            ),
            billing=self._reference(claim.get("provider")),
            rendering=self._reference(care_team),
            signed=signed,
        )

    def _submission(self, record: ClaimRecord, parts: ClaimParts) -> ClaimSubmission:
        submission = submission_from(
            parts.claim,
            parts.patient or {},
            parts.coverage or {},
            parts.payer or {},
            parts.billing or {},
            parts.rendering,
            record.control_number,
        )
        return replace(submission, frequency=record.frequency, payer_claim_number=record.payer_claim_number)

    @staticmethod
    def _preconditions(parts: ClaimParts) -> list[str]:
        problems = []
        if parts.encounter is None:
            problems.append("encounter: the claim's encounter is missing from the record")
        elif not parts.signed:
            problems.append("encounter: its note is not signed yet; a claim bills a signed encounter")
        if parts.patient is None:
            problems.append("patient: the claim's patient is missing from the record")
        if parts.coverage is None:
            problems.append("insurance: the claim's Coverage is missing from the record")
        elif parts.coverage.get("status") != "active":
            problems.append("insurance: the patient's Coverage is not active")
        if parts.billing is None:
            problems.append("provider: the billing Organization (claims settings) is missing from the record")
        return problems

    def _needs_person(
        self,
        record: ClaimRecord,
        claim: Mapping[str, Any],
        kind: str,
        reasons: Sequence[str],
        state: ClaimState,
        **changes: Any,
    ) -> None:
        """The claim's Task rewritten (or created) with `reasons`; the ledger moved to `state`."""
        current = self._current("Task", record.task_id) if record.task_id else None
        current = current if is_open(current) else None
        now = self._now()
        task = claim_task(kind, claim, record.claim_number, reasons, now, current)
        if current is None:
            written = self._records.create("Task", task).resource
        else:
            written = self._records.update("Task", str(current["id"]), task)
        self._ledger.change(
            record.claim_id,
            lambda r: r.with_event(
                now,
                kind,
                f"{len(reasons)} reason(s)",
                status=state,
                problems=tuple(reasons),
                task_id=str(written["id"]),
                **changes,
            ),
        )

    def _close_task(self, record: ClaimRecord) -> None:
        if not record.task_id:
            return
        task = self._current("Task", record.task_id)
        if task is not None and is_open(task):
            self._records.update("Task", record.task_id, completed(task, self._now()))

    def _patient_invoice(self, record: ClaimRecord, claim: Mapping[str, Any], posted: Any) -> str:
        invoice = patient_share_invoice(
            claim, billed_encounter(claim), record.claim_number, posted, self._clock().date()
        )
        if invoice is None:
            return ""
        written = self._records.create(
            "Invoice", invoice, if_none_exist=f"identifier={INVOICE_CLAIM_SYSTEM}|{record.claim_number}"
        )
        return str(written.resource["id"])


def _response_id(claim_id: str, trace: str, control: str) -> str:
    """One ClaimResponse per claim payment of a remittance: posting it twice writes it once."""
    return str(uuid.uuid5(uuid.NAMESPACE_URL, f"cairn:claim-response:{claim_id}:{trace}:{control}"))
