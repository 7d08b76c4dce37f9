"""Spam policy: bands, the built-in estimator (examples and monotonicity), decisions."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from campaigns.errors import ValidationError
from campaigns.spam import (
    BuiltinSpamProvider,
    NumberTraffic,
    SpamBand,
    SpamDecision,
    SpamProvider,
    band,
    estimate_spam_score,
    evaluate,
    should_exclude,
)
from campaigns.types import NumberStatus, PhoneNumber

E164 = "+12025550142"


@pytest.mark.parametrize(
    ("score", "expected"),
    [(0, SpamBand.GREEN), (4, SpamBand.GREEN), (5, SpamBand.YELLOW), (6, SpamBand.YELLOW),
     (7, SpamBand.RED), (9, SpamBand.RED)],
)
def test_band_boundaries(score: int, expected: SpamBand) -> None:
    assert band(score) is expected


@pytest.mark.parametrize("score", [-1, 10])
def test_band_rejects_scores_outside_0_to_9(score: int) -> None:
    with pytest.raises(ValidationError):
        band(score)


@pytest.mark.parametrize(
    ("score", "threshold", "expected"), [(6, 7, False), (7, 7, True), (9, 7, True), (1, 1, True)]
)
def test_should_exclude_at_or_above_threshold(score: int, threshold: int, expected: bool) -> None:
    assert should_exclude(score, threshold) is expected


@pytest.mark.parametrize(
    "kwargs",
    [
        {"days": 0, "calls": 0},
        {"days": 1, "calls": -1},
        {"days": 1, "calls": 10, "answered": 6, "rejected": 3, "no_answer": 2},
        {"days": 1, "calls": 10, "answered": 2, "short_calls": 3},
        {"days": 1, "calls": 10, "max_calls_in_a_day": 11},
    ],
)
def test_traffic_rejects_inconsistent_counts(kwargs: dict[str, int]) -> None:
    with pytest.raises(ValidationError):
        NumberTraffic(**kwargs)


def test_no_traffic_scores_zero() -> None:
    assert estimate_spam_score(NumberTraffic(days=7, calls=0)) == 0


def test_healthy_number_stays_green_at_zero() -> None:
    traffic = NumberTraffic(days=7, calls=350, answered=140, short_calls=14, rejected=3,
                            no_answer=180, max_calls_in_a_day=55)
    assert estimate_spam_score(traffic) == 0


def test_fresh_number_with_bad_first_calls_is_not_called_spam() -> None:
    traffic = NumberTraffic(days=1, calls=15, answered=1, short_calls=1, rejected=10,
                            no_answer=4, max_calls_in_a_day=15)
    assert estimate_spam_score(traffic) <= 1


def test_volume_alone_gives_three_points() -> None:
    traffic = NumberTraffic(days=1, calls=300, answered=120, rejected=0, no_answer=180,
                            max_calls_in_a_day=300)
    assert estimate_spam_score(traffic) == 3


def test_worked_example_from_the_docstring() -> None:
    # peak 100/day → 3·(40/240) = 0.5; short 50% → 2·0.6 = 1.2;
    # answer 20% → 2·0.4 = 0.8; reject 10% → 2·(0.08/0.18) ≈ 0.89; total ≈ 3.39 → 3
    traffic = NumberTraffic(days=5, calls=500, answered=90, short_calls=45, rejected=45,
                            no_answer=315, max_calls_in_a_day=100)
    assert estimate_spam_score(traffic) == 3


def test_abusive_number_is_red() -> None:
    traffic = NumberTraffic(days=3, calls=750, answered=50, short_calls=40, rejected=140,
                            no_answer=500, max_calls_in_a_day=260)
    score = estimate_spam_score(traffic)
    assert score >= 7
    assert band(score) is SpamBand.RED


@st.composite
def traffic(draw: st.DrawFn, slack: int = 0) -> NumberTraffic:
    """Valid traffic; ``slack`` leaves that many calls outside answered/rejected/no-answer."""
    days = draw(st.integers(1, 30))
    calls = draw(st.integers(slack, 3000))
    answered = draw(st.integers(0, calls - slack))
    rejected = draw(st.integers(0, calls - slack - answered))
    no_answer = draw(st.integers(0, calls - slack - answered - rejected))
    short = draw(st.integers(0, answered))
    peak = draw(st.integers(0, calls))
    return NumberTraffic(days=days, calls=calls, answered=answered, short_calls=short,
                         rejected=rejected, no_answer=no_answer, max_calls_in_a_day=peak)


def _with(t: NumberTraffic, **changes: int) -> NumberTraffic:
    fields = {
        "days": t.days, "calls": t.calls, "answered": t.answered,
        "short_calls": t.short_calls, "rejected": t.rejected, "no_answer": t.no_answer,
        "max_calls_in_a_day": t.max_calls_in_a_day,
    }
    fields.update(changes)
    return NumberTraffic(**fields)


@settings(deadline=None)
@given(traffic())
def test_score_is_always_0_to_9(t: NumberTraffic) -> None:
    assert 0 <= estimate_spam_score(t) <= 9


@settings(deadline=None)
@given(traffic(slack=1), st.data())
def test_more_rejections_never_lower_the_score(t: NumberTraffic, data: st.DataObject) -> None:
    room = t.calls - t.reached
    extra = data.draw(st.integers(1, room))
    more = _with(t, rejected=t.rejected + extra)
    assert estimate_spam_score(more) >= estimate_spam_score(t)


@settings(deadline=None)
@given(traffic(), st.data())
def test_more_short_calls_never_lower_the_score(t: NumberTraffic, data: st.DataObject) -> None:
    extra = data.draw(st.integers(0, t.answered - t.short_calls))
    more = _with(t, short_calls=t.short_calls + extra)
    assert estimate_spam_score(more) >= estimate_spam_score(t)


@settings(deadline=None)
@given(traffic(), st.integers(0, 2000), st.data())
def test_more_volume_never_lowers_the_score(
    t: NumberTraffic, extra_calls: int, data: st.DataObject
) -> None:
    calls = t.calls + extra_calls
    peak = data.draw(st.integers(t.max_calls_in_a_day, calls))
    more = _with(t, calls=calls, max_calls_in_a_day=peak)
    assert estimate_spam_score(more) >= estimate_spam_score(t)


def test_builtin_provider_uses_the_estimator() -> None:
    provider: SpamProvider = BuiltinSpamProvider()
    t = NumberTraffic(days=3, calls=750, answered=50, short_calls=40, rejected=140,
                      no_answer=500, max_calls_in_a_day=260)
    assert provider.score(E164, t) == estimate_spam_score(t)


def _number(status: NumberStatus = NumberStatus.ACTIVE, score: int = 3) -> PhoneNumber:
    return PhoneNumber(id=1, e164=E164, status=status, spam_score=score)


def test_active_number_crossing_threshold_is_excluded_with_an_alert() -> None:
    decision = evaluate(_number(), 7, 7)
    assert decision == SpamDecision(score=7, band=SpamBand.RED, exclude=True, alert=True)


def test_already_excluded_number_does_not_alert_again() -> None:
    decision = evaluate(_number(NumberStatus.EXCLUDED, score=8), 9, 7)
    assert decision.exclude
    assert not decision.alert


def test_disabled_number_over_threshold_does_not_alert() -> None:
    decision = evaluate(_number(NumberStatus.DISABLED), 8, 7)
    assert decision.exclude
    assert not decision.alert


def test_score_below_threshold_keeps_the_number() -> None:
    decision = evaluate(_number(), 6, 7)
    assert decision == SpamDecision(score=6, band=SpamBand.YELLOW, exclude=False, alert=False)


def test_lower_threshold_excludes_sooner() -> None:
    assert evaluate(_number(), 5, 5).alert


@pytest.mark.parametrize(("score", "threshold"), [(10, 7), (-1, 7), (5, 0), (5, 10)])
def test_evaluate_rejects_out_of_range_values(score: int, threshold: int) -> None:
    with pytest.raises(ValidationError):
        evaluate(_number(), score, threshold)
