"""Goal score, combining per-conversation verdicts, and analysis answer validation."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from campaigns.goals import (
    MAX_TEXT_ANSWER,
    AnswerCheck,
    combine_goal_results,
    contact_goal_score,
    validate_answer,
)
from campaigns.types import Analysis, AnalysisKind, DataPointType, Goal, GoalResult

G = GoalResult
PRIMARY = Goal(1, "book a demo", primary=True)
SECOND = Goal(2, "learn budget")
THIRD = Goal(3, "learn timeline")
ARCHIVED = Goal(4, "old goal", archived=True)
GOALS = [PRIMARY, SECOND, THIRD, ARCHIVED]


# --- goal score ---------------------------------------------------------------------------

@pytest.mark.parametrize(
    ("results", "score"),
    [
        ({1: G.ACHIEVED}, 100),
        ({1: G.PARTIALLY_ACHIEVED}, 50),
        ({1: G.NOT_ACHIEVED}, 0),
        ({1: G.ACHIEVED, 2: G.NOT_ACHIEVED, 3: G.NOT_ACHIEVED}, 50),
        ({1: G.NOT_ACHIEVED, 2: G.ACHIEVED, 3: G.ACHIEVED}, 50),
        ({1: G.ACHIEVED, 2: G.ACHIEVED, 3: G.PARTIALLY_ACHIEVED}, 88),  # 87.5 rounds up
        ({1: G.ACHIEVED, 2: G.UNKNOWN, 3: G.NOT_ACHIEVED}, 50),  # unknown left out
        ({1: G.UNKNOWN, 2: G.ACHIEVED, 3: G.PARTIALLY_ACHIEVED}, 75),  # secondaries only
        ({1: G.PARTIALLY_ACHIEVED, 2: G.ACHIEVED, 3: G.NOT_ACHIEVED}, 50),
        ({1: G.ACHIEVED, 4: G.NOT_ACHIEVED}, 100),  # archived left out
        ({1: G.UNKNOWN, 2: G.UNKNOWN}, None),
        ({}, None),
    ],
)
def test_goal_score(results: dict[int, GoalResult], score: int | None) -> None:
    assert contact_goal_score(results, GOALS) == score


def test_no_goals_means_no_score() -> None:
    assert contact_goal_score({1: G.ACHIEVED}, []) is None


def test_thirds_round_half_up_exactly() -> None:
    goals = [PRIMARY, SECOND, THIRD, Goal(5, "x")]
    # 0.5 * 0.5 + 0.5 * (1 + 0.5 + 0) / 3 = 0.5 -> 50; (1/2 * 1/2 + 1/2 * 1/6) = 1/3 -> 33
    assert contact_goal_score({1: G.PARTIALLY_ACHIEVED, 2: G.ACHIEVED, 3: G.PARTIALLY_ACHIEVED,
                               5: G.NOT_ACHIEVED}, goals) == 50
    assert contact_goal_score({1: G.PARTIALLY_ACHIEVED, 2: G.PARTIALLY_ACHIEVED,
                               3: G.NOT_ACHIEVED, 5: G.NOT_ACHIEVED}, goals) == 33


JUDGED = [G.NOT_ACHIEVED, G.PARTIALLY_ACHIEVED, G.ACHIEVED]  # in increasing order
goal_lists = st.lists(
    st.builds(Goal, id=st.integers(0, 6), name=st.just("g"), primary=st.booleans(),
              archived=st.booleans()),
    max_size=7,
    unique_by=lambda g: g.id,
)


@settings(deadline=None)
@given(goals=goal_lists, data=st.data())
def test_goal_score_is_bounded_and_monotone(goals: list[Goal], data: st.DataObject) -> None:
    results = data.draw(st.dictionaries(st.integers(0, 6), st.sampled_from(list(GoalResult))))
    score = contact_goal_score(results, goals)
    assert score is None or 0 <= score <= 100
    judged = [gid for gid, r in results.items() if r in JUDGED]
    if not judged:
        return
    gid = data.draw(st.sampled_from(judged))
    better = JUDGED[min(JUDGED.index(results[gid]) + 1, 2)]
    improved = contact_goal_score({**results, gid: better}, goals)
    if score is None:
        assert improved is None
    else:
        assert improved is not None
        assert improved >= score


@pytest.mark.parametrize(
    ("verdicts", "combined"),
    [
        ([], G.UNKNOWN),
        ([G.UNKNOWN], G.UNKNOWN),
        ([G.UNKNOWN, G.NOT_ACHIEVED], G.NOT_ACHIEVED),
        ([G.NOT_ACHIEVED, G.PARTIALLY_ACHIEVED, G.UNKNOWN], G.PARTIALLY_ACHIEVED),
        ([G.NOT_ACHIEVED, G.ACHIEVED, G.PARTIALLY_ACHIEVED], G.ACHIEVED),
    ],
)
def test_combine_goal_results(verdicts: list[GoalResult], combined: GoalResult) -> None:
    assert combine_goal_results(verdicts) is combined


# --- analysis answers -------------------------------------------------------------------------

K = AnalysisKind
YES_NO = Analysis(1, "interested", "Is the callee interested?", K.YES_NO)
SINGLE = Analysis(2, "plan", "Which plan?", K.SINGLE_CHOICE, options=("Basic", "Pro"))
MULTI = Analysis(3, "topics", "Topics?", K.MULTIPLE_CHOICE, options=("price", "support", "api"))
OPEN = Analysis(4, "summary", "Summarise", K.OPEN)
RATING = Analysis(5, "mood", "Mood 1-5?", K.RATING, scale_min=1, scale_max=5)


def point(kind: DataPointType) -> Analysis:
    return Analysis(6, "value", "Extract", K.DATA_POINT, data_type=kind)


D = DataPointType
ACCEPTED: list[tuple[Analysis, Any, Any]] = [
    (YES_NO, True, True),
    (YES_NO, False, False),
    (YES_NO, " Yes ", True),
    (YES_NO, "no", False),
    (SINGLE, "Pro", "Pro"),
    (SINGLE, " basic ", "Basic"),
    (MULTI, ["api", "price"], ("price", "api")),
    (MULTI, ("Support",), ("support",)),
    (OPEN, "  wants a call back  ", "wants a call back"),
    (OPEN, "x" * MAX_TEXT_ANSWER, "x" * MAX_TEXT_ANSWER),
    (RATING, 1, 1),
    (RATING, 5, 5),
    (RATING, 4.0, 4),
    (RATING, "3", 3),
    (point(D.TEXT), "Acme Ltd", "Acme Ltd"),
    (point(D.NUMBER), 42, 42),
    (point(D.NUMBER), 2.5, 2.5),
    (point(D.NUMBER), "-7", -7),
    (point(D.NUMBER), " 1.25e2 ", 125.0),
    (point(D.DATE), "2025-02-28", "2025-02-28"),
    (point(D.BOOLEAN), "TRUE", True),
    (point(D.BOOLEAN), False, False),
    (point(D.EMAIL), " ana@example.com ", "ana@example.com"),
    (point(D.PHONE), "(202) 555-0123", "+12025550123"),
    (point(D.PHONE), "+1 415 555 0199", "+14155550199"),
]

REFUSED: list[tuple[Analysis, Any]] = [
    (YES_NO, None),
    (YES_NO, "maybe"),
    (YES_NO, 1),
    (SINGLE, "Enterprise"),
    (SINGLE, ["Pro"]),
    (SINGLE, 1),
    (MULTI, []),
    (MULTI, "price"),
    (MULTI, ["price", "price"]),
    (MULTI, ["price", "Price"]),
    (MULTI, ["price", "legal"]),
    (MULTI, [1]),
    (OPEN, ""),
    (OPEN, "   "),
    (OPEN, "x" * (MAX_TEXT_ANSWER + 1)),
    (OPEN, 12),
    (RATING, 0),
    (RATING, 6),
    (RATING, 3.5),
    (RATING, True),
    (RATING, "four"),
    (point(D.TEXT), ""),
    (point(D.NUMBER), "12 apples"),
    (point(D.NUMBER), "nan"),
    (point(D.NUMBER), float("inf")),
    (point(D.NUMBER), True),
    (point(D.NUMBER), "1e400"),
    (point(D.DATE), "2025-02-30"),
    (point(D.DATE), "20250228"),
    (point(D.DATE), "28/02/2025"),
    (point(D.DATE), 20250228),
    (point(D.BOOLEAN), "perhaps"),
    (point(D.EMAIL), "ana@example"),
    (point(D.EMAIL), "ana example.com"),
    (point(D.EMAIL), "a@b@example.com"),
    (point(D.EMAIL), 5),
    (point(D.PHONE), "+1 555 123 4567"),
    (point(D.PHONE), "call me"),
    (point(D.PHONE), 2025550123),
]


@pytest.mark.parametrize(("analysis", "raw", "value"), ACCEPTED)
def test_accepted_answers_are_normalised(analysis: Analysis, raw: Any, value: Any) -> None:
    check = validate_answer(analysis, raw)
    assert check == AnswerCheck(True, value, None)
    assert type(check.value) is type(value)


@pytest.mark.parametrize(("analysis", "raw"), REFUSED)
def test_refused_answers_carry_a_reason(analysis: Analysis, raw: Any) -> None:
    check = validate_answer(analysis, raw)
    assert not check.ok
    assert check.value is None
    assert check.reason


def test_every_kind_and_data_type_is_covered() -> None:
    kinds = {a.kind for a, _, _ in ACCEPTED} | {a.kind for a, _ in REFUSED}
    types = {a.data_type for a, _, _ in ACCEPTED if a.kind is K.DATA_POINT}
    assert kinds == set(AnalysisKind)
    assert types == set(DataPointType)


def test_national_phone_uses_the_region() -> None:
    check = validate_answer(point(D.PHONE), "020 7946 0958", region="GB")
    assert check.value == "+442079460958"


def test_long_raw_values_are_shortened_in_the_reason() -> None:
    check = validate_answer(YES_NO, "y" * 500)
    assert check.reason is not None
    assert len(check.reason) < 120


@settings(deadline=None)
@given(raw=st.none() | st.booleans() | st.integers() | st.floats() | st.text()
       | st.lists(st.text(max_size=8), max_size=4))
def test_validation_never_raises(raw: object) -> None:
    for analysis in (YES_NO, SINGLE, MULTI, OPEN, RATING,
                     *(point(kind) for kind in DataPointType)):
        check = validate_answer(analysis, raw)
        assert check.ok == (check.reason is None)
