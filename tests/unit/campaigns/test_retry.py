"""Retry policy: one test per row of the outcome table, plus timing properties."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from campaigns.errors import ValidationError
from campaigns.retry import (
    MAX_FREE_TRUNK_FAILURES,
    RetryDecision,
    decide_retry,
    manual_retry_attempts,
    total_attempts,
)
from campaigns.types import AnswerStatus, CallSettings, ContactStatus

NOW = datetime(2025, 3, 10, 14, 0, tzinfo=UTC)
SETTINGS = CallSettings(max_retries=2, retry_interval=timedelta(hours=4))
A = AnswerStatus
S = ContactStatus


def decide(
    outcome: AnswerStatus,
    *,
    conversation: bool = False,
    attempts_used: int = 0,
    trunk_failures: int = 0,
    cfg: CallSettings = SETTINGS,
) -> RetryDecision:
    return decide_retry(
        outcome,
        conversation=conversation,
        attempts_used=attempts_used,
        settings=cfg,
        now=NOW,
        trunk_failures=trunk_failures,
    )


# (outcome, conversation) -> final status once the tries are used up
RETRYING = [
    (A.HUMAN, False, S.NO_CONVERSATION),
    (A.MACHINE, False, S.NO_CONVERSATION),
    (A.SILENCE, False, S.NO_CONVERSATION),
    (A.UNKNOWN, False, S.NO_CONVERSATION),
    (A.NO_ANSWER, False, S.FAILED),
    (A.BUSY, False, S.FAILED),
    (A.FAILED, False, S.FAILED),
]


@pytest.mark.parametrize(("outcome", "conversation", "final"), RETRYING)
def test_retrying_outcome_with_tries_left_retries_after_the_interval(
    outcome: AnswerStatus, conversation: bool, final: ContactStatus
) -> None:
    d = decide(outcome, conversation=conversation, attempts_used=1)
    assert d == RetryDecision(True, True, NOW + timedelta(hours=4), None, outcome.value)
    assert d.status is S.RETRY


@pytest.mark.parametrize(("outcome", "conversation", "final"), RETRYING)
def test_retrying_outcome_on_the_last_try_ends_final(
    outcome: AnswerStatus, conversation: bool, final: ContactStatus
) -> None:
    d = decide(outcome, conversation=conversation, attempts_used=2)  # third of three tries
    assert d == RetryDecision(False, True, None, final, f"max_attempts:{outcome.value}")
    assert d.status is final


@pytest.mark.parametrize("outcome", [A.HUMAN, A.MACHINE, A.SILENCE, A.UNKNOWN])
def test_connected_with_conversation_is_called(outcome: AnswerStatus) -> None:
    d = decide(outcome, conversation=True)
    assert d == RetryDecision(False, True, None, S.CALLED, "conversation")


def test_conversation_on_the_last_try_is_still_called() -> None:
    assert decide(A.HUMAN, conversation=True, attempts_used=2).status is S.CALLED


@pytest.mark.parametrize("outcome", [A.FAX, A.REJECTED, A.INVALID_NUMBER])
def test_never_retry_outcomes_fail_at_once(outcome: AnswerStatus) -> None:
    d = decide(outcome, conversation=True)
    assert d == RetryDecision(False, True, None, S.FAILED, outcome.value)


def test_not_connected_outcome_ignores_a_conversation_flag() -> None:
    assert decide(A.NO_ANSWER, conversation=True).status is S.RETRY


def test_trunk_failure_retries_soon_without_using_a_try() -> None:
    d = decide(A.TRUNK_FAILURE, attempts_used=2)
    assert d == RetryDecision(True, False, NOW + timedelta(minutes=5), None, "trunk_failure")


def test_trunk_failure_backoff_never_exceeds_the_retry_interval() -> None:
    cfg = CallSettings(retry_interval=timedelta(minutes=2))
    assert decide(A.TRUNK_FAILURE, cfg=cfg).due_at == NOW + timedelta(minutes=2)


def test_trunk_failures_beyond_the_cap_use_tries() -> None:
    d = decide(A.TRUNK_FAILURE, trunk_failures=MAX_FREE_TRUNK_FAILURES)
    assert (d.retry, d.consumes_attempt, d.due_at) == (True, True, NOW + timedelta(hours=4))
    last = decide(A.TRUNK_FAILURE, attempts_used=2, trunk_failures=MAX_FREE_TRUNK_FAILURES)
    assert last.status is S.FAILED
    assert last.reason == "max_attempts:trunk_failure"


def test_zero_retries_means_one_try() -> None:
    cfg = CallSettings(max_retries=0)
    assert total_attempts(cfg) == 1
    assert decide(A.NO_ANSWER, cfg=cfg).status is S.FAILED


def test_every_outcome_is_decided() -> None:
    for outcome in AnswerStatus:
        for conversation in (False, True):
            d = decide(outcome, conversation=conversation)
            assert (d.due_at is not None) == d.retry
            assert (d.final_status is None) == d.retry


def test_naive_now_is_refused() -> None:
    with pytest.raises(ValidationError):
        decide_retry(A.BUSY, conversation=False, attempts_used=0, settings=SETTINGS,
                     now=datetime(2025, 1, 1))  # noqa: DTZ001 - the naive value under test


def test_negative_attempts_are_refused() -> None:
    with pytest.raises(ValidationError):
        decide(A.BUSY, attempts_used=-1)


@pytest.mark.parametrize(
    ("attempts", "max_retries", "kept"), [(0, 2, 0), (1, 2, 1), (3, 2, 2), (1, 0, 0)]
)
def test_manual_retry_grants_at_least_one_more_try(
    attempts: int, max_retries: int, kept: int
) -> None:
    assert manual_retry_attempts(attempts, CallSettings(max_retries=max_retries)) == kept


outcomes = st.sampled_from(list(AnswerStatus))
call_settings = st.builds(
    CallSettings,
    max_retries=st.integers(0, 10),
    retry_interval=st.timedeltas(timedelta(minutes=1), timedelta(days=7)),
)


@settings(deadline=None)
@given(
    outcome=outcomes,
    conversation=st.booleans(),
    attempts_used=st.integers(0, 10),
    trunk_failures=st.integers(0, 30),
    cfg=call_settings,
    now=st.datetimes(
        # hypothesis wants naive bounds; the drawn values are UTC-aware
        min_value=datetime(2000, 1, 1),  # noqa: DTZ001
        max_value=datetime(2100, 1, 1),  # noqa: DTZ001
        timezones=st.just(UTC),
    ),
)
def test_retry_timing_properties(
    outcome: AnswerStatus,
    conversation: bool,
    attempts_used: int,
    trunk_failures: int,
    cfg: CallSettings,
    now: datetime,
) -> None:
    d = decide_retry(outcome, conversation=conversation, attempts_used=attempts_used,
                     settings=cfg, now=now, trunk_failures=trunk_failures)
    if d.retry and d.consumes_attempt:
        assert d.due_at is not None
        assert d.due_at >= now + cfg.retry_interval
        assert attempts_used + 1 < total_attempts(cfg)
    if outcome is A.TRUNK_FAILURE and trunk_failures < MAX_FREE_TRUNK_FAILURES:
        assert d.retry
        assert not d.consumes_attempt
    if d.retry:
        assert d.due_at is not None
        assert d.due_at > now
