"""Scheduling through the FHIR API's Lambda handler on moto's DynamoDB: a schedule's working
week, free Slots, booking (201), a taken slot (409 OperationOutcome), the Appointment
operations, the agenda, the clinic's settings, and who may do what (roles, other clinics)."""

from __future__ import annotations

import io
import json
import logging
from datetime import UTC, datetime, timedelta
from typing import Any

from functions.fhir_api import app as api
from multitenant.context import Role, TenantContext
from tests.integration.clinical.support import Cloud, caller
from tests.integration.clinical.test_fhir_api import call
from tests.unit.scheduling.book_fakes import WEEKDAYS_9_TO_5, RecordedReminders

Answer = tuple[int, dict[str, str], dict[str, Any]]
VISIT_TYPES = "https://cairn.health/fhir/CodeSystem/visit-type"
ADMIN = caller(Role.ADMIN)
DESK = caller(Role.FRONT_DESK)


def send(
    method: str, path: str, who: TenantContext, body: Any = None, query: dict[str, list[str]] | None = None
) -> Answer:
    return call(method, path, who, None if body is None else json.dumps(body), query=query)


def created(path: str, body: dict[str, Any], who: TenantContext = ADMIN) -> str:
    status, _, answer = send("POST", path, who, body)
    assert status == 201, answer
    return str(answer["id"])


def a_clinic(who: TenantContext = ADMIN) -> tuple[str, str, str]:
    """A practitioner's schedule with weekday hours in New York, and a patient:
    (schedule, patient, practitioner)."""
    status, _, answer = send("PUT", "/scheduling/settings", who, {"time_zone": "America/New_York"})
    assert status == 200, answer
    practitioner = created(
        "/fhir/R4/Practitioner", {"resourceType": "Practitioner", "name": [{"family": "Osei"}]}, who
    )
    schedule = created(
        "/fhir/R4/Schedule",
        {
            "resourceType": "Schedule",
            "active": True,
            "actor": [{"reference": f"Practitioner/{practitioner}"}],
        },
        who,
    )
    status, _, answer = send("PUT", f"/scheduling/schedules/{schedule}/working-week", who, WEEKDAYS_9_TO_5)
    assert status == 200, answer
    patient = created("/fhir/R4/Patient", {"resourceType": "Patient", "name": [{"family": "Okafor"}]}, who)
    return schedule, patient, practitioner


def next_monday() -> str:
    today = datetime.now(UTC).date()
    return (today + timedelta(days=7 - today.weekday())).isoformat()


def free_slots(
    schedule: str, who: TenantContext = DESK, visit: str = "follow-up", day: str | None = None
) -> list[dict[str, Any]]:
    day = day or next_monday()
    status, _, bundle = send(
        "GET",
        "/fhir/R4/Slot",
        who,
        query={
            "schedule": [schedule],
            "status": ["free"],
            "start": [f"ge{day}"],
            "appointment-type": [visit],
        },
    )
    assert status == 200, bundle
    assert bundle["type"] == "searchset"
    return [entry["resource"] for entry in bundle.get("entry", [])]


def booking(slot: dict[str, Any], patient: str, visit: str = "follow-up") -> dict[str, Any]:
    return {
        "resourceType": "Appointment",
        "status": "booked",
        "slot": [{"reference": f"Slot/{slot['id']}"}],
        "appointmentType": {"coding": [{"system": VISIT_TYPES, "code": visit}]},
        "participant": [{"actor": {"reference": f"Patient/{patient}"}, "status": "accepted"}],
        "comment": "first visit",
    }


def test_book_a_free_slot_then_the_same_slot_again_is_409(cloud: Cloud, reminders: RecordedReminders) -> None:
    schedule, patient, _ = a_clinic()
    slots = free_slots(schedule)
    assert slots
    assert slots[0]["status"] == "free"
    status, headers, booked = send("POST", "/fhir/R4/Appointment", DESK, booking(slots[0], patient))
    assert status == 201, booked
    assert headers["Location"].endswith(f"/Appointment/{booked['id']}/_history/1")
    assert (booked["status"], booked["start"]) == ("booked", slots[0]["start"])
    assert reminders.asked == [("booked", "acme", booked["id"], booked["start"])]
    status, _, outcome = send("POST", "/fhir/R4/Appointment", DESK, booking(slots[0], patient))
    assert status == 409
    assert outcome["resourceType"] == "OperationOutcome"
    assert "no longer free" in outcome["issue"][0]["diagnostics"]
    assert slots[0]["id"] not in [s["id"] for s in free_slots(schedule)]
    status, _, busy = send("GET", "/fhir/R4/Slot", DESK, query={"schedule": [schedule], "status": ["busy"]})
    assert [e["resource"]["id"] for e in busy["entry"]] == [slots[0]["id"]]


def test_bad_bookings_answer_422_naming_the_element(cloud: Cloud, reminders: RecordedReminders) -> None:
    schedule, patient, _ = a_clinic()
    slot = free_slots(schedule)[0]
    past = {**slot, "id": f"{schedule}.202001061400.20"}
    for body, said in (
        (booking(past, patient), "in the past"),
        (booking(slot, patient, visit="massage"), "unknown visit type"),
        ({**booking(slot, patient), "slot": []}, "exactly one free Slot"),
    ):
        status, _, outcome = send("POST", "/fhir/R4/Appointment", DESK, body)
        assert status == 422, outcome
        assert said in outcome["issue"][0]["diagnostics"]
        assert outcome["issue"][0]["expression"]
    assert reminders.asked == []


def test_cancel_reschedule_check_in_and_complete_through_operations(
    cloud: Cloud, reminders: RecordedReminders
) -> None:
    schedule, patient, _ = a_clinic()
    first, second = free_slots(schedule)[:2]
    appointment = created("/fhir/R4/Appointment", booking(first, patient), DESK)
    moved = {
        "resourceType": "Parameters",
        "parameter": [{"name": "slot", "valueReference": {"reference": f"Slot/{second['id']}"}}],
    }
    status, _, answer = send("POST", f"/fhir/R4/Appointment/{appointment}/$reschedule", DESK, moved)
    assert (status, answer["start"]) == (200, second["start"]), answer
    assert first["id"] in [s["id"] for s in free_slots(schedule)]
    status, _, answer = send("POST", f"/fhir/R4/Appointment/{appointment}/$check-in", DESK)
    assert (status, answer["status"]) == (200, "arrived")
    status, _, answer = send("POST", f"/fhir/R4/Appointment/{appointment}/$cancel", DESK)
    assert status == 409
    assert "arrived" in answer["issue"][0]["diagnostics"]
    status, _, answer = send("POST", f"/fhir/R4/Appointment/{appointment}/$complete", DESK)
    assert (status, answer["status"]) == (200, "fulfilled")
    other = created("/fhir/R4/Appointment", booking(free_slots(schedule)[0], patient), DESK)
    reason = {"resourceType": "Parameters", "parameter": [{"name": "reason", "valueString": "weather"}]}
    status, _, answer = send("POST", f"/fhir/R4/Appointment/{other}/$cancel", DESK, reason)
    assert (status, answer["status"]) == (200, "cancelled")
    assert [a[0] for a in reminders.asked] == [
        "booked",
        "withdrawn",
        "booked",
        "withdrawn",
        "booked",
        "withdrawn",
    ]


def test_generic_writes_are_sent_to_the_operations(cloud: Cloud, reminders: RecordedReminders) -> None:
    schedule, patient, _ = a_clinic()
    appointment = created("/fhir/R4/Appointment", booking(free_slots(schedule)[0], patient), DESK)
    _, _, current = send("GET", f"/fhir/R4/Appointment/{appointment}", DESK)
    status, _, outcome = send(
        "PUT", f"/fhir/R4/Appointment/{appointment}", DESK, {**current, "status": "cancelled"}
    )
    assert status == 409
    assert "$cancel" in outcome["issue"][0]["diagnostics"]
    status, _, outcome = send("DELETE", f"/fhir/R4/Appointment/{appointment}", DESK)
    assert status == 409
    assert len(reminders.asked) == 1


def test_a_patient_books_and_cancels_their_own_visit(cloud: Cloud, reminders: RecordedReminders) -> None:
    schedule, patient, _ = a_clinic()
    me = caller(Role.PATIENT, patient_id=patient)
    slots = free_slots(schedule, me)
    mine = {
        "resourceType": "Appointment",
        "slot": [{"reference": f"Slot/{slots[0]['id']}"}],
        "appointmentType": {"coding": [{"system": VISIT_TYPES, "code": "follow-up"}]},
    }
    status, _, booked = send("POST", "/fhir/R4/Appointment", me, mine)
    assert status == 201, booked
    assert {"actor": {"reference": f"Patient/{patient}"}, "status": "accepted"} in booked["participant"]
    status, _, _ = send("POST", f"/fhir/R4/Appointment/{booked['id']}/$check-in", me)
    assert status == 403
    status, _, answer = send("POST", f"/fhir/R4/Appointment/{booked['id']}/$cancel", me)
    assert (status, answer["status"]) == (200, "cancelled")
    status, _, _ = send("GET", "/scheduling/agenda", me, query={"date": [next_monday()]})
    assert status == 403
    status, _, _ = send("GET", f"/scheduling/schedules/{schedule}/working-week", me)
    assert status == 403


def test_another_clinic_sees_no_schedule_slot_or_visit_of_this_one(
    cloud: Cloud, reminders: RecordedReminders
) -> None:
    schedule, patient, _ = a_clinic()
    appointment = created("/fhir/R4/Appointment", booking(free_slots(schedule)[0], patient), DESK)
    for role in (Role.ADMIN, Role.FRONT_DESK, Role.PHYSICIAN):
        beta = caller(role, tenant="beta")
        status, _, _ = send("GET", "/fhir/R4/Slot", beta, query={"schedule": [schedule], "status": ["free"]})
        assert status == 404
        status, _, _ = send("GET", f"/scheduling/schedules/{schedule}/working-week", beta)
        assert status == 404
        status, _, _ = send("POST", f"/fhir/R4/Appointment/{appointment}/$cancel", beta)
        assert status in (403, 404)
        status, _, _ = send("PUT", f"/scheduling/schedules/{schedule}/working-week", beta, WEEKDAYS_9_TO_5)
        assert status in (403, 404)
    status, _, answer = send(
        "GET", "/scheduling/agenda", caller(Role.ADMIN, tenant="beta"), query={"date": [next_monday()]}
    )
    assert (status, answer["visits"]) == (200, [])
    _, _, current = send("GET", f"/fhir/R4/Appointment/{appointment}", DESK)
    assert current["status"] == "booked"


def test_the_agenda_lists_the_days_visits_in_local_time(cloud: Cloud, reminders: RecordedReminders) -> None:
    schedule, patient, practitioner = a_clinic()
    slots = free_slots(schedule)
    for slot in (slots[3], slots[0]):
        created("/fhir/R4/Appointment", booking(slot, patient), DESK)
    status, _, agenda = send(
        "GET",
        "/scheduling/agenda",
        DESK,
        query={"date": [next_monday()], "practitioner": [f"Practitioner/{practitioner}"]},
    )
    assert status == 200, agenda
    assert [v["local_start"] for v in agenda["visits"]] == ["09:00", "10:00"]
    assert agenda["visits"][0]["patient_name"] == "Okafor"
    assert agenda["visits"][0]["visit_type"] == "follow-up"
    status, _, _ = send("GET", "/scheduling/agenda", DESK, query={"date": ["monday"]})
    assert status == 400


def test_settings_are_validated_and_changed_by_admins_only(
    cloud: Cloud, reminders: RecordedReminders
) -> None:
    status, _, settings = send("GET", "/scheduling/settings", DESK)
    assert status == 200
    assert settings["time_zone"] == "UTC"
    assert [t["code"] for t in settings["visit_types"]][:2] == ["urgent", "new-symptom"]
    status, _, _ = send("PUT", "/scheduling/settings", DESK, {"time_zone": "Europe/Berlin"})
    assert status == 403
    status, _, outcome = send(
        "PUT", "/scheduling/settings", ADMIN, {"time_zone": "Mars/Olympus", "reminder_quiet_hours": "late"}
    )
    assert status == 400
    assert "IANA" in outcome["issue"][0]["diagnostics"]
    assert "HH:MM" in outcome["issue"][0]["diagnostics"]
    status, _, settings = send(
        "PUT", "/scheduling/settings", ADMIN, {"time_zone": "Europe/Berlin", "reminder_offsets_hours": [24]}
    )
    assert (status, settings["time_zone"], settings["reminder_offsets_hours"]) == (200, "Europe/Berlin", [24])
    _, _, settings = send("GET", "/scheduling/settings", caller(Role.ADMIN, tenant="beta"))
    assert settings["time_zone"] == "UTC"


def test_a_working_week_with_mistakes_names_them_all(cloud: Cloud, reminders: RecordedReminders) -> None:
    schedule, _, _ = a_clinic()
    status, _, outcome = send(
        "PUT",
        f"/scheduling/schedules/{schedule}/working-week",
        ADMIN,
        {
            "hours": [
                {"day": "funday", "start": "09:00", "end": "17:00"},
                {"day": "monday", "start": "09:07", "end": "17:00"},
            ]
        },
    )
    assert status == 400
    message = outcome["issue"][0]["diagnostics"]
    assert "hours[0].day" in message
    assert "hours[1].start" in message
    status, _, week = send("GET", f"/scheduling/schedules/{schedule}/working-week", DESK)
    assert status == 200
    assert week["hours"][0] == {"day": "monday", "start": "09:00", "end": "17:00"}


def test_bookings_leave_no_patient_detail_in_the_logs(
    cloud: Cloud, reminders: RecordedReminders, capfd
) -> None:
    schedule, patient, _ = a_clinic()
    slots = free_slots(schedule)
    secret = "tells staff about a painful divorce"
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(api.logger.registered_formatter)
    api.logger.addHandler(handler)
    try:
        created("/fhir/R4/Appointment", {**booking(slots[0], patient), "comment": secret}, DESK)
        send("POST", "/fhir/R4/Appointment", DESK, {**booking(slots[0], patient), "comment": secret})  # 409
        _, _, agenda = send("GET", "/scheduling/agenda", DESK, query={"date": [next_monday()]})
    finally:
        api.logger.removeHandler(handler)
    assert agenda["visits"][0]["comment"] == secret
    logged = stream.getvalue() + "".join(capfd.readouterr())
    assert "request refused" in logged  # the function's own log lines were captured
    assert secret not in logged
    assert "Okafor" not in logged
