"""SIP final responses to answer statuses: one pure table (SPEC: SIP outcomes).

No pjsua2 here; the engine calls ``answer_status`` with what it saw on the wire.
"""

from __future__ import annotations

from types import MappingProxyType
from typing import Final

from campaigns.types import AnswerStatus

STATUS_TABLE: Final = MappingProxyType({
    486: AnswerStatus.BUSY,
    600: AnswerStatus.BUSY,
    603: AnswerStatus.REJECTED,
    480: AnswerStatus.NO_ANSWER,
    408: AnswerStatus.NO_ANSWER,
    404: AnswerStatus.INVALID_NUMBER,
    484: AnswerStatus.INVALID_NUMBER,
    410: AnswerStatus.INVALID_NUMBER,
    604: AnswerStatus.INVALID_NUMBER,
    403: AnswerStatus.TRUNK_FAILURE,
    503: AnswerStatus.TRUNK_FAILURE,
})
"""Final response code → answer status, for the codes with a meaning of their own."""

REQUEST_TERMINATED: Final = 487


def answer_status(sip_status: int, *, cancelled_by_us: bool = False,
                  reachable: bool = True) -> AnswerStatus:
    """The answer status of a call attempt that ended with final response ``sip_status``.

    A 2xx is ``UNKNOWN`` (answered; AMD says by whom). A 487 is ``NO_ANSWER`` only when
    it answers our own ring-timeout CANCEL. ``reachable=False`` (no SIP message ever came
    back) is a trunk failure whatever code the stack made up locally.
    """
    if 200 <= sip_status < 300:
        return AnswerStatus.UNKNOWN
    if not reachable:
        return AnswerStatus.TRUNK_FAILURE
    if sip_status == REQUEST_TERMINATED:
        return AnswerStatus.NO_ANSWER if cancelled_by_us else AnswerStatus.FAILED
    mapped = STATUS_TABLE.get(sip_status)
    if mapped is not None:
        return mapped
    if 500 <= sip_status < 600:
        return AnswerStatus.TRUNK_FAILURE
    return AnswerStatus.FAILED


def uses_attempt(status: AnswerStatus) -> bool:
    """False for trunk failures: they are retried without spending a contact's attempt."""
    return status is not AnswerStatus.TRUNK_FAILURE


def retryable(status: AnswerStatus) -> bool:
    """Invalid numbers are never retried; everything else may be, by the campaign policy."""
    return status is not AnswerStatus.INVALID_NUMBER
