"""Business hours: weekly windows, dated exceptions, and when a schedule is open.

Windows are wall-clock times in the schedule's own timezone. An instant is open when its
local wall time (date and time of day, ignoring ``fold``) lies in ``[start, end)`` of a
window of its local date; ``end == 00:00`` means midnight at the end of that day.

Daylight-saving time follows from that rule and nothing else:

- Spring forward: wall times in the gap never happen. A window that starts inside the
  gap opens at the transition (the first instant after the gap); a window lying wholly
  inside the gap does not open that day.
- Fall back: the repeated hour is judged by its wall time both times round, so a window
  covering 01:00-02:00 is open for two real hours, and a window ending at 01:30 closes at
  01:30 daylight time and opens again for 01:00-01:30 standard time.

``next_opening`` and ``next_closing`` return the exact instant (to the second for
transitions) at which ``is_open`` changes, so they always agree with ``is_open``.
Results other than the argument itself are UTC datetimes: comparing two datetimes that
share a ``ZoneInfo`` ignores ``fold``, which is wrong inside a repeated hour, whereas
comparisons against UTC are always by instant.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from functools import lru_cache
from typing import Final, TypeAlias
from zoneinfo import ZoneInfo

from campaigns.errors import ValidationError
from campaigns.types import check_timezone

Window: TypeAlias = tuple[time, time]
"""A ``(start, end)`` pair of wall times; ``end == MIDNIGHT`` means the end of the day."""

MIDNIGHT: Final = time(0)
SEARCH_DAYS: Final = 366
"""How far ahead ``next_opening``/``next_closing`` look (plus any later dated exceptions)."""

WEEKDAY_NAMES: Final = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
SCHEDULE_FORMAT_VERSION: Final = 1

_ONE_DAY: Final = timedelta(days=1)
# Every candidate instant produced for a local date lies after that date's 00:00 UTC minus
# this span (transitions are looked for over the surrounding UTC days, offsets < 24 h).
_CANDIDATE_SPAN: Final = timedelta(days=2)
_FIRST_SAFE_DAY: Final = date(1, 1, 8)
_LAST_SAFE_DAY: Final = date(9999, 12, 24)


# --- value types -----------------------------------------------------------------------


def _checked_time(name: str, value: object) -> time:
    if not isinstance(value, time) or value.tzinfo is not None:
        raise ValidationError(name, f"{value!r} is not a wall-clock time")
    if value.second or value.microsecond:
        raise ValidationError(name, f"{value.isoformat()} is not a whole minute")
    return value


def _check_window(name: str, start_value: object, end_value: object) -> None:
    start = _checked_time(name, start_value)
    end = _checked_time(name, end_value)
    if end != MIDNIGHT and end <= start:
        raise ValidationError(
            name,
            f"{_fmt(start)}-{_fmt_end(end)} does not end after it starts "
            "(split a window that crosses midnight into two)",
        )


def _window_key(window: Window) -> tuple[time, int]:
    start, end = window
    return start, _minutes_end(end)


def _minutes_end(end: time) -> int:
    return 24 * 60 if end == MIDNIGHT else end.hour * 60 + end.minute


@dataclass(frozen=True, slots=True)
class WeeklyWindow:
    """Open from ``start`` to ``end`` every ``weekday`` (0 = Monday .. 6 = Sunday).

    ``end`` must be after ``start``, or ``00:00`` for midnight at the end of the day.
    Times are whole minutes without a timezone (the schedule's timezone applies).
    """

    weekday: int
    start: time
    end: time

    def __post_init__(self) -> None:
        if isinstance(self.weekday, bool) or not isinstance(self.weekday, int) \
                or not 0 <= self.weekday <= 6:
            raise ValidationError("weekday", f"{self.weekday!r} is not 0 (Monday) .. 6 (Sunday)")
        _check_window("window", self.start, self.end)

    @property
    def window(self) -> Window:
        """The ``(start, end)`` pair."""
        return self.start, self.end


@dataclass(frozen=True, slots=True)
class DateException:
    """A dated override: on ``day`` these ``windows`` replace the weekly ones.

    No windows means closed all day (a holiday). Windows are kept sorted by start.
    """

    day: date
    windows: tuple[Window, ...] = ()

    def __post_init__(self) -> None:
        if isinstance(self.day, datetime) or not isinstance(self.day, date):
            raise ValidationError("date", f"{self.day!r} is not a date")
        pairs: list[Window] = []
        for pair in self.windows:
            if not isinstance(pair, tuple) or len(pair) != 2:
                raise ValidationError("window", f"{pair!r} is not a (start, end) pair")
            _check_window("window", pair[0], pair[1])
            pairs.append((pair[0], pair[1]))
        object.__setattr__(self, "windows", tuple(sorted(set(pairs), key=_window_key)))


@dataclass(frozen=True, slots=True)
class Schedule:
    """Business hours in ``timezone``: weekly windows with dated exceptions.

    Windows are kept sorted (weekday, start, end) without duplicates and exceptions sorted
    by date, so equal hours compare equal. No windows and no exceptions: never open.
    """

    timezone: str
    windows: tuple[WeeklyWindow, ...]
    exceptions: tuple[DateException, ...] = ()
    _zone: ZoneInfo = field(init=False, repr=False, compare=False)
    _weekly: tuple[tuple[Window, ...], ...] = field(init=False, repr=False, compare=False)
    _dated: dict[date, tuple[Window, ...]] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        check_timezone(self.timezone)
        for window in self.windows:
            if not isinstance(window, WeeklyWindow):
                raise ValidationError("windows", f"{window!r} is not a WeeklyWindow")
        dated: dict[date, tuple[Window, ...]] = {}
        for exception in self.exceptions:
            if not isinstance(exception, DateException):
                raise ValidationError("exceptions", f"{exception!r} is not a DateException")
            if exception.day in dated:
                raise ValidationError("exceptions", f"{exception.day} appears twice")
            dated[exception.day] = exception.windows
        weekly = tuple(
            tuple(sorted({w.window for w in self.windows if w.weekday == day}, key=_window_key))
            for day in range(7)
        )
        object.__setattr__(self, "windows", _sorted_windows(self.windows))
        object.__setattr__(self, "exceptions", tuple(sorted(self.exceptions, key=_day_of)))
        object.__setattr__(self, "_zone", ZoneInfo(self.timezone))
        object.__setattr__(self, "_weekly", weekly)
        object.__setattr__(self, "_dated", dated)

    @classmethod
    def always(cls, timezone: str) -> Schedule:
        """A schedule that is open around the clock, every day."""
        return cls(timezone, tuple(WeeklyWindow(day, MIDNIGHT, MIDNIGHT) for day in range(7)))

    @property
    def zone(self) -> ZoneInfo:
        """The schedule's timezone as a ``ZoneInfo``."""
        return self._zone


def _day_of(exception: DateException) -> date:
    return exception.day


def _sorted_windows(windows: Iterable[WeeklyWindow]) -> tuple[WeeklyWindow, ...]:
    return tuple(sorted(set(windows), key=lambda w: (w.weekday, *_window_key(w.window))))


# --- decisions -------------------------------------------------------------------------


def _require_aware(name: str, value: datetime) -> datetime:
    if value.tzinfo is None or value.utcoffset() is None:
        raise ValidationError(name, "must carry a timezone")
    return value


def windows_on(schedule: Schedule, day: date) -> tuple[Window, ...]:
    """The windows that apply on local date ``day``: its exception's, else the weekly ones."""
    dated = schedule._dated.get(day)
    return dated if dated is not None else schedule._weekly[day.weekday()]


def _local(at: datetime, zone: ZoneInfo) -> datetime:
    """``at`` as a wall time in ``zone``. Going through UTC normalises a wall time that
    does not exist (in a DST gap): ``astimezone`` returns it unchanged when ``at`` is
    already in ``zone``."""
    return at.astimezone(UTC).astimezone(zone)


def _open_at_wall(schedule: Schedule, local: datetime) -> bool:
    wall = local.time()  # comparisons of naive times ignore fold
    return any(
        start <= wall and (end == MIDNIGHT or wall < end)
        for start, end in windows_on(schedule, local.date())
    )


def is_open(schedule: Schedule, at: datetime) -> bool:
    """True when ``at`` (timezone-aware) falls inside the schedule's windows, wall-clock."""
    _require_aware("at", at)
    return _open_at_wall(schedule, _local(at, schedule._zone))


def _offset(zone: ZoneInfo, instant: datetime) -> timedelta:
    return instant.astimezone(zone).utcoffset() or timedelta(0)


@lru_cache(maxsize=16384)
def _transitions_on_utc_day(zone: ZoneInfo, day: date) -> tuple[datetime, ...]:
    """Instants of UTC day ``day`` at which ``zone``'s UTC offset changes (to the second).

    Sampled hourly, then bisected: two changes less than an hour apart would be seen as
    one or none.
    """
    start = datetime.combine(day, MIDNIGHT, tzinfo=UTC)
    found: list[datetime] = []
    previous = _offset(zone, start)
    for hour in range(1, 25):
        sample = start + timedelta(hours=hour)
        offset = _offset(zone, sample)
        if offset != previous:
            low_s, high_s = 0, 3600
            base = sample - timedelta(hours=1)
            while high_s - low_s > 1:
                mid = (low_s + high_s) // 2
                if _offset(zone, base + timedelta(seconds=mid)) == previous:
                    low_s = mid
                else:
                    high_s = mid
            found.append(base + timedelta(seconds=high_s))
        previous = offset
    return tuple(found)


def _candidates(schedule: Schedule, day: date) -> Iterator[datetime]:
    """UTC instants that include every point where ``is_open`` can change on local ``day``.

    ``is_open`` depends only on the local wall time, so it can change only where the wall
    time crosses a window boundary or midnight (the first or second time that wall time
    occurs) or where it jumps (a UTC-offset transition).
    """
    zone = schedule._zone
    walls = {MIDNIGHT}
    for start, end in windows_on(schedule, day):
        walls.add(start)
        walls.add(end)
    for wall in walls:
        naive = datetime.combine(day, wall)
        yield naive.replace(tzinfo=zone).astimezone(UTC)
        yield naive.replace(tzinfo=zone, fold=1).astimezone(UTC)
    for shift in range(-2, 3):
        yield from _transitions_on_utc_day(zone, day + timedelta(days=shift))


def _search_days(schedule: Schedule, first: date) -> Iterator[date]:
    day = max(first - _ONE_DAY, _FIRST_SAFE_DAY)
    last = min(first + timedelta(days=SEARCH_DAYS), _LAST_SAFE_DAY)
    while day <= last:
        yield day
        day += _ONE_DAY
    yield from sorted(d for d in schedule._dated if last < d <= _LAST_SAFE_DAY)


def _first_change(schedule: Schedule, after: datetime, *, to_open: bool) -> datetime | None:
    """The earliest instant >= ``after`` whose openness is ``to_open``, if one is found."""
    after_utc = after.astimezone(UTC)
    best: datetime | None = None
    for day in _search_days(schedule, after_utc.astimezone(schedule._zone).date()):
        earliest_candidate = datetime.combine(day, MIDNIGHT, tzinfo=UTC) - _CANDIDATE_SPAN
        if best is not None and earliest_candidate > best:
            break
        if to_open and not windows_on(schedule, day):
            continue
        for instant in _candidates(schedule, day):
            if instant >= after_utc and (best is None or instant < best) \
                    and _open_at_wall(schedule, instant.astimezone(schedule._zone)) is to_open:
                best = instant
    return best


def next_opening(schedule: Schedule, after: datetime) -> datetime | None:
    """The earliest instant >= ``after`` at which the schedule is open.

    Returns ``after`` itself when open now, else a UTC datetime; None when nothing opens
    within ``SEARCH_DAYS`` days or on any later dated exception.
    """
    _require_aware("after", after)
    if is_open(schedule, after):
        return after
    return _first_change(schedule, after, to_open=True)


def next_closing(schedule: Schedule, at: datetime) -> datetime | None:
    """The earliest instant >= ``at`` at which the schedule is closed.

    Returns ``at`` itself when closed now, else a UTC datetime; None when it stays open
    for the whole search horizon (``Schedule.always``).
    """
    _require_aware("at", at)
    if not is_open(schedule, at):
        return at
    return _first_change(schedule, at, to_open=False)


def next_common_opening(
    schedules: Sequence[Schedule],
    after: datetime,
    *,
    horizon: timedelta = timedelta(days=SEARCH_DAYS),
) -> datetime | None:
    """The earliest instant >= ``after`` at which every schedule is open at once.

    Leapfrogs: jump to the latest of the schedules' next openings until all are open
    there. No instant is skipped, since before that latest opening one schedule is
    closed. Returns ``after`` when all are open now (or there are no schedules), None
    when no common instant exists before ``after + horizon``.
    """
    _require_aware("after", after)
    limit = after.astimezone(UTC) + horizon  # elapsed time, not wall-clock arithmetic
    current = after
    while current <= limit:
        openings = [next_opening(schedule, current) for schedule in schedules]
        if not openings:
            return current
        if any(opening is None for opening in openings):
            return None
        latest = max(o for o in openings if o is not None)
        if all(is_open(schedule, latest) for schedule in schedules):
            return latest if latest <= limit else None
        current = latest
    return None


def campaign_started(start_at: datetime | None, now: datetime) -> bool:
    """True when the campaign may dial at ``now``: no start date, or it has passed."""
    _require_aware("now", now)
    if start_at is None:
        return True
    return now >= _require_aware("start_at", start_at)


# --- text form (CLI) -------------------------------------------------------------------

_DAY_WORDS: Final[Mapping[str, tuple[int, ...]]] = {
    "daily": tuple(range(7)),
    "everyday": tuple(range(7)),
    "weekdays": tuple(range(5)),
    "weekends": (5, 6),
    "weekend": (5, 6),
}
_DAY_NAMES: Final[Mapping[str, int]] = {
    "mon": 0, "monday": 0,
    "tue": 1, "tues": 1, "tuesday": 1,
    "wed": 2, "wednesday": 2,
    "thu": 3, "thur": 3, "thurs": 3, "thursday": 3,
    "fri": 4, "friday": 4,
    "sat": 5, "saturday": 5,
    "sun": 6, "sunday": 6,
}
_TIME_RE: Final = re.compile(r"(\d{1,2}):(\d{2})")
_HOURS_HINT: Final = "write e.g. 'mon-fri 09:00-17:00; sat 10:00-14:00'"


def _fmt(value: time) -> str:
    return f"{value.hour:02d}:{value.minute:02d}"


def _fmt_end(value: time) -> str:
    return "24:00" if value == MIDNIGHT else _fmt(value)


def _parse_time(text: str, *, end: bool) -> time:
    match = _TIME_RE.fullmatch(text)
    if match is None:
        raise ValidationError("hours", f"{text!r} is not a time like 09:00")
    hour, minute = int(match.group(1)), int(match.group(2))
    if hour == 24 and minute == 0 and end:
        return MIDNIGHT
    if hour > 23 or minute > 59:
        raise ValidationError("hours", f"{text!r} is not a time of day")
    return time(hour, minute)


def _parse_day(text: str) -> int:
    day = _DAY_NAMES.get(text)
    if day is None:
        raise ValidationError(
            "hours", f"{text!r} is not a day (use mon..sun, daily, weekdays or weekends)")
    return day


def _parse_days(text: str) -> list[int]:
    days: list[int] = []
    for item in (part.strip().lower() for part in text.split(",")):
        if item in _DAY_WORDS:
            days.extend(_DAY_WORDS[item])
        elif "-" in item:
            first_text, _, last_text = item.partition("-")
            first, last = _parse_day(first_text.strip()), _parse_day(last_text.strip())
            days.extend((first + i) % 7 for i in range((last - first) % 7 + 1))
        elif item:
            days.append(_parse_day(item))
        else:
            raise ValidationError("hours", f"empty day in {text!r}; {_HOURS_HINT}")
    return days


def _parse_ranges(text: str) -> list[Window]:
    compact = re.sub(r"\s*-\s*", "-", text.strip())
    ranges: list[Window] = []
    for token in re.split(r"[,\s]+", compact):
        start_text, dash, end_text = token.partition("-")
        if not dash:
            raise ValidationError("hours", f"{token!r} is not a range like 09:00-17:00")
        ranges.append((_parse_time(start_text, end=False), _parse_time(end_text, end=True)))
    return ranges


def parse_weekly(text: str) -> tuple[WeeklyWindow, ...]:
    """Parse ``"mon-fri 09:00-17:00; sat 10:00-14:00"`` into weekly windows.

    Clauses are separated by ``;`` or new lines. Days: ``mon``..``sun`` (or full names),
    lists ``mon,wed``, ranges ``mon-fri`` (``fri-mon`` wraps), ``daily``, ``weekdays``,
    ``weekends``. Several ranges may follow: ``09:00-12:00, 13:00-17:00``. ``24:00`` (or
    ``00:00``) as an end means midnight; a range ending before it starts
    (``22:00-02:00``) runs overnight and is split at midnight. Empty text means never
    open. The result is sorted and free of duplicates.
    """
    windows: set[WeeklyWindow] = set()
    for clause in (c.strip() for c in re.split(r"[;\n]", text)):
        if not clause:
            continue
        digit = re.search(r"\d", clause)
        if digit is None or not clause[: digit.start()].strip():
            raise ValidationError("hours", f"{clause!r} needs days and times; {_HOURS_HINT}")
        days = _parse_days(clause[: digit.start()].strip())
        for start, end in _parse_ranges(clause[digit.start():]):
            for day in days:
                if end == MIDNIGHT or end > start:
                    windows.add(WeeklyWindow(day, start, end))
                elif end == start:
                    raise ValidationError("hours", f"{_fmt(start)}-{_fmt(end)} is empty")
                else:
                    windows.add(WeeklyWindow(day, start, MIDNIGHT))
                    windows.add(WeeklyWindow((day + 1) % 7, MIDNIGHT, end))
    return _sorted_windows(windows)


def _format_days(days: Sequence[int]) -> str:
    if len(days) == 7:
        return "daily"
    runs: list[list[int]] = []
    for day in days:
        if runs and runs[-1][-1] == day - 1:
            runs[-1].append(day)
        else:
            runs.append([day])
    parts: list[str] = []
    for run in runs:
        if len(run) >= 3:
            parts.append(f"{WEEKDAY_NAMES[run[0]]}-{WEEKDAY_NAMES[run[-1]]}")
        else:
            parts.extend(WEEKDAY_NAMES[day] for day in run)
    return ",".join(parts)


def _format_ranges(windows: Iterable[Window]) -> str:
    return ", ".join(f"{_fmt(start)}-{_fmt_end(end)}" for start, end in windows)


def format_weekly(windows: Iterable[WeeklyWindow]) -> str:
    """The compact text form ``parse_weekly`` reads back: ``"mon-fri 09:00-17:00; sat ..."``.

    Days with identical hours share a clause. Never-open gives the empty string.
    """
    per_day: list[set[Window]] = [set() for _ in range(7)]
    for window in windows:
        per_day[window.weekday].add(window.window)
    groups: dict[tuple[Window, ...], list[int]] = {}
    for day, ranges in enumerate(per_day):
        if ranges:
            groups.setdefault(tuple(sorted(ranges, key=_window_key)), []).append(day)
    return "; ".join(f"{_format_days(days)} {_format_ranges(ranges)}"
                     for ranges, days in groups.items())


# --- JSON form (storage) ---------------------------------------------------------------


def schedule_to_dict(schedule: Schedule) -> dict[str, object]:
    """A JSON-safe dict that ``schedule_from_dict`` turns back into an equal schedule."""
    return {
        "version": SCHEDULE_FORMAT_VERSION,
        "timezone": schedule.timezone,
        "weekly": [
            {"day": WEEKDAY_NAMES[w.weekday], "start": _fmt(w.start), "end": _fmt_end(w.end)}
            for w in schedule.windows
        ],
        "exceptions": [
            {
                "date": exception.day.isoformat(),
                "windows": [{"start": _fmt(s), "end": _fmt_end(e)} for s, e in exception.windows],
            }
            for exception in schedule.exceptions
        ],
    }


def _mapping(value: object, where: str) -> Mapping[str, object]:
    if not isinstance(value, Mapping):
        raise ValidationError("schedule", f"{where} must be an object")
    return value


def _text(data: Mapping[str, object], key: str, where: str) -> str:
    value = data.get(key)
    if not isinstance(value, str):
        raise ValidationError("schedule", f"{where}.{key} must be a string")
    return value


def _items(data: Mapping[str, object], key: str, where: str) -> list[object]:
    value = data.get(key, [])
    if not isinstance(value, list):
        raise ValidationError("schedule", f"{where}.{key} must be a list")
    return value


def _window_from(data: object, where: str) -> Window:
    entry = _mapping(data, where)
    start = _parse_time(_text(entry, "start", where), end=False)
    end = _parse_time(_text(entry, "end", where), end=True)
    _check_window("window", start, end)
    return start, end


def schedule_from_dict(data: Mapping[str, object]) -> Schedule:
    """Rebuild a schedule from ``schedule_to_dict`` output; ``ValidationError`` if malformed."""
    root = _mapping(data, "schedule")
    version = root.get("version", SCHEDULE_FORMAT_VERSION)
    if version != SCHEDULE_FORMAT_VERSION:
        raise ValidationError("schedule", f"unknown format version {version!r}")
    weekly: list[WeeklyWindow] = []
    for index, item in enumerate(_items(root, "weekly", "schedule")):
        where = f"weekly[{index}]"
        day = _parse_day(_text(_mapping(item, where), "day", where).lower())
        weekly.append(WeeklyWindow(day, *_window_from(item, where)))
    exceptions: list[DateException] = []
    for index, item in enumerate(_items(root, "exceptions", "schedule")):
        where = f"exceptions[{index}]"
        entry = _mapping(item, where)
        try:
            day_value = date.fromisoformat(_text(entry, "date", where))
        except ValueError as exc:
            raise ValidationError("schedule", f"{where}.date is not a YYYY-MM-DD date") from exc
        windows = tuple(_window_from(w, f"{where}.windows[{i}]")
                        for i, w in enumerate(_items(entry, "windows", where)))
        exceptions.append(DateException(day_value, windows))
    return Schedule(_text(root, "timezone", "schedule"), tuple(weekly), tuple(exceptions))
