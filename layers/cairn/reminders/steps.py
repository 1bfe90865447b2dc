"""The steps of the reminder workflow (stepfunctions/reminders.asl.json) for one clinic, acting
as the clinic (a system context): plan, send each planned reminder, record what could not be
sent where a person sees it, and finish.

Each planned reminder is recorded by one Communication whose id derives from the subject, its
plan and the send time, so that a retried step, or a second execution of the same plan, finds
it: it is created `preparation` (the claim) before the message leaves, and becomes `completed`
(sent), `not-done` (skipped or refused, with the reason) or `unknown` (the workflow failed
mid-send). A claim that exists means "already sent, or being sent": never send again. The one
exception is a delivery the provider failed (`not-done`, delivery-failed): a retry may claim it
again, conditionally on its version, so two retries cannot both send.
"""

from __future__ import annotations

import contextlib
import uuid
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from cairn.clock import Clock, fhir_instant
from cairn.errors import PreconditionFailed, ResourceConflict, ResourceNotFound, VersionConflict
from cairn.messaging.base import (
    BaseMessageSender,
    MessageNotDelivered,
    MessageRefused,
    OutgoingMessage,
)
from cairn.records.service import RecordService
from cairn.reminders.preferences import ContactDetails, contact_details
from cairn.reminders.requests import ACTIVE_STATUSES, TASK_CODE_SYSTEM
from cairn.reminders.subjects import Planned, RequestSubject, Subject, load_subject
from cairn.scheduling.clinic import ClinicSchedule
from cairn.scheduling.reminders import ALREADY_SENT, Channel, ContactPreferences, Skip

CATEGORY = {
    "coding": [
        {
            "system": "http://terminology.hl7.org/CodeSystem/communication-category",
            "code": "reminder",
            "display": "Reminder",
        }
    ]
}
MEDIUM = {Channel.EMAIL: ("EMAILWRIT", "email"), Channel.SMS: ("SMSWRIT", "SMS message (e.g., texting)")}
MEDIUM_SYSTEM = "http://terminology.hl7.org/CodeSystem/v3-ParticipationMode"
OUTCOME_SYSTEM = "https://cairn.health/fhir/CodeSystem/reminder-outcome"
SKIPPED, REFUSED, DELIVERY_FAILED, WORKFLOW_FAILED = (
    "skipped",
    "refused",
    "delivery-failed",
    "workflow-failed",
)
REVIEW_REMINDERS = "review-reminders"  # the staff Task a failure opens
NO_CONTACT = ContactPreferences(preferred=None, has_email=False, has_phone=False)
NAMESPACE = uuid.UUID("6f1d9a51-2b7e-4c41-9d1e-7a3cbe2f0a11")  # Cairn's reminder records


def communication_id(tenant_id: str, subject: str, planned_for: str, reminder: Planned) -> str:
    """The id of the Communication that records one planned reminder: the same for a retry and
    for a second execution of the same plan, different once the plan changes."""
    parts = (tenant_id, subject, planned_for, reminder.as_state()["send_at"], reminder.label)
    return str(uuid.uuid5(NAMESPACE, "|".join(parts)))


def _reason(code: str, text: str) -> dict[str, Any]:
    return {"coding": [{"system": OUTCOME_SYSTEM, "code": code}], "text": text}


def _reason_code(communication: Mapping[str, Any]) -> str | None:
    codings = (communication.get("statusReason") or {}).get("coding") or ()
    return next((str(c.get("code")) for c in codings if c.get("system") == OUTCOME_SYSTEM), None)


@dataclass
class ReminderSteps:
    """The workflow's steps for one clinic. `schedule` and `clinic_name` are read per step (a
    short cache in front, cairn.reminders.services), the sender is the configured one."""

    records: RecordService
    schedule: Callable[[], ClinicSchedule]
    clinic_name: Callable[[], str]
    sender: BaseMessageSender
    now: Clock

    @property
    def _tenant(self) -> str:
        return self.records.context.tenant_id

    # -------------------------------------------------------------------- plan

    def plan(self, subject_ref: str, planned_for: str) -> dict[str, Any]:
        """{"reminders": [{"kind", "send_at", "label"}]}: none when the subject no longer asks."""
        subject = load_subject(self.records, subject_ref)
        planned = subject.plan(planned_for, self.schedule(), self.now())
        return {"reminders": [Planned.of(reminder).as_state() for reminder in planned]}

    # -------------------------------------------------------------------- send

    def send(self, subject_ref: str, planned_for: str, state: Mapping[str, Any]) -> dict[str, Any]:
        """Re-check one planned reminder and send it, or record why not. MessageNotDelivered
        (the provider failed) is raised for the workflow to retry."""
        reminder = Planned.from_state(state)
        subject = load_subject(self.records, subject_ref)
        schedule = self.schedule()
        patient_id = subject.patient_id() if subject.resource is not None else None
        details = self._contact(patient_id)
        preferences = details.preferences if details is not None else NO_CONTACT
        decision = subject.decide(planned_for, reminder, preferences, self.now(), schedule)
        record_id = communication_id(self._tenant, subject_ref, planned_for, reminder)
        if isinstance(decision, Skip):
            self._record_once(record_id, subject, patient_id, "not-done", _reason(SKIPPED, decision.reason))
            return {"outcome": "skipped", "reason": decision.reason, "communication": record_id}
        # Send means a channel the patient's details allow: both the patient and the address exist.
        assert details is not None
        assert patient_id is not None
        address = details.address(decision.channel)
        assert address is not None
        claim = self._claim(record_id, subject, patient_id, decision.channel)
        if claim is None:
            return {"outcome": "skipped", "reason": ALREADY_SENT, "communication": record_id}
        text = subject.text(reminder, schedule, self.clinic_name())
        message = OutgoingMessage(
            record_id, patient_id, reminder.kind.value, decision.channel, address, text.subject, text.body
        )
        try:
            self.sender.send(message)
        except MessageRefused as refused:
            self._finish_claim(claim, "not-done", statusReason=_reason(REFUSED, str(refused)))
            return {"outcome": "refused", "reason": str(refused), "communication": record_id}
        except MessageNotDelivered as failed:
            self._finish_claim(claim, "not-done", statusReason=_reason(DELIVERY_FAILED, str(failed)))
            raise
        self._finish_claim(
            claim, "completed", sent=fhir_instant(self.now()), payload=[{"contentString": text.body}]
        )
        return {"outcome": "sent", "channel": decision.channel.value, "communication": record_id}

    def _contact(self, patient_id: str | None) -> ContactDetails | None:
        if patient_id is None:
            return None
        try:
            return contact_details(self.records.read("Patient", patient_id))
        except ResourceNotFound:
            return None

    def _communication(
        self, record_id: str, subject: Subject, patient_id: str | None, status: str
    ) -> dict[str, Any]:
        communication: dict[str, Any] = {
            "resourceType": "Communication",
            "id": record_id,
            "status": status,
            "category": [CATEGORY],
        }
        if patient_id is not None:
            communication["subject"] = {"reference": f"Patient/{patient_id}"}
            communication["recipient"] = [{"reference": f"Patient/{patient_id}"}]
        if subject.resource is not None:  # a reference must name a resource of the clinic
            if subject.based_on():
                communication["basedOn"] = subject.based_on()
            if subject.about():
                communication["about"] = subject.about()
        return communication

    def _record_once(
        self, record_id: str, subject: Subject, patient_id: str | None, status: str, reason: dict[str, Any]
    ) -> None:
        """Record an outcome unless the reminder is recorded already (sent, or skipped before)."""
        record = {**self._communication(record_id, subject, patient_id, status), "statusReason": reason}
        with contextlib.suppress(ResourceConflict):  # an earlier attempt recorded it: that record stands
            self.records.import_resource(record, record_id)

    def _claim(
        self, record_id: str, subject: Subject, patient_id: str | None, channel: Channel
    ) -> dict[str, Any] | None:
        """The claim to send, or None when the reminder is sent, being sent or settled."""
        code, display = MEDIUM[channel]
        claim = {
            **self._communication(record_id, subject, patient_id, "preparation"),
            "medium": [{"coding": [{"system": MEDIUM_SYSTEM, "code": code, "display": display}]}],
        }
        try:
            written = self.records.import_resource(claim, record_id)
        except ResourceConflict:
            existing = self.records.read("Communication", record_id)
            if existing.get("status") != "not-done" or _reason_code(existing) != DELIVERY_FAILED:
                return None
            retry = {**claim, "meta": existing["meta"]}
            try:
                return self.records.update(
                    "Communication", record_id, retry, if_match=str(existing["meta"]["versionId"])
                )
            except (PreconditionFailed, VersionConflict):
                return None  # another attempt claimed it first
        return written.resource if written.created else None

    def _finish_claim(self, claim: Mapping[str, Any], status: str, **elements: Any) -> None:
        finished = {**{k: v for k, v in claim.items() if k != "statusReason"}, "status": status, **elements}
        self.records.update(
            "Communication", str(claim["id"]), finished, if_match=str(claim["meta"]["versionId"])
        )

    # ---------------------------------------------------------------- failures

    def send_failed(
        self, subject_ref: str, planned_for: str, state: Mapping[str, Any], error: Mapping[str, Any]
    ) -> dict[str, Any]:
        """A reminder the workflow could not send even after retrying: its record says so (a
        claim left mid-send becomes `unknown`: whether it reached the patient is not known) and
        the clinic gets a Task to look at it."""
        reminder = Planned.from_state(state)
        error_type = _error_type(error)
        subject = load_subject(self.records, subject_ref)
        patient_id = subject.patient_id() if subject.resource is not None else None
        record_id = communication_id(self._tenant, subject_ref, planned_for, reminder)
        try:
            existing: dict[str, Any] | None = self.records.read("Communication", record_id)
        except ResourceNotFound:
            existing = None
        text = f"the workflow could not send this reminder ({error_type})"
        if existing is None:
            self._record_once(record_id, subject, patient_id, "not-done", _reason(WORKFLOW_FAILED, text))
        elif existing.get("status") == "preparation":
            self._finish_claim(
                existing,
                "unknown",
                statusReason=_reason(WORKFLOW_FAILED, f"{text}; it may or may not have reached the patient"),
            )
        task = self._review_task(
            subject,
            planned_for,
            f"A reminder for {subject_ref} due "
            f"{reminder.as_state()['send_at']} was not sent ({error_type}): check the "
            "patient's contact details and send it by hand if it still matters.",
        )
        return {"recorded": True, "communication": record_id, "task": task}

    def plan_failed(self, subject_ref: str, planned_for: str, error: Mapping[str, Any]) -> dict[str, Any]:
        """The reminders of `subject_ref` could not be planned: a Task for the clinic (and a
        reminder request says `failed`)."""
        error_type = _error_type(error)
        subject = load_subject(self.records, subject_ref)
        if (
            isinstance(subject, RequestSubject)
            and subject.resource is not None
            and subject.resource.get("status") in ACTIVE_STATUSES
        ):
            self._set_task_status(subject.resource, "failed", f"not planned ({error_type})")
        task = self._review_task(
            subject,
            planned_for,
            f"The reminders of {subject_ref} could not be "
            f"planned ({error_type}): check the clinic's reminder settings.",
        )
        return {"recorded": True, "task": task}

    def _review_task(self, subject: Subject, planned_for: str, description: str) -> str:
        """One Task per plan for the clinic's staff (no owner: the clinic's pool); its focus is the
        subject while it exists (the description names it either way)."""
        task_id = str(uuid.uuid5(NAMESPACE, f"review|{self._tenant}|{subject.reference}|{planned_for}"))
        task: dict[str, Any] = {
            "resourceType": "Task",
            "id": task_id,
            "status": "requested",
            "intent": "order",
            "priority": "routine",
            "code": {
                "coding": [
                    {
                        "system": TASK_CODE_SYSTEM,
                        "code": REVIEW_REMINDERS,
                        "display": "Reminders that were not sent",
                    }
                ]
            },
            "description": description,
            "authoredOn": fhir_instant(self.now()),
        }
        if subject.resource is not None:
            task["focus"] = {"reference": subject.reference}
        with contextlib.suppress(ResourceConflict):  # the plan's Task is open already
            self.records.import_resource(task, task_id)
        return f"Task/{task_id}"

    # ------------------------------------------------------------------ finish

    def finish(
        self, subject_ref: str, planned_for: str, results: Sequence[Mapping[str, Any]]
    ) -> dict[str, Any]:
        """The end of a plan: a reminder request is completed (unless it was cancelled or changed).
        Answers how many reminders were sent and how many failures went unrecorded. An
        appointment has nothing to complete, so it is not read again."""
        subject = load_subject(self.records, subject_ref) if subject_ref.startswith("Task/") else None
        if (
            isinstance(subject, RequestSubject)
            and subject.resource is not None
            and subject.resource.get("status") in ACTIVE_STATUSES
            and str(subject.resource["meta"]["versionId"]) == planned_for
        ):
            self._set_task_status(subject.resource, "completed", None)
        outcomes = [str(result.get("outcome", "")) for result in results]
        return {"sent": outcomes.count("sent"), "unrecorded": outcomes.count("unrecorded")}

    def _set_task_status(self, task: Mapping[str, Any], status: str, reason: str | None) -> None:
        changed = {**task, "status": status}
        if reason is not None:
            changed["statusReason"] = {"text": reason}
        self.records.update("Task", str(task["id"]), changed, if_match=str(task["meta"]["versionId"]))


def _error_type(error: Mapping[str, Any]) -> str:
    """The error's name only: a Cause can quote a message, and messages stay out of the chart."""
    return str(error.get("Error") or "unknown error")[:80]
