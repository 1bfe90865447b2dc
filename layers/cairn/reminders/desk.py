"""The reminders as one verified caller uses them (what the reminders API's routes call):
setting and cancelling reminders (a patient: medication doses for their own prescriptions;
staff: any kind the permission table and their access to the chart allow), a patient's
contact preferences, and the local outbox.

Authorization comes from the one permission table (Reminder, ContactPreferences,
OutboxMessage) and from reading what a reminder is about as the caller (the record service's
compartment rules: a patient reaches only their own MedicationRequests). The reminder Tasks and
the Patient's preferences are then written as the clinic (a system context), since a patient
may not write Tasks or their own Patient resource directly. Every call, refused or not, leaves
an AuditEvent in the caller's trail.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import date, time
from typing import Any, TypeVar

from cairn.audit.events import AuditAction, AuditEvent, AuditOutcome
from cairn.audit.trail import BaseAuditTrail
from cairn.clock import Clock, fhir_instant
from cairn.errors import AccessDenied, CairnError, MalformedRequest, ResourceNotFound
from cairn.fhir.search import parse_search
from cairn.messaging.outbox import OutboxSender
from cairn.records.service import RecordService
from cairn.reminders.preferences import contact_details, preferences_view, with_preferences
from cairn.reminders.requests import (
    ACTIVE_STATUSES,
    RECALLS,
    SEND_REMINDERS,
    TASK_CODE_SYSTEM,
    WORKFLOW_SYSTEM,
    RequestKind,
    is_reminder_task,
    plan_request,
    reminder_task,
    reminder_view,
)
from cairn.reminders.workflow import ReminderWorkflow, execution_name
from cairn.scheduling.clinic import ClinicSchedule
from cairn.scheduling.reminders import Channel, InvalidReminderRequest
from multitenant import permissions
from multitenant.context import Role
from multitenant.permissions import CONTACT_PREFERENCES, OUTBOX_MESSAGE, REMINDER, Action

T = TypeVar("T")
AUDIT_ACTIONS = {
    Action.CREATE: AuditAction.CREATE,
    Action.READ: AuditAction.READ,
    Action.UPDATE: AuditAction.UPDATE,
    Action.DELETE: AuditAction.DELETE,
    Action.SEARCH: AuditAction.EXECUTE,
}
NAMESPACE = uuid.UUID("0b8f3c6e-5a1d-4f7b-8e2c-9d4a6b1e7f30")  # reminder request ids
PREFERENCE_FIELDS = ("preferred", "optedOut", "optedOutAll")
SUPPLY_UNITS = {
    "d": 1,
    "day": 1,
    "days": 1,
    "wk": 7,
    "week": 7,
    "weeks": 7,
    "mo": 30,
    "month": 30,
    "months": 30,
}
DEFAULTS = {"lead-days": 7, "overdue-after-days": 14, "interval-months": 12}


class ReminderNotPossible(CairnError):
    """The request is well formed but cannot be planned (a dose time in quiet hours, dates in
    the past, too many reminders); the message says what to change."""


class OutboxNotUsed(ResourceNotFound):
    """Messages are delivered by SES and SNS here: there is no local outbox to read."""

    def __init__(self) -> None:
        super().__init__("Outbox", "-")
        self.args = ("this stage delivers messages through SES and SNS: there is no outbox to read",)


@dataclass
class ReminderDesk:
    """The reminders of one verified caller, wired per request (cairn.reminders.services)."""

    caller: RecordService  # as the verified caller: what they may read
    clinic: RecordService  # as the clinic: writes Tasks and preferences for the caller
    audit: BaseAuditTrail
    schedule: Callable[[], ClinicSchedule]
    workflow: ReminderWorkflow
    outbox: OutboxSender | None
    now: Clock

    @property
    def _context(self) -> Any:
        return self.caller.context

    def _audited(
        self, resource_type: str, action: Action, subtype: str, entity: str | None, run: Callable[[], T]
    ) -> T:
        """`run` after the table's permission, with one AuditEvent for the outcome."""

        def record(outcome: AuditOutcome, detail: str | None) -> None:
            self.audit.record(
                AuditEvent(AUDIT_ACTIONS[action], subtype, outcome, resource_type, entity, detail)
            )

        try:
            permissions.require(self._context, resource_type, action)
            answer = run()
        except AccessDenied:
            record(AuditOutcome.MINOR_FAILURE, "denied")
            raise
        except CairnError as refused:
            record(AuditOutcome.MINOR_FAILURE, type(refused).__name__)
            raise
        record(AuditOutcome.SUCCESS, None)
        return answer

    # ---------------------------------------------------------------- patients

    def _patient(self, asked: str | None) -> dict[str, Any]:
        """The Patient the call is about, read as the caller: a patient's own (naming another is
        answered "not found"), or for staff the one they name."""
        wanted = (asked or "").removeprefix("Patient/") or None
        if self._context.role is Role.PATIENT:
            own = self._context.patient_id
            if not own:
                raise AccessDenied("this patient account is not linked to a Patient record")
            if wanted is not None and wanted != own:
                raise ResourceNotFound("Patient", wanted)
            wanted = own
        if wanted is None:
            raise MalformedRequest("name the patient: ?patient=<Patient id>")
        return self.caller.read("Patient", wanted)

    # --------------------------------------------------------------- reminders

    def create(self, body: Mapping[str, Any]) -> tuple[bool, dict[str, Any]]:
        """Set a reminder; (created, the reminder). The same request again answers the reminder
        it set (created False) while that one is active."""
        kind = _kind(body.get("kind"))
        return self._audited(
            REMINDER, Action.CREATE, f"reminder-{kind.value}", None, lambda: self._create(kind, body)
        )

    def _create(self, kind: RequestKind, body: Mapping[str, Any]) -> tuple[bool, dict[str, Any]]:
        if self._context.role is Role.PATIENT and kind is not RequestKind.MEDICATION_DOSE:
            raise AccessDenied("a patient sets medication dose reminders; the clinic sets the other kinds")
        patient_id, focus, parameters = self._request(kind, body)
        try:
            planned = plan_request(parameters, self.schedule(), self.now())
        except InvalidReminderRequest as invalid:
            raise ReminderNotPossible(str(invalid)) from None
        requested = sorted(
            (name, [v.isoformat() if isinstance(v, date | time) else v for v in values])
            for name, values in parameters.items()
        )
        task_id = str(uuid.uuid5(NAMESPACE, repr((self._context.tenant_id, patient_id, focus, requested))))
        existing = self._task(task_id)
        if existing is not None and existing.get("status") in ACTIVE_STATUSES:
            return False, reminder_view(existing)
        if existing is not None:  # that one was cancelled or has ended: this is a new request
            task_id = str(uuid.uuid4())
        execution = execution_name("remind", self._context.tenant_id, task_id)
        requester = f"Patient/{patient_id}" if self._context.role is Role.PATIENT else None
        task = reminder_task(
            task_id, patient_id, focus, parameters, planned, execution, fhir_instant(self.now()), requester
        )
        written = self.clinic.import_resource(task, task_id).resource
        self.workflow.start(
            execution,
            {
                "tenant_id": self._context.tenant_id,
                "subject": f"Task/{task_id}",
                "planned_for": str(written["meta"]["versionId"]),
            },
        )
        return True, reminder_view(written)

    def _request(
        self, kind: RequestKind, body: Mapping[str, Any]
    ) -> tuple[str, str | None, dict[str, list[Any]]]:
        """(patient id, focus reference, parameters) of a request, what it names read as the caller."""
        parameters: dict[str, list[Any]] = {"kind": [kind.value]}
        if kind in (RequestKind.MEDICATION_DOSE, RequestKind.REFILL_DUE):
            request = self._read_reference(body, "medicationRequest", "MedicationRequest")
            patient_id = _patient_of(request, "subject")
            if kind is RequestKind.MEDICATION_DOSE:
                parameters["time-of-day"] = [_time(t) for t in _list(body, "timesOfDay")]
                parameters["start-date"] = [_date(body, "startDate", self.now().date())]
                parameters["days"] = [_int(body, "days", 30)]
            else:
                parameters["last-fill-date"] = [_date(body, "lastFillDate", _last_fill(request))]
                parameters["days-supply"] = [
                    _int(
                        body,
                        "daysSupply",
                        _days_supply(request),
                        "the MedicationRequest's dispenseRequest has no "
                        "expectedSupplyDuration: give daysSupply",
                    )
                ]
                parameters["lead-days"] = [_int(body, "leadDays", DEFAULTS["lead-days"])]
            return patient_id, f"MedicationRequest/{request['id']}", parameters
        if kind is RequestKind.COVERAGE_EXPIRY:
            coverage = self._read_reference(body, "coverage", "Coverage")
            end = str((coverage.get("period") or {}).get("end") or "")[:10]
            if not end:
                raise MalformedRequest("the Coverage has no period.end: there is no expiry to remind of")
            parameters["end-date"] = [date.fromisoformat(end)]
            parameters["lead-days"] = [_int(body, "leadDays", 30)]
            return _patient_of(coverage, "beneficiary"), f"Coverage/{coverage['id']}", parameters
        if kind is RequestKind.BILL:
            permissions.require(self._context, "Invoice", Action.UPDATE)  # whoever bills the patient
            invoice = body.get("invoice")
            if not isinstance(invoice, str) or not 1 <= len(invoice) <= 64:
                raise MalformedRequest('"invoice" is the invoice\'s number, 1 to 64 characters')
            parameters["invoice"] = [invoice]
            parameters["due-date"] = [_date(body, "dueDate", None)]
            parameters["overdue-after-days"] = [
                _int(body, "overdueAfterDays", DEFAULTS["overdue-after-days"])
            ]
        else:
            permissions.require(self._context, "Appointment", Action.CREATE)  # whoever books visits
            recall = body.get("recall")
            if recall not in RECALLS:
                raise MalformedRequest(f'"recall" is one of {", ".join(RECALLS)}')
            parameters["recall"] = [recall]
            parameters["last-visit-date"] = [_date(body, "lastVisitDate", None)]
            parameters["interval-months"] = [_int(body, "intervalMonths", DEFAULTS["interval-months"])]
            parameters["lead-days"] = [_int(body, "leadDays", 14)]
        patient = self._patient(_reference(body, "patient", "Patient"))
        return str(patient["id"]), None, parameters

    def _read_reference(self, body: Mapping[str, Any], field: str, resource_type: str) -> dict[str, Any]:
        return self.caller.read(resource_type, _reference(body, field, resource_type))

    def _task(self, task_id: str) -> dict[str, Any] | None:
        try:
            return self.clinic.read("Task", task_id)
        except ResourceNotFound:
            return None

    def reminders(self, patient: str | None) -> list[dict[str, Any]]:
        """The patient's reminder requests, newest first."""

        def run() -> list[dict[str, Any]]:
            patient_id = str(self._patient(patient)["id"])
            query = parse_search(
                "Task",
                {
                    "subject": [f"Patient/{patient_id}"],
                    "code": [f"{TASK_CODE_SYSTEM}|{SEND_REMINDERS}"],
                    "_count": ["100"],
                },
            )
            tasks = sorted(
                self.clinic.search(query).resources, key=lambda t: str(t.get("authoredOn")), reverse=True
            )
            return [reminder_view(task) for task in tasks]

        return self._audited(REMINDER, Action.SEARCH, "reminder-search", patient, run)

    def cancel(self, reminder_id: str) -> dict[str, Any]:
        """Cancel a reminder request: its Task says cancelled and its workflow stops."""

        def run() -> dict[str, Any]:
            task = self._task(reminder_id)
            if task is None or not is_reminder_task(task):
                raise ResourceNotFound("Reminder", reminder_id)
            self._patient(str((task.get("for") or {}).get("reference") or ""))  # the caller may see whose
            if task.get("status") not in ACTIVE_STATUSES:
                return reminder_view(task)
            cancelled = self.clinic.update(
                "Task", reminder_id, {**task, "status": "cancelled"}, if_match=str(task["meta"]["versionId"])
            )
            for identifier in task.get("identifier") or ():
                if identifier.get("system") == WORKFLOW_SYSTEM:
                    self.workflow.stop(str(identifier["value"]), "the reminder was cancelled")
            return reminder_view(cancelled)

        return self._audited(REMINDER, Action.DELETE, "reminder-cancel", f"Task/{reminder_id}", run)

    # ------------------------------------------------------------- preferences

    def preferences(self, patient: str | None) -> dict[str, Any]:
        """The patient's reminder channels and opt-outs (flags, never addresses)."""

        def run() -> dict[str, Any]:
            record = self._patient(patient)
            return {"patient": f"Patient/{record['id']}", **preferences_view(contact_details(record))}

        return self._audited(CONTACT_PREFERENCES, Action.READ, "reminder-preferences", patient, run)

    def set_preferences(self, patient: str | None, body: Mapping[str, Any]) -> dict[str, Any]:
        """Set the preferred channel and the opt-outs: {"preferred": "email"|"sms"|null,
        "optedOut": ["email", "sms"], "optedOutAll": false}."""
        unknown = sorted(set(body) - set(PREFERENCE_FIELDS))
        if unknown or not body:
            raise MalformedRequest(
                f"send {', '.join(PREFERENCE_FIELDS)}; {', '.join(unknown[:3]) or 'nothing'} "
                "is not a preference"
            )
        preferred, opted_out, opted_out_all = _preferences(body)

        def run() -> dict[str, Any]:
            record = self._patient(patient)
            changed = with_preferences(record, preferred, opted_out, opted_out_all)
            saved = self.clinic.update(
                "Patient", str(record["id"]), changed, if_match=str(record["meta"]["versionId"])
            )
            return {"patient": f"Patient/{saved['id']}", **preferences_view(contact_details(saved))}

        return self._audited(CONTACT_PREFERENCES, Action.UPDATE, "reminder-preferences", patient, run)

    # ------------------------------------------------------------------ outbox

    def outbox_messages(self, patient: str | None, limit: int) -> list[dict[str, Any]]:
        """The local outbox: a patient's own messages; an admin's: the clinic's, or one patient's."""

        def run() -> list[dict[str, Any]]:
            if self.outbox is None:
                raise OutboxNotUsed
            if self._context.role is Role.PATIENT or patient:
                return self.outbox.messages(str(self._patient(patient)["id"]), limit)
            return self.outbox.messages(None, limit)

        return self._audited(OUTBOX_MESSAGE, Action.SEARCH, "outbox-search", patient, run)


# ----------------------------------------------------------------- request bodies


def _kind(value: object) -> RequestKind:
    try:
        return RequestKind(str(value))
    except ValueError:
        raise MalformedRequest(f'"kind" is one of {", ".join(k.value for k in RequestKind)}') from None


def _reference(body: Mapping[str, Any], field: str, resource_type: str) -> str:
    value = body.get(field)
    if not isinstance(value, str) or not value.startswith(f"{resource_type}/") or len(value) > 100:
        raise MalformedRequest(f'"{field}" is a reference: "{resource_type}/<id>"')
    return value.removeprefix(f"{resource_type}/")


def _patient_of(resource: Mapping[str, Any], element: str) -> str:
    reference = str((resource.get(element) or {}).get("reference") or "")
    if not reference.startswith("Patient/"):
        raise MalformedRequest(
            f"the {resource.get('resourceType')}'s {element} is not a Patient: there is no one to remind"
        )
    return reference.removeprefix("Patient/")


def _list(body: Mapping[str, Any], field: str) -> list[Any]:
    value = body.get(field)
    if not isinstance(value, list) or not 1 <= len(value) <= 12:
        raise MalformedRequest(f'"{field}" is a list of 1 to 12 values, e.g. ["08:00", "20:00"]')
    return value


def _time(value: object) -> time:
    try:
        parsed = time.fromisoformat(str(value))
    except ValueError:
        raise MalformedRequest('a time of day is "HH:MM" in 24-hour time, e.g. "08:00"') from None
    return parsed.replace(second=0, microsecond=0)


def _date(body: Mapping[str, Any], field: str, default: date | None) -> date:
    value = body.get(field)
    if value is None and default is not None:
        return default
    try:
        return date.fromisoformat(str(value))
    except ValueError:
        raise MalformedRequest(f'"{field}" is a date, "YYYY-MM-DD"') from None


def _int(body: Mapping[str, Any], field: str, default: int | None, missing: str | None = None) -> int:
    value: object = body.get(field, default)
    if value is None and missing is not None:
        raise MalformedRequest(missing)
    if isinstance(value, bool) or not isinstance(value, int):
        raise MalformedRequest(f'"{field}" is a whole number')
    return value


def _days_supply(request: Mapping[str, Any]) -> int | None:
    """MedicationRequest.dispenseRequest.expectedSupplyDuration in days, when it says."""
    duration = (request.get("dispenseRequest") or {}).get("expectedSupplyDuration") or {}
    per_unit = SUPPLY_UNITS.get(str(duration.get("code") or duration.get("unit") or "").lower())
    value = duration.get("value")
    if per_unit is None or not isinstance(value, int | float):
        return None
    return int(value * per_unit)


def _last_fill(request: Mapping[str, Any]) -> date | None:
    """When the supply started: the dispense's validity start, else when it was written."""
    validity = ((request.get("dispenseRequest") or {}).get("validityPeriod") or {}).get("start")
    written = validity or request.get("authoredOn")
    return date.fromisoformat(str(written)[:10]) if written else None


def _preferences(body: Mapping[str, Any]) -> tuple[Channel | None, set[Channel], bool]:
    preferred = body.get("preferred")
    channels = {channel.value: channel for channel in Channel}
    if preferred is not None and preferred not in channels:
        raise MalformedRequest('"preferred" is "email", "sms" or null')
    opted_out = body.get("optedOut", [])
    if not isinstance(opted_out, list) or not all(value in channels for value in opted_out):
        raise MalformedRequest('"optedOut" is a list of channels: "email", "sms"')
    opted_out_all = body.get("optedOutAll", False)
    if not isinstance(opted_out_all, bool):
        raise MalformedRequest('"optedOutAll" is true or false')
    return (channels[preferred] if preferred else None), {channels[v] for v in opted_out}, opted_out_all


__all__ = ["OutboxNotUsed", "ReminderDesk", "ReminderNotPossible"]
