"""The demo clinics' calendars for `cairn dev`: each clinic gets its time zone, a practitioner
with a schedule at its main location and a weekday working week (09:00-17:00, lunch 12:00-12:30),
and a few visits for its first patients booked through the appointment book (so their reminder
workflows run), plus one past visit for the record. Seeding twice adds nothing: the schedule is
found by its identifier and a visit already booked is left as it is."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

from cairn.aws import AwsClients
from cairn.config import DataSettings
from cairn.errors import HoldTaken, InvalidResource
from cairn.fhir.search import parse_search
from cairn.reminders.workflow import ReminderWorkflow, StepFunctionsAppointmentReminders
from cairn.runtime import ClinicalRuntime
from cairn.scheduling.book import AppointmentBook
from cairn.scheduling.services import SchedulingServices
from cairn.scheduling.visit_types import VISIT_TYPE_SYSTEM
from devkit.deployment import Deployment
from multitenant.context import TenantContext
from multitenant.provisioning import DynamoTenantSettings

DEMO_SCHEDULE = "https://cairn.health/demo/schedule"
TIME_ZONES = {"demo-clinic": "America/New_York", "second-clinic": "Europe/Berlin"}
WORKDAYS = ("monday", "tuesday", "wednesday", "thursday", "friday")
WORKING_WEEK = {
    "hours": [{"day": day, "start": "09:00", "end": "17:00"} for day in WORKDAYS],
    "breaks": [{"day": day, "start": "12:00", "end": "12:30"} for day in WORKDAYS],
}
VISITS = (("follow-up", 1, "blood pressure check"), ("annual-wellness", 6, "yearly check-up"))


def seed_calendar(
    clients: AwsClients,
    deployment: Deployment,
    tenant_id: str,
    patient_ids: Sequence[str],
    now: datetime | None = None,
) -> list[str]:
    """The clinic's zone, schedule and working week, and its first patient's visits; the
    Appointment ids booked (none without patients)."""
    environment = deployment.environment_of("fhir-api", clients)
    runtime = ClinicalRuntime(DataSettings.from_environ(environment), clients)
    DynamoTenantSettings(clients.dynamodb(), deployment.tables["clinical"]).update(
        tenant_id, {"time_zone": TIME_ZONES.get(tenant_id, "UTC")}
    )
    workflow = ReminderWorkflow(clients.stepfunctions(), deployment.state_machines["reminders"])
    services = SchedulingServices(runtime, StepFunctionsAppointmentReminders(workflow))
    context = TenantContext.system(tenant_id, "demo-seed")
    schedule_id = _schedule(services, context)
    services.set_working_week(context, schedule_id, WORKING_WEEK)
    if not patient_ids:
        return []
    book = services.book(context)
    _past_visit(book, schedule_id, patient_ids[0], now or datetime.now(UTC))
    return [
        booked
        for code, days, comment in VISITS
        if (booked := _book(book, schedule_id, patient_ids[0], code, days, comment, now)) is not None
    ]


def _schedule(services: SchedulingServices, context: TenantContext) -> str:
    records = services.clinical.records(context)
    query = parse_search("Schedule", {"identifier": [f"{DEMO_SCHEDULE}|main"]})
    found = records.search(query).resources
    if found:
        return str(found[0]["id"])
    practitioner = records.create(
        "Practitioner",
        {
            "resourceType": "Practitioner",
            "active": True,
            "name": [{"family": "Amani", "given": ["Grace"], "prefix": ["Dr."]}],
        },
    ).resource["id"]
    location = records.create(
        "Location", {"resourceType": "Location", "status": "active", "name": "Main Street Practice"}
    ).resource["id"]
    return str(
        records.create(
            "Schedule",
            {
                "resourceType": "Schedule",
                "active": True,
                "identifier": [{"system": DEMO_SCHEDULE, "value": "main"}],
                "actor": [
                    {"reference": f"Practitioner/{practitioner}", "display": "Dr. Grace Amani"},
                    {"reference": f"Location/{location}", "display": "Main Street Practice"},
                ],
                "comment": "Dr. Amani's weekday clinic",
            },
        ).resource["id"]
    )


def _book(
    book: AppointmentBook,
    schedule_id: str,
    patient_id: str,
    code: str,
    days: int,
    comment: str,
    now: datetime | None,
) -> str | None:
    """Book the first free slot `days` or more days from now; None if it was booked before."""
    start = (now or datetime.now(UTC)) + timedelta(days=days)
    slots = book.free_slots(schedule_id, start, start + timedelta(days=7), code)
    if not slots:
        return None
    if _already_booked(book, patient_id, code):
        return None
    try:
        booked = book.book(
            {
                "resourceType": "Appointment",
                "status": "booked",
                "comment": comment,
                "slot": [{"reference": f"Slot/{slots[0]['id']}"}],
                "appointmentType": {"coding": [{"system": VISIT_TYPE_SYSTEM, "code": code}]},
                "participant": [{"actor": {"reference": f"Patient/{patient_id}"}, "status": "accepted"}],
            }
        )
    except (HoldTaken, InvalidResource):
        return None
    return str(booked["id"])


def _already_booked(book: AppointmentBook, patient_id: str, code: str) -> bool:
    query = parse_search("Appointment", {"patient": [patient_id], "status": ["booked"]})
    visits: list[dict[str, Any]] = book.records.search(query).resources
    return any(
        c.get("code") == code for v in visits for c in (v.get("appointmentType") or {}).get("coding", [])
    )


def _past_visit(book: AppointmentBook, schedule_id: str, patient_id: str, now: datetime) -> None:
    """A fulfilled visit three weeks ago: history, which holds no time (written as a record)."""
    query = parse_search("Appointment", {"patient": [patient_id], "status": ["fulfilled"]})
    if book.records.search(query).resources:
        return
    practitioner = next(
        a["reference"]
        for a in book.schedule(schedule_id)["actor"]
        if a["reference"].startswith("Practitioner/")
    )
    start = (now - timedelta(days=21)).replace(hour=14, minute=0, second=0, microsecond=0)
    book.records.create(
        "Appointment",
        {
            "resourceType": "Appointment",
            "status": "fulfilled",
            "comment": "new symptom: cough",
            "appointmentType": {
                "coding": [
                    {"system": VISIT_TYPE_SYSTEM, "code": "new-symptom", "display": "New symptom visit"}
                ]
            },
            "start": start.strftime("%Y-%m-%dT%H:%M:%SZ"),
            "end": (start + timedelta(minutes=20)).strftime("%Y-%m-%dT%H:%M:%SZ"),
            "minutesDuration": 20,
            "participant": [
                {"actor": {"reference": f"Patient/{patient_id}"}, "status": "accepted"},
                {"actor": {"reference": practitioner}, "status": "accepted"},
            ],
        },
    )


__all__ = ["DEMO_SCHEDULE", "seed_calendar"]
