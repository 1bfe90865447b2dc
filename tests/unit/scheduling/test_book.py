"""The appointment book over fakes: free slots, booking, refusals, moving and closing visits,
patients booking themselves, and the holds that make double-booking impossible."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from cairn.errors import AccessDenied, ImmutableResource, InvalidResource, ResourceNotFound
from cairn.records.service import RecordService
from cairn.runtime import WRITE_GUARDS
from cairn.scheduling.book import AppointmentBook, InvalidTransition, SlotTaken
from cairn.scheduling.clinic import ClinicSchedule
from cairn.scheduling.slot_ids import SlotId
from multitenant.context import Role
from tests.unit.fakes import FakeAuditTrail, FakeRecords
from tests.unit.scheduling.book_fakes import Clinic, FakeWorkingWeeks, appointment

MONDAY = datetime(2026, 12, 7, 5, 0, tzinfo=UTC)  # Monday 00:00 in New York


@pytest.fixture
def clinic() -> Clinic:
    return Clinic()


def _slots(clinic: Clinic, schedule: str, visit: str = "follow-up", days: int = 1) -> list[dict]:
    return clinic.book().free_slots(schedule, MONDAY, MONDAY + timedelta(days=days), visit)


def _issue(error: InvalidResource) -> str:
    return " ".join(i["diagnostics"] for i in error.issues)


def test_free_slots_follow_the_working_day_in_the_clinics_zone(clinic: Clinic) -> None:
    schedule, _, _ = clinic.directory()
    slots = _slots(clinic, schedule)
    assert slots[0]["start"] == "2026-12-07T14:00:00Z"  # 09:00 EST
    assert slots[-1]["end"] == "2026-12-07T21:50:00Z"  # 16:50: the grid restarts at 12:30, no 20 minutes left
    assert "2026-12-07T17:00:00Z" not in [s["start"] for s in slots]  # lunch 12:00-12:30
    assert len(slots) == 22  # 7.5 hours of 20-minute visits, the grid restarting after lunch
    assert {s["status"] for s in slots} == {"free"}
    assert slots[0]["id"] == f"{schedule}.202612071400.20"


def test_a_booking_stores_the_visit_its_busy_slot_and_holds_and_plans_reminders(clinic: Clinic) -> None:
    schedule, patient, practitioner = clinic.directory()
    first = _slots(clinic, schedule)[0]
    booked = clinic.book().book(appointment(first["id"], patient, comment="knee pain", description="x"))
    assert booked["status"] == "booked"
    assert (booked["start"], booked["end"], booked["minutesDuration"]) == (first["start"], first["end"], 20)
    actors = [p["actor"]["reference"] for p in booked["participant"]]
    assert actors[:2] == [f"Patient/{patient}", f"Practitioner/{practitioner}"]
    assert booked["comment"] == "knee pain"
    assert booked["extension"] == [
        {"url": "http://hl7.org/fhir/StructureDefinition/timezone", "valueCode": "America/New_York"}
    ]
    slot = clinic.records(clinic.context(Role.ADMIN)).read("Slot", first["id"])
    assert slot["status"] == "busy"
    assert len(clinic.held) == 4  # 20 minutes in 5-minute holds
    assert clinic.reminders.asked == [("booked", "acme", booked["id"], first["start"])]
    assert first["id"] not in [s["id"] for s in _slots(clinic, schedule)]


def test_a_taken_slot_is_refused_and_nothing_more_is_written(clinic: Clinic) -> None:
    schedule, patient, _ = clinic.directory()
    first = _slots(clinic, schedule)[0]
    clinic.book().book(appointment(first["id"], patient))
    versions = sum(len(v) for v in clinic.store.values())
    with pytest.raises(SlotTaken):
        clinic.book().book(appointment(first["id"], patient))
    assert sum(len(v) for v in clinic.store.values()) == versions


def test_an_overlapping_visit_of_another_length_is_refused_through_the_holds(clinic: Clinic) -> None:
    schedule, patient, _ = clinic.directory()
    clinic.book().book(appointment(f"{schedule}.202612071400.20", patient))  # 09:00-09:20
    with pytest.raises(SlotTaken):  # 09:10-09:50 is off the 40-minute grid, and overlaps 09:00-09:20
        clinic.book().book(appointment(f"{schedule}.202612071410.40", patient, visit="annual-wellness"))
    starts = [s["start"] for s in _slots(clinic, schedule, "annual-wellness")]
    assert "2026-12-07T14:00:00Z" not in starts


class ReadBeforeTheOtherCommitted(FakeRecords):
    """A repository whose hold reads ran before a concurrent booking committed: it sees no held
    time, while its commit still meets the other booking's holds (as DynamoDB would)."""

    def holds(self, scope: str, lower: str, upper: str) -> dict[str, str]:  # noqa: ARG002
        return {}


def test_holds_alone_refuse_a_race_the_first_check_did_not_see(clinic: Clinic) -> None:
    """Two bookings that both found the time free: the commit's holds decide, one wins."""
    schedule, patient, _ = clinic.directory()
    first = clinic.book().book(appointment(f"{schedule}.202612071400.20", patient))
    context = clinic.context()
    records = RecordService(
        context,
        ReadBeforeTheOtherCommitted(context, clinic.store, clinic.held),
        FakeAuditTrail(context, clinic.audit),
        clock=lambda: clinic.now,
        guards=WRITE_GUARDS,
    )
    late = AppointmentBook(
        records,
        FakeWorkingWeeks(context, clinic.weeks),
        lambda: ClinicSchedule.parse(clinic.settings),
        clinic.reminders,
        lambda: clinic.now,
    )
    with pytest.raises(SlotTaken):
        late.book(appointment(f"{schedule}.202612071405.20", patient))
    assert set(clinic.held.values()) == {first["id"]}  # only the first booking holds time


@pytest.mark.parametrize(
    ("slot_start", "minutes", "visit", "said"),
    [
        ("202612031400", 20, "follow-up", "in the past"),
        ("202612071200", 20, "follow-up", "outside working hours"),  # 07:00 EST
        ("202612071700", 20, "follow-up", "during a break"),
        ("202612121500", 20, "follow-up", "outside working hours"),  # a Saturday
        ("202612071400", 40, "follow-up", "the slot lasts 40 minutes"),
        ("202612071400", 20, "massage", "unknown visit type"),
        ("202612071402", 20, "follow-up", "5-minute boundary"),
    ],
)
def test_bad_bookings_are_refused_with_what_to_fix(
    clinic: Clinic, slot_start: str, minutes: int, visit: str, said: str
) -> None:
    schedule, patient, _ = clinic.directory()
    with pytest.raises(InvalidResource) as refused:
        clinic.book().book(appointment(f"{schedule}.{slot_start}.{minutes}", patient, visit=visit))
    assert said in _issue(refused.value)
    assert not clinic.held


def test_time_off_is_refused(clinic: Clinic) -> None:
    schedule, patient, _ = clinic.directory()
    clinic.weeks[("acme", schedule)] = {
        **clinic.weeks[("acme", schedule)],
        "timeOff": [
            {"start": "2026-12-07T00:00:00-05:00", "end": "2026-12-08T00:00:00-05:00", "reason": "conference"}
        ],
    }
    with pytest.raises(InvalidResource) as refused:
        clinic.book().book(appointment(f"{schedule}.202612071400.20", patient))
    assert "away" in _issue(refused.value)
    assert _slots(clinic, schedule) == []


def test_a_slot_of_another_practitioner_is_refused(clinic: Clinic) -> None:
    schedule, patient, _ = clinic.directory()
    other_schedule, _, other = clinic.directory()
    body = appointment(f"{schedule}.202612071400.20", patient)
    body["participant"].append({"actor": {"reference": f"Practitioner/{other}"}, "status": "accepted"})
    with pytest.raises(InvalidResource) as refused:
        clinic.book().book(body)
    assert "another practitioner" in _issue(refused.value)
    assert other_schedule != schedule


def test_a_practitioner_cannot_be_double_booked_through_two_schedules(clinic: Clinic) -> None:
    schedule, patient, practitioner = clinic.directory()
    admin = clinic.records(clinic.context(Role.ADMIN))
    second = admin.create(
        "Schedule", {"resourceType": "Schedule", "actor": [{"reference": f"Practitioner/{practitioner}"}]}
    ).resource["id"]
    clinic.weeks[("acme", second)] = clinic.weeks[("acme", schedule)]
    clinic.book().book(appointment(f"{schedule}.202612071400.20", patient))
    with pytest.raises(SlotTaken):
        clinic.book().book(appointment(f"{second}.202612071400.20", patient))


def test_another_clinics_schedule_is_not_found_and_its_holds_are_its_own(clinic: Clinic) -> None:
    schedule, patient, _ = clinic.directory("acme")
    beta_schedule, beta_patient, _ = clinic.directory("beta")
    beta = clinic.book(clinic.context(tenant="beta"))
    with pytest.raises(ResourceNotFound):
        beta.free_slots(schedule, MONDAY, MONDAY + timedelta(days=1), None)
    with pytest.raises(ResourceNotFound):
        beta.book(appointment(f"{schedule}.202612071400.20", beta_patient))
    clinic.book().book(appointment(f"{schedule}.202612071400.20", patient))
    beta.book(appointment(f"{beta_schedule}.202612071400.20", beta_patient))  # same time, other clinic
    assert {key[0] for key in clinic.held} == {"acme", "beta"}


def test_cancel_frees_the_time_and_withdraws_reminders(clinic: Clinic) -> None:
    schedule, patient, _ = clinic.directory()
    slot = f"{schedule}.202612071400.20"
    booked = clinic.book().book(appointment(slot, patient))
    cancelled = clinic.book().cancel(booked["id"], "feeling better")
    assert cancelled["status"] == "cancelled"
    assert cancelled["cancelationReason"] == {"text": "feeling better"}
    assert not clinic.held
    assert clinic.records(clinic.context(Role.ADMIN)).read("Slot", slot)["status"] == "free"
    assert clinic.reminders.asked[-1] == ("withdrawn", "acme", booked["id"], booked["start"])
    rebooked = clinic.book().book(appointment(slot, patient))  # the freed slot books again
    assert rebooked["start"] == booked["start"]
    with pytest.raises(InvalidTransition):
        clinic.book().cancel(booked["id"], None)


def test_reschedule_moves_the_holds_and_replans_reminders(clinic: Clinic) -> None:
    schedule, patient, _ = clinic.directory()
    booked = clinic.book().book(appointment(f"{schedule}.202612071400.20", patient))
    moved = clinic.book().reschedule(
        booked["id"], f"Slot/{schedule}.202612071410.20"
    )  # overlaps its old self
    assert (moved["start"], moved["status"]) == ("2026-12-07T14:10:00Z", "booked")
    assert sorted(k[2] for k in clinic.held) == [f"2026-12-07T14:{m}Z" for m in ("10", "15", "20", "25")]
    assert [a[0] for a in clinic.reminders.asked[-2:]] == ["withdrawn", "booked"]
    assert clinic.reminders.asked[-1][3] == "2026-12-07T14:10:00Z"
    with pytest.raises(SlotTaken):
        clinic.book().book(appointment(f"{schedule}.202612071420.20", patient))
    assert clinic.book().book(appointment(f"{schedule}.202612071430.20", patient))["status"] == "booked"


def test_status_changes_follow_the_visit(clinic: Clinic) -> None:
    schedule, patient, _ = clinic.directory()
    booked = clinic.book().book(appointment(f"{schedule}.202612071400.20", patient))
    with pytest.raises(InvalidTransition):
        clinic.book().no_show(booked["id"])  # not started yet
    assert clinic.book().check_in(booked["id"])["status"] == "arrived"
    assert clinic.book().complete(booked["id"])["status"] == "fulfilled"
    with pytest.raises(InvalidTransition):
        clinic.book().check_in(booked["id"])
    late = clinic.book().book(appointment(f"{schedule}.202612071500.20", patient))
    clinic.now = datetime(2026, 12, 7, 15, 30, tzinfo=UTC)
    assert clinic.book().no_show(late["id"])["status"] == "noshow"


def test_a_pending_visit_holds_its_time_and_is_reminded_once_confirmed(clinic: Clinic) -> None:
    schedule, patient, _ = clinic.directory()
    pending = clinic.book().book(appointment(f"{schedule}.202612071400.20", patient, status="pending"))
    assert pending["status"] == "pending"
    assert clinic.reminders.asked == []
    with pytest.raises(SlotTaken):
        clinic.book().book(appointment(f"{schedule}.202612071400.20", patient))
    confirmed = clinic.book().confirm(pending["id"])
    assert confirmed["status"] == "booked"
    assert clinic.reminders.asked == [("booked", "acme", pending["id"], pending["start"])]
    with pytest.raises(InvalidTransition):
        clinic.book().confirm(pending["id"])


def test_generic_writes_cannot_move_cancel_or_forge_a_held_visit(clinic: Clinic) -> None:
    schedule, patient, _ = clinic.directory()
    booked = clinic.book().book(appointment(f"{schedule}.202612071400.20", patient))
    desk = clinic.records(clinic.context())
    with pytest.raises(ImmutableResource):
        desk.update("Appointment", booked["id"], {**booked, "start": "2026-12-07T15:00:00Z"})
    with pytest.raises(ImmutableResource):
        desk.update("Appointment", booked["id"], {**booked, "status": "cancelled"})
    with pytest.raises(ImmutableResource):
        desk.delete("Appointment", booked["id"])
    with pytest.raises(ImmutableResource):
        desk.create("Appointment", {k: v for k, v in booked.items() if k not in ("id", "meta")})
    assert (
        desk.update("Appointment", booked["id"], {**booked, "comment": "bring scans"})["comment"]
        == "bring scans"
    )


def test_patients_book_themselves_within_the_clinics_rules(clinic: Clinic) -> None:
    schedule, patient, _ = clinic.directory()
    _, other_patient, _ = clinic.directory()
    me = clinic.book(clinic.context(Role.PATIENT, patient=patient))
    booked = me.book(appointment(f"{schedule}.202612071400.20", None))
    assert f"Patient/{patient}" in [p["actor"]["reference"] for p in booked["participant"]]
    with pytest.raises(AccessDenied):
        me.book(appointment(f"{schedule}.202612071500.20", other_patient))
    with pytest.raises(InvalidResource) as not_self_bookable:
        me.book(appointment(f"{schedule}.202612071500.15", None, visit="urgent"))
    assert "call the clinic" in _issue(not_self_bookable.value)
    clinic.now = datetime(2026, 12, 7, 13, 30, tzinfo=UTC)  # 08:30: inside the 2-hour lead time of 09:40
    with pytest.raises(InvalidResource) as too_soon:
        me.book(appointment(f"{schedule}.202612071440.20", None))
    assert "more notice" in _issue(too_soon.value)
    with pytest.raises(InvalidResource) as too_far:
        me.book(appointment(f"{schedule}.202705031400.20", None))
    assert "that far ahead" in _issue(too_far.value)
    with pytest.raises(AccessDenied):
        me.check_in(booked["id"])
    assert me.cancel(booked["id"], None)["status"] == "cancelled"


def test_a_patient_cannot_cancel_another_patients_visit(clinic: Clinic) -> None:
    schedule, patient, _ = clinic.directory()
    _, other_patient, _ = clinic.directory()
    booked = clinic.book().book(appointment(f"{schedule}.202612071400.20", patient))
    with pytest.raises(ResourceNotFound):
        clinic.book(clinic.context(Role.PATIENT, patient=other_patient)).cancel(booked["id"], None)


def test_a_patients_free_slots_respect_lead_time_and_visit_types(clinic: Clinic) -> None:
    schedule, patient, _ = clinic.directory()
    clinic.now = datetime(2026, 12, 7, 13, 30, tzinfo=UTC)
    me = clinic.book(clinic.context(Role.PATIENT, patient=patient))
    slots = me.free_slots(schedule, None, MONDAY + timedelta(days=1), "follow-up")
    assert slots[0]["start"] == "2026-12-07T15:40:00Z"  # 10:40: the first grid time two hours after 08:30
    with pytest.raises(InvalidResource):
        me.free_slots(schedule, None, None, "chronic-care")


def test_booking_across_the_dst_change_keeps_local_hours(clinic: Clinic) -> None:
    """New York falls back on Sunday 2026-11-01; the first booking after it is 09:00 EST, not EDT."""
    schedule, patient, _ = clinic.directory()
    clinic.now = datetime(2026, 10, 30, 14, 0, tzinfo=UTC)  # Friday 10:00 EDT
    before = clinic.book().free_slots(
        schedule,
        datetime(2026, 10, 30, 4, 0, tzinfo=UTC),
        datetime(2026, 10, 31, 4, 0, tzinfo=UTC),
        "follow-up",
    )
    after = clinic.book().free_slots(
        schedule,
        datetime(2026, 11, 2, 5, 0, tzinfo=UTC),
        datetime(2026, 11, 3, 5, 0, tzinfo=UTC),
        "follow-up",
    )
    assert after[0]["start"] == "2026-11-02T14:00:00Z"  # 09:00 EST, UTC-5
    assert before[-1]["end"] == "2026-10-30T20:50:00Z"  # 16:50 EDT, UTC-4
    booked = clinic.book().book(appointment(after[0]["id"], patient))
    assert booked["start"] == "2026-11-02T14:00:00Z"


def test_a_schedule_without_hours_says_how_to_set_them(clinic: Clinic) -> None:
    schedule, patient, _ = clinic.directory()
    del clinic.weeks[("acme", schedule)]
    with pytest.raises(InvalidResource) as refused:
        clinic.book().book(appointment(f"{schedule}.202612071400.20", patient))
    assert "working-week" in _issue(refused.value)


def test_a_slot_reference_that_is_not_a_free_slot_id_is_refused(clinic: Clinic) -> None:
    _, patient, _ = clinic.directory()
    for reference in ("Slot/abc", "Slot/x.209913991400.20", None):
        with pytest.raises(InvalidResource):
            clinic.book().book(appointment(str(reference), patient))
    assert SlotId.parse("Slot/s.202612071400.20", "x").end == datetime(2026, 12, 7, 14, 20, tzinfo=UTC)
