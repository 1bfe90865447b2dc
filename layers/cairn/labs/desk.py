"""The labs as one verified caller uses them (what the lab API's routes call): a lab posting
messages, clinicians ordering, reviewing, signing and following a patient's results, and staff
looking after messages that need a person (quarantined, awaiting reconciliation).

Authorization comes from the one permission table (LabMessage for the messages themselves; the
chart's types through the record service); every message received is audited.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any

from cairn.audit.events import AuditAction, AuditEvent, AuditOutcome
from cairn.audit.trail import BaseAuditTrail
from cairn.errors import AccessDenied, MalformedRequest, ResourceNotFound
from cairn.labs import review, trend
from cairn.labs.directory import find_lab
from cairn.labs.intake import Intake, Received, commit_acks
from cairn.labs.ledger import BaseLabLedger, LabMessage, MessageStatus
from cairn.labs.ordering import SubmittedOrder, submit_order
from cairn.labs.release import ReleasePolicy
from cairn.labs.workflow import LabWorkflow, execution_name, workflow_items
from cairn.records.service import RecordService
from multitenant.permissions import LAB_MESSAGE, Action, require

AUDIT_ACTIONS = {Action.CREATE: AuditAction.CREATE, Action.SEARCH: AuditAction.EXECUTE,
                 Action.UPDATE: AuditAction.UPDATE}
REPROCESSABLE = (MessageStatus.QUARANTINED, MessageStatus.AWAITING_RECONCILIATION, MessageStatus.RECEIVED)


class MessageNotReprocessable(MalformedRequest):
    """Only a quarantined, held or stranded message can be processed again."""


@dataclass(frozen=True)
class Acknowledged:
    """What POST /labs/{lab}/hl7 answers: the accept ACKs, and what became of each message."""

    acks: str
    received: list[Received]


@dataclass
class LabDesk:
    records: RecordService
    directory: RecordService  # the clinic's own context: finds its labs for any permitted caller
    audit: BaseAuditTrail
    intake_for: Callable[[str], Intake]
    ledger: BaseLabLedger
    workflow: LabWorkflow
    policy: Callable[[], ReleasePolicy]
    now: Callable[[], datetime]
    clinic_name: str = ""

    def _require(self, action: Action, subtype: str, entity: str) -> None:
        """The permission table's answer; a denial is audited like the record service's."""
        try:
            require(self.records.context, LAB_MESSAGE, action)
        except AccessDenied:
            self.audit.record(AuditEvent(AUDIT_ACTIONS[action], subtype, AuditOutcome.MINOR_FAILURE,
                                         LAB_MESSAGE, entity, "denied"))
            raise

    @property
    def _tenant(self) -> str:
        return self.records.context.tenant_id

    def receive(self, lab_id: str, payload: bytes) -> Acknowledged:
        """Store each message of `payload`, start the workflow for the new ones, answer with ACKs."""
        self._require(Action.CREATE, "lab-message", lab_id)
        find_lab(self.directory, lab_id)
        received = self.intake_for(lab_id).receive(payload)
        for item in received:
            outcome = AuditOutcome.MINOR_FAILURE if item.refused else AuditOutcome.SUCCESS
            self.audit.record(AuditEvent(AuditAction.CREATE, "lab-message", outcome, LAB_MESSAGE,
                                         f"{lab_id}/{item.entry.control_key}",
                                         "duplicate" if item.duplicate else None))
        items = workflow_items(received)
        if items:
            keys = [i["control_key"] for i in items]
            self.workflow.start(execution_name("api", self._tenant, lab_id, keys),
                                {"tenant_id": self._tenant, "lab": lab_id, "inbox": None, "messages": items})
        return Acknowledged(commit_acks(received, self.now()), received)

    def order(self, lab_id: str, service_request: object) -> SubmittedOrder:
        if not isinstance(service_request, str) or not service_request.startswith("ServiceRequest/"):
            raise MalformedRequest('send {"serviceRequest": "ServiceRequest/<id>"}')
        lab = find_lab(self.directory, lab_id)
        intake = self.intake_for(lab_id)
        return submit_order(self.records, intake.outbox, lab, service_request.removeprefix("ServiceRequest/"),
                            clinic_name=self.clinic_name or self._tenant, now=self.now)

    def inbox(self, owner: str | None, count: int) -> list[review.InboxItem]:
        return review.inbox(self.records, owner=owner, count=count)

    def sign(self, report_id: str, comment: object) -> review.SignedReview:
        if comment is not None and not isinstance(comment, str):
            raise MalformedRequest('"comment" is text')
        if isinstance(comment, str) and len(comment) > 4000:
            raise MalformedRequest('"comment" is at most 4000 characters')
        return review.sign(self.records, report_id=report_id, reviewer=self.records.context.user_id,
                           comment=comment, now=self.now(), policy=self.policy())

    def trend(self, patient: str | None, code: str | None) -> trend.Trend:
        if not patient or not code:
            raise MalformedRequest("name the patient and the test: ?patient=<id>&code=<system>|<code>")
        return trend.trend(self.records, patient_id=patient.removeprefix("Patient/"), code=code)

    def messages(self, lab_id: str, status: str | None) -> list[LabMessage]:
        self._require(Action.SEARCH, "lab-message-search", lab_id)
        find_lab(self.directory, lab_id)
        wanted = None
        if status:
            try:
                wanted = MessageStatus(status)
            except ValueError:
                known = ", ".join(s.value for s in MessageStatus)
                raise MalformedRequest(f"status is one of {known}") from None
        found = self.ledger.entries(lab_id, wanted)
        self.audit.record(AuditEvent(AuditAction.EXECUTE, "lab-message-search", AuditOutcome.SUCCESS,
                                     LAB_MESSAGE, lab_id, f"status={wanted.value if wanted else 'any'}"))
        return found

    def reprocess(self, lab_id: str, control_key: str, body: dict[str, Any]) -> dict[str, Any]:
        """Run a held message through the workflow again; with "patient" (a reconciliation), as
        that patient's result."""
        self._require(Action.UPDATE, "lab-message-reprocess", f"{lab_id}/{control_key}")
        find_lab(self.directory, lab_id)
        entry = self.ledger.get(lab_id, control_key)
        if entry is None:
            raise ResourceNotFound(LAB_MESSAGE, f"{lab_id}/{control_key}")
        if entry.status not in REPROCESSABLE:
            allowed = ", ".join(s.value for s in REPROCESSABLE)
            raise MessageNotReprocessable(
                f"the message is {entry.status.value}; only {allowed} messages are reprocessed")
        patient = body.get("patient")
        if patient is not None:
            if not isinstance(patient, str) or not patient.startswith("Patient/"):
                raise MalformedRequest('"patient" is a reference: "Patient/<id>"')
            self.records.read("Patient", patient.removeprefix("Patient/"))
        patient_id = patient.removeprefix("Patient/") if isinstance(patient, str) else None
        self.ledger.put(replace(entry, status=MessageStatus.RECEIVED))
        self.audit.record(AuditEvent(AuditAction.UPDATE, "lab-message-reprocess", AuditOutcome.SUCCESS,
                                     LAB_MESSAGE, f"{lab_id}/{control_key}", None))
        attempt = self.now().strftime("%Y%m%dT%H%M%S%f")
        started = self.workflow.start(
            execution_name("reprocess", self._tenant, lab_id, [control_key, attempt]),
            {"tenant_id": self._tenant, "lab": lab_id, "inbox": None,
             "messages": [{"control_key": control_key, "patient": patient_id}]})
        return {"message": entry.as_dict() | {"status": MessageStatus.RECEIVED.value}, "execution": started}
