"""Reminders that patients and staff set — medication doses, refills, bills, recalls, coverage
expiry — kept in the chart as FHIR Tasks (code send-reminders): `for` the patient, `focus` what
the reminder is about (a MedicationRequest, a Coverage), and what was asked in Task.input, one
entry per parameter (type from https://cairn.health/fhir/CodeSystem/reminder-parameter). The
plan is a pure function of the Task, the clinic's zone and quiet hours, and now, so the API
(which refuses a request it cannot plan) and the workflow (which plans it) agree.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import date, datetime, time
from enum import StrEnum
from typing import Any

from cairn.reminders.workflow import sfn_timestamp
from cairn.scheduling.clinic import ClinicSchedule
from cairn.scheduling.reminders import (
    InvalidReminderRequest,
    PlannedReminder,
    plan_bill,
    plan_coverage_expiry,
    plan_medication_doses,
    plan_recall,
    plan_refill_due,
)

TASK_CODE_SYSTEM = "https://cairn.health/fhir/CodeSystem/task"
SEND_REMINDERS = "send-reminders"
PARAMETER_SYSTEM = "https://cairn.health/fhir/CodeSystem/reminder-parameter"
WORKFLOW_SYSTEM = "https://cairn.health/fhir/sid/reminder-workflow"
ACTIVE_STATUSES = frozenset({"requested", "accepted", "in-progress"})
MAX_PLANNED = 400  # reminders one workflow execution sends (its history stays well inside the quota)
RECALLS = ("annual-wellness-visit", "screening")


class RequestKind(StrEnum):
    """What POST /reminders sets; a bill plans two reminders (due, overdue)."""

    MEDICATION_DOSE = "medication-dose"
    REFILL_DUE = "refill-due"
    BILL = "bill"
    RECALL = "recall"
    COVERAGE_EXPIRY = "coverage-expiry"


# Each parameter's FHIR type, as it is written to Task.input.value[x].
PARAMETER_TYPES = {
    "kind": "Code",
    "time-of-day": "Time",
    "start-date": "Date",
    "days": "Integer",
    "last-fill-date": "Date",
    "days-supply": "Integer",
    "lead-days": "Integer",
    "invoice": "String",
    "due-date": "Date",
    "overdue-after-days": "Integer",
    "recall": "Code",
    "last-visit-date": "Date",
    "interval-months": "Integer",
    "end-date": "Date",
}
Parameters = Mapping[str, Sequence[Any]]  # name -> values (time-of-day repeats)


def task_inputs(parameters: Parameters) -> list[dict[str, Any]]:
    """Task.input entries for `parameters` (dates as date, times as time, numbers, codes)."""
    inputs = []
    for name, values in parameters.items():
        kind = PARAMETER_TYPES[name]
        for value in values:
            written = value.isoformat() if isinstance(value, date | time) else value
            inputs.append(
                {"type": {"coding": [{"system": PARAMETER_SYSTEM, "code": name}]}, f"value{kind}": written}
            )
    return inputs


def parameters_of(task: Mapping[str, Any]) -> dict[str, list[Any]]:
    """The Task's parameters, values typed again (dates, times, ints, strings)."""
    found: dict[str, list[Any]] = {}
    for entry in task.get("input") or ():
        codes = [
            c.get("code")
            for c in entry.get("type", {}).get("coding", ())
            if c.get("system") == PARAMETER_SYSTEM
        ]
        if not codes or codes[0] not in PARAMETER_TYPES:
            continue
        name = str(codes[0])
        raw = entry.get(f"value{PARAMETER_TYPES[name]}")
        found.setdefault(name, []).append(_typed(PARAMETER_TYPES[name], raw))
    return found


def _typed(kind: str, raw: Any) -> Any:
    if kind == "Date":
        return date.fromisoformat(str(raw))
    if kind == "Time":
        return time.fromisoformat(str(raw))
    if kind == "Integer":
        return int(raw)
    return str(raw)


def one(parameters: Parameters, name: str) -> Any:
    """The single value of parameter `name`; InvalidReminderRequest naming it when absent."""
    values = parameters.get(name) or ()
    if len(values) != 1:
        raise InvalidReminderRequest(f"{name} is missing")
    return values[0]


def kind_of(parameters: Parameters) -> RequestKind:
    """The request's kind; InvalidReminderRequest naming the kinds when it is none of them."""
    try:
        return RequestKind(one(parameters, "kind"))
    except ValueError:
        raise InvalidReminderRequest(f"kind is one of {', '.join(k.value for k in RequestKind)}") from None


def plan_request(parameters: Parameters, schedule: ClinicSchedule, now: datetime) -> list[PlannedReminder]:
    """The reminders still to come for these parameters in this clinic, sorted by time.
    InvalidReminderRequest when nothing would be sent, or too much for one workflow."""
    zone, quiet = schedule.zone, schedule.reminders.quiet_hours
    kind = kind_of(parameters)
    if kind is RequestKind.MEDICATION_DOSE:
        planned = plan_medication_doses(
            list(parameters.get("time-of-day") or ()),
            zone,
            one(parameters, "start-date"),
            one(parameters, "days"),
            now,
            quiet_hours=quiet,
        )
    elif kind is RequestKind.REFILL_DUE:
        planned = plan_refill_due(
            one(parameters, "last-fill-date"),
            one(parameters, "days-supply"),
            one(parameters, "lead-days"),
            zone=zone,
            quiet_hours=quiet,
        )
    elif kind is RequestKind.BILL:
        planned = plan_bill(
            one(parameters, "due-date"), one(parameters, "overdue-after-days"), zone=zone, quiet_hours=quiet
        )
    elif kind is RequestKind.RECALL:
        planned = plan_recall(
            one(parameters, "last-visit-date"),
            one(parameters, "interval-months"),
            one(parameters, "lead-days"),
            zone=zone,
            quiet_hours=quiet,
        )
    else:
        planned = plan_coverage_expiry(
            one(parameters, "end-date"), one(parameters, "lead-days"), zone=zone, quiet_hours=quiet
        )
    coming = sorted((p for p in planned if p.send_at > now), key=lambda p: p.send_at)
    if not coming:
        raise InvalidReminderRequest("every reminder of this request falls in the past: choose later dates")
    if len(coming) > MAX_PLANNED:
        raise InvalidReminderRequest(
            f"this request plans {len(coming)} reminders; at most {MAX_PLANNED} are "
            "sent per request: choose fewer days or dose times"
        )
    return coming


def reminder_task(
    task_id: str,
    patient_id: str,
    focus: str | None,
    parameters: Parameters,
    planned: Sequence[PlannedReminder],
    execution: str,
    authored: str,
    requester: str | None,
) -> dict[str, Any]:
    """The Task that records a reminder request (status requested until its workflow ends)."""
    task: dict[str, Any] = {
        "resourceType": "Task",
        "id": task_id,
        "identifier": [{"system": WORKFLOW_SYSTEM, "value": execution}],
        "status": "requested",
        "intent": "plan",
        "code": {
            "coding": [{"system": TASK_CODE_SYSTEM, "code": SEND_REMINDERS, "display": "Send reminders"}]
        },
        "for": {"reference": f"Patient/{patient_id}"},
        "authoredOn": authored,
        "executionPeriod": {
            "start": sfn_timestamp(planned[0].send_at),
            "end": sfn_timestamp(planned[-1].send_at),
        },
        "input": task_inputs(parameters),
    }
    if focus:
        task["focus"] = {"reference": focus}
    if requester:
        task["requester"] = {"reference": requester}
    return task


def is_reminder_task(resource: Mapping[str, Any]) -> bool:
    """Whether `resource` is a reminder request (a Task of code send-reminders), not some other Task."""
    codings = (resource.get("code") or {}).get("coding") or ()
    return resource.get("resourceType") == "Task" and any(
        c.get("system") == TASK_CODE_SYSTEM and c.get("code") == SEND_REMINDERS for c in codings
    )


def reminder_view(task: Mapping[str, Any]) -> dict[str, Any]:
    """What GET /reminders shows of one request: ids, kind, status, when, and what was asked."""
    parameters = parameters_of(task)
    shown = {
        name: [v.isoformat() if isinstance(v, date | time) else v for v in values]
        for name, values in parameters.items()
        if name != "kind"
    }
    period = task.get("executionPeriod") or {}
    return {
        "id": task.get("id"),
        "kind": (parameters.get("kind") or [None])[0],
        "status": task.get("status"),
        "patient": (task.get("for") or {}).get("reference"),
        "about": (task.get("focus") or {}).get("reference"),
        "firstReminder": period.get("start"),
        "lastReminder": period.get("end"),
        "parameters": {name: values[0] if len(values) == 1 else values for name, values in shown.items()},
    }
