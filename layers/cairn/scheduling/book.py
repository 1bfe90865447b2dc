"""The appointment book: free slots, and booking, moving and closing visits, for one caller.

Free slots are computed, not stored: a Schedule's working week (cairn.scheduling.working_weeks)
laid on the visit type's grid (cairn.scheduling.slots), less the time already held. A booking is
one atomic write of the Appointment, its Slot (stored as busy under the free slot's id) and a
hold on each 5 minutes of the practitioner's time (cairn.scheduling.time_holds): of two
bookings of overlapping time exactly one commits, the other is answered SlotTaken (409).
Moving a visit releases the old holds and takes the new ones in the same write; cancelling
releases them. Reminders are planned after each booking and withdrawn after each change that
ends them (the reminder workflow re-checks the visit before sending anyway).

Staff book any visit type at any open time from now on; patients book themselves within the
clinic's self-booking rules (lead time, horizon, visit types), for their own record only.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any, NoReturn

from cairn.clock import Clock
from cairn.errors import (
    AccessDenied,
    HoldTaken,
    ImmutableResource,
    InvalidResource,
    InvalidSearch,
    ResourceExists,
    VersionConflict,
)
from cairn.fhir.outcome import issue
from cairn.fhir.search import parse_search
from cairn.records.service import RecordService
from cairn.scheduling import time_holds
from cairn.scheduling.availability import Availability, InvalidAvailability, wall_instant
from cairn.scheduling.clinic import ClinicSchedule
from cairn.scheduling.ports import BaseAppointmentReminders
from cairn.scheduling.slot_ids import SlotId, require_short_schedule_id
from cairn.scheduling.slots import (
    MAX_SEARCH_DAYS,
    BookingRefused,
    InvalidSchedulingRequest,
    RefusalReason,
    check_bookable,
    free_slots,
)
from cairn.scheduling.visit_types import VISIT_TYPE_SYSTEM, UnknownVisitType, VisitType, visit_type
from cairn.scheduling.working_week import parse_working_week
from cairn.scheduling.working_weeks import BaseWorkingWeeks
from multitenant.context import Role

STAFF_HORIZON_DAYS = 365
# Times are stored in UTC; the zone they were booked in travels with them (FHIR's extension).
TIME_ZONE_EXTENSION = "http://hl7.org/fhir/StructureDefinition/timezone"
DEFAULT_SEARCH_DAYS = 7
BOOKABLE_STATUSES = ("booked", "pending")
MAX_COMMENT = 500
AGENDA_LIMIT = 500  # visits one day's agenda lists; a clinic day holds far fewer


class SlotTaken(HoldTaken):
    """The time asked for is no longer free: someone booked it first (409)."""

    def __init__(self) -> None:
        super().__init__(
            "slot",
            "",
            "that time is no longer free: someone booked it first; "
            "search the free slots again and choose another",
        )


class InvalidTransition(ImmutableResource):
    """A status change the visit's current status does not allow (409)."""


@dataclass(frozen=True)
class AgendaEntry:
    """One visit of a day's agenda, for the clinic's staff."""

    appointment: str
    start: str
    end: str
    local_start: str
    status: str
    visit_type: str | None
    patient: str | None
    patient_name: str | None
    practitioner: str | None
    comment: str | None


@dataclass(frozen=True)
class _Booking:
    """What a booking or a move is about: the slot, its schedule, practitioner and visit type."""

    slot: SlotId
    schedule: dict[str, Any]
    practitioner_id: str
    location: str | None
    visit: VisitType
    availability: Availability


class AppointmentBook:
    """The appointment book of one caller (records: their RecordService)."""

    def __init__(
        self,
        records: RecordService,
        working_weeks: BaseWorkingWeeks,
        clinic: Callable[[], ClinicSchedule],
        reminders: BaseAppointmentReminders,
        now: Clock,
        new_id: Callable[[], str] = lambda: str(uuid.uuid4()),
    ) -> None:
        if working_weeks.context != records.context:
            raise ValueError("the working weeks must belong to the caller's clinic")
        self.records = records
        self.context = records.context
        self._weeks = working_weeks
        self._clinic = clinic
        self._reminders = reminders
        self._now = now
        self._new_id = new_id

    @property
    def _is_patient(self) -> bool:
        return self.context.role is Role.PATIENT

    # ------------------------------------------------------------ free slots

    def free_slots(
        self, schedule_id: str, start: datetime | None, end: datetime | None, visit_code: str | None
    ) -> list[dict[str, Any]]:
        """The free Slots of a schedule for one visit type (the clinic's default when None)
        between `start` and `end` (default: now and a week later; at most 90 days), in time order."""
        clinic = self._clinic()
        now = self._now()
        schedule = self.schedule(schedule_id)
        require_short_schedule_id(schedule_id)
        visit = self._visit_type(clinic, visit_code, "Slot.appointment-type")
        lead, horizon = self._limits(clinic, visit, "Slot.appointment-type")
        start = max(start or now, now)
        end = min(end or start + timedelta(days=DEFAULT_SEARCH_DAYS), now + timedelta(days=horizon))
        if end <= start:
            return []
        if end - start > timedelta(days=MAX_SEARCH_DAYS):
            raise InvalidSearch(f"search at most {MAX_SEARCH_DAYS} days of slots at a time")
        if schedule.get("active") is False:
            return []
        availability = self._availability(schedule_id, clinic)
        practitioner_id, _ = _actors(schedule)
        lower, upper = time_holds.window(start - timedelta(days=1), end + timedelta(days=1))
        held = self.records.records.holds(time_holds.scope(practitioner_id), lower, upper)
        try:
            found = free_slots(
                availability, visit.minutes, start, end, time_holds.busy(held), now=now, lead_minutes=lead
            )
        except InvalidSchedulingRequest as invalid:
            raise InvalidSearch(str(invalid)) from None
        return [
            _slot_resource(SlotId(schedule_id, slot.start, visit.minutes), visit, "free") for slot in found
        ]

    # --------------------------------------------------------------- booking

    def book(self, proposed: object) -> dict[str, Any]:
        """Book the free Slot `proposed` (an Appointment) references; SlotTaken if someone was
        quicker, InvalidResource naming the element for every other refusal."""
        if not isinstance(proposed, dict) or proposed.get("resourceType") != "Appointment":
            raise InvalidResource([issue("invalid", "send an Appointment resource", "Appointment")])
        status = proposed.get("status", "booked")
        if status not in BOOKABLE_STATUSES:
            raise InvalidResource(
                [
                    issue(
                        "business-rule",
                        "a new booking is booked (or pending, to be confirmed)",
                        "Appointment.status",
                    )
                ]
            )
        clinic = self._clinic()
        slot = SlotId.parse(_single_slot(proposed), "Appointment.slot[0]")
        visit = self._visit_type(clinic, _visit_code(proposed), "Appointment.appointmentType")
        booking = self._booking(clinic, slot, visit, proposed)
        patient = self._patient(proposed)
        self._check_time(clinic, booking, except_holder=None)
        appointment_id = self._new_id()
        appointment = {
            "resourceType": "Appointment",
            "id": appointment_id,
            "status": status,
            "appointmentType": _visit_coding(visit),
            "start": _instant(slot.start),
            "end": _instant(slot.end),
            "minutesDuration": slot.minutes,
            "slot": [{"reference": f"Slot/{slot}"}],
            "created": self._now().astimezone(UTC).date().isoformat(),
            "participant": _participants(patient, booking),
            **_kept(proposed),
            "extension": [{"url": TIME_ZONE_EXTENSION, "valueCode": clinic.zone}],
        }
        slot_writes = [self._slot_write(slot, visit, "busy")]
        keys = time_holds.steps(slot.start, slot.end)
        written = self._commit(
            "book",
            appointment_id,
            [(appointment, None), *slot_writes],
            time_holds.takes(booking.practitioner_id, keys, appointment_id),
        )
        if written["status"] == "booked":  # a pending visit is reminded once it is confirmed
            self._reminders.booked(self.context, written)
        return written

    def confirm(self, appointment_id: str) -> dict[str, Any]:
        """Confirm a pending visit (pending → booked); its reminders are planned now."""
        written = self._advance(appointment_id, ("pending",), "booked", "confirm")
        self._reminders.booked(self.context, written)
        return written

    def reschedule(self, appointment_id: str, slot_reference: object) -> dict[str, Any]:
        """Move a booked (or pending) visit to another free Slot of the same visit length."""
        current = self._current(appointment_id, BOOKABLE_STATUSES, "moved")
        clinic = self._clinic()
        slot = SlotId.parse(slot_reference, "Parameters.parameter[slot]")
        old = SlotId.parse(_single_slot(current), "Appointment.slot[0]")
        if str(slot) == str(old):
            raise InvalidResource(
                [
                    issue(
                        "business-rule",
                        "the visit is already booked in that slot",
                        "Parameters.parameter[slot]",
                    )
                ]
            )
        visit = self._visit_type(clinic, _visit_code(current), "Appointment.appointmentType")
        booking = self._booking(clinic, slot, visit, current)
        self._check_time(clinic, booking, except_holder=appointment_id)
        old_practitioner, _ = _actors(self.schedule(old.schedule_id))
        old_keys = time_holds.steps(old.start, old.end)
        new_keys = time_holds.steps(slot.start, slot.end)
        same = old_practitioner == booking.practitioner_id
        holds = [
            *time_holds.releases(
                old_practitioner, [k for k in old_keys if not same or k not in new_keys], appointment_id
            ),
            *time_holds.takes(
                booking.practitioner_id,
                [k for k in new_keys if not same or k not in old_keys],
                appointment_id,
            ),
        ]
        moved = {
            **current,
            "start": _instant(slot.start),
            "end": _instant(slot.end),
            "slot": [{"reference": f"Slot/{slot}"}],
            "participant": _participants(_patient_of(current), booking, current.get("participant") or []),
        }
        writes = [
            (moved, current),
            self._slot_write(old, visit, "free"),
            self._slot_write(slot, visit, "busy"),
        ]
        written = self._commit("reschedule", appointment_id, writes, holds)
        self._reminders.withdrawn(self.context, current)
        if written["status"] == "booked":
            self._reminders.booked(self.context, written)
        return written

    def cancel(self, appointment_id: str, reason: str | None) -> dict[str, Any]:
        """Cancel a booked or pending visit: its time is freed and its reminders stop."""
        current = self._current(appointment_id, BOOKABLE_STATUSES, "cancelled")
        slot = SlotId.parse(_single_slot(current), "Appointment.slot[0]")
        practitioner_id, _ = _actors(self.schedule(slot.schedule_id))
        visit = self._visit_type(self._clinic(), _visit_code(current), "Appointment.appointmentType")
        cancelled = {**current, "status": "cancelled"}
        if reason:
            cancelled["cancelationReason"] = {"text": _short(reason, "reason")}
        holds = time_holds.releases(practitioner_id, time_holds.steps(slot.start, slot.end), appointment_id)
        written = self._commit(
            "cancel", appointment_id, [(cancelled, current), self._slot_write(slot, visit, "free")], holds
        )
        self._reminders.withdrawn(self.context, current)
        return written

    def check_in(self, appointment_id: str) -> dict[str, Any]:
        """The patient has arrived (booked → arrived); reminders stop."""
        return self._advance(appointment_id, ("booked",), "arrived", "check-in")

    def complete(self, appointment_id: str) -> dict[str, Any]:
        """The visit took place (arrived or booked → fulfilled)."""
        return self._advance(appointment_id, ("arrived", "booked"), "fulfilled", "complete")

    def no_show(self, appointment_id: str) -> dict[str, Any]:
        """The patient did not come (booked or pending → noshow), once the start has passed."""
        current = self._current(appointment_id, BOOKABLE_STATUSES, "marked as a no-show")
        if _parse_instant(current["start"]) > self._now():
            raise InvalidTransition("a visit is marked as a no-show once its start has passed")
        return self._advance(appointment_id, BOOKABLE_STATUSES, "noshow", "no-show", current)

    def agenda(self, day: date, practitioner: str | None) -> list[AgendaEntry]:
        """The visits of one local day of the clinic, for one practitioner or all, in time order."""
        if self._is_patient:
            self._refuse("agenda", AccessDenied("the agenda is for the clinic's staff"))
        clinic = self._clinic()
        start = wall_instant(day, time(0), clinic.tz)
        end = wall_instant(day + timedelta(days=1), time(0), clinic.tz)
        params = {
            "date": [f"ge{_instant(start)}", f"lt{_instant(end)}"],
            "_count": ["100"],
            "_sort": ["date"],
            "_include": ["Appointment:patient"],
        }
        if practitioner:
            params["practitioner"] = [practitioner]
        query = parse_search("Appointment", params)
        visits: list[dict[str, Any]] = []
        patients: dict[str, dict[str, Any]] = {}
        while True:
            page = self.records.search(query)
            visits += page.resources
            patients.update(
                {f"Patient/{p['id']}": p for p in page.included if p["resourceType"] == "Patient"}
            )
            if not page.next_cursor or len(visits) >= AGENDA_LIMIT:
                break
            query = query.with_cursor(page.next_cursor)
        return [_agenda_entry(visit, patients, clinic) for visit in visits]

    # --------------------------------------------------------------- helpers

    def schedule(self, schedule_id: str) -> dict[str, Any]:
        """A Schedule of the clinic (read and audited like any record)."""
        return self.records.read("Schedule", schedule_id)

    def _advance(
        self,
        appointment_id: str,
        allowed: Sequence[str],
        status: str,
        subtype: str,
        current: dict[str, Any] | None = None,
    ) -> dict[str, Any]:
        current = current or self._current(appointment_id, allowed, f"given the status {status}")
        if self._is_patient:
            self._refuse(subtype, AccessDenied(f"the clinic's staff record a {subtype}"))
        written = self._commit(subtype, appointment_id, [({**current, "status": status}, current)], [])
        if status not in ("fulfilled", "booked"):
            self._reminders.withdrawn(self.context, current)
        return written

    def _refuse(self, subtype: str, error: AccessDenied) -> NoReturn:
        """Audit a refusal that no record read saw, and raise it."""
        self.records.audit_failure(subtype, "Appointment", error)
        raise error

    def _current(self, appointment_id: str, allowed: Sequence[str], verb: str) -> dict[str, Any]:
        current = self.records.read("Appointment", appointment_id)
        if current.get("status") not in allowed:
            raise InvalidTransition(
                f"Appointment/{appointment_id} is {current.get('status')}; only a visit that is "
                f"{' or '.join(allowed)} can be {verb}"
            )
        return current

    def _booking(
        self, clinic: ClinicSchedule, slot: SlotId, visit: VisitType, proposed: Mapping[str, Any]
    ) -> _Booking:
        schedule = self.schedule(slot.schedule_id)
        if schedule.get("active") is False:
            raise InvalidResource(
                [issue("business-rule", "that schedule is not in use", "Appointment.slot[0]")]
            )
        practitioner_id, location = _actors(schedule)
        if visit.minutes != slot.minutes:
            raise InvalidResource(
                [
                    issue(
                        "business-rule",
                        f"the slot lasts {slot.minutes} minutes and a {visit.display.lower()} "
                        f"{visit.minutes}: search the free slots of that visit type",
                        "Appointment.appointmentType",
                    )
                ]
            )
        named = _participant_ids(proposed, "Practitioner")
        if named and named != {practitioner_id}:
            raise InvalidResource(
                [
                    issue(
                        "business-rule",
                        "the slot belongs to another practitioner's schedule than the one named",
                        "Appointment.participant",
                    )
                ]
            )
        time_holds.require_on_step(slot.start, slot.minutes, "Appointment.slot[0]")
        return _Booking(
            slot, schedule, practitioner_id, location, visit, self._availability(slot.schedule_id, clinic)
        )

    def _check_time(self, clinic: ClinicSchedule, booking: _Booking, except_holder: str | None) -> None:
        lead, horizon = self._limits(clinic, booking.visit, "Appointment.appointmentType")
        slot = booking.slot
        lower, upper = time_holds.window(slot.start - timedelta(days=1), slot.end + timedelta(days=1))
        held = self.records.records.holds(time_holds.scope(booking.practitioner_id), lower, upper)
        try:
            check_bookable(
                booking.availability,
                slot.start,
                slot.minutes,
                time_holds.busy(held, except_holder=except_holder),
                now=self._now(),
                lead_minutes=lead,
                horizon_days=horizon,
            )
        except BookingRefused as refused:
            if refused.reason is RefusalReason.OVERLAPS_BOOKING:
                raise SlotTaken() from None
            raise InvalidResource([issue("business-rule", str(refused), "Appointment.slot[0]")]) from None

    def _limits(self, clinic: ClinicSchedule, visit: VisitType, element: str) -> tuple[int, int]:
        """(lead minutes, horizon days) for this caller booking `visit`."""
        if not self._is_patient:
            return 0, STAFF_HORIZON_DAYS
        rules = clinic.self_booking
        if not rules.allows(visit.code):
            bookable = ", ".join(sorted(rules.visit_types)) or "none"
            raise InvalidResource(
                [
                    issue(
                        "business-rule",
                        f"patients of this clinic book these visit types themselves: {bookable}; "
                        "call the clinic for the others",
                        element,
                    )
                ]
            )
        return rules.lead_minutes, rules.horizon_days

    def _visit_type(self, clinic: ClinicSchedule, code: str | None, element: str) -> VisitType:
        if code is None:
            bookable = [
                t for t in clinic.visit_types if not self._is_patient or clinic.self_booking.allows(t.code)
            ]
            if not bookable:
                raise InvalidResource(
                    [issue("business-rule", "this clinic offers no visit type to book", element)]
                )
            return bookable[0]
        try:
            return visit_type(code, clinic.visit_types)
        except UnknownVisitType as unknown:
            raise InvalidResource([issue("code-invalid", str(unknown), element)]) from None

    def _availability(self, schedule_id: str, clinic: ClinicSchedule) -> Availability:
        document = self._weeks.get(schedule_id)
        if document is None:
            raise InvalidResource(
                [
                    issue(
                        "business-rule",
                        "this schedule has no working hours yet: an admin sets them with PUT "
                        f"/scheduling/schedules/{schedule_id}/working-week",
                        "Slot.schedule",
                    )
                ]
            )
        try:
            return parse_working_week(document, clinic.zone)
        except InvalidAvailability as invalid:
            raise InvalidResource(
                [issue("business-rule", f"the stored working week is unusable: {invalid}", "Slot.schedule")]
            ) from None

    def _patient(self, proposed: Mapping[str, Any]) -> str:
        patients = _participant_ids(proposed, "Patient")
        if self._is_patient:
            if patients - {self.context.patient_id}:
                raise AccessDenied("a patient books visits for their own record only")
            return str(self.context.patient_id)
        if len(patients) != 1:
            raise InvalidResource(
                [
                    issue(
                        "required",
                        'name the patient as one participant {"actor": {"reference": "Patient/<id>"}}',
                        "Appointment.participant",
                    )
                ]
            )
        return patients.pop()

    def _slot_write(
        self, slot: SlotId, visit: VisitType, status: str
    ) -> tuple[dict[str, Any], dict[str, Any] | None]:
        stored = self.records.records.current("Slot", str(slot))
        current = stored.resource if stored is not None else None
        if stored is not None and current is None:  # a deleted Slot record: its id stays taken
            return {}, None
        return _slot_resource(slot, visit, status), current

    def _commit(
        self,
        subtype: str,
        appointment_id: str,
        writes: list[tuple[dict[str, Any], dict[str, Any] | None]],
        holds: list[Any],
    ) -> dict[str, Any]:
        try:
            written = self.records.commit_scheduled(
                subtype, appointment_id, [w for w in writes if w[0]], holds
            )
        except (HoldTaken, ResourceExists, VersionConflict):
            raise SlotTaken() from None
        return written[0]


def _single_slot(appointment: Mapping[str, Any]) -> object:
    slots = appointment.get("slot")
    if not isinstance(slots, list) or len(slots) != 1 or not isinstance(slots[0], dict):
        raise InvalidResource(
            [
                issue(
                    "required",
                    'reference exactly one free Slot: "slot": [{"reference": "Slot/<id>"}]',
                    "Appointment.slot",
                )
            ]
        )
    return slots[0].get("reference")


def _visit_code(appointment: Mapping[str, Any]) -> str | None:
    codings = (appointment.get("appointmentType") or {}).get("coding") or []
    codes = [c.get("code") for c in codings if isinstance(c, dict) and c.get("system") == VISIT_TYPE_SYSTEM]
    if not codes:
        if appointment.get("appointmentType") is not None:
            raise InvalidResource(
                [
                    issue(
                        "code-invalid",
                        f"appointmentType needs a coding of the clinic's visit types ({VISIT_TYPE_SYSTEM})",
                        "Appointment.appointmentType",
                    )
                ]
            )
        return None
    return str(codes[0])


def _visit_coding(visit: VisitType) -> dict[str, Any]:
    return {
        "coding": [{"system": VISIT_TYPE_SYSTEM, "code": visit.code, "display": visit.display}],
        "text": visit.display,
    }


def _actors(schedule: Mapping[str, Any]) -> tuple[str, str | None]:
    """The practitioner id and the Location reference (if any) a Schedule is for."""
    references = [a.get("reference", "") for a in schedule.get("actor") or [] if isinstance(a, dict)]
    practitioners = [r.removeprefix("Practitioner/") for r in references if r.startswith("Practitioner/")]
    if len(practitioners) != 1:
        raise InvalidResource(
            [
                issue(
                    "business-rule",
                    "a schedule that offers slots names exactly one Practitioner as actor",
                    "Schedule.actor",
                )
            ]
        )
    location = next((r for r in references if r.startswith("Location/")), None)
    return practitioners[0], location


def _participant_ids(appointment: Mapping[str, Any], resource_type: str) -> set[str]:
    found = set()
    for participant in appointment.get("participant") or []:
        reference = (
            ((participant or {}).get("actor") or {}).get("reference", "")
            if isinstance(participant, dict)
            else ""
        )
        if isinstance(reference, str) and reference.startswith(f"{resource_type}/"):
            found.add(reference.removeprefix(f"{resource_type}/"))
    return found


def _patient_of(appointment: Mapping[str, Any]) -> str:
    patients = _participant_ids(appointment, "Patient")
    return sorted(patients)[0] if patients else ""


def _participants(
    patient_id: str, booking: _Booking, previous: Sequence[object] | None = None
) -> list[dict[str, Any]]:
    """The patient, the schedule's practitioner and location, and anyone else the visit had."""
    people = [
        {"actor": {"reference": f"Patient/{patient_id}"}, "status": "accepted"},
        {"actor": {"reference": f"Practitioner/{booking.practitioner_id}"}, "status": "accepted"},
    ]
    if booking.location:
        people.append({"actor": {"reference": booking.location}, "status": "accepted"})
    others = [
        p
        for p in previous or []
        if isinstance(p, dict)
        and not str((p.get("actor") or {}).get("reference", "")).startswith(
            ("Patient/", "Practitioner/", "Location/")
        )
    ]
    return [*people, *others]


def _kept(proposed: Mapping[str, Any]) -> dict[str, Any]:
    """What a booking keeps of the client's Appointment: comment, description, reasons, insurance."""
    kept: dict[str, Any] = {}
    for name in ("comment", "description", "patientInstruction"):
        if isinstance(proposed.get(name), str):
            kept[name] = _short(proposed[name], name)
    for name in ("reasonCode", "reasonReference", "supportingInformation", "basedOn", "priority"):
        if proposed.get(name) is not None:
            kept[name] = proposed[name]
    return kept


def _short(text: str, element: str) -> str:
    if len(text) > MAX_COMMENT:
        raise InvalidResource(
            [issue("too-long", f"at most {MAX_COMMENT} characters", f"Appointment.{element}")]
        )
    return text


def _slot_resource(slot: SlotId, visit: VisitType, status: str) -> dict[str, Any]:
    return {
        "resourceType": "Slot",
        "id": str(slot),
        "schedule": {"reference": f"Schedule/{slot.schedule_id}"},
        "status": status,
        "start": _instant(slot.start),
        "end": _instant(slot.end),
        "appointmentType": _visit_coding(visit),
    }


def _agenda_entry(
    visit: Mapping[str, Any], patients: Mapping[str, dict[str, Any]], clinic: ClinicSchedule
) -> AgendaEntry:
    patient = next((f"Patient/{p}" for p in sorted(_participant_ids(visit, "Patient"))), None)
    practitioner = next((f"Practitioner/{p}" for p in sorted(_participant_ids(visit, "Practitioner"))), None)
    codings = (visit.get("appointmentType") or {}).get("coding") or [{}]
    start = _parse_instant(str(visit.get("start")))
    return AgendaEntry(
        appointment=str(visit["id"]),
        start=str(visit.get("start")),
        end=str(visit.get("end")),
        local_start=start.astimezone(clinic.tz).strftime("%H:%M"),
        status=str(visit.get("status")),
        visit_type=codings[0].get("code"),
        patient=patient,
        patient_name=_name(patients.get(patient or "")),
        practitioner=practitioner,
        comment=visit.get("comment"),
    )


def _name(patient: Mapping[str, Any] | None) -> str | None:
    for name in (patient or {}).get("name") or []:
        parts = [*name.get("given", []), name.get("family", "")]
        text = name.get("text") or " ".join(p for p in parts if p)
        if text:
            return str(text)
    return None


def _instant(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _parse_instant(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


__all__ = ["AgendaEntry", "AppointmentBook", "InvalidTransition", "SlotTaken"]
