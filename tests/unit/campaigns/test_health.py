"""The circuit breaker over recent outcomes."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from campaigns.errors import ValidationError
from campaigns.health import (
    DEFAULT_ABANDON,
    FAILING,
    AbandonSettings,
    BreakerChange,
    BreakerPhase,
    BreakerSettings,
    BreakerState,
    BreakerStep,
    GovernorStep,
    breaker_allows,
    breaker_judge,
    breaker_probe_ended,
    check_abandon,
    check_breaker,
    govern,
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


# --- the breaker over time ------------------------------------------------------------

T0 = datetime(2026, 12, 7, 17, 0, tzinfo=UTC)


def test_a_closed_breaker_opens_on_a_full_window_of_failures_and_holds() -> None:
    step = breaker_judge(BreakerState(), [TF] * 19, T0)
    assert step.change is None and step.state.phase is BreakerPhase.CLOSED
    step = breaker_judge(BreakerState(), [TF] * 20, T0)
    assert step.change is BreakerChange.OPENED
    assert step.state == BreakerState(BreakerPhase.OPEN, retry_at=T0 + timedelta(seconds=30),
                                      cooldown=timedelta(seconds=30), opened_at=T0)
    assert step.reason.endswith("dialling held, next try in 30 s")
    held = breaker_allows(step.state, T0 + timedelta(seconds=29))
    assert held.state.phase is BreakerPhase.OPEN  # no call before the cool-down is over
    probe = breaker_allows(step.state, T0 + timedelta(seconds=30))
    assert probe.state.phase is BreakerPhase.HALF_OPEN and probe.change is None


def test_failed_probes_double_the_cool_down_up_to_the_limit() -> None:
    settings = BreakerSettings(cooldown=timedelta(seconds=30),
                               max_cooldown=timedelta(seconds=100))
    state = breaker_judge(BreakerState(), [TF] * 20, T0, settings).state
    waits = []
    now = T0
    for _ in range(4):
        now = state.retry_at or now
        state = breaker_allows(state, now).state
        step = breaker_probe_ended(state, TF, now, settings)
        assert step.change is BreakerChange.STILL_FAILING
        state = step.state
        waits.append((state.retry_at - now).total_seconds() if state.retry_at else None)
    assert waits == [60, 100, 100, 100]
    assert state.opened_at == T0  # the outage is still the one that began at T0


@pytest.mark.parametrize("outcome", [OK, AnswerStatus.BUSY, AnswerStatus.NO_ANSWER,
                                     AnswerStatus.FAILED])
def test_a_probe_that_the_trunk_routed_closes_the_breaker(outcome: AnswerStatus) -> None:
    state = breaker_judge(BreakerState(), [TF] * 20, T0).state
    state = breaker_allows(state, T0 + timedelta(seconds=30)).state
    end = T0 + timedelta(seconds=75)
    step = breaker_probe_ended(state, outcome, end)
    assert step.change is BreakerChange.CLOSED
    assert step.state == BreakerState(since=end)  # old failures no longer count
    assert step.reason == (f"a probe call got through ({outcome.value}); dialling resumed "
                           "after 75 s on hold")


def test_outcomes_out_of_phase_change_nothing() -> None:
    closed = BreakerState()
    assert breaker_probe_ended(closed, TF, T0) == BreakerStep(closed)
    opened = breaker_judge(closed, [TF] * 20, T0).state
    assert breaker_judge(opened, [TF] * 20, T0) == BreakerStep(opened)
    with pytest.raises(ValidationError):
        BreakerSettings(cooldown=timedelta(seconds=60), max_cooldown=timedelta(seconds=30))


# --- the overload governor ----------------------------------------------------------------

def test_slow_greetings_cut_concurrency_and_fast_ones_win_it_back_one_at_a_time() -> None:
    slow = [1200] * 17 + [1900] * 3  # p90 is 1,900 ms
    step = govern(40, 40, slow)
    assert step == GovernorStep(28, "greet delay p90 1900 ms: 40 → 28 calls at once")
    assert govern(1, 40, slow) == GovernorStep(1)  # one call always stays
    fast = [300] * 20
    assert govern(28, 40, fast) == GovernorStep(29, "greet delay p90 300 ms: 28 → 29 calls "
                                                    "at once")
    assert govern(40, 40, fast) == GovernorStep(40)  # never above the campaign's cap
    assert govern(28, 40, [1600] * 20) == GovernorStep(28)  # between the marks: hold
    assert govern(28, 40, [5000] * 19) == GovernorStep(28)  # too few answers to judge
    assert govern(50, 40, []) == GovernorStep(40)  # a lowered cap applies at once


@given(st.lists(st.integers(0, 10_000), max_size=60), st.integers(1, 100),
       st.integers(1, 100))
@settings(max_examples=200, deadline=None)
def test_the_governor_stays_between_one_and_the_cap(delays: list[int], limit: int,
                                                    cap: int) -> None:
    step = govern(limit, cap, delays)
    assert 1 <= step.limit <= cap
    assert (step.reason == "") == (step.limit == max(1, min(limit, cap)))
