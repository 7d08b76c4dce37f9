"""Pacing: call interval between dial starts and the concurrency cap."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from campaigns.errors import ValidationError
from campaigns.pacing import (
    PacingState,
    dial_finished,
    dial_started,
    free_lines,
    may_dial,
    next_dial_slot,
    slots_free,
)
from campaigns.types import CallSettings

NOW = datetime(2025, 3, 10, 14, 0, tzinfo=UTC)
CFG = CallSettings(call_interval_s=30, max_concurrent_calls=2)


def test_first_dial_may_start_at_once() -> None:
    assert next_dial_slot(PacingState(), CFG, NOW) == NOW
    assert may_dial(PacingState(), CFG, NOW)


def test_next_dial_waits_for_the_interval() -> None:
    state = dial_started(PacingState(), NOW)
    assert next_dial_slot(state, CFG, NOW + timedelta(seconds=10)) == NOW + timedelta(seconds=30)
    assert not may_dial(state, CFG, NOW + timedelta(seconds=29))
    assert may_dial(state, CFG, NOW + timedelta(seconds=30))


def test_slot_is_now_when_the_interval_has_long_passed() -> None:
    state = PacingState(in_flight=1, last_dial_at=NOW)
    later = NOW + timedelta(hours=1)
    assert next_dial_slot(state, CFG, later) == later


def test_concurrency_cap_blocks_until_a_call_finishes() -> None:
    state = dial_started(dial_started(PacingState(), NOW), NOW + timedelta(seconds=30))
    later = NOW + timedelta(minutes=5)
    assert slots_free(state, CFG) == 0
    assert next_dial_slot(state, CFG, later) is None
    assert not may_dial(state, CFG, later)
    freed = dial_finished(state)
    assert slots_free(freed, CFG) == 1
    assert may_dial(freed, CFG, later)


def test_over_the_cap_reports_no_free_slots() -> None:
    assert slots_free(PacingState(in_flight=5), CFG) == 0


def test_dial_finished_never_goes_below_zero() -> None:
    assert dial_finished(PacingState()) == PacingState()


def test_negative_in_flight_is_refused() -> None:
    with pytest.raises(ValidationError):
        PacingState(in_flight=-1)


@settings(deadline=None)
@given(
    interval=st.sampled_from([5, 10, 30, 600]),
    cap=st.integers(1, 5),
    ops=st.lists(st.tuples(st.booleans(), st.integers(0, 120)), max_size=50),
)
def test_greedy_dialer_respects_interval_and_cap(
    interval: int, cap: int, ops: list[tuple[bool, int]]
) -> None:
    cfg = CallSettings(call_interval_s=interval, max_concurrent_calls=cap)
    state, now = PacingState(), NOW
    starts: list[datetime] = []
    for finish, advance in ops:
        now += timedelta(seconds=advance)
        if finish:
            state = dial_finished(state)
        elif may_dial(state, cfg, now):
            state = dial_started(state, now)
            starts.append(now)
        assert 0 <= state.in_flight <= cap
    gaps = [b - a for a, b in itertools.pairwise(starts)]
    assert all(g >= timedelta(seconds=interval) for g in gaps)


def test_the_interval_spaces_each_line_not_the_campaign() -> None:
    cfg = CallSettings(call_interval_s=30, max_concurrent_calls=10)
    state = dial_started(PacingState(), NOW, line=1)
    assert free_lines(state, cfg, NOW, [1, 2, 3]) == [2, 3]
    assert next_dial_slot(state, cfg, NOW, lines=[1, 2]) == NOW
    state = dial_started(dial_started(state, NOW, line=2), NOW + timedelta(seconds=5), line=3)
    assert next_dial_slot(state, cfg, NOW + timedelta(seconds=6), lines=[1, 2, 3]) == (
        NOW + timedelta(seconds=30))
    assert free_lines(state, cfg, NOW + timedelta(seconds=30), [1, 2, 3]) == [1, 2]
    assert next_dial_slot(PacingState(), cfg, NOW, lines=[]) is None


@settings(deadline=None)
@given(
    interval=st.sampled_from([5, 10, 30]),
    cap=st.integers(1, 6),
    n_lines=st.integers(1, 4),
    ops=st.lists(st.tuples(st.booleans(), st.integers(0, 40)), max_size=60),
)
def test_greedy_dialer_per_line_respects_each_lines_interval_and_the_cap(
    interval: int, cap: int, n_lines: int, ops: list[tuple[bool, int]]
) -> None:
    cfg = CallSettings(call_interval_s=interval, max_concurrent_calls=cap)
    lines = list(range(n_lines))
    state, now = PacingState(), NOW
    starts: dict[int, list[datetime]] = {line: [] for line in lines}
    for finish, advance in ops:
        now += timedelta(seconds=advance)
        if finish:
            state = dial_finished(state)
            continue
        while may_dial(state, cfg, now, lines):
            line = free_lines(state, cfg, now, lines)[0]
            state = dial_started(state, now, line)
            starts[line].append(now)
        assert 0 <= state.in_flight <= cap
    for times in starts.values():
        assert all(b - a >= timedelta(seconds=interval) for a, b in itertools.pairwise(times))
