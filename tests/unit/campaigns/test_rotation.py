"""Caller-ID rotation: eligibility and its reasons, each strategy, and simulated campaigns."""

from __future__ import annotations

import json
import random
from collections import Counter

import phonenumbers
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from campaigns.errors import NoNumberAvailable, ValidationError
from campaigns.rotation import Pick, RotationState, choose_number, eligible
from campaigns.types import NumberStatus, PhoneNumber, RotationSettings, RotationStrategy

DC = "+120255501{:02d}"  # Washington D.C., area 202
SF = "+141555501{:02d}"  # San Francisco, CA, area 415
NYC = "+121255501{:02d}"  # New York, NY, area 212
BROOKLYN = "+171855501{:02d}"  # New York state, area 718
LONDON = "+44207946{:04d}"  # London, area 20

CALLEE = DC.format(99)


def num(
    id: int,
    e164: str | None = None,
    *,
    status: NumberStatus = NumberStatus.ACTIVE,
    calls: int = 0,
    spam: int = 0,
    weight: int = 1,
) -> PhoneNumber:
    return PhoneNumber(id=id, e164=e164 or DC.format(id % 100), status=status,
                       calls_today=calls, spam_score=spam, weight=weight)


def rot(strategy: RotationStrategy = RotationStrategy.ROUND_ROBIN, *, cap: int = 100,
        threshold: int = 7,
        fallback: RotationStrategy = RotationStrategy.LEAST_USED_TODAY) -> RotationSettings:
    return RotationSettings(strategy=strategy, spam_threshold=threshold,
                            max_calls_per_number_per_day=cap, fallback=fallback)


def pick(numbers: list[PhoneNumber], settings_: RotationSettings,
         state: RotationState | None = None, *, callee: str = CALLEE, seed: int = 0,
         calls_today: dict[int, int] | None = None) -> Pick:
    return choose_number(numbers, settings_, state or RotationState(), callee=callee,
                         rng=random.Random(seed), calls_today=calls_today)


@pytest.mark.parametrize("template", [DC, SF, NYC, BROOKLYN])
def test_fixture_numbers_are_valid(template: str) -> None:
    for i in (0, 42, 99):
        assert phonenumbers.is_valid_number(phonenumbers.parse(template.format(i), None))


def test_fixture_london_numbers_are_valid() -> None:
    for i in (0, 123, 999):
        assert phonenumbers.is_valid_number(phonenumbers.parse(LONDON.format(i), None))


# --- eligibility and reasons ----------------------------------------------------------


def test_eligible_drops_each_kind_of_unusable_number() -> None:
    numbers = [
        num(1),
        num(2, status=NumberStatus.DISABLED),
        num(3, status=NumberStatus.EXCLUDED),
        num(4, spam=7),
        num(5, calls=100),
        num(6, spam=6, calls=99),
    ]
    kept, reason = eligible(numbers, rot())
    assert [n.id for n in kept] == [1, 6]
    assert reason is None


def test_no_numbers_assigned() -> None:
    assert eligible([], rot()) == ([], "no numbers assigned to the campaign")


def test_all_numbers_at_daily_cap() -> None:
    numbers = [num(1, calls=100), num(2, calls=100), num(3, calls=250)]
    assert eligible(numbers, rot())[1] == "all 3 numbers are at their daily cap of 100 calls"


def test_the_only_number_at_daily_cap() -> None:
    assert eligible([num(1, calls=1)], rot(cap=1))[1] == (
        "the only number is at its daily cap of 1 call")


def test_no_active_numbers_counts_disabled_and_excluded() -> None:
    numbers = [num(1, status=NumberStatus.DISABLED), num(2, status=NumberStatus.EXCLUDED),
               num(3, status=NumberStatus.DISABLED, spam=9)]
    assert eligible(numbers, rot())[1] == "no active numbers: 2 disabled, 1 excluded"


def test_no_active_numbers_all_disabled() -> None:
    numbers = [num(1, status=NumberStatus.DISABLED)]
    assert eligible(numbers, rot())[1] == "no active numbers: 1 disabled"


def test_all_numbers_over_spam_threshold() -> None:
    numbers = [num(1, spam=5), num(2, spam=9)]
    assert eligible(numbers, rot(threshold=5))[1] == (
        "all 2 numbers have a spam score at or above the threshold of 5")


def test_mixed_reasons_are_each_counted() -> None:
    numbers = [num(1, calls=100), num(2, calls=100), num(3, spam=8),
               num(4, status=NumberStatus.DISABLED), num(5, status=NumberStatus.EXCLUDED),
               num(6, status=NumberStatus.EXCLUDED)]
    assert eligible(numbers, rot())[1] == (
        "none of the 6 numbers may dial: 2 at the daily cap of 100 calls, "
        "1 at or above spam threshold 7, 1 disabled, 2 excluded")


def test_spam_threshold_is_inclusive() -> None:
    kept, _ = eligible([num(1, spam=6), num(2, spam=7)], rot(threshold=7))
    assert [n.id for n in kept] == [1]


def test_calls_today_override_wins_over_the_number_field() -> None:
    numbers = [num(1, calls=100), num(2, calls=0), num(3, calls=5)]
    kept, _ = eligible(numbers, rot(), calls_today={1: 3, 2: 100})
    assert [n.id for n in kept] == [1, 3]  # 3 is absent from the map: its own field counts


def test_choose_raises_with_the_reason() -> None:
    with pytest.raises(NoNumberAvailable) as info:
        pick([num(1, calls=100), num(2, calls=100)], rot())
    assert info.value.reason == "all 2 numbers are at their daily cap of 100 calls"


# --- strategies -----------------------------------------------------------------------


def test_round_robin_goes_in_id_order_and_wraps() -> None:
    numbers = [num(30), num(10), num(20)]
    state = RotationState()
    seen = []
    for _ in range(4):
        result = pick(numbers, rot(), state)
        state = result.state
        seen.append(result.number.id)
        assert result.strategy_used is RotationStrategy.ROUND_ROBIN
    assert seen == [10, 20, 30, 10]


def test_round_robin_skips_ineligible_and_survives_a_removed_last_number() -> None:
    numbers = [num(1), num(2, calls=100), num(4)]
    assert pick(numbers, rot(), RotationState(last_number_id=1)).number.id == 4
    assert pick(numbers, rot(), RotationState(last_number_id=3)).number.id == 4
    assert pick(numbers, rot(), RotationState(last_number_id=9)).number.id == 1


def test_lowest_spam_breaks_ties_by_calls_then_id() -> None:
    numbers = [num(1, spam=3), num(2, spam=1, calls=50), num(3, spam=1, calls=10),
               num(4, spam=1, calls=10)]
    result = pick(numbers, rot(RotationStrategy.LOWEST_SPAM))
    assert result.number.id == 3
    assert result.state == RotationState(last_number_id=3)
    assert result.strategy_used is RotationStrategy.LOWEST_SPAM


def test_least_used_today_breaks_ties_by_spam_then_id() -> None:
    numbers = [num(1, calls=5), num(2, calls=2, spam=4), num(3, calls=2, spam=1),
               num(4, calls=2, spam=1)]
    assert pick(numbers, rot(RotationStrategy.LEAST_USED_TODAY)).number.id == 3


def test_least_used_today_reads_the_override_counts() -> None:
    numbers = [num(1, calls=0), num(2, calls=50)]
    result = pick(numbers, rot(RotationStrategy.LEAST_USED_TODAY), calls_today={1: 60, 2: 50})
    assert result.number.id == 2


def test_weighted_never_uses_zero_weight_when_others_have_weight() -> None:
    numbers = [num(1, weight=0), num(2, weight=1), num(3, weight=0)]
    ids = {pick(numbers, rot(RotationStrategy.WEIGHTED), seed=s).number.id for s in range(50)}
    assert ids == {2}


def test_weighted_with_all_zero_weights_is_uniform() -> None:
    numbers = [num(i, weight=0) for i in (1, 2, 3)]
    rng = random.Random(7)
    counts = Counter(
        choose_number(numbers, rot(RotationStrategy.WEIGHTED), RotationState(), callee=CALLEE,
                      rng=rng).number.id
        for _ in range(3000)
    )
    assert set(counts) == {1, 2, 3}
    assert all(abs(c / 3000 - 1 / 3) < 0.05 for c in counts.values())


def test_weighted_is_deterministic_for_a_seed() -> None:
    numbers = [num(1, weight=1), num(2, weight=5), num(3, weight=2)]

    def run(seed: int) -> list[int]:
        rng = random.Random(seed)
        return [choose_number(numbers, rot(RotationStrategy.WEIGHTED), RotationState(),
                              callee=CALLEE, rng=rng).number.id for _ in range(40)]

    assert run(123) == run(123)
    assert run(123) != run(124)


def test_local_presence_prefers_the_same_area_code() -> None:
    numbers = [num(1, SF.format(1), calls=50), num(2, DC.format(2), calls=90),
               num(3, SF.format(3), calls=0)]
    result = pick(numbers, rot(RotationStrategy.LOCAL_PRESENCE), callee=DC.format(77))
    assert result.number.id == 2
    assert result.strategy_used is RotationStrategy.LOCAL_PRESENCE


def test_local_presence_uses_fallback_within_the_local_group() -> None:
    numbers = [num(1, SF.format(1), calls=50), num(2, SF.format(2), calls=20),
               num(3, DC.format(3), calls=0)]
    result = pick(numbers, rot(RotationStrategy.LOCAL_PRESENCE), callee=SF.format(77))
    assert result.number.id == 2


def test_local_presence_falls_back_to_the_same_us_state() -> None:
    numbers = [num(1, SF.format(1), calls=0), num(2, BROOKLYN.format(2), calls=40),
               num(3, DC.format(3), calls=0)]
    result = pick(numbers, rot(RotationStrategy.LOCAL_PRESENCE), callee=NYC.format(5))
    assert result.number.id == 2
    assert result.strategy_used is RotationStrategy.LOCAL_PRESENCE


def test_local_presence_falls_back_to_the_same_country() -> None:
    numbers = [num(1, DC.format(1), calls=0), num(2, LONDON.format(2), calls=40)]
    result = pick(numbers, rot(RotationStrategy.LOCAL_PRESENCE), callee=LONDON.format(500))
    assert result.number.id == 2
    us = pick(numbers, rot(RotationStrategy.LOCAL_PRESENCE), callee=SF.format(5))
    assert us.number.id == 1


def test_local_presence_with_nothing_local_uses_the_fallback_over_all() -> None:
    numbers = [num(1, SF.format(1), spam=4), num(2, DC.format(2), spam=1, calls=80)]
    settings_ = rot(RotationStrategy.LOCAL_PRESENCE, fallback=RotationStrategy.LOWEST_SPAM)
    result = pick(numbers, settings_, callee=LONDON.format(1))
    assert result.number.id == 2
    assert result.strategy_used is RotationStrategy.LOWEST_SPAM


def test_local_presence_ignores_an_ineligible_local_number() -> None:
    numbers = [num(1, DC.format(1), status=NumberStatus.EXCLUDED), num(2, SF.format(2))]
    assert pick(numbers, rot(RotationStrategy.LOCAL_PRESENCE)).number.id == 2


@pytest.mark.parametrize("strategy", list(RotationStrategy))
def test_single_eligible_number_is_returned_by_every_strategy(
    strategy: RotationStrategy,
) -> None:
    numbers = [num(1, calls=100), num(2, SF.format(2), spam=2, weight=0),
               num(3, status=NumberStatus.DISABLED)]
    result = pick(numbers, rot(strategy), RotationState(last_number_id=2))
    assert result.number.id == 2
    assert result.state.last_number_id == 2


def test_state_round_trips_through_json() -> None:
    state = RotationState(last_number_id=42)
    assert RotationState.from_dict(json.loads(json.dumps(state.to_dict()))) == state
    assert RotationState.from_dict({}) == RotationState()


@pytest.mark.parametrize("bad", ["42", 4.2, True])
def test_state_rejects_a_non_integer_id(bad: object) -> None:
    with pytest.raises(ValidationError):
        RotationState.from_dict({"last_number_id": bad})


# --- properties -----------------------------------------------------------------------

_TEMPLATES = (DC, SF, NYC, BROOKLYN)


@st.composite
def fleets(draw: st.DrawFn) -> list[PhoneNumber]:
    """Up to six numbers with distinct ids and mixed statuses, scores and weights."""
    ids = draw(st.lists(st.integers(1, 99), unique=True, max_size=6))
    return [
        PhoneNumber(
            id=i,
            e164=draw(st.sampled_from(_TEMPLATES)).format(i),
            status=draw(st.sampled_from(list(NumberStatus))),
            calls_today=draw(st.integers(0, 12)),
            spam_score=draw(st.integers(0, 9)),
            weight=draw(st.integers(0, 3)),
        )
        for i in ids
    ]


@settings(deadline=None, max_examples=150)
@given(
    fleets(),
    st.sampled_from(list(RotationStrategy)),
    st.integers(1, 9),
    st.integers(1, 10),
    st.integers(0, 2**32),
)
def test_simulated_campaign_respects_cap_status_and_threshold(
    numbers: list[PhoneNumber], strategy: RotationStrategy, threshold: int, cap: int,
    seed: int,
) -> None:
    settings_ = rot(strategy, cap=cap, threshold=threshold)
    rng = random.Random(seed)
    counts = {n.id: n.calls_today for n in numbers}
    usable = [n for n in numbers if n.status is NumberStatus.ACTIVE and n.spam_score < threshold]
    state = RotationState()
    for _ in range(len(numbers) * cap + 1):
        capacity_left = any(counts[n.id] < cap for n in usable)
        try:
            result = choose_number(numbers, settings_, state, callee=CALLEE, rng=rng,
                                   calls_today=counts)
        except NoNumberAvailable:
            assert not capacity_left
            break
        assert capacity_left
        chosen = result.number
        assert chosen.status is NumberStatus.ACTIVE
        assert chosen.spam_score < threshold
        assert counts[chosen.id] < cap
        counts[chosen.id] += 1
        state = result.state
    else:
        pytest.fail("the campaign never ran out of numbers")
    assert all(counts[n.id] <= max(cap, n.calls_today) for n in numbers)
    assert all(counts[n.id] >= cap for n in usable)


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_weighted_frequencies_are_proportional_to_weight(seed: int) -> None:
    numbers = [num(1, weight=1), num(2, weight=2), num(3, weight=3), num(4, weight=0)]
    rng = random.Random(seed)
    draws = 6000
    counts = Counter(
        choose_number(numbers, rot(RotationStrategy.WEIGHTED), RotationState(), callee=CALLEE,
                      rng=rng).number.id
        for _ in range(draws)
    )
    assert counts[4] == 0
    for number_id, weight in ((1, 1), (2, 2), (3, 3)):
        assert abs(counts[number_id] / draws - weight / 6) < 0.03


@settings(deadline=None)
@given(st.lists(st.integers(1, 500), unique=True, min_size=1, max_size=8),
       st.integers(1, 5), st.integers(0, 500))
def test_round_robin_visits_every_number_evenly(ids: list[int], rounds: int, start: int) -> None:
    numbers = [num(i) for i in ids]
    state = RotationState(last_number_id=start)
    seen = []
    for _ in range(rounds * len(ids)):
        result = pick(numbers, rot(), state)
        state = result.state
        seen.append(result.number.id)
    assert Counter(seen) == dict.fromkeys(ids, rounds)
    window = seen[: len(ids)]
    first = window.index(min(ids))
    assert window[first:] + window[:first] == sorted(ids)
