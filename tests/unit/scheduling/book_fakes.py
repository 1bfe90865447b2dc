"""A clinic's appointment book over in-memory fakes: the real RecordService (validation, guards,
audit) on FakeRecords, working weeks in a dict, reminders recorded as they are asked for."""

from __future__ import annotations

import itertools
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from cairn.records.service import RecordService
from cairn.runtime import WRITE_GUARDS
from cairn.scheduling.book import AppointmentBook
from cairn.scheduling.clinic import ClinicSchedule
from cairn.scheduling.ports import BaseAppointmentReminders
from cairn.scheduling.working_weeks import BaseWorkingWeeks
from multitenant.context import Role, TenantContext
from tests.unit.fakes import FakeAuditTrail, FakeRecords

NOW = datetime(2026, 12, 3, 15, 0, tzinfo=UTC)  # a Thursday, 10:00 in New York
WEEKDAYS_9_TO_5 = {
    "hours": [
        {"day": day, "start": "09:00", "end": "17:00"}
        for day in ("monday", "tuesday", "wednesday", "thursday", "friday")
    ],
    "breaks": [
        {"day": day, "start": "12:00", "end": "12:30"}
        for day in ("monday", "tuesday", "wednesday", "thursday", "friday")
    ],
}


class FakeWorkingWeeks(BaseWorkingWeeks):
    def __init__(self, context: TenantContext, store: dict[tuple[str, str], dict[str, Any]]) -> None:
        super().__init__(context)
        self.store = store

    def get(self, schedule_id: str) -> dict[str, Any] | None:
        return self.store.get((self.context.tenant_id, schedule_id))

    def put(self, schedule_id: str, document: dict[str, Any]) -> None:
        self.store[(self.context.tenant_id, schedule_id)] = document


class RecordedReminders(BaseAppointmentReminders):
    """Remembers what the book asked for, as (what, tenant, appointment id, start)."""

    def __init__(self) -> None:
        self.asked: list[tuple[str, str, str, str]] = []

    def booked(self, context: TenantContext, appointment: Mapping[str, Any]) -> None:
        self.asked.append(("booked", context.tenant_id, str(appointment["id"]), str(appointment["start"])))

    def withdrawn(self, context: TenantContext, appointment: Mapping[str, Any]) -> None:
        self.asked.append(("withdrawn", context.tenant_id, str(appointment["id"]), str(appointment["start"])))


@dataclass
class Clinic:
    """One or more clinics sharing the fake table, as the real ones share DynamoDB."""

    settings: dict[str, Any] = field(default_factory=lambda: {"time_zone": "America/New_York"})
    store: dict[Any, Any] = field(default_factory=dict)
    held: dict[Any, str] = field(default_factory=dict)
    weeks: dict[tuple[str, str], dict[str, Any]] = field(default_factory=dict)
    audit: list[Any] = field(default_factory=list)
    reminders: RecordedReminders = field(default_factory=RecordedReminders)
    now: datetime = NOW
    ids: itertools.count[int] = field(default_factory=itertools.count)

    def context(
        self,
        role: Role = Role.FRONT_DESK,
        tenant: str = "acme",
        patient: str | None = None,
    ) -> TenantContext:
        return TenantContext(tenant, f"user-{role.value}", role, patient)

    def records(self, context: TenantContext) -> RecordService:
        return RecordService(
            context,
            FakeRecords(context, self.store, self.held),
            FakeAuditTrail(context, self.audit),
            clock=lambda: self.now,
            new_id=lambda: f"r{next(self.ids)}",
            guards=WRITE_GUARDS,
        )

    def book(self, context: TenantContext | None = None) -> AppointmentBook:
        context = context or self.context()
        return AppointmentBook(
            self.records(context),
            FakeWorkingWeeks(context, self.weeks),
            lambda: ClinicSchedule.parse(self.settings),
            self.reminders,
            lambda: self.now,
            new_id=lambda: f"a{next(self.ids)}",
        )

    def directory(self, tenant: str = "acme") -> tuple[str, str, str]:
        """A practitioner with a schedule at a location, and a patient: (schedule, patient, practitioner)."""
        admin = self.records(self.context(Role.ADMIN, tenant))
        practitioner = admin.create(
            "Practitioner", {"resourceType": "Practitioner", "name": [{"family": "Osei"}]}
        ).resource["id"]
        location = admin.create("Location", {"resourceType": "Location", "name": "Main St"}).resource["id"]
        schedule = admin.create(
            "Schedule",
            {
                "resourceType": "Schedule",
                "active": True,
                "actor": [
                    {"reference": f"Practitioner/{practitioner}"},
                    {"reference": f"Location/{location}"},
                ],
            },
        ).resource["id"]
        patient = admin.create(
            "Patient", {"resourceType": "Patient", "name": [{"family": "Okafor"}]}
        ).resource["id"]
        self.weeks[(tenant, schedule)] = WEEKDAYS_9_TO_5
        return schedule, patient, practitioner


def appointment(slot_id: str, patient: str | None, visit: str = "follow-up", **extra: Any) -> dict[str, Any]:
    """A booking request as a client sends it."""
    body: dict[str, Any] = {
        "resourceType": "Appointment",
        "status": "booked",
        "slot": [{"reference": f"Slot/{slot_id}"}],
        "appointmentType": {
            "coding": [{"system": "https://cairn.health/fhir/CodeSystem/visit-type", "code": visit}]
        },
        "participant": [{"actor": {"reference": f"Patient/{patient}"}, "status": "accepted"}]
        if patient
        else [],
        **extra,
    }
    return body
