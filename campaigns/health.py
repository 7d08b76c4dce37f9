"""Campaign health: the circuit breaker that pauses a campaign whose calls keep failing.

A trunk that answers 503 to everything, or a broken route, would otherwise burn through
the contact list (trunk failures do not use up attempts, but every one is a wasted
setup and a signal to the carrier). Over the last ``window`` finished calls, when at
least ``ratio`` of them are trunk failures (or local failures), the campaign is paused
and operators are alerted; a person resumes it when the trunk is healthy again.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Final

from campaigns.errors import ValidationError
from campaigns.types import AnswerStatus

FAILING: Final = frozenset({AnswerStatus.TRUNK_FAILURE, AnswerStatus.FAILED})


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
