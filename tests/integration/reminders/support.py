"""Clinics with appointments in the embedded runtime, and what their reminders left behind.

Appointments are written as the appointment book writes them (the record service's commit of the
book's writes, `commit_scheduled`), and their reminders are started and withdrawn through the
real StepFunctionsAppointmentReminders, so moto runs stepfunctions/reminders.asl.json with the
reminders function's real handler. Time is the embedded runtime's virtual clock (devkit.clock):
tests advance it to a reminder's time and then wait, briefly and in real time, for the workflow
to act; they never sleep for the hours a reminder waits."""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from cairn.aws import AwsClients
from cairn.config import DataSettings
from cairn.fhir.search import parse_search
from cairn.messaging.outbox import OutboxSender
from cairn.records.service import RecordService
from cairn.reminders.workflow import (
    ReminderWorkflow,
    StepFunctionsAppointmentReminders,
    appointment_execution,
)
from cairn.runtime import ClinicalRuntime
from devkit.clock import VirtualClock
from devkit.deployment import Deployment
from multitenant.context import TenantContext
from multitenant.onboarding import DEFAULT_SETTINGS
from multitenant.provisioning import DynamoTenantSettings
from tests.integration.api_calls import invoke, proxy_event
from tests.polling import eventually

VISIT_TYPES = "https://cairn.health/fhir/CodeSystem/visit-type"
OPT_OUT = "https://cairn.health/fhir/StructureDefinition/reminder-opt-out"
NEW_YORK = ZoneInfo("America/New_York")


def local(day: datetime, hour: int, minute: int = 0) -> datetime:
    """`hour`:`minute` in New York (the test clinics' zone) on the local day of `day`, in UTC."""
    wall = datetime.combine(day.astimezone(NEW_YORK).date(), datetime.min.time(), NEW_YORK)
    return wall.replace(hour=hour, minute=minute).astimezone(UTC)


def instant(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


@dataclass
class ReminderClinic:
    """One clinic (tenant) of the embedded runtime, its calendar and its reminders."""

    tenant_id: str
    clients: AwsClients
    deployment: Deployment
    clock: VirtualClock

    @property
    def runtime(self) -> ClinicalRuntime:
        settings = DataSettings.from_environ(self.deployment.function_environments["reminders"])
        return ClinicalRuntime(settings, self.clients)

    def system(self) -> RecordService:
        return self.runtime.records(TenantContext.system(self.tenant_id, "test-seed"))

    @property
    def reminders(self) -> StepFunctionsAppointmentReminders:
        return StepFunctionsAppointmentReminders(self.workflow)

    @property
    def workflow(self) -> ReminderWorkflow:
        return ReminderWorkflow(self.clients.stepfunctions(), self.deployment.state_machines["reminders"])

    def set_up(self, **settings: Any) -> ReminderClinic:
        """The clinic's settings as onboarding writes them, with these reminder settings."""
        DynamoTenantSettings(self.clients.dynamodb(), self.deployment.tables["clinical"]).put_defaults(
            self.tenant_id, {**DEFAULT_SETTINGS, "time_zone": "America/New_York", **settings}
        )
        return self

    # -- the chart ---------------------------------------------------------------------------
    def patient(
        self,
        family: str,
        *,
        email: str | None = None,
        sms: str | None = None,
        preferred: str | None = None,
        opt_out: tuple[str, ...] = (),
    ) -> str:
        telecom = []
        if email:
            telecom.append(
                {"system": "email", "value": email, **({"rank": 1} if preferred == "email" else {})}
            )
        if sms:
            telecom.append({"system": "sms", "value": sms, **({"rank": 1} if preferred == "sms" else {})})
        patient: dict[str, Any] = {
            "resourceType": "Patient",
            "name": [{"family": family, "given": ["Ada"]}],
            "birthDate": "1984-02-29",
            "gender": "female",
            "telecom": telecom,
        }
        if opt_out:
            patient["extension"] = [{"url": OPT_OUT, "valueCode": code} for code in opt_out]
        return str(self.system().create("Patient", patient).resource["id"])

    def practitioner(self) -> str:
        created = self.system().create(
            "Practitioner", {"resourceType": "Practitioner", "name": [{"family": "Osei", "given": ["Kwame"]}]}
        )
        return str(created.resource["id"])

    def book(
        self, patient_id: str, practitioner_id: str, start: datetime, minutes: int = 20
    ) -> dict[str, Any]:
        """A booked visit, written as the appointment book writes it, and its reminders started."""
        appointment_id = str(uuid.uuid4())
        appointment = {
            "resourceType": "Appointment",
            "id": appointment_id,
            "status": "booked",
            "start": instant(start),
            "end": instant(start + timedelta(minutes=minutes)),
            "minutesDuration": minutes,
            "appointmentType": {
                "coding": [{"system": VISIT_TYPES, "code": "follow-up", "display": "Follow-up visit"}]
            },
            "participant": [
                {"actor": {"reference": f"Patient/{patient_id}"}, "status": "accepted"},
                {"actor": {"reference": f"Practitioner/{practitioner_id}"}, "status": "accepted"},
            ],
        }
        [written] = self.system().commit_scheduled("book", appointment_id, [(appointment, None)], [])
        self.reminders.booked(TenantContext.system(self.tenant_id, "test-book"), written)
        return written

    def change(self, appointment: dict[str, Any], subtype: str, **changes: Any) -> dict[str, Any]:
        """A new version of the visit (moved or cancelled) as the book writes it; reminders untouched."""
        current = self.system().read("Appointment", str(appointment["id"]))
        [written] = self.system().commit_scheduled(
            subtype, str(appointment["id"]), [({**current, **changes}, current)], []
        )
        return written

    # -- the workflow --------------------------------------------------------------------------
    def execution(self, appointment: dict[str, Any]) -> str:
        name, _ = appointment_execution(self.tenant_id, appointment)
        return self.workflow.execution_arn(name)

    def status(self, execution_arn: str) -> str:
        return str(self.clients.stepfunctions().describe_execution(executionArn=execution_arn)["status"])

    def exits(self, execution_arn: str, state: str) -> int:
        """How many times the execution has left `state` so far."""
        events = self.clients.stepfunctions().get_execution_history(
            executionArn=execution_arn, maxResults=1000
        )["events"]
        return sum(
            1
            for event in events
            if event["type"].endswith("StateExited")
            and (event.get("stateExitedEventDetails") or {}).get("name") == state
        )

    def run_until(self, execution_arn: str, moment: datetime, sends: int) -> None:
        """Advance the clock to `moment`, then wait until the execution has left Send `sends` times."""
        self.clock.advance_to(moment)
        eventually(lambda: self.exits(execution_arn, "Send") >= sends, f"{sends} sends of {execution_arn}")

    def planned(self, execution_arn: str) -> list[dict[str, str]]:
        """The reminders the execution planned, once Plan has run."""
        eventually(lambda: self.exits(execution_arn, "Plan"), f"the plan of {execution_arn}")
        events = self.clients.stepfunctions().get_execution_history(
            executionArn=execution_arn, maxResults=1000
        )["events"]
        for event in events:
            details = event.get("stateExitedEventDetails") or {}
            if details.get("name") == "Plan":
                return list(json.loads(details["output"])["plan"]["value"]["reminders"])
        raise AssertionError("Plan exited without output")

    def finished(self, execution_arn: str) -> dict[str, Any]:
        """DescribeExecution once the execution has stopped."""
        eventually(lambda: self.status(execution_arn) != "RUNNING", f"the end of {execution_arn}")
        return dict(self.clients.stepfunctions().describe_execution(executionArn=execution_arn))

    # -- what the reminders left -------------------------------------------------------------
    def communications(self, patient_id: str) -> list[dict[str, Any]]:
        query = parse_search("Communication", {"subject": [f"Patient/{patient_id}"], "_count": ["100"]})
        return sorted(self.system().search(query).resources, key=lambda c: str(c["id"]))

    def outbox(self, patient_id: str | None = None) -> list[dict[str, Any]]:
        sender = OutboxSender(
            TenantContext.system(self.tenant_id, "test"),
            self.clients.s3(),
            self.deployment.buckets["documents"],
            "reminders@cairn.invalid",
        )
        return sender.messages(patient_id)

    def invoke_step(self, event: dict[str, Any]) -> dict[str, Any]:
        """One step of the reminders function, invoked as the workflow invokes it."""
        response = self.clients.lambda_().invoke(
            FunctionName=self.deployment.functions["reminders"], Payload=json.dumps(event).encode()
        )
        payload: dict[str, Any] = json.loads(response["Payload"].read())
        assert "FunctionError" not in response, payload
        return payload

    # -- the reminders API -------------------------------------------------------------------
    def call(
        self,
        method: str,
        path: str,
        who: TenantContext,
        *,
        body: Any = None,
        query: dict[str, str] | None = None,
        resource: str | None = None,
        path_parameters: dict[str, str] | None = None,
    ) -> tuple[int, dict[str, Any]]:
        raw = json.dumps(body).encode() if body is not None else None
        event = proxy_event(
            method, path, resource or path, who, body=raw, query=query, path_parameters=path_parameters
        )
        status, _, answer = invoke(self.clients, self.deployment.functions["reminders-api"], event)
        return status, json.loads(answer or "{}")
