"""Free slots from a practitioner's week, and the reasons a booking at one time is refused."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from cairn.scheduling.availability import Availability, Break, TimeOff, WorkingHours
from cairn.scheduling.slots import (
    MAX_SEARCH_DAYS,
    BookingRefused,
    InvalidSchedulingRequest,
    RefusalReason,
    Slot,
    check_bookable,
    free_slots,
)

NEW_YORK = "America/New_York"
MONDAY = date(2026, 6, 1)
LONG_AGO = datetime(2020, 1, 1, tzinfo=UTC)  # `now` for searches where the past plays no part


def utc(year: int, month: int, day: int, hour: int = 0, minute: int = 0) -> datetime:
    return datetime(year, month, day, hour, minute, tzinfo=UTC)


def monday(hour: int, minute: int = 0) -> datetime:
    return utc(2026, 6, 1, hour, minute)


def weekdays(start: time, end: time) -> tuple[WorkingHours, ...]:
    return tuple(WorkingHours(weekday, start, end) for weekday in range(5))


def every_day(start: time, end: time) -> tuple[WorkingHours, ...]:
    return tuple(WorkingHours(weekday, start, end) for weekday in range(7))


def starts(slots: list[Slot]) -> list[datetime]:
    return [slot.start for slot in slots]


NINE_TO_FIVE = Availability("UTC", weekdays(time(9), time(17)))
NINE_TO_TEN = Availability("UTC", weekdays(time(9), time(10)))


def test_slots_fill_a_window_at_the_visit_length() -> None:
    slots = free_slots(NINE_TO_TEN, 20, monday(0), monday(23), [], now=LONG_AGO)
    assert slots == [Slot(monday(9), monday(9, 20)), Slot(monday(9, 20), monday(9, 40)),
                     Slot(monday(9, 40), monday(10))]


def test_a_finer_step_offers_overlapping_start_times_that_still_fit_the_window() -> None:
    slots = free_slots(NINE_TO_TEN, 20, monday(0), monday(23), [], step_minutes=15, now=LONG_AGO)
    assert starts(slots) == [monday(9), monday(9, 15), monday(9, 30)]  # 9:45 would end at 10:05
    assert all(slot.end - slot.start == timedelta(minutes=20) for slot in slots)


def test_slots_start_again_at_the_end_of_a_break() -> None:
    week = Availability("UTC", weekdays(time(9), time(17)), breaks=(Break(0, time(12), time(12, 30)),))
    slots = free_slots(week, 20, monday(0), monday(23), [], now=LONG_AGO)
    assert len(slots) == 9 + 13  # 9:00-11:40, then 12:30-16:30
    assert monday(12, 30) in starts(slots)
    assert not any(slot.start < monday(12, 30) and slot.end > monday(12) for slot in slots)


def test_booked_intervals_take_out_every_slot_they_touch_but_not_one_that_meets_them() -> None:
    booked = [(monday(9, 10), monday(9, 30))]
    assert starts(free_slots(NINE_TO_TEN, 20, monday(0), monday(23), booked, now=LONG_AGO)) == [monday(9, 40)]
    meeting = [(monday(9), monday(9, 20))]
    assert starts(free_slots(NINE_TO_TEN, 20, monday(0), monday(23), meeting, now=LONG_AGO)) == [
        monday(9, 20), monday(9, 40)]


def test_bookings_given_in_the_clinics_zone_are_the_same_instants() -> None:
    zone = ZoneInfo(NEW_YORK)
    booked = [(datetime(2026, 6, 1, 5, 20, tzinfo=zone), datetime(2026, 6, 1, 5, 40, tzinfo=zone))]  # 9:20Z
    assert starts(free_slots(NINE_TO_TEN, 20, monday(0), monday(23), booked, now=LONG_AGO)) == [
        monday(9), monday(9, 40)]


def test_the_lead_time_hides_slots_starting_too_soon_without_moving_the_grid() -> None:
    slots = free_slots(NINE_TO_TEN, 20, monday(0), monday(23), [], now=monday(8, 50), lead_minutes=25)
    assert starts(slots) == [monday(9, 20), monday(9, 40)]
    assert starts(free_slots(NINE_TO_TEN, 20, monday(0), monday(23), [], now=monday(9, 5))) == [
        monday(9, 20), monday(9, 40)]


def test_the_search_range_bounds_the_slots_without_moving_the_grid() -> None:
    assert starts(free_slots(NINE_TO_TEN, 20, monday(9, 5), monday(23), [], now=LONG_AGO)) == [
        monday(9, 20), monday(9, 40)]
    assert starts(free_slots(NINE_TO_TEN, 20, monday(0), monday(9, 50), [], now=LONG_AGO)) == [
        monday(9), monday(9, 20)]


def test_time_off_spanning_days_leaves_only_the_slots_around_it() -> None:
    away = TimeOff(utc(2026, 6, 2, 9, 30), utc(2026, 6, 4, 9, 40), "vacation")
    week = Availability("UTC", weekdays(time(9), time(10)), time_off=(away,))
    slots = free_slots(week, 20, monday(0), utc(2026, 6, 6), [], now=LONG_AGO)
    assert starts(slots) == [
        monday(9), monday(9, 20), monday(9, 40),
        utc(2026, 6, 2, 9),
        utc(2026, 6, 4, 9, 40),
        utc(2026, 6, 5, 9), utc(2026, 6, 5, 9, 20), utc(2026, 6, 5, 9, 40),
    ]


@pytest.mark.parametrize(("day", "first_utc_hour"), [(date(2026, 3, 8), 13), (date(2026, 11, 1), 14)])
def test_new_yorks_dst_sundays_offer_a_full_day_of_slots_at_the_local_times(day: date, first_utc_hour: int,
                                                                            ) -> None:
    week = Availability(NEW_YORK, every_day(time(9), time(17)))
    start = datetime.combine(day, time(0), tzinfo=ZoneInfo(NEW_YORK))
    slots = free_slots(week, 60, start, start + timedelta(days=1), [], now=LONG_AGO)
    assert len(slots) == 8
    assert slots[0].start == datetime.combine(day, time(first_utc_hour), tzinfo=UTC)
    assert [s.start.astimezone(ZoneInfo(NEW_YORK)).hour for s in slots] == list(range(9, 17))


@pytest.mark.parametrize(("day", "first_utc_hour"), [(date(2026, 3, 29), 7), (date(2026, 10, 25), 8)])
def test_berlins_dst_sundays_offer_a_full_day_of_slots(day: date, first_utc_hour: int) -> None:
    week = Availability("Europe/Berlin", every_day(time(9), time(17)))
    start = datetime.combine(day, time(0), tzinfo=ZoneInfo("Europe/Berlin"))
    slots = free_slots(week, 30, start, start + timedelta(days=1), [], now=LONG_AGO)
    assert len(slots) == 16
    assert slots[0].start == datetime.combine(day, time(first_utc_hour), tzinfo=UTC)


def test_slots_are_in_utc_in_time_order() -> None:
    week = Availability(NEW_YORK, weekdays(time(9), time(17)))
    slots = free_slots(week, 20, monday(0), utc(2026, 6, 8), [], now=LONG_AGO)
    assert all(slot.start.tzinfo is UTC and slot.end.tzinfo is UTC for slot in slots)
    assert slots == sorted(slots)


def test_a_thirty_day_search_over_a_week_pattern_returns_every_weekday_slot() -> None:
    week = Availability(NEW_YORK, weekdays(time(9), time(17)),
                        breaks=tuple(Break(weekday, time(12), time(13)) for weekday in range(5)))
    start = datetime(2026, 6, 1, tzinfo=ZoneInfo(NEW_YORK))
    slots = free_slots(week, 30, start, start + timedelta(days=30), [], now=LONG_AGO)
    assert len(slots) == 22 * 14  # June 2026 has 22 weekdays; 7 hours a day of 30-minute visits
    assert {week.local_day(slot.start).weekday() for slot in slots} == {0, 1, 2, 3, 4}


def test_a_search_is_bounded_to_ninety_days() -> None:
    quarter = timedelta(days=MAX_SEARCH_DAYS)
    slots = free_slots(NINE_TO_TEN, 20, monday(0), monday(0) + quarter, [], now=LONG_AGO)
    assert len(slots) == 65 * 3  # 12 weeks and Monday-Saturday: 65 weekdays of three slots
    with pytest.raises(InvalidSchedulingRequest, match="90 days"):
        free_slots(NINE_TO_TEN, 20, monday(0), monday(0) + quarter + timedelta(seconds=1), [], now=LONG_AGO)


def test_a_search_must_end_after_it_starts_and_use_aware_times_and_positive_minutes() -> None:
    with pytest.raises(InvalidSchedulingRequest, match="end after it starts"):
        free_slots(NINE_TO_TEN, 20, monday(10), monday(9), [], now=LONG_AGO)
    with pytest.raises(InvalidSchedulingRequest, match="start must carry a time zone"):
        free_slots(NINE_TO_TEN, 20, datetime(2026, 6, 1), monday(9), [], now=LONG_AGO)  # naive: refused
    with pytest.raises(InvalidSchedulingRequest, match="step_minutes"):
        free_slots(NINE_TO_TEN, 20, monday(0), monday(23), [], step_minutes=0, now=LONG_AGO)
    with pytest.raises(InvalidSchedulingRequest, match="visit_type_minutes"):
        free_slots(NINE_TO_TEN, 0, monday(0), monday(23), [], now=LONG_AGO)
    with pytest.raises(InvalidSchedulingRequest, match="lead_minutes"):
        free_slots(NINE_TO_TEN, 20, monday(0), monday(23), [], now=LONG_AGO, lead_minutes=-1)
    with pytest.raises(InvalidSchedulingRequest, match="booked interval must end after"):
        free_slots(NINE_TO_TEN, 20, monday(0), monday(23), [(monday(9, 20), monday(9))], now=LONG_AGO)


WEEK_WITH_LUNCH = Availability("UTC", weekdays(time(9), time(17)),
                               breaks=(Break(0, time(12), time(13)),),
                               time_off=(TimeOff(utc(2026, 6, 3), utc(2026, 6, 4), "training"),))
NOW = utc(2026, 5, 31, 12)


def refusal(start: datetime, minutes: int = 20, booked: list[tuple[datetime, datetime]] | None = None,
            *, lead_minutes: int = 0, horizon_days: int = 30) -> RefusalReason | None:
    try:
        check_bookable(WEEK_WITH_LUNCH, start, minutes, booked or [], now=NOW, lead_minutes=lead_minutes,
                       horizon_days=horizon_days)
    except BookingRefused as refused:
        return refused.reason
    return None


def test_a_free_time_within_working_hours_is_bookable_even_off_the_slot_grid() -> None:
    assert refusal(monday(9)) is None
    assert refusal(monday(10, 7)) is None
    assert refusal(monday(16, 40)) is None  # ends at closing time


def test_each_reason_a_booking_is_refused() -> None:
    assert refusal(utc(2026, 5, 31, 11)) is RefusalReason.IN_THE_PAST
    assert refusal(utc(2026, 5, 31, 12, 30), lead_minutes=60) is RefusalReason.WITHIN_LEAD_TIME
    assert refusal(utc(2026, 7, 1, 9), horizon_days=30) is RefusalReason.BEYOND_HORIZON
    assert refusal(monday(8, 50)) is RefusalReason.OUTSIDE_WORKING_HOURS
    assert refusal(monday(16, 50)) is RefusalReason.OUTSIDE_WORKING_HOURS  # would end after closing
    assert refusal(utc(2026, 6, 6, 10)) is RefusalReason.OUTSIDE_WORKING_HOURS  # Saturday
    assert refusal(monday(11, 50)) is RefusalReason.DURING_BREAK
    assert refusal(utc(2026, 6, 3, 10)) is RefusalReason.DURING_TIME_OFF
    assert refusal(monday(9, 10), booked=[(monday(9), monday(9, 20))]) is RefusalReason.OVERLAPS_BOOKING
    assert refusal(monday(9, 20), booked=[(monday(9), monday(9, 20))]) is None


def test_the_first_reason_to_fix_is_the_one_given() -> None:
    assert refusal(utc(2026, 5, 30, 3), booked=[(utc(2026, 5, 30, 3), utc(2026, 5, 30, 4))]) is (
        RefusalReason.IN_THE_PAST)


def test_a_refusal_says_what_to_do_and_carries_no_time() -> None:
    with pytest.raises(BookingRefused) as refused:
        check_bookable(WEEK_WITH_LUNCH, monday(11, 50), 20, [], now=NOW, horizon_days=30)
    assert str(refused.value) == (
        "the visit would be during a break: choose a time outside the practitioner's break")


def test_booking_on_new_yorks_spring_forward_sunday_follows_the_local_clock() -> None:
    week = Availability(NEW_YORK, every_day(time(9), time(17)))
    a_week_before = utc(2026, 3, 1)
    check_bookable(week, utc(2026, 3, 8, 13), 20, [], now=a_week_before, horizon_days=30)  # 9:00 EDT
    with pytest.raises(BookingRefused) as refused:
        check_bookable(week, utc(2026, 3, 8, 12, 40), 20, [], now=a_week_before, horizon_days=30)  # 8:40 EDT
    assert refused.value.reason is RefusalReason.OUTSIDE_WORKING_HOURS


ZONES = st.sampled_from(["UTC", NEW_YORK, "Europe/Berlin"])
DAYS = st.sampled_from([date(2026, 3, 6), date(2026, 3, 27), date(2026, 10, 23), date(2026, 10, 30),
                        date(2026, 6, 1)])  # each a few days before a DST change, or an ordinary week


@st.composite
def weeks(draw: st.DrawFn) -> Availability:
    zone = draw(ZONES)
    hours = tuple(WorkingHours(weekday, time(draw(st.integers(0, 10))), time(draw(st.integers(11, 23))))
                  for weekday in range(7))
    breaks = tuple(Break(weekday, time(hour, 15), time(hour + 1))
                   for weekday in range(7) for hour in [draw(st.integers(1, 21))])
    return Availability(zone, hours, breaks)


@settings(max_examples=150, deadline=None)
@given(week=weeks(), first_day=DAYS, minutes=st.sampled_from([15, 20, 30, 40]),
       step=st.sampled_from([None, 5, 10, 15, 30]),
       bookings=st.lists(st.tuples(st.integers(0, 5 * 24 * 60), st.integers(5, 120)), max_size=40),
       lead=st.integers(0, 24 * 60))
def test_no_slot_overlaps_a_booking_or_a_break_and_every_slot_lies_in_a_working_window(
        week: Availability, first_day: date, minutes: int, step: int | None,
        bookings: list[tuple[int, int]], lead: int) -> None:
    start = datetime.combine(first_day, time(0), tzinfo=week.tz)
    booked = [(start + timedelta(minutes=at), start + timedelta(minutes=at + span)) for at, span in bookings]
    now = start + timedelta(hours=6)
    slots = free_slots(week, minutes, start, start + timedelta(days=5), booked, step_minutes=step, now=now,
                       lead_minutes=lead)
    for slot in slots:
        day = week.local_day(slot.start)
        assert any(opens <= slot.start and slot.end <= closes for opens, closes in week.windows(day))
        assert not any(slot.start < pause_end and pause_start < slot.end
                       for pause_start, pause_end in week.breaks_on(day))
        assert not any(slot.start < taken_end and taken_start < slot.end for taken_start, taken_end in booked)
        assert slot.end - slot.start == timedelta(minutes=minutes)
        check_bookable(week, slot.start, minutes, booked, now=now, lead_minutes=lead, horizon_days=30)
