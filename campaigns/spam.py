"""Spam policy: score bands, the built-in traffic-based estimator, exclusion decisions.

A number's spam score (0-9) comes from a pluggable ``SpamProvider`` (SPEC: Phone
numbers and rotation). The built-in provider estimates it from the number's own recent
traffic; a commercial reputation feed can replace it behind the same Protocol.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from enum import StrEnum
from typing import Final, Protocol

from campaigns.errors import ValidationError
from campaigns.types import SPAM_SCORE_RANGE, SPAM_THRESHOLD_RANGE, NumberStatus, PhoneNumber


class SpamBand(StrEnum):
    """The colour a spam score is shown in: green 0-4, yellow 5-6, red 7+."""

    GREEN = "green"
    YELLOW = "yellow"
    RED = "red"


_YELLOW_FROM: Final = 5
_RED_FROM: Final = 7


def _check_score(score: int) -> None:
    if score not in SPAM_SCORE_RANGE:
        raise ValidationError("spam_score", f"{score} is outside 0..9")


def band(score: int) -> SpamBand:
    """The band of a 0-9 spam score; raises ``ValidationError`` outside 0..9."""
    _check_score(score)
    if score >= _RED_FROM:
        return SpamBand.RED
    if score >= _YELLOW_FROM:
        return SpamBand.YELLOW
    return SpamBand.GREEN


def should_exclude(score: int, threshold: int) -> bool:
    """True when ``score`` has reached ``threshold``: the number must stop dialing."""
    return score >= threshold


@dataclass(frozen=True, slots=True)
class NumberTraffic:
    """One number's call statistics over a recent window of ``days`` days.

    ``calls`` counts every attempt. Of those, ``answered`` were answered (200 OK),
    ``rejected`` declined by the callee (603/decline) and ``no_answer`` rang out; the
    rest (busy, invalid numbers, trunk failures) say nothing about the number's
    reputation. ``short_calls`` are answered calls shorter than about 10 seconds: people
    who see a "Spam Likely" label, or hear an unwanted pitch, hang up fast.
    ``max_calls_in_a_day`` is the busiest single day of the window.
    """

    days: int
    calls: int
    answered: int = 0
    short_calls: int = 0
    rejected: int = 0
    no_answer: int = 0
    max_calls_in_a_day: int = 0

    def __post_init__(self) -> None:
        if self.days < 1:
            raise ValidationError("days", "the traffic window must cover at least 1 day")
        for name in ("calls", "answered", "short_calls", "rejected", "no_answer",
                     "max_calls_in_a_day"):
            if getattr(self, name) < 0:
                raise ValidationError(name, "must not be negative")
        if self.answered + self.rejected + self.no_answer > self.calls:
            raise ValidationError(
                "calls", "answered + rejected + no_answer cannot exceed the calls made")
        if self.short_calls > self.answered:
            raise ValidationError("short_calls", "cannot exceed the answered calls")
        if self.max_calls_in_a_day > self.calls:
            raise ValidationError("max_calls_in_a_day", "cannot exceed the calls made")

    @property
    def reached(self) -> int:
        """Attempts where the callee's side decided: answered, rejected or rang out."""
        return self.answered + self.rejected + self.no_answer


# Estimator constants (see ``estimate_spam_score``).
VOLUME_POINTS: Final = 3.0
BEHAVIOUR_POINTS: Final = 2.0  # each of short-call, low-answer and rejection
VOLUME_FREE_PER_DAY: Final = 60.0
VOLUME_FULL_PER_DAY: Final = 300.0
SHORT_RATE_FREE: Final = 0.20
SHORT_RATE_FULL: Final = 0.70
ANSWER_RATE_FREE: Final = 0.30
ANSWER_RATE_FULL: Final = 0.05
REJECT_RATE_FREE: Final = 0.02
REJECT_RATE_FULL: Final = 0.20
FULL_CONFIDENCE_CALLS: Final = 100


def _ramp(value: float, free: float, full: float) -> float:
    """0 at ``free``, 1 at ``full`` (either direction), linear and clamped between."""
    return min(1.0, max(0.0, (value - free) / (full - free)))


def estimate_spam_score(traffic: NumberTraffic) -> int:
    """Estimate a 0-9 spam score from a number's own traffic.

    Carrier analytics behind "Spam Likely" / "Scam Likely" labels react to four
    signals, which this mirrors::

        peak        = max(max_calls_in_a_day, calls / days)
        volume      = ramp(peak,                   60/day -> 300/day)
        short       = ramp(short_calls / answered, 20%    -> 70%)
        low_answer  = ramp(answered / reached,     30%    -> 5%)
        rejection   = ramp(rejected / reached,     2%     -> 20%)
        confidence  = min(1, reached / 100)
        score       = round_half_up(3·volume + confidence · 2·(short + low_answer + rejection))

    ``ramp`` is 0 at the first value, 1 at the second, linear in between, and
    ``reached = answered + rejected + no_answer`` (busy, invalid and trunk failures are
    not the callee's verdict, so they do not count against the number).

    Rationale: volume per day is the strongest single trigger and is known from the
    attempts alone, so it is not discounted. The behavioural rates are noisy on small
    samples, so they are scaled by ``confidence``: with fewer than 20 reached calls they
    add at most one point, so a fresh number at modest volume scores 0 or 1 however its
    first calls went. Each signal only
    pushes the score up, so more volume, more short calls or more rejections never
    lower it.
    """
    peak = max(float(traffic.max_calls_in_a_day), traffic.calls / traffic.days)
    volume = _ramp(peak, VOLUME_FREE_PER_DAY, VOLUME_FULL_PER_DAY)
    reached = traffic.reached
    behaviour = 0.0
    if reached:
        short = (_ramp(traffic.short_calls / traffic.answered, SHORT_RATE_FREE, SHORT_RATE_FULL)
                 if traffic.answered else 0.0)
        low_answer = _ramp(traffic.answered / reached, ANSWER_RATE_FREE, ANSWER_RATE_FULL)
        rejection = _ramp(traffic.rejected / reached, REJECT_RATE_FREE, REJECT_RATE_FULL)
        confidence = min(1.0, reached / FULL_CONFIDENCE_CALLS)
        behaviour = confidence * BEHAVIOUR_POINTS * (short + low_answer + rejection)
    raw = VOLUME_POINTS * volume + behaviour
    return min(SPAM_SCORE_RANGE.stop - 1, max(0, math.floor(raw + 0.5)))


class SpamProvider(Protocol):
    """Where spam scores come from (a port): built-in estimator or an external feed."""

    def score(self, e164: str, traffic: NumberTraffic) -> int:
        """The 0-9 spam score of ``e164`` given its recent ``traffic``."""
        ...


@dataclass(frozen=True, slots=True)
class BuiltinSpamProvider:
    """The default provider: ``estimate_spam_score`` on the number's own traffic."""

    def score(self, e164: str, traffic: NumberTraffic) -> int:
        """Estimate from ``traffic`` alone; ``e164`` is not consulted."""
        return estimate_spam_score(traffic)


@dataclass(frozen=True, slots=True)
class SpamDecision:
    """What to do with a number after a new score.

    ``exclude`` says the score requires the number to stop dialing; ``alert`` is set
    only on the transition from ACTIVE into exclusion, so operators hear about each
    auto-exclusion once.
    """

    score: int
    band: SpamBand
    exclude: bool
    alert: bool


def evaluate(number: PhoneNumber, new_score: int, threshold: int) -> SpamDecision:
    """Decide exclusion and alerting for ``number`` given its ``new_score``.

    A score that falls back below the threshold does not re-activate an excluded
    number; that stays an operator's decision.
    """
    _check_score(new_score)
    if threshold not in SPAM_THRESHOLD_RANGE:
        raise ValidationError("spam_threshold", f"{threshold} is outside 1..9")
    exclude = should_exclude(new_score, threshold)
    return SpamDecision(
        score=new_score,
        band=band(new_score),
        exclude=exclude,
        alert=exclude and number.status is NumberStatus.ACTIVE,
    )
