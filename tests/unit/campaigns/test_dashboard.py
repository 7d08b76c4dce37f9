"""Dashboard maths: quick stats, breakdowns, answer rates, heatmaps."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from campaigns.dashboard import (
    ANSWER_RATE_GROUPS,
    ANSWER_RATE_KEYS,
    QuickStats,
    answer_rates,
    build_dashboard,
    dashboard_to_dict,
    goal_breakdown,
    heatmap,
    heatmap_rates,
    quick_stats,
    status_breakdown,
)
from campaigns.errors import ValidationError
from campaigns.types import AnswerStatus, ContactStatus, GoalResult

A = AnswerStatus
G = GoalResult
S = ContactStatus


def test_quick_stats() -> None:
    stats = quick_stats(
        answers={A.HUMAN: 3, A.MACHINE: 2, A.NO_ANSWER: 4, A.BUSY: 1},
        conversations=3,
        total_duration_s=270.0,
        primary_goals={G.ACHIEVED: 1, G.PARTIALLY_ACHIEVED: 2, G.NOT_ACHIEVED: 1, G.UNKNOWN: 5},
    )
    assert stats == QuickStats(
        calls=10,
        conversations=3,
        total_duration_s=270.0,
        average_duration_s=90.0,
        answer_rate=0.5,
        goal_achievement_rate=0.5,
    )


def test_quick_stats_with_nothing_yet() -> None:
    stats = quick_stats(answers={}, conversations=0, total_duration_s=0.0, primary_goals={})
    assert (stats.average_duration_s, stats.answer_rate, stats.goal_achievement_rate) == (
        None, None, None)


def test_connected_outcomes_count_as_answered() -> None:
    answers = {A.SILENCE: 1, A.FAX: 1, A.UNKNOWN: 1, A.REJECTED: 1}
    stats = quick_stats(answers=answers, conversations=0, total_duration_s=0, primary_goals={})
    assert stats.answer_rate == 0.75


def test_status_breakdown_lists_all_seven_statuses() -> None:
    result = status_breakdown({S.PENDING: 3, S.COMPLETED: 1})
    assert list(result) == [s.value for s in ContactStatus]
    assert result["pending"] == {"count": 3, "share": 0.75}
    assert result["failed"] == {"count": 0, "share": 0.0}


def test_empty_breakdowns_have_zero_shares() -> None:
    assert all(v == {"count": 0, "share": 0.0} for v in goal_breakdown({}).values())
    assert list(goal_breakdown({})) == [g.value for g in GoalResult]


def test_answer_rates_group_every_outcome() -> None:
    counts = dict.fromkeys(AnswerStatus, 1)
    rates = answer_rates(counts)
    n = len(AnswerStatus)
    assert rates == {
        "human": 1 / n, "machine": 2 / n, "no_answer": 1 / n, "rejection": 1 / n,
        "busy": 1 / n, "failed": 3 / n, "other": 2 / n,
    }
    assert sum(rates.values()) == pytest.approx(1.0)
    assert set(ANSWER_RATE_GROUPS) == set(AnswerStatus)
    assert set(ANSWER_RATE_GROUPS.values()) == set(ANSWER_RATE_KEYS)


def test_answer_rates_without_calls_are_zero() -> None:
    assert answer_rates({}) == dict.fromkeys(ANSWER_RATE_KEYS, 0.0)


def test_heatmap_uses_the_campaign_timezone() -> None:
    # Monday 2025-03-10 14:15 UTC is Monday 10:15 in New York (EDT, UTC-4).
    grid = heatmap([(datetime(2025, 3, 10, 14, 15, tzinfo=UTC), 4)], "America/New_York")
    assert grid[0][10] == 4
    assert sum(map(sum, grid)) == 4
    assert len(grid) == 7
    assert all(len(row) == 24 for row in grid)


def test_heatmap_crosses_midnight_into_the_previous_weekday() -> None:
    # Monday 02:00 UTC is Sunday 19:00 in Los Angeles (PDT).
    grid = heatmap([(datetime(2025, 3, 10, 2, 0, tzinfo=UTC), 1)], "America/Los_Angeles")
    assert grid[6][19] == 1


def test_heatmap_fall_back_hour_collects_both_utc_hours() -> None:
    # 2025-11-02 (Sunday) 01:00-02:00 happens twice in New York: 05:00 and 06:00 UTC.
    buckets = [(datetime(2025, 11, 2, 5, 30, tzinfo=UTC), 1),
               (datetime(2025, 11, 2, 6, 30, tzinfo=UTC), 1)]
    assert heatmap(buckets, "America/New_York")[6][1] == 2


def test_heatmap_refuses_naive_buckets_and_bad_zones() -> None:
    with pytest.raises(ValidationError):
        heatmap([(datetime(2025, 3, 10), 1)], "UTC")  # noqa: DTZ001 - naive under test
    with pytest.raises(ValidationError):
        heatmap([], "Mars/Olympus")


def test_heatmap_rates() -> None:
    t = datetime(2025, 3, 11, 9, 0, tzinfo=UTC)  # Tuesday
    rates = heatmap_rates([(t, 1)], [(t, 3), (t + timedelta(minutes=15), 1)], "UTC")
    assert rates[1][9] == 0.25
    assert rates[1][10] is None


def test_dashboard_to_dict_is_json_safe() -> None:
    t = datetime(2025, 3, 11, 9, 0, tzinfo=UTC)
    board = build_dashboard(
        contact_statuses={S.COMPLETED: 2, S.PENDING: 2},
        primary_goals={G.ACHIEVED: 1, G.NOT_ACHIEVED: 1},
        answers={A.HUMAN: 2, A.NO_ANSWER: 2},
        conversations=2,
        total_duration_s=120.0,
        human_buckets=iter([(t, 2)]),
        call_buckets=iter([(t, 4)]),
        timezone="Europe/Berlin",
    )
    out = json.loads(json.dumps(dashboard_to_dict(board), allow_nan=False))
    assert set(out) == {"quick_stats", "status_breakdown", "goal_breakdown", "answer_rates",
                        "heatmap", "heatmap_rate"}
    assert out["quick_stats"]["answer_rate"] == 0.5
    assert out["quick_stats"]["goal_achievement_rate"] == 0.5
    assert out["status_breakdown"]["completed"] == {"count": 2, "share": 0.5}
    assert out["answer_rates"]["human"] == 0.5
    assert out["heatmap"][1][10] == 2  # 09:00 UTC is 10:00 in Berlin (CET)
    assert out["heatmap_rate"][1][10] == 0.5
    assert out["heatmap_rate"][0][0] is None


ZONES = ["UTC", "America/New_York", "Europe/London", "Australia/Lord_Howe",
         "Asia/Kathmandu", "America/Santiago", "Pacific/Chatham"]


@settings(deadline=None)
@given(
    zone=st.sampled_from(ZONES),
    buckets=st.lists(
        st.tuples(
            st.datetimes(
                # hypothesis wants naive bounds; the drawn values are UTC-aware
                min_value=datetime(2020, 1, 1),  # noqa: DTZ001
                max_value=datetime(2030, 1, 1),  # noqa: DTZ001
                timezones=st.just(UTC),
            ).map(lambda d: d.replace(minute=d.minute // 15 * 15, second=0, microsecond=0)),
            st.integers(0, 1000),
        ),
        max_size=50,
    ),
)
def test_heatmap_total_equals_input_total(
    zone: str, buckets: list[tuple[datetime, int]]
) -> None:
    grid = heatmap(buckets, zone)
    assert sum(map(sum, grid)) == sum(n for _, n in buckets)
