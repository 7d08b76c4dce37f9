"""Whether a number may be dialled now: do-not-call, start date, business hours, and the
calling window in the callee's own local time.

Local times are wall-clock times, read with ``datetime.astimezone``: during a repeated
fall-back hour both passes count by their wall time, and times skipped by spring
forward never occur. The calling window boundaries (08:00 and 21:00) lie outside every
real zone's transitions, so daylight saving never moves them.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, time
from functools import lru_cache
from typing import Final
from zoneinfo import ZoneInfo

from campaigns.errors import InvalidPhoneNumber, ValidationError
from campaigns.phones import normalize, timezones_of
from campaigns.schedule import (
    Schedule,
    WeeklyWindow,
    campaign_started,
    is_open,
    next_common_opening,
)
from campaigns.types import check_timezone

# TCPA, 47 CFR 64.1200(c)(1): no telephone solicitation "before the hour of 8 a.m. or
# after 9 p.m. (local time at the called party's location)". The window is half-open:
# 08:00 is allowed, 21:00 is not.
CALLING_WINDOW_START: Final = time(8, 0)
CALLING_WINDOW_END: Final = time(21, 0)

REASON_OK: Final = "may be dialled now"
REASON_DNC: Final = "on the do-not-call list"
REASON_NOT_STARTED: Final = "the campaign has not started yet"
REASON_CLOSED: Final = "outside the campaign's business hours"
REASON_CALLEE_WINDOW: Final = "outside 08:00-21:00 in the callee's local time"

_E164_RE: Final = re.compile(r"\+[1-9]\d{1,14}")


def callee_timezones(phone_e164: str, contact_tz: str | None, campaign_tz: str) -> tuple[str, ...]:
    """The zones the callee may be in: the number's, else the contact's, else the campaign's.

    A number whose area spans several zones yields all of them; the calling window must
    then hold in every one. ``ValidationError`` when the zone used is not an IANA zone.
    """
    zones = tuple(zone for zone in timezones_of(phone_e164) if _is_zone(zone))
    if zones:
        return zones
    if contact_tz:
        return (check_timezone(contact_tz),)
    return (check_timezone(campaign_tz),)


def _is_zone(name: str) -> bool:
    try:
        check_timezone(name)
    except ValidationError:
        return False
    return True


def _require_aware(name: str, value: datetime) -> None:
    if value.tzinfo is None or value.utcoffset() is None:
        raise ValidationError(name, "must carry a timezone")


def _require_zones(zones: Sequence[str]) -> None:
    if not zones:
        raise ValidationError("zones", "at least one timezone is needed")


def in_calling_window(at: datetime, zones: Sequence[str]) -> bool:
    """True when ``at`` is within [08:00, 21:00) local time in every one of ``zones``."""
    _require_aware("at", at)
    _require_zones(zones)
    for zone in zones:
        # Through UTC, so that a wall time inside a DST gap is read as the instant it is.
        local = at.astimezone(UTC).astimezone(ZoneInfo(check_timezone(zone))).time()
        if not CALLING_WINDOW_START <= local < CALLING_WINDOW_END:
            return False
    return True


@lru_cache(maxsize=1024)
def calling_window_schedule(zone: str) -> Schedule:
    """The calling window of one zone as a schedule: 08:00-21:00 every day."""
    return Schedule(
        zone,
        tuple(WeeklyWindow(day, CALLING_WINDOW_START, CALLING_WINDOW_END) for day in range(7)),
    )


def next_calling_window(at: datetime, zones: Sequence[str]) -> datetime | None:
    """The earliest instant >= ``at`` inside the calling window in all ``zones``.

    Returns ``at`` itself when already inside, else a UTC datetime. None when the zones'
    windows never overlap within a year (three zones spread round the globe can do that;
    two never can, since each window is 13 of the day's 24 hours).
    """
    _require_aware("at", at)
    _require_zones(zones)
    return next_common_opening([calling_window_schedule(z) for z in dict.fromkeys(zones)], at)


def normalize_dnc_entry(raw: str, region: str | None = "US") -> str:
    """One do-not-call list entry as E.164; ``InvalidPhoneNumber`` if it is not a number."""
    return normalize(raw, region)


@dataclass(frozen=True, slots=True)
class DoNotCall:
    """A do-not-call list: a set of E.164 numbers."""

    numbers: frozenset[str] = frozenset()

    @classmethod
    def from_entries(cls, entries: Iterable[str], region: str | None = "US") -> DoNotCall:
        """Build the list from raw entries, normalising each (``InvalidPhoneNumber`` if bad)."""
        return cls(frozenset(normalize_dnc_entry(entry, region) for entry in entries))

    def blocks(self, phone: str) -> bool:
        """True when ``phone`` is on the list.

        ``phone`` should be E.164; an international form with spaces or punctuation
        (``+1 (212) 555-0123``) is normalised first.
        """
        if phone in self.numbers:
            return True
        if _E164_RE.fullmatch(phone):
            return False
        try:
            return normalize(phone, None) in self.numbers
        except InvalidPhoneNumber:
            return False

    def __len__(self) -> int:
        return len(self.numbers)


@dataclass(frozen=True, slots=True)
class DialCheck:
    """The verdict on dialling one number now.

    ``retry_at`` is the earliest instant at which every rule allows the call, or None
    when none ever will (do-not-call) or none does within a year.
    """

    allowed: bool
    reason: str
    retry_at: datetime | None = None


def check_dial(
    *,
    at: datetime,
    phone: str,
    contact_tz: str | None,
    campaign_tz: str,
    schedule: Schedule | None,
    start_at: datetime | None,
    dnc_blocked: bool,
) -> DialCheck:
    """Decide whether ``phone`` may be dialled at ``at``.

    Rules in order, the first that fails giving the reason: the do-not-call list (never),
    the campaign's start date, its business hours (``schedule``; None = always open), and
    the callee's calling window in every zone of ``callee_timezones``. When the call is
    not allowed, ``retry_at`` is the earliest instant at which all the rules hold at once
    (not merely the one that failed), so a retry there is not refused by another rule.
    """
    _require_aware("at", at)
    if dnc_blocked:
        return DialCheck(allowed=False, reason=REASON_DNC, retry_at=None)
    zones = callee_timezones(phone, contact_tz, campaign_tz)
    started = campaign_started(start_at, at)
    open_now = schedule is None or is_open(schedule, at)
    if started and open_now and in_calling_window(at, zones):
        return DialCheck(allowed=True, reason=REASON_OK, retry_at=None)
    if not started:
        reason = REASON_NOT_STARTED
    elif not open_now:
        reason = REASON_CLOSED
    else:
        reason = REASON_CALLEE_WINDOW
    gates = [calling_window_schedule(zone) for zone in dict.fromkeys(zones)]
    if schedule is not None:
        gates.append(schedule)
    earliest = at if start_at is None or started else start_at
    return DialCheck(allowed=False, reason=reason, retry_at=next_common_opening(gates, earliest))
