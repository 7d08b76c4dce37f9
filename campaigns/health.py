"""Campaign health: the circuit breaker over trunk failures, and the abandon rate.

A trunk that answers 503 to everything, a dead trunk or a broken route would otherwise
burn through the contact list (trunk failures do not use up attempts, but every one is a
wasted setup and a signal to the carrier). Over the last ``window`` finished calls, when
at least ``ratio`` of them are trunk failures, the breaker opens: the campaign stays
active but claims nobody, and operators are alerted. After a cool-down one probe call
goes out (half-open); when it reaches the far end the breaker closes and dialling goes
on by itself (operators are told), else it opens again with twice the cool-down (at
most ``max_cooldown``). Local failures (``failed``: our own process died mid-call, a bad
request) are not the trunk's doing: a crashed actor restarts by itself, so they do not
count.

The abandon rate is different: too many live answers not greeted in time is a
compliance matter, so that pauses the campaign until a person resumes it.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Final

from campaigns.errors import ValidationError
from campaigns.types import AnswerStatus

FAILING: Final = frozenset({AnswerStatus.TRUNK_FAILURE})


@dataclass(frozen=True, slots=True)
class BreakerSettings:
    """How many recent calls the breaker looks at and what share of failures trips it."""

    window: int = 20
    ratio: float = 0.5
    cooldown: timedelta = timedelta(seconds=30)
    max_cooldown: timedelta = timedelta(minutes=5)

    def __post_init__(self) -> None:
        if self.window < 1:
            raise ValidationError("window", "must be at least 1 call")
        if not 0.0 < self.ratio <= 1.0:
            raise ValidationError("ratio", "must be in (0, 1]")
        if self.cooldown <= timedelta(0) or self.max_cooldown < self.cooldown:
            raise ValidationError("cooldown", "must be positive and at most max_cooldown")


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


class BreakerPhase(StrEnum):
    """Closed: dialling. Open: holding until ``retry_at``. Half-open: one probe out."""

    CLOSED = "closed"
    OPEN = "open"
    HALF_OPEN = "half_open"


@dataclass(frozen=True, slots=True)
class BreakerState:
    """Where a campaign's breaker is.

    ``since``: only calls that ended at or after it are judged (the moment it last
    closed); ``retry_at``: when an open breaker lets a probe out; ``cooldown``: the wait
    that opened it (doubled on every failed probe); ``opened_at``: when the outage began.
    """

    phase: BreakerPhase = BreakerPhase.CLOSED
    since: datetime | None = None
    retry_at: datetime | None = None
    cooldown: timedelta = timedelta(0)
    opened_at: datetime | None = None


class BreakerChange(StrEnum):
    """What a transition means to operators."""

    OPENED = "opened"  # alert: the trunk is failing, dialling held
    STILL_FAILING = "still_failing"  # a probe failed: hold longer (no new alert)
    CLOSED = "closed"  # alert: the trunk is back, dialling resumed


@dataclass(frozen=True, slots=True)
class BreakerStep:
    """A new state, and the change operators hear about (None: nothing to say)."""

    state: BreakerState
    change: BreakerChange | None = None
    reason: str = ""


def breaker_allows(state: BreakerState, now: datetime) -> BreakerStep:
    """May a call start at ``now``? Closed: yes. Open past ``retry_at``: one probe (the
    state turns half-open). Otherwise no: ``state.retry_at`` (open) or the probe's end
    (half-open) is when to ask again."""
    if state.phase is BreakerPhase.CLOSED:
        return BreakerStep(state)
    if state.phase is BreakerPhase.OPEN and state.retry_at is not None \
            and now >= state.retry_at:
        return BreakerStep(replace(state, phase=BreakerPhase.HALF_OPEN, retry_at=None))
    return BreakerStep(state)


def breaker_judge(state: BreakerState, recent: Sequence[AnswerStatus], now: datetime,
                  settings: BreakerSettings = DEFAULT_BREAKER) -> BreakerStep:
    """A closed breaker looks at ``recent`` (outcomes of calls ended since
    ``state.since``, oldest first) and opens when ``check_breaker`` trips."""
    if state.phase is not BreakerPhase.CLOSED:
        return BreakerStep(state)
    verdict = check_breaker(recent, settings)
    if not verdict.trip:
        return BreakerStep(state)
    opened = BreakerState(BreakerPhase.OPEN, since=state.since,
                          retry_at=now + settings.cooldown, cooldown=settings.cooldown,
                          opened_at=now)
    return BreakerStep(opened, BreakerChange.OPENED,
                       f"{verdict.reason}; dialling held, next try in "
                       f"{_seconds(settings.cooldown)}")


def breaker_probe_ended(state: BreakerState, outcome: AnswerStatus, now: datetime,
                        settings: BreakerSettings = DEFAULT_BREAKER) -> BreakerStep:
    """The half-open probe ended: a trunk failure opens the breaker again for twice as
    long; anything else (even busy or no answer: the trunk routed it) closes it."""
    if state.phase is not BreakerPhase.HALF_OPEN:
        return BreakerStep(state)
    if outcome in FAILING:
        cooldown = min(state.cooldown * 2, settings.max_cooldown)
        return BreakerStep(replace(state, phase=BreakerPhase.OPEN, retry_at=now + cooldown,
                                   cooldown=cooldown), BreakerChange.STILL_FAILING,
                           f"the probe call failed at the trunk; next try in "
                           f"{_seconds(cooldown)}")
    held = now - state.opened_at if state.opened_at is not None else timedelta(0)
    return BreakerStep(BreakerState(since=now), BreakerChange.CLOSED,
                       f"a probe call got through ({outcome.value}); dialling resumed "
                       f"after {_seconds(held)} on hold")


def _seconds(span: timedelta) -> str:
    return f"{span.total_seconds():.0f} s"


# --- the abandon rate ----------------------------------------------------------------------

GREET_LIMIT_MS: Final = 2000
"""A live answer must hear us within this long after the callee's first words end."""


@dataclass(frozen=True, slots=True)
class AbandonSettings:
    """The abandon-rate limit: share of live answers not greeted in time, over a window.

    Regulators count it per campaign over a period (Ofcom: 24 hours, 3 %; the FTC: 30
    days, 3 %). Below ``min_live`` live answers the rate is not judged: one slow greeting
    among the first thirty calls is 3.3 %, and not a trend; the overload governor acts on
    slow greetings long before that.
    """

    limit: float = 0.03
    window_hours: int = 24
    min_live: int = 100

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


# --- the overload governor --------------------------------------------------------------

@dataclass(frozen=True, slots=True)
class GovernorSettings:
    """When to dial fewer calls at once because live answers wait too long for us.

    An overloaded dialer (CPU, a slow agent) greets humans late before it abandons them;
    the abandon limit then pauses the campaign. The governor acts earlier: when the
    ``quantile`` of the greet delays of the last ``sample`` live answers is above
    ``slow_ms``, the campaign's concurrency is cut by ``cut`` (at least one call stays);
    when it is below ``fast_ms``, one more call is allowed, up to the campaign's cap
    (additive increase, multiplicative decrease). The marks sit below the 2 s abandon
    limit and above what an idle machine does (AMD needs about 0.9 s of silence after a
    "hello" to call it human, the agent's first audio 0.3 s more: p50 1.2 s, p90 1.4 s).
    """

    sample: int = 20
    quantile: float = 0.9
    slow_ms: int = 1700
    fast_ms: int = 1450
    cut: float = 0.7

    def __post_init__(self) -> None:
        if self.sample < 1:
            raise ValidationError("sample", "must be at least 1 call")
        if not 0.0 < self.quantile <= 1.0 or not 0.0 < self.cut < 1.0:
            raise ValidationError("quantile", "quantile in (0, 1], cut in (0, 1)")
        if not 0 < self.fast_ms < self.slow_ms:
            raise ValidationError("fast_ms", "must be positive and below slow_ms")


DEFAULT_GOVERNOR: Final = GovernorSettings()


@dataclass(frozen=True, slots=True)
class GovernorStep:
    """The concurrency to use now, and why it changed ("" when it did not)."""

    limit: int
    reason: str = ""


def govern(limit: int, cap: int, greet_delays_ms: Sequence[int],
           settings: GovernorSettings = DEFAULT_GOVERNOR) -> GovernorStep:
    """The next concurrency limit from ``greet_delays_ms`` (live answers since the limit
    last changed, oldest first). Fewer than ``settings.sample`` of them: no change."""
    limit = max(1, min(limit, cap))
    if len(greet_delays_ms) < settings.sample:
        return GovernorStep(limit)
    recent = sorted(greet_delays_ms[-settings.sample:])
    at = recent[min(len(recent) - 1, int(settings.quantile * len(recent)))]
    if at > settings.slow_ms and limit > 1:
        lower = max(1, int(limit * settings.cut))
        return GovernorStep(lower, f"greet delay p{settings.quantile * 100:.0f} {at} ms: "
                                   f"{limit} → {lower} calls at once")
    if at < settings.fast_ms and limit < cap:
        return GovernorStep(limit + 1, f"greet delay p{settings.quantile * 100:.0f} {at} ms: "
                                       f"{limit} → {limit + 1} calls at once")
    return GovernorStep(limit)
