"""Campaign pacing: the call interval between dial starts and the concurrency cap.

A campaign starts a call at most every ``call_interval_s`` seconds and never has more
than ``max_concurrent_calls`` in flight (SPEC: Call settings). The interval runs from the
start of the previous dial.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from campaigns.errors import ValidationError
from campaigns.types import CallSettings


@dataclass(frozen=True, slots=True)
class PacingState:
    """A campaign's calls in flight and when its last dial started."""

    in_flight: int = 0
    last_dial_at: datetime | None = None

    def __post_init__(self) -> None:
        if self.in_flight < 0:
            raise ValidationError("in_flight", "must not be negative")


def slots_free(state: PacingState, settings: CallSettings) -> int:
    """How many more calls may be in flight now (0 at the cap)."""
    return max(0, settings.max_concurrent_calls - state.in_flight)


def next_dial_slot(state: PacingState, settings: CallSettings, now: datetime) -> datetime | None:
    """When the next dial may start: ``max(now, last_dial_at + call_interval)``.

    None when the campaign is at its concurrency cap (a call must finish first).
    """
    if slots_free(state, settings) == 0:
        return None
    if state.last_dial_at is None:
        return now
    return max(now, state.last_dial_at + timedelta(seconds=settings.call_interval_s))


def may_dial(state: PacingState, settings: CallSettings, now: datetime) -> bool:
    """True when a dial may start at ``now``."""
    slot = next_dial_slot(state, settings, now)
    return slot is not None and slot <= now


def dial_started(state: PacingState, now: datetime) -> PacingState:
    """The state after a dial started at ``now``."""
    return PacingState(in_flight=state.in_flight + 1, last_dial_at=now)


def dial_finished(state: PacingState) -> PacingState:
    """The state after a call ended; never below zero, so a repeated report is harmless."""
    return PacingState(in_flight=max(0, state.in_flight - 1), last_dial_at=state.last_dial_at)
