"""The circuit breaker over recent outcomes."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from campaigns.errors import ValidationError
from campaigns.health import (
    DEFAULT_ABANDON,
    FAILING,
    AbandonSettings,
    BreakerSettings,
    check_abandon,
    check_breaker,
    is_abandoned,
)
from campaigns.types import AnswerStatus

TF = AnswerStatus.TRUNK_FAILURE
OK = AnswerStatus.HUMAN


def test_trips_at_half_of_the_last_twenty() -> None:
    assert not check_breaker([TF] * 9 + [OK] * 11).trip
    verdict = check_breaker([TF] * 10 + [OK] * 10)
    assert verdict.trip
    assert verdict.reason == "circuit breaker: 10 of the last 20 calls failed at the trunk"


def test_only_the_newest_window_counts() -> None:
    assert not check_breaker([TF] * 30 + [OK] * 20).trip
    assert check_breaker([OK] * 30 + [TF] * 10 + [AnswerStatus.BUSY] * 10).trip


def test_never_trips_before_a_full_window() -> None:
    assert not check_breaker([TF] * 19).trip


def test_settings_are_validated() -> None:
    with pytest.raises(ValidationError):
        BreakerSettings(window=0)
    with pytest.raises(ValidationError):
        BreakerSettings(ratio=0.0)


@settings(deadline=None, max_examples=200)
@given(st.lists(st.sampled_from(list(AnswerStatus)), max_size=60))
def test_trip_means_enough_failures_in_the_window(outcomes: list[AnswerStatus]) -> None:
    verdict = check_breaker(outcomes)
    window = outcomes[-20:]
    assert verdict.failures == sum(1 for o in window if o in FAILING)
    assert verdict.trip == (len(window) == 20 and verdict.failures >= 10)


# --- abandon rate ------------------------------------------------------------------------

def test_a_human_greeted_late_or_never_is_abandoned() -> None:
    assert is_abandoned(human=True, greet_delay_ms=None)
    assert is_abandoned(human=True, greet_delay_ms=2001)
    assert not is_abandoned(human=True, greet_delay_ms=2000)
    assert not is_abandoned(human=True, greet_delay_ms=-150)  # we spoke before they stopped
    assert not is_abandoned(human=False, greet_delay_ms=None)


def test_abandon_rate_trips_above_the_limit_only_with_enough_live_answers() -> None:
    settings = AbandonSettings(limit=0.03, min_live=30)
    assert not check_abandon(29, 29, settings).trip
    assert not check_abandon(100, 3, settings).trip
    verdict = check_abandon(100, 4, settings)
    assert verdict.trip
    assert "4.0%" in verdict.reason
    assert "4 of 100" in verdict.reason


@given(st.integers(0, 500), st.integers(0, 500))
def test_abandon_trip_matches_the_definition(live: int, abandoned: int) -> None:
    if abandoned > live:
        with pytest.raises(ValidationError):
            check_abandon(live, abandoned)
        return
    verdict = check_abandon(live, abandoned)
    assert verdict.trip == (live >= DEFAULT_ABANDON.min_live
                            and abandoned / live > DEFAULT_ABANDON.limit)
