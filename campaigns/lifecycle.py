"""Campaign status transitions and the contact state machine (SPEC: Campaigns, Contacts).

Campaigns::

    ACTIVE    -> PAUSED, COMPLETED, CANCELLED
    PAUSED    -> ACTIVE, COMPLETED, CANCELLED
    COMPLETED -> ACTIVE, PAUSED (re-opened, e.g. contacts were added), CANCELLED
    CANCELLED -> (terminal)

A change to the same status is an allowed no-op, so repeating a command is harmless.

Contacts are driven by ``ContactEvent``s:

| event                 | from                                  | to                          |
|-----------------------|---------------------------------------|-----------------------------|
| CLAIMED               | PENDING, RETRY (due)                  | DIALING                     |
| CALL_ENDED            | DIALING                               | CALLED, RETRY, FAILED or    |
|                       |                                       | NO_CONVERSATION (retry.py)  |
| LEASE_EXPIRED_NO_CALL | DIALING                               | PENDING, or RETRY when it   |
|                       |                                       | was claimed from RETRY      |
| COMPLETION_TIMEOUT    | CALLED                                | COMPLETED                   |
| MANUAL_RETRY          | CALLED, RETRY, COMPLETED, FAILED,     | RETRY, due now              |
|                       | NO_CONVERSATION (not after DNC)       |                             |
| CALLBACK              | CALLED                                | CALLED, window restarted    |
| DNC                   | PENDING, RETRY, DIALING               | FAILED, reason ``"dnc"``    |

``ContactProgress.attempts`` counts the tries that were used up against the limit of
``1 + max_retries`` (a free trunk-failure retry uses none; a manual retry may lower it,
see ``retry.manual_retry_attempts``). It changes only on CALL_ENDED and MANUAL_RETRY, so
a lease that expires before any call leaves it as it was. ``next_attempt_at`` is set
exactly for RETRY contacts and kept while such a contact is DIALING; that is how a lease
expiry knows to return it to RETRY. A CALLED contact has ``completion_due_at``.

DNC does not apply to a CALLED contact: the person was reached and the conversation is
still judged after the completion window; nothing dials it from there. When DNC hits a
DIALING contact, the in-flight call's CALL_ENDED then raises ``IllegalTransition``; the
caller records the call and keeps the contact FAILED.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace
from datetime import datetime
from enum import StrEnum
from types import MappingProxyType
from typing import Final

from campaigns.errors import IllegalTransition, ValidationError
from campaigns.retry import DNC_REASON, decide_retry, manual_retry_attempts, require_aware
from campaigns.types import AnswerStatus, CallSettings, CampaignStatus, ContactStatus

# --- campaigns ----------------------------------------------------------------------------

_CS = CampaignStatus
_CAMPAIGN_TARGETS: Final[Mapping[CampaignStatus, frozenset[CampaignStatus]]] = MappingProxyType({
    _CS.ACTIVE: frozenset({_CS.PAUSED, _CS.COMPLETED, _CS.CANCELLED}),
    _CS.PAUSED: frozenset({_CS.ACTIVE, _CS.COMPLETED, _CS.CANCELLED}),
    _CS.COMPLETED: frozenset({_CS.ACTIVE, _CS.PAUSED, _CS.CANCELLED}),
    _CS.CANCELLED: frozenset(),
})


def allowed_campaign_targets(current: CampaignStatus) -> frozenset[CampaignStatus]:
    """The statuses a campaign in ``current`` may change to (the no-op excluded)."""
    return _CAMPAIGN_TARGETS[current]


def campaign_transition(current: CampaignStatus, target: CampaignStatus) -> CampaignStatus:
    """Return ``target`` when a campaign may go there from ``current``.

    ``current == target`` is an allowed no-op. Raises ``IllegalTransition`` otherwise.
    """
    if target is current or target in _CAMPAIGN_TARGETS[current]:
        return target
    raise IllegalTransition("campaign", current.value, target.value)


# --- contacts -----------------------------------------------------------------------------


class ContactEvent(StrEnum):
    """What happens to a contact in a campaign."""

    CLAIMED = "claimed"
    CALL_ENDED = "call_ended"
    LEASE_EXPIRED_NO_CALL = "lease_expired_no_call"
    COMPLETION_TIMEOUT = "completion_timeout"
    MANUAL_RETRY = "manual_retry"
    CALLBACK = "callback"
    DNC = "dnc"


_S = ContactStatus
LEGAL_CONTACT_TRANSITIONS: Final[Mapping[ContactStatus, frozenset[ContactStatus]]] = (
    MappingProxyType({
        _S.PENDING: frozenset({_S.DIALING, _S.FAILED}),
        _S.RETRY: frozenset({_S.DIALING, _S.FAILED, _S.RETRY}),
        _S.DIALING: frozenset({_S.CALLED, _S.RETRY, _S.FAILED, _S.NO_CONVERSATION, _S.PENDING}),
        _S.CALLED: frozenset({_S.COMPLETED, _S.RETRY, _S.CALLED}),
        _S.COMPLETED: frozenset({_S.RETRY}),
        _S.FAILED: frozenset({_S.RETRY}),
        _S.NO_CONVERSATION: frozenset({_S.RETRY}),
    })
)
"""Every legal contact status change; a pair absent here is illegal (even same->same)."""

EVENT_SOURCES: Final[Mapping[ContactEvent, frozenset[ContactStatus]]] = MappingProxyType({
    ContactEvent.CLAIMED: frozenset({_S.PENDING, _S.RETRY}),
    ContactEvent.CALL_ENDED: frozenset({_S.DIALING}),
    ContactEvent.LEASE_EXPIRED_NO_CALL: frozenset({_S.DIALING}),
    ContactEvent.COMPLETION_TIMEOUT: frozenset({_S.CALLED}),
    ContactEvent.MANUAL_RETRY: frozenset(
        {_S.CALLED, _S.RETRY, _S.COMPLETED, _S.FAILED, _S.NO_CONVERSATION}
    ),
    ContactEvent.CALLBACK: frozenset({_S.CALLED}),
    ContactEvent.DNC: frozenset({_S.PENDING, _S.RETRY, _S.DIALING}),
})
"""The statuses in which each event is accepted."""

FINAL_CONTACT_STATUSES: Final = frozenset({_S.COMPLETED, _S.FAILED, _S.NO_CONVERSATION})


def contact_transition(current: ContactStatus, target: ContactStatus) -> ContactStatus:
    """Return ``target`` when ``current -> target`` is in ``LEGAL_CONTACT_TRANSITIONS``.

    Raises ``IllegalTransition`` otherwise.
    """
    if target in LEGAL_CONTACT_TRANSITIONS[current]:
        return target
    raise IllegalTransition("contact", current.value, target.value)


@dataclass(frozen=True, slots=True)
class ContactProgress:
    """Where one contact stands in one campaign (see the module docstring for fields)."""

    status: ContactStatus = ContactStatus.PENDING
    attempts: int = 0
    next_attempt_at: datetime | None = None
    last_called_at: datetime | None = None
    final_reason: str | None = None
    trunk_failures: int = 0
    completion_due_at: datetime | None = None

    def __post_init__(self) -> None:
        if self.attempts < 0:
            raise ValidationError("attempts", "must not be negative")
        if self.trunk_failures < 0:
            raise ValidationError("trunk_failures", "must not be negative")


def _require(progress: ContactProgress, event: ContactEvent, target: ContactStatus) -> None:
    if progress.status not in EVENT_SOURCES[event]:
        raise IllegalTransition("contact", progress.status.value, target.value)
    contact_transition(progress.status, target)


def claim(progress: ContactProgress, *, now: datetime) -> ContactProgress:
    """CLAIMED: a due PENDING or RETRY contact starts DIALING.

    Raises ``IllegalTransition`` from any other status, or for a RETRY not due at ``now``.
    """
    require_aware("now", now)
    _require(progress, ContactEvent.CLAIMED, ContactStatus.DIALING)
    due = progress.next_attempt_at
    if progress.status is ContactStatus.RETRY and (due is None or due > now):
        raise IllegalTransition("contact", f"retry (due {due})", ContactStatus.DIALING.value)
    return replace(progress, status=ContactStatus.DIALING)


def apply_outcome(
    state: ContactProgress,
    outcome: AnswerStatus,
    *,
    conversation: bool,
    now: datetime,
    settings: CallSettings,
) -> ContactProgress:
    """CALL_ENDED: apply one call's outcome to a DIALING contact (``retry.decide_retry``).

    Sets ``last_called_at`` to ``now``; CALLED gets ``completion_due_at = now +
    completion_timeout``; a final status records the decision's reason.
    """
    decision = decide_retry(
        outcome,
        conversation=conversation,
        attempts_used=state.attempts,
        settings=settings,
        now=now,
        trunk_failures=state.trunk_failures,
    )
    target = decision.status
    _require(state, ContactEvent.CALL_ENDED, target)
    attempts = state.attempts + (1 if decision.consumes_attempt else 0)
    trunk = state.trunk_failures + (1 if outcome is AnswerStatus.TRUNK_FAILURE else 0)
    common = ContactProgress(
        status=target, attempts=attempts, last_called_at=now, trunk_failures=trunk
    )
    if decision.retry:
        return replace(common, next_attempt_at=decision.due_at)
    if target is ContactStatus.CALLED:
        return replace(common, completion_due_at=now + settings.completion_timeout)
    return replace(common, final_reason=decision.reason)


def release_lease(progress: ContactProgress) -> ContactProgress:
    """LEASE_EXPIRED_NO_CALL: a claim lapsed before any call; back to where it was.

    RETRY when the contact carries ``next_attempt_at`` (it was claimed from RETRY), else
    PENDING; nothing else changes.
    """
    target = ContactStatus.PENDING if progress.next_attempt_at is None else ContactStatus.RETRY
    _require(progress, ContactEvent.LEASE_EXPIRED_NO_CALL, target)
    return replace(progress, status=target)


def is_completion_due(progress: ContactProgress, now: datetime) -> bool:
    """True when a CALLED contact's completion window has closed at ``now``."""
    return (
        progress.status is ContactStatus.CALLED
        and (progress.completion_due_at is None or progress.completion_due_at <= now)
    )


def complete(progress: ContactProgress) -> ContactProgress:
    """COMPLETION_TIMEOUT: a CALLED contact becomes COMPLETED (the caller checks the time
    with ``is_completion_due``, or forces it, e.g. when the campaign is ended by hand)."""
    _require(progress, ContactEvent.COMPLETION_TIMEOUT, ContactStatus.COMPLETED)
    return replace(progress, status=ContactStatus.COMPLETED, completion_due_at=None)


def callback(
    progress: ContactProgress, *, now: datetime, settings: CallSettings
) -> ContactProgress:
    """CALLBACK: the contact called back while CALLED; the completion window restarts at
    ``now`` (it never shrinks)."""
    require_aware("now", now)
    _require(progress, ContactEvent.CALLBACK, ContactStatus.CALLED)
    due = now + settings.completion_timeout
    if progress.completion_due_at is not None:
        due = max(due, progress.completion_due_at)
    return replace(progress, completion_due_at=due)


def manual_retry(
    progress: ContactProgress, *, now: datetime, settings: CallSettings
) -> ContactProgress:
    """MANUAL_RETRY: an operator retries the contact; it is RETRY and due at ``now``.

    At least one more try is granted (``retry.manual_retry_attempts``); the trunk-failure
    counter and the final reason are cleared. A contact ended by DNC cannot be retried.
    This is the one way to dial again before ``retry_interval``: an operator's decision.
    """
    require_aware("now", now)
    if progress.final_reason == DNC_REASON:
        raise IllegalTransition("contact", f"{progress.status.value} (dnc)", "retry")
    _require(progress, ContactEvent.MANUAL_RETRY, ContactStatus.RETRY)
    return ContactProgress(
        status=ContactStatus.RETRY,
        attempts=manual_retry_attempts(progress.attempts, settings),
        next_attempt_at=now,
        last_called_at=progress.last_called_at,
    )


def mark_dnc(progress: ContactProgress) -> ContactProgress:
    """DNC: the number is on the do-not-call list; a PENDING, RETRY or DIALING contact
    ends FAILED with reason ``"dnc"``."""
    _require(progress, ContactEvent.DNC, ContactStatus.FAILED)
    return replace(
        progress,
        status=ContactStatus.FAILED,
        next_attempt_at=None,
        completion_due_at=None,
        final_reason=DNC_REASON,
    )


def apply_event(
    progress: ContactProgress,
    event: ContactEvent,
    *,
    now: datetime,
    settings: CallSettings,
    outcome: AnswerStatus | None = None,
    conversation: bool = False,
) -> ContactProgress:
    """Apply any ``event``: one entry point for step functions. CALL_ENDED needs
    ``outcome``. Raises ``IllegalTransition`` when the event is not legal now."""
    match event:
        case ContactEvent.CLAIMED:
            return claim(progress, now=now)
        case ContactEvent.CALL_ENDED:
            if outcome is None:
                raise ValidationError("outcome", "call_ended needs an outcome")
            return apply_outcome(
                progress, outcome, conversation=conversation, now=now, settings=settings
            )
        case ContactEvent.LEASE_EXPIRED_NO_CALL:
            return release_lease(progress)
        case ContactEvent.COMPLETION_TIMEOUT:
            return complete(progress)
        case ContactEvent.MANUAL_RETRY:
            return manual_retry(progress, now=now, settings=settings)
        case ContactEvent.CALLBACK:
            return callback(progress, now=now, settings=settings)
        case ContactEvent.DNC:
            return mark_dnc(progress)
