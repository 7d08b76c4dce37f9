"""One test per row of the SIP status → answer status table."""

from __future__ import annotations

import pytest

from campaigns.types import AnswerStatus
from sip.outcomes import STATUS_TABLE, answer_status, retryable, uses_attempt


@pytest.mark.parametrize(("status", "expected"), [
    (486, AnswerStatus.BUSY),
    (600, AnswerStatus.BUSY),
    (603, AnswerStatus.REJECTED),
    (480, AnswerStatus.NO_ANSWER),
    (408, AnswerStatus.NO_ANSWER),
    (404, AnswerStatus.INVALID_NUMBER),
    (484, AnswerStatus.INVALID_NUMBER),
    (410, AnswerStatus.INVALID_NUMBER),
    (604, AnswerStatus.INVALID_NUMBER),
    (403, AnswerStatus.TRUNK_FAILURE),
    (503, AnswerStatus.TRUNK_FAILURE),
    (500, AnswerStatus.TRUNK_FAILURE),
    (502, AnswerStatus.TRUNK_FAILURE),
    (504, AnswerStatus.TRUNK_FAILURE),
    (400, AnswerStatus.FAILED),
    (488, AnswerStatus.FAILED),
    (606, AnswerStatus.FAILED),
])
def test_final_response_maps_to_answer_status(status: int, expected: AnswerStatus) -> None:
    assert answer_status(status) is expected


def test_487_after_our_cancel_is_no_answer() -> None:
    assert answer_status(487, cancelled_by_us=True) is AnswerStatus.NO_ANSWER


def test_487_we_did_not_ask_for_is_a_failure() -> None:
    assert answer_status(487) is AnswerStatus.FAILED


@pytest.mark.parametrize("status", [200, 202])
def test_answered_is_unknown_until_amd_decides(status: int) -> None:
    assert answer_status(status) is AnswerStatus.UNKNOWN


@pytest.mark.parametrize("status", [408, 503, 480])
def test_no_message_from_the_trunk_is_a_trunk_failure(status: int) -> None:
    assert answer_status(status, reachable=False) is AnswerStatus.TRUNK_FAILURE


def test_answered_wins_over_reachability() -> None:
    assert answer_status(200, reachable=False) is AnswerStatus.UNKNOWN


def test_every_table_row_is_covered_above() -> None:
    covered = {486, 600, 603, 480, 408, 404, 484, 410, 604, 403, 503}
    assert set(STATUS_TABLE) == covered


def test_trunk_failures_do_not_use_an_attempt() -> None:
    assert not uses_attempt(AnswerStatus.TRUNK_FAILURE)
    assert uses_attempt(AnswerStatus.BUSY)


def test_invalid_numbers_are_never_retried() -> None:
    assert not retryable(AnswerStatus.INVALID_NUMBER)
    assert retryable(AnswerStatus.NO_ANSWER)
