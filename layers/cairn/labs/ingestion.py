"""The steps of the lab-ingestion workflow (stepfunctions/lab_ingestion.asl.json) for one stored
message: parse, match the patient and the order, file Observations and a DiagnosticReport, flag
them for review (critical: a stat Task and a notice to the ordering clinician), release them per
the clinic's policy, acknowledge; or quarantine with the reason and an AE/AR.

Each step reads the stored message again instead of passing its content between states: the
workflow's state (and so Step Functions' execution history) carries ids, codes and counts,
never PHI. Every step is safe to retry: resource ids derive from the lab and the order, so a
retried step finds its own earlier writes instead of doubling them.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any

from cairn.errors import ResourceConflict
from cairn.labs import acks, matching, release, review
from cairn.labs.intake import ack_control_id
from cairn.labs.ledger import BaseLabLedger, LabMessage, MessageStatus
from cairn.labs.model import AckCode, LabEndpoint, LabResultMessage, MalformedMessage, ResultGroup, Severity
from cairn.labs.outbox import BaseLabOutbox, OutboxKind
from cairn.labs.raw_messages import BaseRawMessages
from cairn.labs.results import read_results
from cairn.records.service import RecordService

FILLER_SYSTEM = "https://cairn.health/fhir/sid/filler-order-number"
UNSOLICITED_TAG = {"system": "https://cairn.health/fhir/CodeSystem/lab-result-flag", "code": "unsolicited",
                   "display": "Result without a matching order"}
UNMATCHED_ERROR = "204"  # HL7 table 0357: unknown key identifier
FINAL_REPORT_STATUSES = ("final", "amended", "corrected", "appended")


@dataclass(frozen=True)
class MessageRef:
    """Which message a step works on: its lab and ledger key (what the workflow carries)."""

    lab_id: str
    control_key: str

    @classmethod
    def from_event(cls, event: Mapping[str, Any]) -> MessageRef:
        return cls(lab_id=str(event["lab"]), control_key=str(event["control_key"]))


def resource_id(*parts: str) -> str:
    """A FHIR id derived from where a resource came from (a retried step reuses it)."""
    return hashlib.sha256("\n".join(parts).encode()).hexdigest()[:40]


@dataclass
class Ingestion:
    """The steps, for one clinic (the record service's context) and one of its labs."""

    records: RecordService
    ledger: BaseLabLedger
    raw: BaseRawMessages
    outbox: BaseLabOutbox
    lab: LabEndpoint
    policy: release.ReleasePolicy
    now: Callable[[], datetime]

    # -- reading ----------------------------------------------------------------------------
    def _entry(self, ref: MessageRef) -> LabMessage:
        entry = self.ledger.get(ref.lab_id, ref.control_key)
        if entry is None:
            raise MalformedMessage(f"message {ref.control_key} of lab {ref.lab_id} is not in the ledger")
        return entry

    def _message(self, ref: MessageRef) -> LabResultMessage:
        return self._read(ref)[1]

    def _read(self, ref: MessageRef) -> tuple[LabMessage, LabResultMessage]:
        """The ledger entry and the stored message, read once per step."""
        entry = self._entry(ref)
        return entry, read_results(self.raw.load(ref.lab_id, entry.message_id))

    # -- steps ------------------------------------------------------------------------------
    def parse(self, ref: MessageRef) -> dict[str, Any]:
        """Read the message (MalformedMessage if it cannot be): counts and severity, no PHI."""
        message = self._message(ref)
        return {"groups": len(message.groups),
                "observations": sum(len(g.observations) for g in message.groups),
                "severity": message.severity.value, "warnings": len(message.warnings)}

    def match(self, ref: MessageRef, patient_override: str | None = None) -> dict[str, Any]:
        """The patient and the order. Never a guess: no match (or an ambiguous one) opens a
        reconciliation Task and the message waits for a person. `patient_override` is that
        person's answer (reprocessing a reconciled message)."""
        entry, message = self._read(ref)
        order = next((found for g in message.groups if (found := matching.find_order(self.records, g.order))),
                     None)
        if patient_override:
            self.records.read("Patient", patient_override)  # it must be a patient of this clinic
            patient_id: str | None = patient_override
            reason = None
        else:
            matched = matching.match_patient(self.records, message.patient, order)
            patient_id, reason = matched.patient_id, matched.reason
        if patient_id is None:
            task = self._open_reconciliation(entry, reason or "no patient matched")
            return {"matched": False, "task": task}
        return {"matched": True, "patient": patient_id, "order": order["id"] if order else None}

    def _open_reconciliation(self, entry: LabMessage, reason: str) -> str:
        task_id = resource_id(self.lab.lab_id, entry.control_key, "reconcile")
        task = review.reconciliation_task(message_ref=f"{entry.lab_id}/{entry.control_key}",
                                          lab_name=self.lab.name, reason=reason, authored_on=self._stamp())
        self._store(task, task_id)
        self.ledger.put(replace(entry, status=MessageStatus.AWAITING_RECONCILIATION, reason=reason,
                                hl7_error=UNMATCHED_ERROR, task=f"Task/{task_id}"))
        return f"Task/{task_id}"

    def store_results(self, ref: MessageRef, patient_id: str, order_id: str | None) -> dict[str, Any]:
        """Observations, then the DiagnosticReport that lists them, per OBR group; the order gets
        the lab's filler number and, once final, status completed."""
        entry, message = self._read(ref)
        reports: list[dict[str, Any]] = []
        for index, group in enumerate(message.groups):
            reports.append(self._store_group(ref, index, group, patient_id, order_id))
        owner = self._update_order(order_id, message) if order_id else None
        references = [r["report"] for r in reports] + [o for r in reports for o in r["observations"]]
        self.ledger.put(replace(entry, references=tuple(references)))
        return {"reports": [{"report": r["report"], "severity": r["severity"], "final": r["final"]}
                            for r in reports],
                "unsolicited": order_id is None, "owner": owner}

    def _store_group(self, ref: MessageRef, index: int, group: ResultGroup, patient_id: str,
                     order_id: str | None) -> dict[str, Any]:
        order_key = group.order.filler or group.order.placer or f"{ref.control_key}#{index}"
        subject = {"reference": f"Patient/{patient_id}"}
        performer = [{"reference": f"Organization/{self.lab.organization_id}", "display": self.lab.name}]
        based_on = [{"reference": f"ServiceRequest/{order_id}"}] if order_id else []
        observation_refs: list[str] = []
        for position, observation in enumerate(group.observations):
            content = {k: v for k, v in observation.items() if k != "_sequence"}
            sequence = str(observation.get("_sequence") or position + 1)
            code = _first_code(content)
            content.update(subject=subject, performer=performer)
            if based_on:
                content["basedOn"] = based_on
            if order_id is None:
                content["meta"] = {"tag": [UNSOLICITED_TAG]}
            observation_id = resource_id(self.lab.lab_id, order_key, code, sequence)
            self._store(content, observation_id)
            observation_refs.append(f"Observation/{observation_id}")
        report = dict(group.report)
        report.update(subject=subject, performer=performer,
                      result=[{"reference": r} for r in observation_refs])
        if based_on:
            report["basedOn"] = based_on
        if order_id is None:
            report["meta"] = {"tag": [UNSOLICITED_TAG]}
        report_id = resource_id(self.lab.lab_id, order_key, "report")
        self._store(report, report_id)
        return {"report": f"DiagnosticReport/{report_id}", "observations": observation_refs,
                "severity": group.severity.value, "final": report.get("status") in FINAL_REPORT_STATUSES}

    def _store(self, resource: dict[str, Any], resource_id_: str) -> None:
        """Create under a derived id; a later message about the same result (final after
        preliminary, a correction) updates it, a retry with the same content changes nothing."""
        try:
            self.records.import_resource(resource, resource_id_)
        except ResourceConflict:
            current = self.records.read(str(resource["resourceType"]), resource_id_)
            self.records.update(str(resource["resourceType"]), resource_id_, {**resource, "id": resource_id_},
                                if_match=f'W/"{current["meta"]["versionId"]}"')

    def _update_order(self, order_id: str, message: LabResultMessage) -> str | None:
        """The lab's filler numbers and, once every report is final, completed; returns the
        ordering clinician (who reviews the result)."""
        order = self.records.read("ServiceRequest", order_id)
        changed = dict(order)
        identifiers = list(order.get("identifier") or [])
        for group in message.groups:
            filler = group.order.filler
            if filler and not any(i.get("system") == FILLER_SYSTEM and i.get("value") == filler
                                  for i in identifiers):
                identifiers.append({"system": FILLER_SYSTEM, "value": filler})
        changed["identifier"] = identifiers
        if all(g.report.get("status") in FINAL_REPORT_STATUSES for g in message.groups):
            changed["status"] = "completed"
        if changed != order:
            self.records.update("ServiceRequest", order_id, changed,
                                if_match=f'W/"{order["meta"]["versionId"]}"')
        return ordering_clinician(order)

    def flag(self, ref: MessageRef, stored: Mapping[str, Any], patient_id: str,
             order_id: str | None) -> dict[str, Any]:
        """A review Task per report for the ordering clinician (stat for critical, urgent for
        abnormal, routine otherwise) and, for a critical result, a notice to that clinician."""
        owner = stored.get("owner") if order_id else None
        tasks: list[str] = []
        notices: list[str] = []
        for report in stored.get("reports", ()):
            severity = Severity(report["severity"])
            task_id = resource_id(self.lab.lab_id, ref.control_key, report["report"], "review")
            description = {Severity.CRITICAL: "Critical lab result: review now",
                           Severity.ABNORMAL: "Abnormal lab result: review",
                           Severity.NORMAL: "Lab result: review"}[severity]
            self._store(review.review_task(report_ref=report["report"], patient_id=patient_id, owner=owner,
                                           severity=severity, authored_on=self._stamp(),
                                           description=description), task_id)
            tasks.append(f"Task/{task_id}")
            if severity is Severity.CRITICAL:
                notice_id = resource_id(self.lab.lab_id, ref.control_key, report["report"], "critical")
                self._store(review.critical_notice(report_ref=report["report"], recipient=owner,
                                                   sent=self._stamp()), notice_id)
                notices.append(f"Communication/{notice_id}")
        return {"tasks": tasks, "notices": notices}

    def decide_release(self, stored: Mapping[str, Any]) -> dict[str, Any]:
        """Release now (immediate), say when (delay), or leave it to the reviewer (after_review)."""
        at = self.policy.release_at(self.now())
        reports = [r["report"] for r in stored.get("reports", ())]
        if at is not None and at <= self.now():
            self.release(reports)
            return {"mode": self.policy.mode.value, "released": True}
        return {"mode": self.policy.mode.value, "released": False,
                "at": at.isoformat().replace("+00:00", "Z") if at else None}

    def release(self, reports: list[str]) -> list[str]:
        released: list[str] = []
        for reference in reports:
            released += release.release_results(self.records, reference.removeprefix("DiagnosticReport/"))
        return released

    def acknowledge(self, ref: MessageRef, outcome: Mapping[str, Any]) -> dict[str, Any]:
        """The application ACK in the lab's outbox: AA when filed, AE (unknown key) when the
        message waits for reconciliation."""
        entry, message = self._read(ref)
        header = message.header
        if outcome.get("matched", True):
            code, text, error = AckCode.APPLICATION_ACCEPT, "results filed", None
            # filed: whatever held it before (a reconciliation) no longer applies
            entry = replace(entry, status=MessageStatus.PROCESSED, ack_code=code.value, reason="",
                            hl7_error="")
        else:
            code = AckCode.APPLICATION_ERROR
            text = "results held: the patient could not be matched; the clinic will reconcile them"
            error = MalformedMessage(text, UNMATCHED_ERROR)
            entry = replace(entry, ack_code=code.value)
        self.outbox.deliver(ref.lab_id, OutboxKind.ACKS, entry.control_key, acks.acknowledgement(
            header, code, control_id=ack_control_id(entry), now=self.now(), text=text, error=error,
            raw_control_id=entry.control_key))
        self.ledger.put(entry)
        return {"ack": code.value}

    def quarantine(self, ref: MessageRef, error: Mapping[str, Any]) -> dict[str, Any]:
        """Hold a message that could not be processed with its reason, and tell the lab: AR when
        the message itself is refused, AE when it failed in processing."""
        entry = self._entry(ref)
        reason, hl7_error, reject = failure(error)
        code = AckCode.APPLICATION_REJECT if reject else AckCode.APPLICATION_ERROR
        header = None
        try:
            header = self._message(ref).header
        except MalformedMessage:
            header = None
        self.outbox.deliver(ref.lab_id, OutboxKind.ACKS, entry.control_key, acks.acknowledgement(
            header, code, control_id=ack_control_id(entry), now=self.now(), text=reason,
            error=MalformedMessage(reason, hl7_error, reject=reject), raw_control_id=entry.control_key))
        self.ledger.put(replace(entry, status=MessageStatus.QUARANTINED, reason=reason, hl7_error=hl7_error,
                                ack_code=code.value))
        return {"ack": code.value, "quarantined": True}

    def _stamp(self) -> str:
        return self.now().isoformat(timespec="seconds").replace("+00:00", "Z")


def ordering_clinician(order: Mapping[str, Any]) -> str | None:
    """The order's requester when a Practitioner (or PractitionerRole) asked for it."""
    requester = (order.get("requester") or {}).get("reference")
    if isinstance(requester, str) and requester.startswith(review.PRACTITIONER_TYPES):
        return requester
    return None


def _first_code(resource: Mapping[str, Any]) -> str:
    """The observation's first coding as "system|code" (part of its derived id)."""
    codings = (resource.get("code") or {}).get("coding") or [{}]
    first = codings[0] if isinstance(codings[0], dict) else {}
    return f"{first.get('system', '')}|{first.get('code', '')}"


def failure(error: Mapping[str, Any]) -> tuple[str, str, bool]:
    """Reason, HL7 error code and whether to reject, from a step's caught error ({"Error",
    "Cause"}). Cairn's MalformedMessage carries a reason fit for the lab; anything else is
    named by its type only (its message might hold PHI)."""
    name = str(error.get("Error") or "Error")
    message = ""
    cause = error.get("Cause")
    if isinstance(cause, str):
        try:
            parsed = json.loads(cause)
        except ValueError:
            parsed = None
        if isinstance(parsed, dict):
            name = str(parsed.get("errorType", name))
            message = str(parsed.get("errorMessage", ""))
    if name == LabMessageError.__name__ and message:
        reject = message.startswith(REJECT_PREFIX)
        code_and_reason = message.removeprefix(REJECT_PREFIX)
        code, _, reason = code_and_reason.partition(" ")
        if code.isdigit():
            return reason, code, reject
        return code_and_reason, "207", reject
    return f"processing failed ({name}); the clinic's support can reprocess the message", "207", False


REJECT_PREFIX = "reject:"


class LabMessageError(Exception):
    """How a step tells the workflow that the message itself is at fault (its Catch quarantines
    it): the message is "[reject:]<HL7 error code> <reason>", reason without PHI."""

    @classmethod
    def of(cls, exc: MalformedMessage) -> LabMessageError:
        return cls(f"{REJECT_PREFIX if exc.reject else ''}{exc.hl7_error} {exc.reason}")
