"""Starting and stopping reminder workflows (stepfunctions/reminders.asl.json), and the
appointment book's port onto them (cairn.scheduling.ports.BaseAppointmentReminders).

An execution is named by what it reminds of, so that a repeated start (a retried booking, a
retried request) is the same execution: Step Functions refuses a second one of that name. A name
can belong to an execution that was stopped (a visit rescheduled away and back): the next start
then takes the name with the next suffix (-1, -2, ...), and a stop stops each of them."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from cairn.scheduling.ports import BaseAppointmentReminders
from multitenant.context import TenantContext

MAX_RESTARTS = 20  # a visit moved away from and back to one time more often than this is not reminded again
LIVE = frozenset({"RUNNING", "SUCCEEDED"})  # an existing execution of these states is the one asked for


def sfn_timestamp(moment: datetime) -> str:
    """A Wait state's timestamp: UTC, whole seconds, `YYYY-MM-DDTHH:MM:SSZ`."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def utc_instant(text: str) -> datetime:
    """A FHIR instant (any offset) as an aware UTC datetime."""
    return datetime.fromisoformat(text.replace("Z", "+00:00")).astimezone(UTC)


def execution_name(prefix: str, *parts: str) -> str:
    """A name of at most 80 characters, the same for the same parts, that reveals none of them."""
    digest = hashlib.sha256("\n".join(parts).encode()).hexdigest()[:48]
    return f"{prefix}-{digest}"


def appointment_execution(tenant_id: str, appointment: Mapping[str, Any]) -> tuple[str, dict[str, Any]]:
    """The execution name and input for the reminders of `appointment` as it is now booked."""
    appointment_id = str(appointment["id"])
    planned_for = sfn_timestamp(utc_instant(str(appointment["start"])))
    return (
        execution_name("appt", tenant_id, appointment_id, planned_for),
        {"tenant_id": tenant_id, "subject": f"Appointment/{appointment_id}", "planned_for": planned_for},
    )


class ReminderWorkflow:
    """The reminders state machine: start an execution by name, stop one by name."""

    def __init__(self, stepfunctions: Any, state_machine_arn: str) -> None:
        self._sfn = stepfunctions
        self._arn = state_machine_arn

    def execution_arn(self, name: str) -> str:
        """The ARN of this machine's execution called `name`."""
        prefix, _, machine = self._arn.rpartition(":stateMachine:")
        return f"{prefix}:execution:{machine}:{name}"

    def start(self, name: str, workflow_input: Mapping[str, Any]) -> None:
        """Start `name`, unless an execution of that name runs or ran to its end already."""
        for attempt in range(MAX_RESTARTS + 1):
            candidate = name if attempt == 0 else f"{name}-{attempt}"
            try:
                self._sfn.start_execution(
                    stateMachineArn=self._arn, name=candidate, input=json.dumps(workflow_input)
                )
                return
            except self._sfn.exceptions.ExecutionAlreadyExists:
                status = self._sfn.describe_execution(executionArn=self.execution_arn(candidate))["status"]
                if status in LIVE:
                    return

    def stop(self, name: str, cause: str) -> None:
        """Stop `name` and its restarts; a name that never started is fine. `cause` is kept in
        the execution's history: a reason, never PHI."""
        for attempt in range(MAX_RESTARTS + 1):
            candidate = name if attempt == 0 else f"{name}-{attempt}"
            try:
                self._sfn.stop_execution(executionArn=self.execution_arn(candidate), cause=cause)
            except self._sfn.exceptions.ExecutionDoesNotExist:
                return


class StepFunctionsAppointmentReminders(BaseAppointmentReminders):
    """The appointment book's reminders: one execution per appointment and start time."""

    def __init__(self, workflow: ReminderWorkflow) -> None:
        self._workflow = workflow

    def booked(self, context: TenantContext, appointment: Mapping[str, Any]) -> None:
        name, workflow_input = appointment_execution(context.tenant_id, appointment)
        self._workflow.start(name, workflow_input)

    def withdrawn(self, context: TenantContext, appointment: Mapping[str, Any]) -> None:
        name, _ = appointment_execution(context.tenant_id, appointment)
        self._workflow.stop(name, "the appointment was cancelled, moved or has begun")
