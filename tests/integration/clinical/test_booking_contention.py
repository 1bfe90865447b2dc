"""Real contention on moto's DynamoDB: many threads book one slot (and overlapping slots of
another length) at the same moment, each through its own appointment book; exactly one wins."""

from __future__ import annotations

import threading
from collections.abc import Callable

import pytest

from cairn.scheduling.book import SlotTaken
from cairn.scheduling.services import SchedulingServices
from multitenant.context import Role
from tests.integration.clinical.support import Cloud, caller
from tests.integration.clinical.test_scheduling_api import (
    DESK,
    a_clinic,
    booking,
    free_slots,
)
from tests.unit.scheduling.book_fakes import RecordedReminders

CONTENDERS = 12


def race(attempts: list[Callable[[], object]]) -> list[str]:
    """Run every attempt at once (a barrier), answering 'booked' or 'taken' for each."""
    gate = threading.Barrier(len(attempts))
    outcomes: list[str] = []

    def run(attempt: Callable[[], object]) -> None:
        gate.wait()
        try:
            attempt()
            outcomes.append("booked")
        except SlotTaken:
            outcomes.append("taken")

    threads = [threading.Thread(target=run, args=(attempt,)) for attempt in attempts]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    return outcomes


@pytest.mark.usefixtures("reminders")
def test_concurrent_bookings_of_one_slot_give_exactly_one_success(cloud: Cloud) -> None:
    schedule, patient, _ = a_clinic()
    slot = free_slots(schedule)[0]
    services = SchedulingServices(cloud.runtime, RecordedReminders())
    outcomes = race([lambda: services.book(DESK).book(booking(slot, patient)) for _ in range(CONTENDERS)])
    assert sorted(outcomes) == ["booked"] + ["taken"] * (CONTENDERS - 1)


@pytest.mark.usefixtures("reminders")
def test_concurrent_overlapping_visits_of_different_lengths_give_one_success(cloud: Cloud) -> None:
    schedule, patient, _ = a_clinic()
    short = free_slots(schedule)[1]  # 09:20-09:40
    long = free_slots(schedule, visit="annual-wellness")[0]  # 09:00-09:40
    services = SchedulingServices(cloud.runtime, RecordedReminders())
    admin = caller(Role.ADMIN)
    attempts: list[Callable[[], object]] = []
    for number in range(CONTENDERS):
        slot, visit = (short, "follow-up") if number % 2 else (long, "annual-wellness")
        attempts.append(lambda s=slot, v=visit: services.book(admin).book(booking(s, patient, v)))
    assert sorted(race(attempts)) == ["booked"] + ["taken"] * (CONTENDERS - 1)
