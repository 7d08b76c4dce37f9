"""Campaign pacing: the call interval between dial starts and the concurrency cap.

A campaign never has more than ``max_concurrent_calls`` in flight (SPEC: Call settings),
and the call interval spaces dial starts *per line*: each outbound number waits
``call_interval_s`` after its previous dial started. Spacing per caller ID keeps every
number's traffic pattern humane (what carriers' spam scoring watches), and a campaign
scales by adding numbers: K numbers start up to K calls per interval. Without lines
(``lines=None``) the campaign is one line: the interval is campaign-wide.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from campaigns.errors import ValidationError
from campaigns.types import CallSettings


@dataclass(frozen=True, slots=True)
class PacingState:
    """A campaign's calls in flight and when its last dial started."""

    in_flight: int = 0
    last_dial_at: datetime | None = None
    lines: tuple[tuple[int, datetime], ...] = ()
    """When each line (outbound number id) last started a dial."""

    def __post_init__(self) -> None:
        if self.in_flight < 0:
            raise ValidationError("in_flight", "must not be negative")

    def last_on(self, line: int) -> datetime | None:
        """When ``line`` last started a dial (None: never)."""
        for key, at in self.lines:
            if key == line:
                return at
        return None


def slots_free(state: PacingState, settings: CallSettings) -> int:
    """How many more calls may be in flight now (0 at the cap)."""
    return max(0, settings.max_concurrent_calls - state.in_flight)


def next_dial_slot(state: PacingState, settings: CallSettings, now: datetime,
                   lines: Sequence[int] | None = None) -> datetime | None:
    """When the next dial may start: ``max(now, last dial + call interval)``, on the
    line that is free first when ``lines`` are given (None with no lines at all).

    None when the campaign is at its concurrency cap (a call must finish first).
    """
    if slots_free(state, settings) == 0:
        return None
    interval = timedelta(seconds=settings.call_interval_s)
    if lines is None:
        if state.last_dial_at is None:
            return now
        return max(now, state.last_dial_at + interval)
    slots = [now if last is None else max(now, last + interval)
             for last in (state.last_on(line) for line in lines)]
    return min(slots, default=None)


def free_lines(state: PacingState, settings: CallSettings, now: datetime,
               lines: Sequence[int]) -> list[int]:
    """The lines whose interval has passed at ``now`` (in the order given)."""
    interval = timedelta(seconds=settings.call_interval_s)
    out = []
    for line in lines:
        last = state.last_on(line)
        if last is None or last + interval <= now:
            out.append(line)
    return out


def may_dial(state: PacingState, settings: CallSettings, now: datetime,
             lines: Sequence[int] | None = None) -> bool:
    """True when a dial may start at ``now``."""
    slot = next_dial_slot(state, settings, now, lines)
    return slot is not None and slot <= now


def dial_started(state: PacingState, now: datetime, line: int | None = None) -> PacingState:
    """The state after a dial started at ``now`` (on ``line``, when lines are used)."""
    lines = state.lines
    if line is not None:
        lines = (*((k, at) for k, at in lines if k != line), (line, now))
    return PacingState(in_flight=state.in_flight + 1, last_dial_at=now, lines=lines)


def dial_finished(state: PacingState) -> PacingState:
    """The state after a call ended; never below zero, so a repeated report is harmless."""
    return PacingState(in_flight=max(0, state.in_flight - 1), last_dial_at=state.last_dial_at,
                       lines=state.lines)
