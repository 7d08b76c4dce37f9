"""Dashboard maths (SPEC: Dashboard) over aggregates that storage counts in SQL.

* ``answer_rate``: connected calls (200 OK: human, machine, silence, fax, unknown) over
  every call with an outcome.
* ``goal_achievement_rate``: ``(achieved + 0.5 * partially) / judged`` over the contacts'
  primary-goal results; Unknown is not judged.
* ``average_duration_s``: total conversation time over conversations.
  A rate or average with nothing to divide by is None.
* ``answer_rates`` groups every outcome into one key (shares of all calls, summing to 1):
  human; machine (+ fax); no_answer; rejection; busy; failed (local failure, trunk
  failure, invalid number); other (connected but unclassified: silence, unknown).
* ``heatmap``: human answers per [weekday][hour] in the campaign timezone, Monday first;
  input buckets are UTC-aware 15-minute bucket starts with counts. ``heatmap_rate``:
  human answers over calls per cell, None where there were no calls.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass
from datetime import datetime
from types import MappingProxyType
from typing import Final, TypedDict, TypeVar
from zoneinfo import ZoneInfo

from campaigns.errors import ValidationError
from campaigns.types import AnswerStatus, ContactStatus, GoalResult, check_timezone

_A = AnswerStatus
ANSWER_RATE_GROUPS: Final[Mapping[AnswerStatus, str]] = MappingProxyType({
    _A.HUMAN: "human",
    _A.MACHINE: "machine",
    _A.FAX: "machine",
    _A.NO_ANSWER: "no_answer",
    _A.REJECTED: "rejection",
    _A.BUSY: "busy",
    _A.FAILED: "failed",
    _A.TRUNK_FAILURE: "failed",
    _A.INVALID_NUMBER: "failed",
    _A.SILENCE: "other",
    _A.UNKNOWN: "other",
})
"""The ``answer_rates`` key of each outcome."""

ANSWER_RATE_KEYS: Final = ("human", "machine", "no_answer", "rejection", "busy", "failed",
                           "other")

DAYS: Final = 7
HOURS: Final = 24


_K = TypeVar("_K", bound=str)


class Share(TypedDict):
    """A count and its share of the total (0.0 when the total is zero)."""

    count: int
    share: float


@dataclass(frozen=True, slots=True)
class QuickStats:
    """The headline numbers of a campaign (see the module docstring)."""

    calls: int
    conversations: int
    total_duration_s: float
    average_duration_s: float | None
    answer_rate: float | None
    goal_achievement_rate: float | None


def _ratio(part: float, whole: float) -> float | None:
    return part / whole if whole else None


def quick_stats(
    *,
    answers: Mapping[AnswerStatus, int],
    conversations: int,
    total_duration_s: float,
    primary_goals: Mapping[GoalResult, int],
) -> QuickStats:
    """Quick stats from outcome counts per call, the conversation count and their total
    duration, and the contacts' primary-goal results."""
    calls = sum(answers.values())
    answered = sum(n for status, n in answers.items() if status.connected)
    achieved = primary_goals.get(GoalResult.ACHIEVED, 0)
    partial = primary_goals.get(GoalResult.PARTIALLY_ACHIEVED, 0)
    judged = achieved + partial + primary_goals.get(GoalResult.NOT_ACHIEVED, 0)
    return QuickStats(
        calls=calls,
        conversations=conversations,
        total_duration_s=total_duration_s,
        average_duration_s=_ratio(total_duration_s, conversations),
        answer_rate=_ratio(answered, calls),
        goal_achievement_rate=_ratio(achieved + 0.5 * partial, judged),
    )


def _breakdown(keys: Iterable[_K], counts: Mapping[_K, int]) -> dict[str, Share]:
    total = sum(counts.values())
    return {
        str(k): Share(count=counts.get(k, 0), share=counts.get(k, 0) / total if total else 0.0)
        for k in keys
    }


def status_breakdown(counts: Mapping[ContactStatus, int]) -> dict[str, Share]:
    """Contacts per status, every one of the seven statuses present."""
    return _breakdown(ContactStatus, counts)


def goal_breakdown(counts: Mapping[GoalResult, int]) -> dict[str, Share]:
    """Contacts per primary-goal result, all four results present."""
    return _breakdown(GoalResult, counts)


def answer_rates(counts: Mapping[AnswerStatus, int]) -> dict[str, float]:
    """Share of all calls per ``ANSWER_RATE_GROUPS`` key (all 0.0 when there are none)."""
    total = sum(counts.values())
    grouped = dict.fromkeys(ANSWER_RATE_KEYS, 0)
    for status, n in counts.items():
        grouped[ANSWER_RATE_GROUPS[status]] += n
    return {key: (n / total if total else 0.0) for key, n in grouped.items()}


def heatmap(buckets: Iterable[tuple[datetime, int]], timezone: str) -> list[list[int]]:
    """Sum counts into a 7×24 grid ``[weekday][hour]`` (Monday first) in ``timezone``.

    Each bucket start must be timezone-aware (storage hands UTC); a 15-minute bucket
    never straddles a local hour because UTC offsets are multiples of 15 minutes.
    """
    zone = ZoneInfo(check_timezone(timezone))
    grid = [[0] * HOURS for _ in range(DAYS)]
    for start, count in buckets:
        if start.tzinfo is None or start.utcoffset() is None:
            raise ValidationError("bucket", "bucket start must carry a timezone")
        local = start.astimezone(zone)
        grid[local.weekday()][local.hour] += count
    return grid


def heatmap_rates(
    human_buckets: Iterable[tuple[datetime, int]],
    total_buckets: Iterable[tuple[datetime, int]],
    timezone: str,
) -> list[list[float | None]]:
    """Human answers over calls per [weekday][hour] cell; None where no calls."""
    return grid_rates(heatmap(human_buckets, timezone), heatmap(total_buckets, timezone))


def grid_rates(humans: Sequence[Sequence[int]],
               totals: Sequence[Sequence[int]]) -> list[list[float | None]]:
    """Cell-by-cell human answers over calls of two 7×24 grids; None where no calls."""
    return [
        [_ratio(h, t) for h, t in zip(h_row, t_row, strict=True)]
        for h_row, t_row in zip(humans, totals, strict=True)
    ]


@dataclass(frozen=True, slots=True)
class Dashboard:
    """Everything the Slack and CLI dashboards show for one campaign."""

    quick_stats: QuickStats
    status_breakdown: Mapping[str, Share]
    goal_breakdown: Mapping[str, Share]
    answer_rates: Mapping[str, float]
    heatmap: tuple[tuple[int, ...], ...]
    heatmap_rate: tuple[tuple[float | None, ...], ...]


def build_dashboard(
    *,
    contact_statuses: Mapping[ContactStatus, int],
    primary_goals: Mapping[GoalResult, int],
    answers: Mapping[AnswerStatus, int],
    conversations: int,
    total_duration_s: float,
    human_buckets: Iterable[tuple[datetime, int]],
    call_buckets: Iterable[tuple[datetime, int]],
    timezone: str,
    grids: tuple[Sequence[Sequence[int]], Sequence[Sequence[int]]] | None = None,
) -> Dashboard:
    """Assemble the dashboard from storage's aggregates.

    ``human_buckets``/``call_buckets``: (UTC 15-minute bucket start, human answers / calls).
    ``grids``: the (human, calls) 7×24 grids already binned in ``timezone`` (a database
    that converts time zones itself sends these instead of buckets).
    """
    if grids is not None:
        human_grid = [list(row) for row in grids[0]]
        call_grid = [list(row) for row in grids[1]]
    else:
        human_grid = heatmap(human_buckets, timezone)
        call_grid = heatmap(call_buckets, timezone)
    return Dashboard(
        quick_stats=quick_stats(
            answers=answers,
            conversations=conversations,
            total_duration_s=total_duration_s,
            primary_goals=primary_goals,
        ),
        status_breakdown=MappingProxyType(status_breakdown(contact_statuses)),
        goal_breakdown=MappingProxyType(goal_breakdown(primary_goals)),
        answer_rates=MappingProxyType(answer_rates(answers)),
        heatmap=tuple(tuple(row) for row in human_grid),
        heatmap_rate=tuple(tuple(row) for row in grid_rates(human_grid, call_grid)),
    )


def dashboard_to_dict(d: Dashboard) -> dict[str, object]:
    """A JSON-safe dict: quick_stats, status_breakdown, goal_breakdown, answer_rates,
    heatmap (7×24 ints), heatmap_rate (7×24 floats or None)."""
    return {
        "quick_stats": asdict(d.quick_stats),
        "status_breakdown": {k: dict(v) for k, v in d.status_breakdown.items()},
        "goal_breakdown": {k: dict(v) for k, v in d.goal_breakdown.items()},
        "answer_rates": dict(d.answer_rates),
        "heatmap": [list(row) for row in d.heatmap],
        "heatmap_rate": [list(row) for row in d.heatmap_rate],
    }
