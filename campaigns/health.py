"""Campaign health: the circuit breaker that pauses a campaign whose calls keep failing.

A trunk that answers 503 to everything, or a broken route, would otherwise burn through
the contact list (trunk failures do not use up attempts, but every one is a wasted
setup and a signal to the carrier). Over the last ``window`` finished calls, when at
least ``ratio`` of them are trunk failures, the campaign is paused and operators are
alerted; a person resumes it when the trunk is healthy again. Local failures (``failed``:
our own process died mid-call, a bad request) are not the trunk's doing: a crashed actor
restarts by itself, so they do not trip the breaker.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Final

from campaigns.errors import ValidationError
from campaigns.types import AnswerStatus

FAILING: Final = frozenset({AnswerStatus.TRUNK_FAILURE})


@dataclass(frozen=True, slots=True)
class BreakerSettings:
    """How many recent calls the breaker looks at and what share of failures trips it."""

    window: int = 20
    ratio: float = 0.5

    def __post_init__(self) -> None:
        if self.window < 1:
            raise ValidationError("window", "must be at least 1 call")
        if not 0.0 < self.ratio <= 1.0:
            raise ValidationError("ratio", "must be in (0, 1]")


@dataclass(frozen=True, slots=True)
class BreakerVerdict:
    """Whether to pause, and the reason operators read."""

    trip: bool
    failures: int
    considered: int
    reason: str


DEFAULT_BREAKER: Final = BreakerSettings()


def check_breaker(recent: Sequence[AnswerStatus],
                  settings: BreakerSettings = DEFAULT_BREAKER) -> BreakerVerdict:
    """Judge the newest ``settings.window`` outcomes (``recent`` is oldest first).

    Never trips before a full window: three failures in a row at start-up are noise.
    """
    window = list(recent)[-settings.window:]
    failures = sum(1 for status in window if status in FAILING)
    full = len(window) >= settings.window
    trip = full and failures >= settings.ratio * settings.window
    reason = (f"circuit breaker: {failures} of the last {len(window)} calls failed "
              f"at the trunk" if trip else "")
    return BreakerVerdict(trip, failures, len(window), reason)


# --- the abandon rate ----------------------------------------------------------------------

GREET_LIMIT_MS: Final = 2000
"""A live answer must hear us within this long after the callee's first words end."""


@dataclass(frozen=True, slots=True)
class AbandonSettings:
    """The abandon-rate limit: share of live answers not greeted in time, over a window.

    Regulators count it per campaign over a period (Ofcom: 24 hours, 3 %; the FTC: 30
    days, 3 %). Below ``min_live`` live answers the rate is not judged: one slow greeting
    among the first ten calls is not a trend.
    """

    limit: float = 0.03
    window_hours: int = 24
    min_live: int = 30

    def __post_init__(self) -> None:
        if not 0.0 < self.limit <= 1.0:
            raise ValidationError("limit", "must be in (0, 1]")
        if self.window_hours < 1:
            raise ValidationError("window_hours", "must be at least 1 hour")
        if self.min_live < 1:
            raise ValidationError("min_live", "must be at least 1 call")


DEFAULT_ABANDON: Final = AbandonSettings()


def is_abandoned(*, human: bool, greet_delay_ms: int | None,
                 limit_ms: int = GREET_LIMIT_MS) -> bool:
    """A human answer is abandoned when we never spoke, or spoke too late."""
    return human and (greet_delay_ms is None or greet_delay_ms > limit_ms)


def check_abandon(live: int, abandoned: int,
                  settings: AbandonSettings = DEFAULT_ABANDON) -> BreakerVerdict:
    """Pause when ``abandoned / live`` is above the limit (with enough live answers)."""
    if live < 0 or not 0 <= abandoned <= live:
        raise ValidationError("abandoned", "must be between 0 and the live answers")
    trip = live >= settings.min_live and abandoned > settings.limit * live
    reason = (f"abandon rate {abandoned / live:.1%} ({abandoned} of {live} live answers "
              f"in {settings.window_hours} h) is above {settings.limit:.0%}" if trip else "")
    return BreakerVerdict(trip, abandoned, live, reason)
