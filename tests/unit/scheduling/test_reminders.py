"""Reminders: a clinic's policy, appointment plans around quiet hours and DST days, the channel, the
re-check before sending, and the dated reminders (doses, refills, bills, recalls, coverage)."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from cairn.scheduling.reminders import (
    Channel,
    ContactPreferences,
    InvalidReminderPolicy,
    InvalidReminderRequest,
    PlannedReminder,
    QuietHours,
    ReminderDecision,
    ReminderKind,
    ReminderPolicy,
    Send,
    Skip,
    choose_channel,
    decide,
    plan_bill,
    plan_coverage_expiry,
    plan_medication_doses,
    plan_recall,
    plan_refill_due,
    plan_reminders,
)
from multitenant.onboarding import DEFAULT_SETTINGS

NEW_YORK = "America/New_York"
DEFAULT = ReminderPolicy()
EARLY_MAY = datetime(2026, 5, 1, 12, tzinfo=UTC)


def utc(year: int, month: int, day: int, hour: int = 0, minute: int = 0) -> datetime:
    return datetime(year, month, day, hour, minute, tzinfo=UTC)


def new_york(year: int, month: int, day: int, hour: int, minute: int = 0) -> datetime:
    return datetime(year, month, day, hour, minute, tzinfo=ZoneInfo(NEW_YORK))


def appointment(send_at: datetime, label: str) -> PlannedReminder:
    return PlannedReminder(ReminderKind.APPOINTMENT, send_at, label)


def offsets(*hours: int) -> ReminderPolicy:
    return ReminderPolicy.parse({"reminder_offsets_hours": list(hours)})


# The clinic's policy


def test_a_new_clinics_settings_give_48h_and_2h_reminders_quiet_from_nine_to_eight() -> None:
    policy = ReminderPolicy.parse(DEFAULT_SETTINGS)
    assert policy == ReminderPolicy((48, 2), QuietHours(time(21), time(8)), timedelta(minutes=30))


def test_a_clinics_own_choices_replace_the_defaults_with_offsets_longest_first_and_once() -> None:
    policy = ReminderPolicy.parse({"reminder_offsets_hours": [2, 24, 24],
                                   "reminder_quiet_hours": "22:30-07:00",
                                   "reminder_minimum_notice_minutes": 60})
    assert policy == ReminderPolicy((24, 2), QuietHours(time(22, 30), time(7)), timedelta(hours=1))


def test_an_empty_list_of_offsets_turns_appointment_reminders_off() -> None:
    assert plan_reminders(new_york(2026, 5, 12, 14), EARLY_MAY, offsets(), NEW_YORK) == []


@pytest.mark.parametrize("value", [[0], [721], ["48"], [2.5], [True], 48, "48,2", None])
def test_offsets_must_be_whole_hours_up_to_a_month(value: Any) -> None:
    with pytest.raises(InvalidReminderPolicy, match=r"reminder_offsets_hours must be a list of whole hours "
                                                    r"from 1 to 720, e\.g\. \[48, 2\]"):
        ReminderPolicy.parse({"reminder_offsets_hours": value})


@pytest.mark.parametrize("value", ["21-8", "21:00\u201308:00", "24:00-08:00", "9:00-17:00", 2100, None])
def test_quiet_hours_must_be_written_hh_mm_dash_hh_mm(value: Any) -> None:
    with pytest.raises(InvalidReminderPolicy,
                       match='reminder_quiet_hours must be "HH:MM-HH:MM" in 24-hour time'):
        ReminderPolicy.parse({"reminder_quiet_hours": value})


@pytest.mark.parametrize("value", ["08:00-08:00", "08:00-21:00", "20:00-08:30"])
def test_quiet_hours_must_leave_at_least_half_the_day_for_reminders(value: str) -> None:
    with pytest.raises(InvalidReminderPolicy, match="must span more than nothing and at most 12 hours"):
        ReminderPolicy.parse({"reminder_quiet_hours": value})


@pytest.mark.parametrize("value", [-1, 1441, "30", 12.5, False])
def test_minimum_notice_must_be_whole_minutes_up_to_a_day(value: Any) -> None:
    with pytest.raises(InvalidReminderPolicy, match="reminder_minimum_notice_minutes must be a whole number "
                                                    "from 0 to 1440"):
        ReminderPolicy.parse({"reminder_minimum_notice_minutes": value})


def test_a_minimum_notice_as_long_as_the_shortest_offset_is_refused_as_that_reminder_never_goes() -> None:
    with pytest.raises(InvalidReminderPolicy,
                       match="must be shorter than the smallest of reminder_offsets_hours"):
        ReminderPolicy.parse({"reminder_offsets_hours": [48, 2], "reminder_minimum_notice_minutes": 120})


def test_every_problem_in_the_settings_is_named_at_once() -> None:
    with pytest.raises(InvalidReminderPolicy) as refused:
        ReminderPolicy.parse({"reminder_offsets_hours": [0], "reminder_quiet_hours": "late",
                              "reminder_minimum_notice_minutes": -5})
    assert [problem.split(" ")[0] for problem in str(refused.value).split("; ")] == [
        "reminder_offsets_hours", "reminder_quiet_hours", "reminder_minimum_notice_minutes"]


# Appointment reminders


def test_a_visit_booked_well_ahead_gets_its_48h_and_2h_reminders() -> None:
    start = new_york(2026, 5, 12, 14)  # 18:00 UTC
    assert plan_reminders(start, EARLY_MAY, DEFAULT, NEW_YORK) == [
        appointment(utc(2026, 5, 10, 18), "48h"), appointment(utc(2026, 5, 12, 16), "2h")]


def test_the_planned_times_are_in_utc() -> None:
    assert all(reminder.send_at.tzinfo is UTC
               for reminder in plan_reminders(new_york(2026, 5, 12, 14), EARLY_MAY, DEFAULT, NEW_YORK))


def test_a_visit_booked_three_hours_ahead_gets_only_the_2h_reminder() -> None:
    start = new_york(2026, 5, 12, 14)
    assert plan_reminders(start, start - timedelta(hours=3), DEFAULT, NEW_YORK) == [
        appointment(utc(2026, 5, 12, 16), "2h")]


@pytest.mark.parametrize("ahead", [timedelta(hours=2), timedelta(hours=1), timedelta(minutes=20)])
def test_a_visit_booked_two_hours_ahead_or_less_gets_no_reminder(ahead: timedelta) -> None:
    start = new_york(2026, 5, 12, 14)
    assert plan_reminders(start, start - ahead, DEFAULT, NEW_YORK) == []


def test_a_reminder_due_in_quiet_hours_moves_forward_to_their_end() -> None:
    start = new_york(2026, 5, 12, 10)  # 12 h before is 22:00 the night before
    assert plan_reminders(start, EARLY_MAY, offsets(12), NEW_YORK) == [
        appointment(new_york(2026, 5, 12, 8).astimezone(UTC), "12h")]


def test_a_reminder_at_exactly_the_end_of_quiet_hours_stays_where_it_is() -> None:
    start = new_york(2026, 5, 12, 10)
    assert plan_reminders(start, EARLY_MAY, offsets(2), NEW_YORK) == [appointment(utc(2026, 5, 12, 12), "2h")]


def test_a_reminder_that_would_move_inside_the_minimum_notice_moves_back_to_the_evening_before() -> None:
    start = new_york(2026, 5, 12, 8, 15)  # 2 h before is 06:15; 08:00 is within 30 min of the start
    assert plan_reminders(start, EARLY_MAY, DEFAULT, NEW_YORK) == [
        appointment(new_york(2026, 5, 10, 8, 15).astimezone(UTC), "48h"),
        appointment(new_york(2026, 5, 11, 21).astimezone(UTC), "2h")]


def test_a_reminder_with_nowhere_to_go_between_booking_and_notice_is_skipped() -> None:
    start = new_york(2026, 5, 12, 8, 15)
    booked_late_the_night_before = new_york(2026, 5, 11, 22)
    assert plan_reminders(start, booked_late_the_night_before, DEFAULT, NEW_YORK) == []


def test_reminders_that_land_on_the_same_time_are_sent_once_under_the_longest_offset() -> None:
    start = new_york(2026, 5, 12, 10)  # 12 h and 10 h before are 22:00 and 00:00: both move to 08:00
    assert plan_reminders(start, EARLY_MAY, offsets(10, 12), NEW_YORK) == [
        appointment(utc(2026, 5, 12, 12), "12h")]


def test_an_offset_is_real_hours_across_the_spring_forward_night() -> None:
    start = new_york(2026, 3, 9, 10)  # Monday 10:00 EDT = 14:00 UTC; 48 h before is Saturday 09:00 EST
    assert plan_reminders(start, utc(2026, 3, 1), DEFAULT, NEW_YORK) == [
        appointment(utc(2026, 3, 7, 14), "48h"), appointment(utc(2026, 3, 9, 12), "2h")]


def test_quiet_hours_end_at_eight_local_on_the_spring_forward_sunday() -> None:
    start = new_york(2026, 3, 8, 10)  # 10 h before is 23:00 EST on Saturday
    assert plan_reminders(start, utc(2026, 3, 1), offsets(10), NEW_YORK) == [
        appointment(utc(2026, 3, 8, 12), "10h")]  # 08:00 EDT, not 08:00 EST (13:00 UTC)


def test_quiet_hours_end_at_eight_local_on_the_fall_back_sunday() -> None:
    start = new_york(2026, 11, 1, 9)  # 14:00 UTC; 10 h before is 00:00 EDT
    assert plan_reminders(start, utc(2026, 10, 20), offsets(10), NEW_YORK) == [
        appointment(utc(2026, 11, 1, 13), "10h")]  # 08:00 EST, not 08:00 EDT (12:00 UTC)


def test_a_reminder_moved_back_on_the_fall_back_sunday_goes_at_nine_pm_daylight_time() -> None:
    start = new_york(2026, 11, 1, 8, 15)
    assert plan_reminders(start, utc(2026, 10, 20), offsets(2), NEW_YORK) == [
        appointment(utc(2026, 11, 1, 1), "2h")]  # 21:00 EDT on Saturday


@pytest.mark.parametrize(("start", "booked"), [(datetime(2026, 5, 12, 14), EARLY_MAY),
                                           (utc(2026, 5, 12, 14), datetime(2026, 5, 1))])
def test_times_without_a_zone_are_refused(start: datetime, booked: datetime) -> None:
    with pytest.raises(InvalidReminderRequest, match="must carry a time zone"):
        plan_reminders(start, booked, DEFAULT, NEW_YORK)


def test_an_unknown_zone_is_refused_with_an_example_of_a_known_one() -> None:
    with pytest.raises(InvalidReminderRequest, match="IANA zone name such as America/New_York"):
        plan_reminders(utc(2026, 5, 12, 14), EARLY_MAY, DEFAULT, "Eastern")


ZONES = st.sampled_from([NEW_YORK, "Europe/Berlin", "Australia/Lord_Howe", "America/Santiago",
                         "Asia/Kolkata", "UTC"])
WALL_MINUTES = st.integers(0, 24 * 60 - 1)


@st.composite
def policies(draw: st.DrawFn) -> ReminderPolicy:
    start = draw(WALL_MINUTES)
    end = (start + draw(st.integers(1, 12 * 60))) % (24 * 60)
    return ReminderPolicy(tuple(draw(st.lists(st.integers(1, 720), max_size=4))),
                          QuietHours(time(start // 60, start % 60), time(end // 60, end % 60)),
                          timedelta(minutes=draw(st.integers(0, 24 * 60))))


def quiet_wall_time(wall: time, quiet: QuietHours) -> bool:
    if quiet.start < quiet.end:
        return quiet.start < wall < quiet.end
    return wall > quiet.start or wall < quiet.end


DST_CHANGES = [(utc(2026, 3, 8, 7), NEW_YORK), (utc(2026, 11, 1, 6), NEW_YORK),
               (utc(2026, 3, 29, 1), "Europe/Berlin"), (utc(2026, 4, 4, 14, 30), "Australia/Lord_Howe")]


@st.composite
def visits(draw: st.DrawFn) -> tuple[datetime, str]:
    """A visit's start and its clinic's zone: any time, or within three days of a DST change there."""
    if draw(st.booleans()):
        return draw(st.datetimes(datetime(2026, 1, 1), datetime(2027, 12, 31), timezones=st.just(UTC))), \
            draw(ZONES)
    change, zone = draw(st.sampled_from(DST_CHANGES))
    return change + timedelta(minutes=draw(st.integers(-3 * 24 * 60, 3 * 24 * 60))), zone


@settings(max_examples=300, deadline=None)
@given(visit=visits(), ahead=st.integers(0, 14 * 24 * 60), policy=policies())
def test_no_appointment_reminder_is_quiet_before_booking_or_after_the_visit(
        visit: tuple[datetime, str], ahead: int, policy: ReminderPolicy) -> None:
    start, zone = visit
    booked = start - timedelta(minutes=ahead)
    plan = plan_reminders(start.astimezone(ZoneInfo(zone)), booked, policy, zone)  # local, as a clinic has it
    for reminder in plan:
        assert reminder.send_at.tzinfo is UTC
        assert booked < reminder.send_at <= start - policy.minimum_notice
        assert not quiet_wall_time(reminder.send_at.astimezone(ZoneInfo(zone)).time(), policy.quiet_hours)
    assert [r.send_at for r in plan] == sorted({r.send_at for r in plan})  # sorted, none twice
    for hours in policy.offsets_hours:  # and a wanted time that breaks no rule is kept as it is
        wanted = start - timedelta(hours=hours)
        if booked < wanted <= start - policy.minimum_notice and not quiet_wall_time(
                wanted.astimezone(ZoneInfo(zone)).time(), policy.quiet_hours):
            assert wanted in [r.send_at for r in plan]


# The channel


@pytest.mark.parametrize(("preferences", "expected"), [
    (ContactPreferences(Channel.SMS, has_email=True, has_phone=True), Channel.SMS),
    (ContactPreferences(None, has_email=True, has_phone=True), Channel.EMAIL),
    (ContactPreferences(Channel.SMS, has_email=True, has_phone=False), Channel.EMAIL),
    (ContactPreferences(Channel.EMAIL, has_email=True, has_phone=True, opted_out=frozenset({Channel.EMAIL})),
     Channel.SMS),
    (ContactPreferences(Channel.EMAIL, has_email=True, has_phone=False, opted_out=frozenset({Channel.EMAIL})),
     None),
    (ContactPreferences(Channel.SMS, has_email=True, has_phone=True, opted_out_all=True), None),
    (ContactPreferences(Channel.EMAIL, has_email=False, has_phone=False), None),
], ids=["preferred", "no-preference", "preferred-unreachable", "preferred-opted-out", "only-one-opted-out",
        "opted-out-of-all", "unreachable"])
def test_the_channel_is_the_preferred_one_else_the_other_allowed_one_else_none(
        preferences: ContactPreferences, expected: Channel | None) -> None:
    assert choose_channel(preferences) == expected


# The re-check before sending

REACHABLE = ContactPreferences(Channel.SMS, has_email=True, has_phone=True)
VISIT = new_york(2026, 5, 12, 14)
DUE = utc(2026, 5, 12, 16)  # the 2h reminder


def recheck(**changes: Any) -> ReminderDecision:
    arguments: dict[str, Any] = {
        "appointment_status": "booked", "appointment_version": "3", "planned_for_version": "3",
        "already_sent": False, "preferences": REACHABLE, "now": DUE + timedelta(seconds=5), "send_at": DUE,
        "appointment_start": VISIT, "policy": DEFAULT, "zone": NEW_YORK}
    return decide(**{**arguments, **changes})


def test_a_booked_unchanged_unsent_reminder_is_sent_by_the_patients_channel() -> None:
    assert recheck() == Send(Channel.SMS)


@pytest.mark.parametrize(("status", "reason"), [
    ("cancelled", "the appointment is cancelled"),
    ("noshow", "the appointment is marked as a no-show"),
    ("fulfilled", "the appointment has taken place"),
    ("entered-in-error", "the appointment was entered in error"),
    ("checked-in", "the patient has arrived"),
    ("proposed", "the appointment is not booked"),
])
def test_an_appointment_no_longer_booked_is_not_reminded(status: str, reason: str) -> None:
    assert recheck(appointment_status=status) == Skip(reason)


def test_a_rescheduled_appointments_old_reminders_are_superseded() -> None:
    assert recheck(appointment_version="4") == Skip("superseded by a newer plan")


def test_a_reminder_already_sent_is_not_sent_again() -> None:
    assert recheck(already_sent=True) == Skip("already sent")


def test_a_patient_who_opted_out_of_reminders_gets_none() -> None:
    opted_out = ContactPreferences(Channel.SMS, has_email=True, has_phone=True, opted_out_all=True)
    assert recheck(preferences=opted_out) == Skip("the patient opted out of reminders")


def test_a_patient_no_allowed_channel_reaches_is_skipped_saying_so() -> None:
    no_phone = ContactPreferences(Channel.SMS, has_email=False, has_phone=False)
    assert recheck(preferences=no_phone) == Skip(
        "no channel reaches the patient that they have not opted out of")


def test_a_reminder_resumed_more_than_an_hour_late_is_dropped_rather_than_sent_in_a_burst() -> None:
    assert recheck(now=DUE + timedelta(minutes=61)) == Skip("the send time passed more than an hour ago")


def test_a_late_reminder_within_the_minimum_notice_is_dropped() -> None:
    assert recheck(send_at=VISIT - timedelta(minutes=45), now=VISIT - timedelta(minutes=20)) == Skip(
        "too close to the appointment's start")


def test_a_delayed_reminder_that_lands_in_quiet_hours_is_dropped() -> None:
    evening = new_york(2026, 5, 11, 20, 30).astimezone(UTC)
    assert recheck(send_at=evening, now=evening + timedelta(minutes=45)) == Skip(
        "it is quiet hours in the clinic's time zone")


def test_the_recheck_refuses_times_without_a_zone() -> None:
    with pytest.raises(InvalidReminderRequest, match="now must carry a time zone"):
        recheck(now=datetime(2026, 5, 12, 16))


# Dated reminders


def test_dose_reminders_come_at_each_local_dose_time_across_the_spring_forward_night() -> None:
    plan = plan_medication_doses([time(20), time(8)], NEW_YORK, date(2026, 3, 7), 2,
                                 now=utc(2026, 3, 7, 13, 30))
    assert plan == [PlannedReminder(ReminderKind.MEDICATION_DOSE, utc(2026, 3, 8, 1), "20:00"),  # EST
                    PlannedReminder(ReminderKind.MEDICATION_DOSE, utc(2026, 3, 8, 12), "08:00"),  # EDT
                    PlannedReminder(ReminderKind.MEDICATION_DOSE, utc(2026, 3, 9, 0), "20:00")]


def test_a_dose_time_in_quiet_hours_is_refused_because_a_dose_reminder_is_never_moved() -> None:
    with pytest.raises(InvalidReminderRequest, match=r"quiet hours \(21:00-08:00\)"):
        plan_medication_doses([time(8), time(22)], NEW_YORK, date(2026, 5, 1), 7, now=EARLY_MAY)


def test_a_dose_time_the_clocks_skip_is_reminded_when_they_resume_unless_that_is_quiet() -> None:
    night = QuietHours(time(2, 45), time(7))
    plan = plan_medication_doses([time(2, 30)], NEW_YORK, date(2026, 3, 7), 2, now=utc(2026, 3, 1),
                                 quiet_hours=night)
    assert plan == [PlannedReminder(ReminderKind.MEDICATION_DOSE, utc(2026, 3, 7, 7, 30), "02:30")]


@pytest.mark.parametrize("days", [0, 366])
def test_doses_are_planned_for_one_day_to_a_year(days: int) -> None:
    with pytest.raises(InvalidReminderRequest, match="days must be a whole number from 1 to 365"):
        plan_medication_doses([time(9)], NEW_YORK, date(2026, 5, 1), days, now=EARLY_MAY)


def test_a_refill_reminder_comes_lead_days_before_the_supply_runs_out_mid_morning() -> None:
    assert plan_refill_due(date(2026, 4, 1), 30, 7, zone=NEW_YORK) == [
        PlannedReminder(ReminderKind.REFILL_DUE, utc(2026, 4, 24, 14), "7d")]  # runs out May 1


def test_a_refill_lead_as_long_as_the_supply_is_refused() -> None:
    with pytest.raises(InvalidReminderRequest, match="lead_days must be a whole number from 0 to 29"):
        plan_refill_due(date(2026, 4, 1), 30, 30, zone=NEW_YORK)


def test_a_bill_is_reminded_on_its_due_day_and_again_once_overdue() -> None:
    assert plan_bill(date(2026, 6, 15), 30, zone=NEW_YORK) == [
        PlannedReminder(ReminderKind.BILL_DUE, utc(2026, 6, 15, 14), "due"),
        PlannedReminder(ReminderKind.BILL_OVERDUE, utc(2026, 7, 15, 14), "30d")]


def test_an_annual_wellness_recall_after_a_leap_day_visit_falls_on_the_last_day_of_february() -> None:
    assert plan_recall(date(2024, 2, 29), 12, 14, zone=NEW_YORK) == [
        PlannedReminder(ReminderKind.RECALL, utc(2025, 2, 14, 15), "12mo")]  # due Feb 28, 10:00 EST


def test_a_recall_lead_reaching_back_to_the_last_visit_is_refused() -> None:
    with pytest.raises(InvalidReminderRequest, match="lead_days must be a whole number from 0 to 30"):
        plan_recall(date(2026, 1, 15), 1, 31, zone=NEW_YORK)


def test_coverage_ending_is_reminded_lead_days_before_in_winter_time() -> None:
    assert plan_coverage_expiry(date(2026, 12, 31), 30, zone=NEW_YORK) == [
        PlannedReminder(ReminderKind.COVERAGE_EXPIRY, utc(2026, 12, 1, 15), "30d")]


def test_a_dated_reminder_waits_for_the_end_of_quiet_hours_that_cover_mid_morning() -> None:
    late_morning_quiet = QuietHours(time(9), time(11, 30))
    assert plan_coverage_expiry(date(2026, 12, 31), 0, zone=NEW_YORK, quiet_hours=late_morning_quiet) == [
        PlannedReminder(ReminderKind.COVERAGE_EXPIRY, utc(2026, 12, 31, 16, 30), "0d")]
