"""What a reminder workflow reminds of: an Appointment (the appointment book starts it) or a
reminder Task (cairn.reminders.requests). Each knows, from its current version, what to plan,
whether a planned reminder still stands, and what the message says."""

from __future__ import annotations

import abc
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

from cairn.errors import MalformedRequest, ResourceNotFound
from cairn.records.service import RecordService
from cairn.reminders.requests import ACTIVE_STATUSES, one, parameters_of, plan_request
from cairn.reminders.texts import MessageText, appointment_text, dated_text
from cairn.reminders.workflow import sfn_timestamp, utc_instant
from cairn.scheduling.clinic import ClinicSchedule
from cairn.scheduling.reminders import (
    BOOKED,
    NO_CHANNEL,
    OPTED_OUT,
    QUIET_NOW,
    STALE,
    STALE_AFTER,
    SUPERSEDED,
    ContactPreferences,
    PlannedReminder,
    ReminderDecision,
    ReminderKind,
    Send,
    Skip,
    choose_channel,
    decide,
    plan_reminders,
)

GONE = "what the reminder is about no longer exists"
CANCELLED = "the reminder was cancelled"


@dataclass(frozen=True)
class Planned:
    """One planned reminder as the workflow carries it: a kind, a time and a label, no PHI."""

    kind: ReminderKind
    send_at: datetime
    label: str

    @classmethod
    def of(cls, reminder: PlannedReminder) -> Planned:
        return cls(reminder.kind, reminder.send_at, reminder.label)

    @classmethod
    def from_state(cls, state: Mapping[str, Any]) -> Planned:
        return cls(ReminderKind(str(state["kind"])), utc_instant(str(state["send_at"])), str(state["label"]))

    def as_state(self) -> dict[str, str]:
        return {"kind": self.kind.value, "send_at": sfn_timestamp(self.send_at), "label": self.label}


def decide_request(
    *,
    status: str,
    version: str,
    planned_for: str,
    preferences: ContactPreferences,
    now: datetime,
    send_at: datetime,
    schedule: ClinicSchedule,
) -> ReminderDecision:
    """`decide` for a reminder someone set: the request must still be active and unchanged since
    the plan, the send neither stale nor in quiet hours, and a channel must reach the patient."""
    if status not in ACTIVE_STATUSES:
        return Skip(CANCELLED)
    if version != planned_for:
        return Skip(SUPERSEDED)
    if now - send_at > STALE_AFTER:
        return Skip(STALE)
    if schedule.reminders.quiet_hours.covers(now, schedule.tz):
        return Skip(QUIET_NOW)
    channel = choose_channel(preferences)
    if channel is None:
        return Skip(OPTED_OUT if preferences.opted_out_all else NO_CHANNEL)
    return Send(channel)


class Subject(abc.ABC):
    """A reminder's subject as it is now; `resource` is None once deleted."""

    def __init__(self, reference: str, resource: dict[str, Any] | None) -> None:
        self.reference = reference
        self.resource = resource

    @abc.abstractmethod
    def patient_id(self) -> str | None:
        """Whom the reminders go to."""

    @abc.abstractmethod
    def plan(self, planned_for: str, schedule: ClinicSchedule, now: datetime) -> list[PlannedReminder]:
        """The reminders to send, or none when the subject no longer asks for them."""

    @abc.abstractmethod
    def decide(
        self,
        planned_for: str,
        reminder: Planned,
        preferences: ContactPreferences,
        now: datetime,
        schedule: ClinicSchedule,
    ) -> ReminderDecision:
        """Whether `reminder` is sent now, and how."""

    @abc.abstractmethod
    def text(self, reminder: Planned, schedule: ClinicSchedule, clinic: str) -> MessageText:
        """What the message says (when and with whom, never clinical detail)."""

    def about(self) -> list[dict[str, str]]:
        """Communication.about: what the reminder is about."""
        return [{"reference": self.reference}]

    def based_on(self) -> list[dict[str, str]]:
        """Communication.basedOn: the request it fulfils."""
        return []


class AppointmentSubject(Subject):
    """A visit; its planned_for is its start (UTC) when the workflow started."""

    def patient_id(self) -> str | None:
        for participant in (self.resource or {}).get("participant") or ():
            reference = str((participant.get("actor") or {}).get("reference") or "")
            if reference.startswith("Patient/"):
                return reference.removeprefix("Patient/")
        return None

    def _start(self) -> datetime:
        return utc_instant(str((self.resource or {})["start"]))

    def plan(self, planned_for: str, schedule: ClinicSchedule, now: datetime) -> list[PlannedReminder]:
        appointment = self.resource
        if appointment is None or appointment.get("status") != BOOKED or not appointment.get("start"):
            return []
        if sfn_timestamp(self._start()) != planned_for:
            return []  # rescheduled since: the new time has its own plan
        return plan_reminders(self._start(), now, schedule.reminders, schedule.zone)

    def decide(
        self,
        planned_for: str,
        reminder: Planned,
        preferences: ContactPreferences,
        now: datetime,
        schedule: ClinicSchedule,
    ) -> ReminderDecision:
        appointment = self.resource
        if appointment is None or not appointment.get("start"):
            return Skip(GONE)
        return decide(
            appointment_status=str(appointment.get("status")),
            appointment_version=sfn_timestamp(self._start()),
            planned_for_version=planned_for,
            already_sent=False,  # the Communication's claim decides that (cairn.reminders.steps)
            preferences=preferences,
            now=now,
            send_at=reminder.send_at,
            appointment_start=self._start(),
            policy=schedule.reminders,
            zone=schedule.zone,
        )

    def text(self, reminder: Planned, schedule: ClinicSchedule, clinic: str) -> MessageText:  # noqa: ARG002
        # Every reminder of one visit says the same: when, and with whom.
        return appointment_text(clinic, self._start(), schedule.zone)


class RequestSubject(Subject):
    """A reminder Task; its planned_for is the Task's version when the workflow started."""

    def patient_id(self) -> str | None:
        reference = str(((self.resource or {}).get("for") or {}).get("reference") or "")
        return reference.removeprefix("Patient/") if reference.startswith("Patient/") else None

    def _version(self) -> str:
        return str(((self.resource or {}).get("meta") or {}).get("versionId", ""))

    def plan(self, planned_for: str, schedule: ClinicSchedule, now: datetime) -> list[PlannedReminder]:
        task = self.resource
        if task is None or task.get("status") not in ACTIVE_STATUSES or self._version() != planned_for:
            return []
        return plan_request(parameters_of(task), schedule, now)

    def decide(
        self,
        planned_for: str,
        reminder: Planned,
        preferences: ContactPreferences,
        now: datetime,
        schedule: ClinicSchedule,
    ) -> ReminderDecision:
        if self.resource is None:
            return Skip(GONE)
        return decide_request(
            status=str(self.resource.get("status")),
            version=self._version(),
            planned_for=planned_for,
            preferences=preferences,
            now=now,
            send_at=reminder.send_at,
            schedule=schedule,
        )

    def text(self, reminder: Planned, schedule: ClinicSchedule, clinic: str) -> MessageText:  # noqa: ARG002
        parameters = parameters_of(self.resource or {})
        day: date | None = None
        if reminder.kind is ReminderKind.REFILL_DUE:
            day = one(parameters, "last-fill-date") + timedelta(days=one(parameters, "days-supply"))
        elif reminder.kind in (ReminderKind.BILL_DUE, ReminderKind.BILL_OVERDUE):
            day = one(parameters, "due-date")
        elif reminder.kind is ReminderKind.COVERAGE_EXPIRY:
            day = one(parameters, "end-date")
        recall = str((parameters.get("recall") or [""])[0])
        return dated_text(reminder.kind, clinic, dose_time=reminder.label, day=day, recall=recall)

    def about(self) -> list[dict[str, str]]:
        focus = (self.resource or {}).get("focus")
        return [{"reference": str(focus["reference"])}] if focus and focus.get("reference") else []

    def based_on(self) -> list[dict[str, str]]:
        return [{"reference": self.reference}]


SUBJECT_TYPES: Mapping[str, type[Subject]] = {"Appointment": AppointmentSubject, "Task": RequestSubject}


def load_subject(records: RecordService, reference: str) -> Subject:
    """The subject `reference` names ("Appointment/<id>" or "Task/<id>"), read now (audited)."""
    resource_type, _, resource_id = reference.partition("/")
    kind = SUBJECT_TYPES.get(resource_type)
    if kind is None or not resource_id:
        raise MalformedRequest(
            f"reminders are about an Appointment or a reminder Task, not {resource_type[:40]!r}"
        )
    try:
        resource: dict[str, Any] | None = records.read(resource_type, resource_id)
    except ResourceNotFound:  # deleted (gone) or never there: nothing to remind of
        resource = None
    return kind(reference, resource)
