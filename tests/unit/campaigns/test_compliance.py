"""Compliance: the 08:00-21:00 calling window in the callee's zones, DNC, and the combined
dial check."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from campaigns.compliance import (
    REASON_CALLEE_WINDOW,
    REASON_CLOSED,
    REASON_DNC,
    REASON_NOT_STARTED,
    REASON_OK,
    DialCheck,
    DoNotCall,
    callee_timezones,
    check_dial,
    in_calling_window,
    next_calling_window,
    normalize_dnc_entry,
)
from campaigns.errors import InvalidPhoneNumber, ValidationError
from campaigns.schedule import DateException, Schedule, parse_weekly

NY = ZoneInfo("America/New_York")
LA = ZoneInfo("America/Los_Angeles")
LONDON = ZoneInfo("Europe/London")

NY_PHONE = "+12125550123"  # Manhattan
IDAHO_PHONE = "+12085550123"  # area code 208: Mountain (Boise) and Pacific (north Idaho)
IDAHO_ZONES = ("America/Boise", "America/Los_Angeles")
FREEPHONE = "+80012345678"  # international freephone: no geography at all


def utc(year: int, month: int, day: int, hour: int = 0, minute: int = 0) -> datetime:
    return datetime(year, month, day, hour, minute, tzinfo=UTC)


def at_in(zone: ZoneInfo, year: int, month: int, day: int, hour: int, minute: int = 0) -> datetime:
    return datetime(year, month, day, hour, minute, tzinfo=zone)


# --- callee timezones ------------------------------------------------------------------


def test_a_geographic_number_gives_its_zone_whatever_the_contact_says() -> None:
    assert callee_timezones(NY_PHONE, "Europe/Berlin", "UTC") == ("America/New_York",)


def test_a_two_zone_area_code_gives_both_zones() -> None:
    assert sorted(callee_timezones(IDAHO_PHONE, None, "UTC")) == sorted(IDAHO_ZONES)


def test_a_number_without_geography_falls_back_to_contact_then_campaign() -> None:
    assert callee_timezones(FREEPHONE, "Asia/Kolkata", "Europe/London") == ("Asia/Kolkata",)
    assert callee_timezones(FREEPHONE, None, "Europe/London") == ("Europe/London",)
    assert callee_timezones(FREEPHONE, "", "Europe/London") == ("Europe/London",)


def test_an_unknown_fallback_zone_is_refused() -> None:
    with pytest.raises(ValidationError):
        callee_timezones(FREEPHONE, "Moon/Base", "UTC")
    with pytest.raises(ValidationError):
        callee_timezones(FREEPHONE, None, "Moon/Base")


# --- in_calling_window -----------------------------------------------------------------


@pytest.mark.parametrize(
    ("at", "expected"),
    [
        (at_in(NY, 2025, 1, 6, 7, 59), False),
        (at_in(NY, 2025, 1, 6, 8, 0), True),
        (at_in(NY, 2025, 1, 6, 20, 59), True),
        (at_in(NY, 2025, 1, 6, 21, 0), False),
        (at_in(NY, 2025, 1, 6, 7, 59) + timedelta(seconds=59.999), False),
        (utc(2025, 1, 6, 13), True),  # 08:00 EST
        (utc(2025, 1, 7, 2), False),  # 21:00 EST
        # Spring-forward Sunday: 08:00 EDT is 12:00 UTC.
        (utc(2024, 3, 10, 11, 59), False),
        (utc(2024, 3, 10, 12, 0), True),
        # Fall-back Sunday: 08:00 EST is 13:00 UTC.
        (utc(2024, 11, 3, 12, 59), False),
        (utc(2024, 11, 3, 13, 0), True),
    ],
)
def test_new_york_window(at: datetime, expected: bool) -> None:
    assert in_calling_window(at, ["America/New_York"]) is expected


@pytest.mark.parametrize(
    ("at", "expected"),
    [
        (utc(2024, 3, 31, 7, 59), True),  # 08:59 BST on the spring-forward day
        (utc(2024, 3, 31, 6, 59), False),  # 07:59 BST
        (utc(2024, 10, 27, 7, 59), False),  # 07:59 GMT on the fall-back day
        (utc(2024, 10, 27, 8, 0), True),
        (utc(2024, 10, 27, 20, 59), True),
        (utc(2024, 10, 27, 21, 0), False),
    ],
)
def test_london_window_on_dst_days(at: datetime, expected: bool) -> None:
    assert in_calling_window(at, ["Europe/London"]) is expected


def test_every_zone_of_a_two_zone_number_must_be_inside() -> None:
    assert not in_calling_window(at_in(LA, 2025, 7, 1, 7, 30), IDAHO_ZONES)  # 08:30 in Boise
    assert in_calling_window(at_in(LA, 2025, 7, 1, 8, 0), IDAHO_ZONES)
    assert in_calling_window(at_in(LA, 2025, 7, 1, 19, 59), IDAHO_ZONES)  # 20:59 in Boise
    assert not in_calling_window(at_in(LA, 2025, 7, 1, 20, 0), IDAHO_ZONES)


def test_calling_window_refuses_naive_times_and_no_zones() -> None:
    with pytest.raises(ValidationError):
        in_calling_window(datetime(2025, 1, 6, 12), ["UTC"])  # noqa: DTZ001 - on purpose
    with pytest.raises(ValidationError):
        in_calling_window(utc(2025, 1, 6, 12), [])
    with pytest.raises(ValidationError):
        next_calling_window(utc(2025, 1, 6, 12), [])
    with pytest.raises(ValidationError):
        in_calling_window(utc(2025, 1, 6, 12), ["Nowhere/Land"])


# --- next_calling_window ---------------------------------------------------------------


def test_next_calling_window_is_the_argument_when_inside() -> None:
    at = at_in(NY, 2025, 1, 6, 12)
    assert next_calling_window(at, ["America/New_York"]) is at


@pytest.mark.parametrize(
    ("at", "zones", "expected"),
    [
        (at_in(NY, 2025, 1, 6, 6), ["America/New_York"], at_in(NY, 2025, 1, 6, 8)),
        (at_in(NY, 2025, 1, 6, 21), ["America/New_York"], at_in(NY, 2025, 1, 7, 8)),
        (at_in(LA, 2025, 7, 1, 7, 30), list(IDAHO_ZONES), at_in(LA, 2025, 7, 1, 8)),
        (at_in(LA, 2025, 7, 1, 20), list(IDAHO_ZONES), at_in(LA, 2025, 7, 2, 8)),
        # Over the New York DST nights: 08:00 local each time.
        (at_in(NY, 2024, 3, 9, 22), ["America/New_York"], utc(2024, 3, 10, 12)),
        (at_in(NY, 2024, 11, 2, 22), ["America/New_York"], utc(2024, 11, 3, 13)),
        # And the London ones.
        (at_in(LONDON, 2024, 3, 30, 22), ["Europe/London"], utc(2024, 3, 31, 7)),
        (at_in(LONDON, 2024, 10, 26, 22), ["Europe/London"], utc(2024, 10, 27, 8)),
        # New York and London share 08:00-16:00 New York time (13:00-21:00 London).
        (utc(2025, 1, 6, 22), ["America/New_York", "Europe/London"], utc(2025, 1, 7, 13)),
    ],
)
def test_next_calling_window(at: datetime, zones: list[str], expected: datetime) -> None:
    assert next_calling_window(at, zones) == expected


def test_zones_whose_windows_never_meet_have_no_calling_window() -> None:
    # UTC 18:00-07:00, 02:30-15:30 and 08:00-21:00 (07:00-20:00 in summer): never all three.
    zones = ["Pacific/Honolulu", "Asia/Kolkata", "Europe/London"]
    assert next_calling_window(utc(2024, 1, 1), zones) is None


def test_zones_that_meet_only_in_summer_wait_for_the_clock_change() -> None:
    # Berlin's window reaches back to 06:00 UTC only once it is on summer time.
    zones = ["Pacific/Honolulu", "Asia/Kolkata", "Europe/Berlin"]
    assert next_calling_window(utc(2024, 1, 1), zones) == utc(2024, 3, 31, 6)


# --- do not call -----------------------------------------------------------------------


def test_normalize_dnc_entry() -> None:
    assert normalize_dnc_entry("(212) 555-0123", "US") == NY_PHONE
    assert normalize_dnc_entry("+44 20 7946 0958", None) == "+442079460958"
    with pytest.raises(InvalidPhoneNumber):
        normalize_dnc_entry("not a number", "US")


def test_do_not_call_blocks_listed_numbers_only() -> None:
    dnc = DoNotCall.from_entries(["212-555-0123", "+1 208 555 0123"])
    assert len(dnc) == 2
    assert dnc.blocks(NY_PHONE)
    assert dnc.blocks(IDAHO_PHONE)
    assert dnc.blocks("+1 (212) 555-0123")
    assert not dnc.blocks("+12125550124")
    assert not dnc.blocks("garbage")
    assert not DoNotCall().blocks(NY_PHONE)


# --- check_dial ------------------------------------------------------------------------

OFFICE = Schedule("America/New_York", parse_weekly("mon-fri 09:00-17:00"))
MONDAY_NOON = at_in(NY, 2025, 1, 6, 12)


def dial(at: datetime, *, phone: str = NY_PHONE, schedule: Schedule | None = OFFICE,
         start_at: datetime | None = None, dnc_blocked: bool = False,
         contact_tz: str | None = None, campaign_tz: str = "America/New_York") -> DialCheck:
    return check_dial(at=at, phone=phone, contact_tz=contact_tz, campaign_tz=campaign_tz,
                      schedule=schedule, start_at=start_at, dnc_blocked=dnc_blocked)


def test_allowed_when_every_rule_holds() -> None:
    assert dial(MONDAY_NOON) == DialCheck(allowed=True, reason=REASON_OK, retry_at=None)
    assert dial(MONDAY_NOON, schedule=None).allowed


def test_do_not_call_wins_and_never_retries() -> None:
    assert dial(MONDAY_NOON, dnc_blocked=True) == DialCheck(False, REASON_DNC, None)
    assert dial(MONDAY_NOON, dnc_blocked=True).reason == "on the do-not-call list"


def test_before_the_start_date_retry_at_the_start() -> None:
    start = at_in(NY, 2025, 1, 8, 10)
    assert dial(MONDAY_NOON, start_at=start) == DialCheck(False, REASON_NOT_STARTED, start)


def test_a_start_out_of_hours_retries_when_hours_open_after_it() -> None:
    start = at_in(NY, 2025, 1, 8, 6)
    check = dial(MONDAY_NOON, start_at=start)
    assert (check.reason, check.retry_at) == (REASON_NOT_STARTED, at_in(NY, 2025, 1, 8, 9))


def test_outside_business_hours_retries_at_the_next_opening() -> None:
    friday_evening = at_in(NY, 2025, 1, 10, 18)
    check = dial(friday_evening)
    assert (check.allowed, check.reason) == (False, REASON_CLOSED)
    assert check.retry_at == at_in(NY, 2025, 1, 13, 9)


def test_holiday_closes_dialing() -> None:
    schedule = Schedule("America/New_York", OFFICE.windows, (DateException(date(2025, 1, 6)),))
    check = dial(MONDAY_NOON, schedule=schedule)
    assert (check.reason, check.retry_at) == (REASON_CLOSED, at_in(NY, 2025, 1, 7, 9))


def test_callee_window_closed_retries_when_both_are_open() -> None:
    # A London office calling New York: 10:00 London is 05:00 in New York.
    london_office = Schedule("Europe/London", parse_weekly("mon-fri 09:00-17:00"))
    check = dial(at_in(LONDON, 2025, 1, 6, 10), schedule=london_office,
                 campaign_tz="Europe/London")
    assert (check.allowed, check.reason) == (False, REASON_CALLEE_WINDOW)
    assert check.retry_at == at_in(LONDON, 2025, 1, 6, 13)  # 08:00 in New York


def test_callee_window_and_hours_that_meet_the_next_day() -> None:
    london_office = Schedule("Europe/London", parse_weekly("mon-fri 09:00-17:00"))
    check = dial(at_in(LONDON, 2025, 1, 6, 16, 30), schedule=london_office,
                 phone="+14155550123", campaign_tz="Europe/London")  # San Francisco
    # 16:30 London is 08:30 in California: allowed. At 17:00 London closes.
    assert check.allowed
    check = dial(at_in(LONDON, 2025, 1, 6, 17), schedule=london_office,
                 phone="+14155550123", campaign_tz="Europe/London")
    assert (check.reason, check.retry_at) == (REASON_CLOSED, at_in(LONDON, 2025, 1, 7, 16))


def test_hours_that_never_meet_the_callee_window_give_no_retry() -> None:
    london_mornings = Schedule("Europe/London", parse_weekly("daily 09:00-12:00"))
    check = dial(at_in(LONDON, 2025, 1, 6, 10), schedule=london_mornings,
                 phone="+14155550123", campaign_tz="Europe/London")
    assert check == DialCheck(False, REASON_CALLEE_WINDOW, None)


def test_two_zone_number_waits_for_the_later_zone() -> None:
    check = dial(at_in(LA, 2025, 7, 1, 7, 30), phone=IDAHO_PHONE, schedule=None)
    assert (check.reason, check.retry_at) == (REASON_CALLEE_WINDOW, at_in(LA, 2025, 7, 1, 8))


def test_number_without_zone_uses_the_contact_zone() -> None:
    # 12:00 New York is 22:30 in Kolkata.
    check = dial(MONDAY_NOON, phone=FREEPHONE, contact_tz="Asia/Kolkata", schedule=None)
    assert (check.reason, check.retry_at) == (REASON_CALLEE_WINDOW, utc(2025, 1, 7, 2, 30))
    assert dial(MONDAY_NOON, phone=FREEPHONE, schedule=None).allowed


def test_check_dial_refuses_naive_times() -> None:
    with pytest.raises(ValidationError):
        dial(datetime(2025, 1, 6, 12))  # noqa: DTZ001 - on purpose
    with pytest.raises(ValidationError):
        dial(MONDAY_NOON, start_at=datetime(2025, 1, 8))  # noqa: DTZ001 - on purpose


# --- properties ------------------------------------------------------------------------

REAL_ZONES = [
    "America/New_York", "America/Chicago", "America/Denver", "America/Phoenix",
    "America/Los_Angeles", "America/Anchorage", "Pacific/Honolulu", "Europe/London",
    "Europe/Berlin", "Asia/Kolkata", "Australia/Lord_Howe", "Asia/Kathmandu",
]
zone_sets = st.lists(st.sampled_from(REAL_ZONES), min_size=1, max_size=3, unique=True)
instants = st.datetimes(
    min_value=datetime(1990, 1, 1), max_value=datetime(2040, 12, 31),  # noqa: DTZ001
    timezones=st.sampled_from([UTC, *(ZoneInfo(z) for z in REAL_ZONES)]),
)


def _local_times(at: datetime, zones: list[str]) -> list[time]:
    return [at.astimezone(ZoneInfo(zone)).time() for zone in zones]


@settings(max_examples=300, deadline=None)
@given(instants, zone_sets)
def test_inside_the_window_means_08_to_21_in_every_zone(at: datetime, zones: list[str]) -> None:
    inside = all(time(8) <= local < time(21) for local in _local_times(at, zones))
    assert in_calling_window(at, zones) is inside


@settings(max_examples=120, deadline=None)
@given(instants, zone_sets)
def test_next_calling_window_is_the_first_instant_inside(at: datetime, zones: list[str]) -> None:
    result = next_calling_window(at, zones)
    if result is None:
        assert len(zones) == 3
        start = at.astimezone(UTC)
        assert not any(in_calling_window(start + timedelta(minutes=m), zones)
                       for m in range(0, 3 * 24 * 60, 10))
        return
    assert result >= at
    assert in_calling_window(result, zones)
    # In UTC: arithmetic on a zoned datetime is wall-clock and can step back over a fold.
    start, stop = at.astimezone(UTC), result.astimezone(UTC)
    earlier = [start, stop - timedelta(minutes=1), stop - timedelta(seconds=1),
               *(start + (stop - start) * k / 23 for k in range(1, 23))]
    assert not any(in_calling_window(p, zones) for p in earlier if start <= p < stop)


schedules = st.sampled_from([
    None,
    OFFICE,
    Schedule("Europe/London", parse_weekly("mon-fri 09:00-17:30; sat 10:00-13:00")),
    Schedule("America/Los_Angeles", parse_weekly("daily 06:00-10:00, 15:00-22:00")),
])


@settings(max_examples=60, deadline=None)
@given(instants, schedules,
       st.sampled_from([NY_PHONE, IDAHO_PHONE, FREEPHONE, "+442079460958", "+61255501234"]))
def test_a_retry_at_the_suggested_time_is_allowed(
    at: datetime, schedule: Schedule | None, phone: str,
) -> None:
    check = check_dial(at=at, phone=phone, contact_tz="Asia/Kathmandu", campaign_tz="UTC",
                       schedule=schedule, start_at=None, dnc_blocked=False)
    if check.allowed or check.retry_at is None:
        return
    assert check.retry_at > at
    again = check_dial(at=check.retry_at, phone=phone, contact_tz="Asia/Kathmandu",
                       campaign_tz="UTC", schedule=schedule, start_at=None, dnc_blocked=False)
    assert again.allowed
