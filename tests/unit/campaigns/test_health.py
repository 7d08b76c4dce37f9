"""The circuit breaker over recent outcomes."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from campaigns.errors import ValidationError
from campaigns.health import FAILING, BreakerSettings, check_breaker
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
