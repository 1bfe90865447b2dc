"""A practitioner's week in the clinic's zone, turned into UTC windows one local day at a time."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest

from cairn.scheduling.availability import (
    Availability,
    Break,
    InvalidAvailability,
    TimeOff,
    WorkingHours,
    wall_instant,
)

NEW_YORK = "America/New_York"
BERLIN = "Europe/Berlin"
SUNDAY = 6


def utc(year: int, month: int, day: int, hour: int = 0, minute: int = 0) -> datetime:
    return datetime(year, month, day, hour, minute, tzinfo=UTC)


def every_day(start: time, end: time) -> tuple[WorkingHours, ...]:
    return tuple(WorkingHours(weekday, start, end) for weekday in range(7))


def length(windows: list[tuple[datetime, datetime]]) -> timedelta:
    return sum((end - start for start, end in windows), timedelta())


NINE_TO_FIVE = every_day(time(9), time(17))


def test_nine_to_five_in_new_york_is_eight_hours_on_the_spring_forward_sunday() -> None:
    week = Availability(NEW_YORK, NINE_TO_FIVE)
    assert week.windows(date(2026, 3, 7)) == [(utc(2026, 3, 7, 14), utc(2026, 3, 7, 22))]  # EST
    assert week.windows(date(2026, 3, 8)) == [(utc(2026, 3, 8, 13), utc(2026, 3, 8, 21))]  # EDT
    assert length(week.windows(date(2026, 3, 8))) == timedelta(hours=8)


def test_nine_to_five_in_new_york_is_eight_hours_on_the_fall_back_sunday() -> None:
    week = Availability(NEW_YORK, NINE_TO_FIVE)
    assert week.windows(date(2026, 10, 31)) == [(utc(2026, 10, 31, 13), utc(2026, 10, 31, 21))]  # EDT
    assert week.windows(date(2026, 11, 1)) == [(utc(2026, 11, 1, 14), utc(2026, 11, 1, 22))]  # EST
    assert length(week.windows(date(2026, 11, 1))) == timedelta(hours=8)


def test_nine_to_five_in_berlin_follows_its_own_dst_days() -> None:
    week = Availability(BERLIN, NINE_TO_FIVE)
    assert week.windows(date(2026, 3, 28)) == [(utc(2026, 3, 28, 8), utc(2026, 3, 28, 16))]  # CET
    assert week.windows(date(2026, 3, 29)) == [(utc(2026, 3, 29, 7), utc(2026, 3, 29, 15))]  # CEST
    assert week.windows(date(2026, 10, 24)) == [(utc(2026, 10, 24, 7), utc(2026, 10, 24, 15))]
    assert week.windows(date(2026, 10, 25)) == [(utc(2026, 10, 25, 8), utc(2026, 10, 25, 16))]
    assert all(length(week.windows(date(2026, m, d))) == timedelta(hours=8) for m, d in ((3, 29), (10, 25)))


def test_a_clinic_in_utc_keeps_its_wall_times_as_they_are() -> None:
    week = Availability("UTC", NINE_TO_FIVE)
    assert week.windows(date(2026, 3, 8)) == [(utc(2026, 3, 8, 9), utc(2026, 3, 8, 17))]
    assert week.windows(date(2026, 3, 29)) == [(utc(2026, 3, 29, 9), utc(2026, 3, 29, 17))]


def test_a_wall_time_in_the_skipped_hour_is_clipped_to_when_the_clocks_resume() -> None:
    zone = ZoneInfo(NEW_YORK)
    assert wall_instant(date(2026, 3, 8), time(2, 30), zone) == utc(2026, 3, 8, 7)  # 03:00 EDT
    assert wall_instant(date(2026, 3, 8), time(2, 0), zone) == utc(2026, 3, 8, 7)
    assert wall_instant(date(2026, 3, 8), time(3, 0), zone) == utc(2026, 3, 8, 7)
    assert wall_instant(date(2026, 3, 8), time(1, 59), zone) == utc(2026, 3, 8, 6, 59)  # still EST


def test_a_window_ending_in_the_skipped_hour_closes_when_the_clocks_jump() -> None:
    night = Availability(NEW_YORK, (WorkingHours(SUNDAY, time(1), time(2, 30)),))
    assert night.windows(date(2026, 3, 8)) == [(utc(2026, 3, 8, 6), utc(2026, 3, 8, 7))]  # 1 h, not 1.5


def test_a_window_starting_in_the_skipped_hour_opens_when_the_clocks_jump() -> None:
    night = Availability(NEW_YORK, (WorkingHours(SUNDAY, time(2, 30), time(5)),))
    assert night.windows(date(2026, 3, 8)) == [(utc(2026, 3, 8, 7), utc(2026, 3, 8, 9))]  # 03:00-05:00 EDT


def test_a_window_wholly_inside_the_skipped_hour_is_empty_that_night() -> None:
    night = Availability(NEW_YORK, (WorkingHours(SUNDAY, time(2, 10), time(2, 50)),))
    assert night.windows(date(2026, 3, 8)) == []
    assert night.windows(date(2026, 3, 15)) == [(utc(2026, 3, 15, 6, 10), utc(2026, 3, 15, 6, 50))]


def test_a_repeated_wall_time_means_its_first_occurrence() -> None:
    zone = ZoneInfo(NEW_YORK)
    assert wall_instant(date(2026, 11, 1), time(1, 30), zone) == utc(2026, 11, 1, 5, 30)  # 01:30 EDT
    night = Availability(NEW_YORK, (WorkingHours(SUNDAY, time(1), time(2)),))
    assert length(night.windows(date(2026, 11, 1))) == timedelta(hours=2)  # the clock shows 1:00-2:00 twice


def test_a_break_is_taken_out_of_the_working_hours() -> None:
    week = Availability("UTC", NINE_TO_FIVE, breaks=(Break(0, time(12), time(13)),))
    assert week.windows(date(2026, 6, 1)) == [(utc(2026, 6, 1, 9), utc(2026, 6, 1, 12)),
                                              (utc(2026, 6, 1, 13), utc(2026, 6, 1, 17))]
    assert week.windows(date(2026, 6, 2)) == [(utc(2026, 6, 2, 9), utc(2026, 6, 2, 17))]  # Tuesday: no break
    assert week.breaks_on(date(2026, 6, 1)) == [(utc(2026, 6, 1, 12), utc(2026, 6, 1, 13))]


def test_a_break_follows_the_local_clock_across_a_dst_change() -> None:
    week = Availability(NEW_YORK, NINE_TO_FIVE, breaks=(Break(SUNDAY, time(12), time(13)),))
    assert week.breaks_on(date(2026, 3, 1)) == [(utc(2026, 3, 1, 17), utc(2026, 3, 1, 18))]
    assert week.breaks_on(date(2026, 3, 8)) == [(utc(2026, 3, 8, 16), utc(2026, 3, 8, 17))]


def test_time_off_spanning_days_closes_each_day_it_covers() -> None:
    away = TimeOff(utc(2026, 6, 3, 14), utc(2026, 6, 5, 11), "conference")
    week = Availability("UTC", NINE_TO_FIVE, time_off=(away,))
    assert week.windows(date(2026, 6, 3)) == [(utc(2026, 6, 3, 9), utc(2026, 6, 3, 14))]
    assert week.windows(date(2026, 6, 4)) == []
    assert week.windows(date(2026, 6, 5)) == [(utc(2026, 6, 5, 11), utc(2026, 6, 5, 17))]
    assert week.working_windows(date(2026, 6, 4)) == [(utc(2026, 6, 4, 9), utc(2026, 6, 4, 17))]


def test_time_off_given_in_another_zone_is_the_same_instant() -> None:
    local_noon = datetime(2026, 6, 3, 12, tzinfo=ZoneInfo(NEW_YORK))  # 16:00 UTC
    away = TimeOff(local_noon, local_noon + timedelta(days=1))
    week = Availability(NEW_YORK, NINE_TO_FIVE, time_off=(away,))
    assert week.windows(date(2026, 6, 3)) == [(utc(2026, 6, 3, 13), utc(2026, 6, 3, 16))]
    assert week.time_off_intervals() == [(utc(2026, 6, 3, 16), utc(2026, 6, 4, 16))]


def test_hours_that_meet_make_one_window_and_a_day_without_hours_has_none() -> None:
    week = Availability("UTC", (WorkingHours(0, time(9), time(12)), WorkingHours(0, time(12), time(17))))
    assert week.windows(date(2026, 6, 1)) == [(utc(2026, 6, 1, 9), utc(2026, 6, 1, 17))]
    assert week.windows(date(2026, 6, 2)) == []


def test_the_local_day_of_an_instant_is_the_clinics_calendar_date() -> None:
    week = Availability(NEW_YORK, NINE_TO_FIVE)
    assert week.local_day(utc(2026, 6, 2, 2)) == date(2026, 6, 1)  # 22:00 the evening before in New York


@pytest.mark.parametrize(("start", "end"), [(time(17), time(9)), (time(9), time(9))])
def test_working_hours_must_end_after_they_start(start: time, end: time) -> None:
    with pytest.raises(InvalidAvailability, match="end must be after start"):
        WorkingHours(0, start, end)


def test_a_break_must_end_after_it_starts() -> None:
    with pytest.raises(InvalidAvailability, match="end must be after start"):
        Break(2, time(13), time(12))


def test_overlapping_working_hours_on_one_day_are_refused() -> None:
    with pytest.raises(InvalidAvailability, match="Tuesday overlap"):
        Availability("UTC", (WorkingHours(1, time(9), time(13)), WorkingHours(1, time(12), time(17))))


@pytest.mark.parametrize("zone", ["Mars/Olympus_Mons", "EST5EDT/extra", "../../etc/passwd", ""])
def test_an_unknown_time_zone_is_refused_with_an_example_of_a_good_one(zone: str) -> None:
    with pytest.raises(InvalidAvailability, match="America/New_York"):
        Availability(zone, NINE_TO_FIVE)


def test_a_weekday_is_zero_to_six_and_wall_times_carry_no_zone() -> None:
    with pytest.raises(InvalidAvailability, match="weekday"):
        WorkingHours(7, time(9), time(17))
    with pytest.raises(InvalidAvailability, match="without a time zone"):
        WorkingHours(0, time(9, tzinfo=UTC), time(17, tzinfo=UTC))


def test_time_off_must_be_aware_ordered_and_carry_only_a_short_reason() -> None:
    with pytest.raises(InvalidAvailability, match="aware"):
        TimeOff(datetime(2026, 6, 1, 9), datetime(2026, 6, 2, 9))  # naive: refused
    with pytest.raises(InvalidAvailability, match="end must be after start"):
        TimeOff(utc(2026, 6, 2), utc(2026, 6, 1))
    with pytest.raises(InvalidAvailability, match="short category"):
        TimeOff(utc(2026, 6, 1), utc(2026, 6, 2), "x" * 81)
