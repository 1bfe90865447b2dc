"""A clinic's reminders over in-memory fakes: the real RecordService on FakeRecords, a sender
that keeps what it was given (subclassing BaseMessageSender), and a Step Functions client that
keeps executions by name and state as the service does."""

from __future__ import annotations

import itertools
import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from cairn.messaging.base import BaseMessageSender, OutgoingMessage, SentMessage
from cairn.records.service import RecordService
from cairn.reminders.desk import ReminderDesk
from cairn.reminders.steps import ReminderSteps
from cairn.reminders.workflow import ReminderWorkflow
from cairn.runtime import WRITE_GUARDS
from cairn.scheduling.clinic import ClinicSchedule
from multitenant.context import Role, TenantContext
from tests.unit.fakes import FakeAuditTrail, FakeRecords

NOW = datetime(2026, 12, 3, 15, 0, tzinfo=UTC)  # a Thursday, 10:00 in New York
MACHINE = "arn:aws:states:us-east-1:123456789012:stateMachine:cairn-dev-reminders"
VISIT_TYPES = "https://cairn.health/fhir/CodeSystem/visit-type"


class FakeSender(BaseMessageSender):
    """Keeps every message it is given; `failures` are raised, one per send, before any is kept."""

    def __init__(
        self, context: TenantContext, sent: list[OutgoingMessage], failures: list[Exception]
    ) -> None:
        super().__init__(context)
        self.sent = sent
        self.failures = failures

    def send(self, message: OutgoingMessage) -> SentMessage:
        if self.failures:
            raise self.failures.pop(0)
        self.sent.append(message)
        return SentMessage(message.message_id, message.channel, f"fake-{len(self.sent)}")


class ExecutionAlreadyExists(Exception):
    pass


class ExecutionDoesNotExist(Exception):
    pass


@dataclass
class FakeStepFunctions:
    """start/describe/stop_execution: a name is used once; a stopped execution is ABORTED."""

    executions: dict[str, dict[str, Any]] = field(default_factory=dict)  # name -> {input, status}

    class exceptions:
        ExecutionAlreadyExists = ExecutionAlreadyExists
        ExecutionDoesNotExist = ExecutionDoesNotExist

    def start_execution(self, *, stateMachineArn: str, name: str, input: str) -> dict[str, str]:
        if name in self.executions:
            raise ExecutionAlreadyExists(name)
        self.executions[name] = {"input": json.loads(input), "status": "RUNNING"}
        return {"executionArn": f"{stateMachineArn}:{name}"}

    def describe_execution(self, *, executionArn: str) -> dict[str, str]:
        return {"status": self.executions[executionArn.rsplit(":", 1)[1]]["status"]}

    def stop_execution(self, *, executionArn: str, cause: str) -> dict[str, str]:
        name = executionArn.rsplit(":", 1)[1]
        if name not in self.executions:
            raise ExecutionDoesNotExist(name)
        self.executions[name].update(status="ABORTED", cause=cause)
        return {"stopDate": "now"}

    def running(self) -> dict[str, dict[str, Any]]:
        return {name: e["input"] for name, e in self.executions.items() if e["status"] == "RUNNING"}


@dataclass
class Clinic:
    """Clinics sharing one fake table and one outbox list, as the real ones share AWS."""

    settings: dict[str, Any] = field(default_factory=lambda: {"time_zone": "America/New_York"})
    store: dict[Any, Any] = field(default_factory=dict)
    audit: list[Any] = field(default_factory=list)
    sent: list[OutgoingMessage] = field(default_factory=list)
    failures: list[Exception] = field(default_factory=list)
    stepfunctions: FakeStepFunctions = field(default_factory=FakeStepFunctions)
    now: datetime = NOW
    ids: itertools.count[int] = field(default_factory=itertools.count)

    def records(self, context: TenantContext) -> RecordService:
        return RecordService(
            context,
            FakeRecords(context, self.store),
            FakeAuditTrail(context, self.audit),
            clock=lambda: self.now,
            new_id=lambda: f"r{next(self.ids)}",
            guards=WRITE_GUARDS,
        )

    def system(self, tenant: str = "acme") -> RecordService:
        return self.records(TenantContext.system(tenant, "test"))

    def schedule(self) -> ClinicSchedule:
        return ClinicSchedule.parse(self.settings)

    def steps(self, tenant: str = "acme") -> ReminderSteps:
        context = TenantContext.system(tenant, "reminders")
        return ReminderSteps(
            records=self.records(context),
            schedule=self.schedule,
            clinic_name=lambda: "Acme Clinic",
            sender=FakeSender(context, self.sent, self.failures),
            now=lambda: self.now,
        )

    @property
    def workflow(self) -> ReminderWorkflow:
        return ReminderWorkflow(self.stepfunctions, MACHINE)

    def desk(self, context: TenantContext) -> ReminderDesk:
        return ReminderDesk(
            caller=self.records(context),
            clinic=self.records(TenantContext.system(context.tenant_id, "reminders")),
            audit=FakeAuditTrail(context, self.audit),
            schedule=self.schedule,
            workflow=self.workflow,
            outbox=None,
            now=lambda: self.now,
        )

    # -- the chart -------------------------------------------------------------------------
    def patient(
        self,
        tenant: str = "acme",
        *,
        telecom: list[dict[str, Any]] | None = None,
        extension: list[dict[str, Any]] | None = None,
    ) -> str:
        patient: dict[str, Any] = {
            "resourceType": "Patient",
            "name": [{"family": "Okafor", "given": ["Ada"]}],
            "telecom": telecom
            if telecom is not None
            else [{"system": "email", "value": "ada@example.com", "rank": 1}],
        }
        if extension:
            patient["extension"] = extension
        return str(self.system(tenant).create("Patient", patient).resource["id"])

    def appointment(
        self, patient_id: str, start: datetime, tenant: str = "acme", status: str = "booked"
    ) -> dict[str, Any]:
        """A visit as the appointment book writes it."""
        appointment_id = f"a{next(self.ids)}"
        appointment = {
            "resourceType": "Appointment",
            "id": appointment_id,
            "status": status,
            "start": start.strftime("%Y-%m-%dT%H:%M:%SZ"),
            "end": (start + timedelta(minutes=20)).strftime("%Y-%m-%dT%H:%M:%SZ"),
            "minutesDuration": 20,
            "appointmentType": {"coding": [{"system": VISIT_TYPES, "code": "follow-up"}]},
            "participant": [{"actor": {"reference": f"Patient/{patient_id}"}, "status": "accepted"}],
        }
        [written] = self.system(tenant).commit_scheduled("book", appointment_id, [(appointment, None)], [])
        return written

    def change(self, appointment: Mapping[str, Any], tenant: str = "acme", **changes: Any) -> dict[str, Any]:
        current = self.system(tenant).read("Appointment", str(appointment["id"]))
        [written] = self.system(tenant).commit_scheduled(
            "change", str(appointment["id"]), [({**current, **changes}, current)], []
        )
        return written

    def medication_request(self, patient_id: str, tenant: str = "acme", **extra: Any) -> str:
        request = {
            "resourceType": "MedicationRequest",
            "status": "active",
            "intent": "order",
            "medicationCodeableConcept": {"text": "lisinopril 10 mg"},
            "subject": {"reference": f"Patient/{patient_id}"},
            "authoredOn": "2026-12-01",
            **extra,
        }
        return str(self.system(tenant).create("MedicationRequest", request).resource["id"])

    def communications(self, tenant: str = "acme") -> list[dict[str, Any]]:
        return [
            versions[-1].resource
            for (t, kind, _), versions in sorted(self.store.items())
            if t == tenant and kind == "Communication" and versions[-1].resource is not None
        ]

    def tasks(self, tenant: str = "acme") -> list[dict[str, Any]]:
        return [
            versions[-1].resource
            for (t, kind, _), versions in sorted(self.store.items())
            if t == tenant and kind == "Task" and versions[-1].resource is not None
        ]


def staff(role: Role = Role.FRONT_DESK, tenant: str = "acme") -> TenantContext:
    return TenantContext(tenant, f"user-{role.value}", role)


def patient_user(patient_id: str, tenant: str = "acme") -> TenantContext:
    return TenantContext(tenant, f"user-{patient_id}", Role.PATIENT, patient_id)
