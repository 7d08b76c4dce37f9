"""Business hours: validation, open/closed, next opening and closing (DST included),
the CLI text form and the JSON form."""

from __future__ import annotations

import json
import pickle
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from campaigns.errors import ValidationError
from campaigns.schedule import (
    MIDNIGHT,
    DateException,
    Schedule,
    WeeklyWindow,
    campaign_started,
    format_weekly,
    is_open,
    next_closing,
    next_common_opening,
    next_opening,
    parse_weekly,
    schedule_from_dict,
    schedule_to_dict,
    windows_on,
)

NY = ZoneInfo("America/New_York")
LONDON = ZoneInfo("Europe/London")
OFFICE = parse_weekly("mon-fri 09:00-17:00; sat 10:00-14:00")
CHRISTMAS = date(2024, 12, 25)  # a Wednesday


def ny(year: int, month: int, day: int, hour: int = 0, minute: int = 0) -> datetime:
    return datetime(year, month, day, hour, minute, tzinfo=NY)


def office(*exceptions: DateException) -> Schedule:
    return Schedule("America/New_York", OFFICE, exceptions)


# --- validation ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("weekday", "start", "end"),
    [
        (7, time(9), time(17)),
        (-1, time(9), time(17)),
        (True, time(9), time(17)),
        (0, time(17), time(9)),
        (0, time(9), time(9)),
        (0, time(9, 0, 30), time(17)),
        (0, time(9, tzinfo=UTC), time(17)),
    ],
)
def test_weekly_window_rejects_illegal_values(weekday: int, start: time, end: time) -> None:
    with pytest.raises(ValidationError):
        WeeklyWindow(weekday, start, end)


def test_weekly_window_end_at_midnight_means_end_of_day() -> None:
    assert WeeklyWindow(6, time(18), MIDNIGHT).window == (time(18), MIDNIGHT)
    assert WeeklyWindow(6, MIDNIGHT, MIDNIGHT).window == (MIDNIGHT, MIDNIGHT)


def test_date_exception_rejects_datetimes_and_bad_windows() -> None:
    with pytest.raises(ValidationError):
        DateException(datetime(2024, 12, 25, tzinfo=UTC))
    with pytest.raises(ValidationError):
        DateException(CHRISTMAS, ((time(12), time(9)),))


def test_date_exception_sorts_its_windows() -> None:
    holiday = DateException(CHRISTMAS, ((time(14), time(15)), (time(9), time(10))))
    assert holiday.windows == ((time(9), time(10)), (time(14), time(15)))


def test_schedule_rejects_unknown_timezone_and_duplicate_dates() -> None:
    with pytest.raises(ValidationError, match="timezone"):
        Schedule("Mars/Olympus", OFFICE)
    with pytest.raises(ValidationError, match="twice"):
        office(DateException(CHRISTMAS), DateException(CHRISTMAS, ((time(9), time(10)),)))


def test_schedules_with_the_same_hours_are_equal_and_survive_pickling() -> None:
    shuffled = Schedule("America/New_York", tuple(reversed(OFFICE)) + OFFICE[:1])
    assert shuffled == office()
    assert hash(shuffled) == hash(office())
    restored = pickle.loads(pickle.dumps(office(DateException(CHRISTMAS))))
    assert restored == office(DateException(CHRISTMAS))
    assert not is_open(restored, ny(2024, 12, 25, 10))


def test_naive_datetimes_are_refused() -> None:
    naive = datetime(2024, 12, 23, 10)  # noqa: DTZ001 - the point of the test
    with pytest.raises(ValidationError, match="timezone"):
        is_open(office(), naive)
    with pytest.raises(ValidationError, match="timezone"):
        next_opening(office(), naive)
    with pytest.raises(ValidationError, match="timezone"):
        next_closing(office(), naive)
    with pytest.raises(ValidationError, match="timezone"):
        campaign_started(None, naive)


# --- is_open ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("at", "expected"),
    [
        (ny(2024, 12, 23, 9, 0), True),  # Monday opening minute
        (ny(2024, 12, 23, 8, 59), False),
        (ny(2024, 12, 23, 16, 59), True),
        (ny(2024, 12, 23, 17, 0), False),  # end is exclusive
        (ny(2024, 12, 28, 10, 0), True),  # Saturday
        (ny(2024, 12, 28, 14, 0), False),
        (ny(2024, 12, 29, 12, 0), False),  # Sunday
        (datetime(2024, 12, 23, 14, 0, tzinfo=UTC), True),  # 09:00 in New York
        (datetime(2024, 12, 23, 13, 59, tzinfo=UTC), False),
    ],
)
def test_is_open_reads_windows_in_the_schedule_timezone(at: datetime, expected: bool) -> None:
    assert is_open(office(), at) is expected


def test_holiday_closes_the_whole_day() -> None:
    schedule = office(DateException(CHRISTMAS))
    assert not is_open(schedule, ny(2024, 12, 25, 12))
    assert is_open(schedule, ny(2024, 12, 26, 12))
    assert windows_on(schedule, CHRISTMAS) == ()


def test_exception_windows_replace_the_weekly_ones() -> None:
    schedule = office(
        DateException(date(2024, 12, 24), ((time(9), time(12)),)),  # short Tuesday
        DateException(date(2024, 12, 29), ((time(11), time(13)),)),  # open on a Sunday
    )
    assert is_open(schedule, ny(2024, 12, 24, 11, 59))
    assert not is_open(schedule, ny(2024, 12, 24, 13))
    assert is_open(schedule, ny(2024, 12, 29, 12))
    assert is_open(schedule, ny(2024, 12, 31, 13))  # other days keep the weekly hours


def test_always_is_open_at_every_instant_and_never_closes() -> None:
    always = Schedule.always("Europe/London")
    for hour in range(0, 24 * 7, 5):
        assert is_open(always, datetime(2024, 3, 28, tzinfo=UTC) + timedelta(hours=hour))
    assert next_closing(always, datetime(2024, 3, 30, tzinfo=UTC)) is None


def test_window_until_midnight_and_overnight_windows() -> None:
    schedule = Schedule("America/New_York", parse_weekly("fri 22:00-02:00; sun 18:00-24:00"))
    assert is_open(schedule, ny(2024, 12, 27, 23, 30))  # Friday night
    assert is_open(schedule, ny(2024, 12, 28, 1, 59))  # Saturday small hours
    assert not is_open(schedule, ny(2024, 12, 28, 2, 0))
    assert is_open(schedule, ny(2024, 12, 29, 23, 59))  # Sunday until midnight
    assert not is_open(schedule, ny(2024, 12, 30, 0, 0))
    # The Friday and Saturday parts touch at midnight: one stretch, one closing.
    assert next_closing(schedule, ny(2024, 12, 27, 22, 0)) == ny(2024, 12, 28, 2, 0)
    assert next_closing(schedule, ny(2024, 12, 29, 18, 0)) == ny(2024, 12, 30, 0, 0)


# --- next_opening / next_closing -------------------------------------------------------


def test_next_opening_is_the_argument_when_open() -> None:
    at = ny(2024, 12, 23, 10, 30)
    assert next_opening(office(), at) is at


def test_next_opening_after_hours_and_over_the_weekend() -> None:
    assert next_opening(office(), ny(2024, 12, 23, 7, 0)) == ny(2024, 12, 23, 9, 0)
    assert next_opening(office(), ny(2024, 12, 27, 18, 0)) == ny(2024, 12, 28, 10, 0)
    assert next_opening(office(), ny(2024, 12, 28, 14, 0)) == ny(2024, 12, 30, 9, 0)


def test_next_opening_skips_holidays() -> None:
    schedule = office(DateException(CHRISTMAS), DateException(date(2024, 12, 26)))
    assert next_opening(schedule, ny(2024, 12, 24, 17, 0)) == ny(2024, 12, 27, 9, 0)


def test_next_opening_returns_utc() -> None:
    result = next_opening(office(), ny(2024, 12, 23, 7, 0))
    assert result is not None
    assert result.tzinfo is UTC


def test_never_open_schedule_has_no_opening() -> None:
    assert next_opening(Schedule("UTC", ()), ny(2024, 1, 1)) is None
    holidays = tuple(DateException(date(2024, 1, 1) + timedelta(days=d)) for d in range(380))
    assert next_opening(Schedule("UTC", parse_weekly("daily 09:00-10:00"), holidays),
                        ny(2024, 1, 1)) is None


def test_next_opening_finds_an_exception_beyond_the_search_horizon() -> None:
    far = DateException(date(2027, 6, 1), ((time(9), time(10)),))
    schedule = Schedule("Europe/London", (), (far,))
    assert next_opening(schedule, datetime(2024, 1, 1, tzinfo=UTC)) == datetime(
        2027, 6, 1, 8, 0, tzinfo=UTC)


def test_next_closing() -> None:
    assert next_closing(office(), ny(2024, 12, 23, 10)) == ny(2024, 12, 23, 17)
    at = ny(2024, 12, 23, 18)
    assert next_closing(office(), at) is at


def test_next_common_opening_leapfrogs_to_the_first_shared_instant() -> None:
    mornings = Schedule("America/New_York", parse_weekly("mon-fri 09:00-12:00"))
    london = Schedule("Europe/London", parse_weekly("mon-fri 15:00-18:00"))  # 10:00-13:00 NY
    start = ny(2024, 12, 23, 7)
    assert next_common_opening([mornings, london], start) == ny(2024, 12, 23, 10)
    assert next_common_opening([], start) is start
    evenings = Schedule("America/New_York", parse_weekly("mon-fri 18:00-20:00"))
    assert next_common_opening([mornings, evenings], start) is None


# --- DST -------------------------------------------------------------------------------


def test_new_york_spring_forward_window_starting_in_the_gap_opens_at_the_transition() -> None:
    # 2024-03-10: 02:00 EST jumps to 03:00 EDT (07:00 UTC).
    schedule = Schedule("America/New_York", parse_weekly("sun 02:30-04:00"))
    assert next_opening(schedule, ny(2024, 3, 10, 0, 0)) == datetime(2024, 3, 10, 7, tzinfo=UTC)
    assert not is_open(schedule, datetime(2024, 3, 10, 6, 59, 59, tzinfo=UTC))
    assert next_closing(schedule, ny(2024, 3, 10, 3, 0)) == datetime(2024, 3, 10, 8, tzinfo=UTC)


def test_new_york_window_wholly_inside_the_gap_does_not_open_that_day() -> None:
    schedule = Schedule("America/New_York", parse_weekly("sun 02:00-02:30"))
    assert next_opening(schedule, ny(2024, 3, 10, 0, 0)) == ny(2024, 3, 17, 2, 0)


def test_new_york_fall_back_repeated_hour_counts_by_wall_time_both_times() -> None:
    # 2024-11-03: 02:00 EDT (06:00 UTC) falls back to 01:00 EST.
    schedule = Schedule("America/New_York", parse_weekly("sun 00:00-01:30"))
    first_close = next_closing(schedule, ny(2024, 11, 3, 0, 0))
    assert first_close == datetime(2024, 11, 3, 5, 30, tzinfo=UTC)  # 01:30 EDT
    reopen = next_opening(schedule, first_close)
    assert reopen == datetime(2024, 11, 3, 6, 0, tzinfo=UTC)  # 01:00 EST
    assert next_closing(schedule, reopen) == datetime(2024, 11, 3, 6, 30, tzinfo=UTC)


def test_new_york_office_hours_on_dst_sundays_keep_their_local_times() -> None:
    weekend = Schedule("America/New_York", parse_weekly("sun 09:00-17:00"))
    assert next_opening(weekend, ny(2024, 3, 10, 0)) == datetime(2024, 3, 10, 13, tzinfo=UTC)
    assert next_opening(weekend, ny(2024, 11, 3, 0)) == datetime(2024, 11, 3, 14, tzinfo=UTC)


def test_london_spring_forward_window_across_the_gap() -> None:
    # 2024-03-31: 01:00 GMT jumps to 02:00 BST; wall times 01:00-02:00 never happen.
    schedule = Schedule("Europe/London", parse_weekly("sun 01:00-03:00"))
    start = datetime(2024, 3, 31, 0, 0, tzinfo=LONDON)
    assert next_opening(schedule, start) == datetime(2024, 3, 31, 1, 0, tzinfo=UTC)
    assert not is_open(schedule, datetime(2024, 3, 31, 0, 59, tzinfo=UTC))
    assert next_closing(schedule, datetime(2024, 3, 31, 1, 0, tzinfo=UTC)) == datetime(
        2024, 3, 31, 2, 0, tzinfo=UTC)  # open one real hour only


def test_a_wall_time_inside_the_gap_is_judged_as_the_instant_it_denotes() -> None:
    schedule = Schedule("Europe/London", parse_weekly("sun 01:00-01:15"))
    # 01:05 does not exist on 2024-03-31; with fold=0 it denotes 01:05 UTC = 02:05 BST.
    imaginary = datetime(2024, 3, 31, 1, 5, tzinfo=LONDON)
    assert imaginary.astimezone(UTC) == datetime(2024, 3, 31, 1, 5, tzinfo=UTC)
    assert not is_open(schedule, imaginary)


def test_london_fall_back_night_window_lasts_an_extra_hour() -> None:
    # 2024-10-27: 02:00 BST falls back to 01:00 GMT.
    schedule = Schedule("Europe/London", parse_weekly("sun 00:00-03:00"))
    opening = next_opening(schedule, datetime(2024, 10, 26, 22, tzinfo=UTC))
    assert opening == datetime(2024, 10, 26, 23, tzinfo=UTC)  # 00:00 BST
    closing = next_closing(schedule, opening)
    assert closing == datetime(2024, 10, 27, 3, tzinfo=UTC)  # 03:00 GMT
    assert closing - opening == timedelta(hours=4)


# --- campaign start --------------------------------------------------------------------


def test_campaign_started() -> None:
    now = datetime(2025, 1, 6, 12, tzinfo=UTC)
    assert campaign_started(None, now)
    assert campaign_started(now, now)
    assert campaign_started(now - timedelta(seconds=1), now)
    assert not campaign_started(now + timedelta(seconds=1), now)
    assert not campaign_started(ny(2025, 1, 6, 8), now)  # 13:00 UTC
    with pytest.raises(ValidationError):
        campaign_started(datetime(2025, 1, 1), now)  # noqa: DTZ001 - naive on purpose


# --- text form -------------------------------------------------------------------------


def test_parse_weekly_example() -> None:
    windows = parse_weekly("mon-fri 09:00-17:00; sat 10:00-14:00")
    weekdays = [WeeklyWindow(d, time(9), time(17)) for d in range(5)]
    assert windows == (*weekdays, WeeklyWindow(5, time(10), time(14)))


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("mon,wed 9:00-12:00", [(0, "09:00", "12:00"), (2, "09:00", "12:00")]),
        ("daily 00:00-24:00", [(d, "00:00", "24:00") for d in range(7)]),
        ("weekdays 08:30-09:00", [(d, "08:30", "09:00") for d in range(5)]),
        ("Weekends 10:00 - 12:00", [(5, "10:00", "12:00"), (6, "10:00", "12:00")]),
        ("Monday 09:00-12:00, 13:00-17:00",
         [(0, "09:00", "12:00"), (0, "13:00", "17:00")]),
        ("fri-mon 12:00-13:00", [(d, "12:00", "13:00") for d in (0, 4, 5, 6)]),
        ("sun 22:00-02:00", [(0, "00:00", "02:00"), (6, "22:00", "24:00")]),
        ("sat 18:00-00:00", [(5, "18:00", "24:00")]),
        ("mon 9:00-10:00\ntue 9:00-10:00;", [(0, "09:00", "10:00"), (1, "09:00", "10:00")]),
        ("", []),
    ],
)
def test_parse_weekly_forms(text: str, expected: list[tuple[int, str, str]]) -> None:
    def hhmm(value: str) -> time:
        return MIDNIGHT if value == "24:00" else time.fromisoformat(value)

    assert parse_weekly(text) == tuple(WeeklyWindow(d, hhmm(s), hhmm(e)) for d, s, e in expected)


@pytest.mark.parametrize(
    "text",
    ["funday 09:00-10:00", "mon", "09:00-17:00", "mon 9-17", "mon 25:00-26:00",
     "mon 10:00-10:00", "mon 24:00-10:00", "mon 09:60-10:00", "mon,,tue 09:00-10:00",
     "mon 09:00"],
)
def test_parse_weekly_rejects_nonsense(text: str) -> None:
    with pytest.raises(ValidationError):
        parse_weekly(text)


@pytest.mark.parametrize(
    "text",
    ["mon-fri 09:00-17:00; sat 10:00-14:00", "daily 00:00-24:00",
     "mon,wed 09:00-12:00, 13:00-17:00", "sat,sun 22:00-24:00", ""],
)
def test_format_weekly_gives_back_the_canonical_text(text: str) -> None:
    assert format_weekly(parse_weekly(text)) == text


# --- JSON form -------------------------------------------------------------------------


def test_schedule_dict_round_trip_through_json() -> None:
    schedule = office(DateException(CHRISTMAS),
                      DateException(date(2024, 12, 24), ((time(9), time(12)),)))
    data = json.loads(json.dumps(schedule_to_dict(schedule)))
    assert data["timezone"] == "America/New_York"
    assert data["exceptions"][0] == {"date": "2024-12-24",
                                     "windows": [{"start": "09:00", "end": "12:00"}]}
    assert schedule_from_dict(data) == schedule


@pytest.mark.parametrize(
    "data",
    [
        {"weekly": []},
        {"timezone": "UTC", "weekly": [], "version": 99},
        {"timezone": "UTC", "weekly": "mon-fri"},
        {"timezone": "UTC", "weekly": [{"day": "mon", "start": "17:00", "end": "09:00"}]},
        {"timezone": "UTC", "weekly": [{"day": "xyz", "start": "09:00", "end": "17:00"}]},
        {"timezone": "UTC", "weekly": [["mon", "09:00", "17:00"]]},
        {"timezone": "UTC", "weekly": [], "exceptions": [{"date": "25/12/2024", "windows": []}]},
        {"timezone": "Nowhere/City", "weekly": []},
    ],
)
def test_schedule_from_dict_rejects_malformed_data(data: dict[str, object]) -> None:
    with pytest.raises(ValidationError):
        schedule_from_dict(data)


# --- properties ------------------------------------------------------------------------

ZONES = ["America/New_York", "Europe/London", "Australia/Lord_Howe", "Asia/Kathmandu",
         "America/Phoenix", "UTC"]
LORD_HOWE = ZoneInfo("Australia/Lord_Howe")
# 2024 offset changes, in UTC: gaps and repeated hours of 1 h (New York, London) and 30 min
# (Lord Howe, where the clocks change by half an hour).
DST_CHANGES = [
    (NY, datetime(2024, 3, 10, 7, tzinfo=UTC)), (NY, datetime(2024, 11, 3, 6, tzinfo=UTC)),
    (LONDON, datetime(2024, 3, 31, 1, tzinfo=UTC)),
    (LONDON, datetime(2024, 10, 27, 1, tzinfo=UTC)),
    (LORD_HOWE, datetime(2024, 4, 6, 15, tzinfo=UTC)),
    (LORD_HOWE, datetime(2024, 10, 5, 15, 30, tzinfo=UTC)),
]


def _wall(minutes: int) -> time:
    return MIDNIGHT if minutes >= 24 * 60 else time(minutes // 60, minutes % 60)


@st.composite
def windows_of_a_day(draw: st.DrawFn, *, small_hours: bool = False) -> tuple[time, time]:
    """Quarter-hour windows; ``small_hours`` keeps them near the DST changes (00:00-05:00)."""
    slots = 5 * 4 if small_hours else 24 * 4
    start = draw(st.integers(0, slots - 1)) * 15
    length = draw(st.integers(1, 16 if small_hours else 24 * 4)) * 15
    return _wall(start), _wall(min(start + length, 24 * 60))


@st.composite
def schedules(draw: st.DrawFn) -> Schedule:
    windows = [WeeklyWindow(draw(st.integers(0, 6)), *draw(windows_of_a_day()))
               for _ in range(draw(st.integers(0, 6)))]
    days = draw(st.lists(st.dates(date(2024, 1, 1), date(2024, 12, 31)), max_size=3,
                         unique=True))
    exceptions = tuple(
        DateException(day, tuple(draw(st.lists(windows_of_a_day(), max_size=2))))
        for day in days
    )
    return Schedule(draw(st.sampled_from(ZONES)), tuple(windows), exceptions)


@st.composite
def around_a_dst_change(draw: st.DrawFn) -> tuple[Schedule, datetime]:
    """A daily schedule in the small hours, and an instant a few hours from a change."""
    zone, change = draw(st.sampled_from(DST_CHANGES))
    pairs = draw(st.lists(windows_of_a_day(small_hours=True), min_size=1, max_size=3))
    schedule = Schedule(zone.key, tuple(WeeklyWindow(d, s, e) for d in range(7) for s, e in pairs))
    seconds = draw(st.integers(-8 * 3600, 3 * 3600))
    return schedule, (change + timedelta(seconds=seconds)).astimezone(zone)


instants = st.datetimes(
    min_value=datetime(2023, 12, 1), max_value=datetime(2025, 1, 31),  # noqa: DTZ001
    timezones=st.sampled_from([UTC, NY, LONDON, LORD_HOWE]),
)


def _points_between(after: datetime, before: datetime) -> list[datetime]:
    """Instants in [after, before). In UTC: arithmetic on a zoned datetime is wall-clock."""
    start, stop = after.astimezone(UTC), before.astimezone(UTC)
    span = stop - start
    points = [start, stop - timedelta(seconds=1), stop - timedelta(microseconds=1),
              *(start + span * k / 17 for k in range(1, 17))]
    return [p for p in points if start <= p < stop]


def _assert_next_opening(schedule: Schedule, after: datetime) -> None:
    result = next_opening(schedule, after)
    if result is None:
        start = after.astimezone(UTC)
        assert not any(is_open(schedule, start + timedelta(hours=h)) for h in range(0, 400, 7))
        return
    assert result >= after
    assert is_open(schedule, result)
    assert not any(is_open(schedule, point) for point in _points_between(after, result))


def _assert_next_closing(schedule: Schedule, at: datetime) -> None:
    result = next_closing(schedule, at)
    if result is None:
        start = at.astimezone(UTC)
        assert all(is_open(schedule, start + timedelta(hours=h)) for h in range(0, 400, 7))
        return
    assert result >= at
    assert not is_open(schedule, result)
    assert all(is_open(schedule, point) for point in _points_between(at, result))


@settings(max_examples=100, deadline=None)
@given(schedules(), instants)
def test_next_opening_is_open_and_nothing_earlier_is(schedule: Schedule, after: datetime) -> None:
    _assert_next_opening(schedule, after)


@settings(max_examples=60, deadline=None)
@given(schedules(), instants)
def test_next_closing_is_closed_and_open_until_then(schedule: Schedule, at: datetime) -> None:
    _assert_next_closing(schedule, at)


@settings(max_examples=150, deadline=None)
@given(around_a_dst_change())
def test_openings_and_closings_are_exact_across_dst_changes(
    case: tuple[Schedule, datetime],
) -> None:
    schedule, at = case
    _assert_next_opening(schedule, at)
    _assert_next_closing(schedule, at)


@settings(max_examples=100, deadline=None)
@given(st.lists(st.builds(lambda day, pair: WeeklyWindow(day, *pair),
                          st.integers(0, 6), windows_of_a_day()), max_size=8))
def test_text_form_round_trips(windows: list[WeeklyWindow]) -> None:
    canonical = Schedule("UTC", tuple(windows)).windows
    assert parse_weekly(format_weekly(windows)) == canonical


@settings(max_examples=50, deadline=None)
@given(schedules())
def test_dict_form_round_trips(schedule: Schedule) -> None:
    assert schedule_from_dict(json.loads(json.dumps(schedule_to_dict(schedule)))) == schedule
