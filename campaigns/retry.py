"""Retry policy: what one call outcome means for the contact (SPEC: Dialing and calls).

A contact may be tried ``1 + max_retries`` times. ``attempts`` counts the tries that
were *used up*; an outcome either uses one or not (``RetryDecision.consumes_attempt``).

Outcome table (``attempts_used`` = tries used before this call; "left" means
``attempts_used + 1 < 1 + max_retries``, i.e. this call was not the last try):

| outcome                                   | uses a try | tries left        | tries used up   |
|-------------------------------------------|------------|-------------------|-----------------|
| connected (not fax) + conversation        | yes        | CALLED            | CALLED          |
| HUMAN / MACHINE / SILENCE / UNKNOWN,      | yes        | RETRY after       | NO_CONVERSATION |
| no conversation                           |            | ``retry_interval``|                 |
| NO_ANSWER / BUSY / FAILED (local failure) | yes        | RETRY after       | FAILED          |
|                                           |            | ``retry_interval``|                 |
| TRUNK_FAILURE (first 20 for the contact)  | no         | RETRY after       | RETRY after     |
|                                           |            | min(interval, 5m) | min(interval,5m)|
| TRUNK_FAILURE (21st and later)            | yes        | as NO_ANSWER      | FAILED          |
| FAX                                       | yes        | FAILED            | FAILED          |
| REJECTED / INVALID_NUMBER                 | yes        | FAILED            | FAILED          |

Do-not-call is not an outcome: ``lifecycle.mark_dnc`` ends a contact with reason
``"dnc"``. A trunk failure says nothing about the callee, so it does not use a try; the
cap (``MAX_FREE_TRUNK_FAILURES``) stops a dead trunk from spinning a contact forever.
An attempt-using retry is never due before ``now + retry_interval``.

``reason`` codes: the outcome's value (``"no_answer"``, ``"machine"``...) for a retry or
a no-retry outcome, ``"conversation"`` for CALLED, and ``"max_attempts:<outcome>"``
when the tries are used up.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Final

from campaigns.errors import ValidationError
from campaigns.types import AnswerStatus, CallSettings, ContactStatus

MAX_FREE_TRUNK_FAILURES: Final = 20
"""Trunk failures per contact that are retried without using a try."""

TRUNK_BACKOFF: Final = timedelta(minutes=5)
"""Upper bound of the wait after a free trunk-failure retry."""

DNC_REASON: Final = "dnc"
"""``final_reason`` of a contact ended because its number is on the do-not-call list."""

CONVERSATION_REASON: Final = "conversation"

_NO_CONVERSATION_RETRY: Final = frozenset(
    {AnswerStatus.HUMAN, AnswerStatus.MACHINE, AnswerStatus.SILENCE, AnswerStatus.UNKNOWN}
)
_NEVER_RETRY: Final = frozenset(
    {AnswerStatus.FAX, AnswerStatus.REJECTED, AnswerStatus.INVALID_NUMBER}
)


@dataclass(frozen=True, slots=True)
class RetryDecision:
    """What to do after one call outcome.

    ``final_status`` is the status when ``retry`` is False (CALLED, FAILED or
    NO_CONVERSATION), else None; ``due_at`` is set exactly when ``retry`` is True.
    """

    retry: bool
    consumes_attempt: bool
    due_at: datetime | None
    final_status: ContactStatus | None
    reason: str

    @property
    def status(self) -> ContactStatus:
        """The contact's next status: RETRY, or ``final_status``."""
        if self.retry:
            return ContactStatus.RETRY
        assert self.final_status is not None
        return self.final_status


def total_attempts(settings: CallSettings) -> int:
    """How many tries a contact gets: the first call plus ``max_retries``."""
    return 1 + settings.max_retries


def require_aware(name: str, value: datetime) -> datetime:
    """Return ``value`` when it carries a timezone, else raise ``ValidationError``."""
    if value.tzinfo is None or value.utcoffset() is None:
        raise ValidationError(name, "must carry a timezone")
    return value


def decide_retry(
    outcome: AnswerStatus,
    *,
    conversation: bool,
    attempts_used: int,
    settings: CallSettings,
    now: datetime,
    trunk_failures: int = 0,
) -> RetryDecision:
    """Decide the retry for ``outcome`` (see the module table).

    ``attempts_used`` is the number of tries used before this call and
    ``trunk_failures`` the trunk failures the contact had before this call.
    ``conversation`` (somebody talked with the agent) only counts on a connected,
    non-fax outcome.
    """
    require_aware("now", now)
    if attempts_used < 0 or trunk_failures < 0:
        raise ValidationError("attempts", "counters must not be negative")
    if outcome is AnswerStatus.TRUNK_FAILURE and trunk_failures < MAX_FREE_TRUNK_FAILURES:
        due = now + min(settings.retry_interval, TRUNK_BACKOFF)
        return RetryDecision(True, False, due, None, outcome.value)
    if conversation and outcome.connected and outcome is not AnswerStatus.FAX:
        return RetryDecision(False, True, None, ContactStatus.CALLED, CONVERSATION_REASON)
    if outcome in _NEVER_RETRY:
        return RetryDecision(False, True, None, ContactStatus.FAILED, outcome.value)
    tries_left = attempts_used + 1 < total_attempts(settings)
    if tries_left:
        return RetryDecision(True, True, now + settings.retry_interval, None, outcome.value)
    final = (
        ContactStatus.NO_CONVERSATION
        if outcome in _NO_CONVERSATION_RETRY
        else ContactStatus.FAILED
    )
    return RetryDecision(False, True, None, final, f"max_attempts:{outcome.value}")


def manual_retry_attempts(attempts: int, settings: CallSettings) -> int:
    """The ``attempts`` a contact keeps when an operator retries it by hand.

    A manual retry guarantees at least one more try: used tries are capped at
    ``max_retries`` (one below the limit). A contact that still had tries left keeps its
    count, so ``attempts`` never exceeds ``1 + max_retries``; the calls table keeps the
    true number of calls.
    """
    return min(attempts, settings.max_retries)
