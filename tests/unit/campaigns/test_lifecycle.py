"""Campaign transitions and the contact state machine."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from campaigns.errors import IllegalTransition, ValidationError
from campaigns.lifecycle import (
    EVENT_SOURCES,
    LEGAL_CONTACT_TRANSITIONS,
    ContactEvent,
    ContactProgress,
    allowed_campaign_targets,
    apply_event,
    apply_outcome,
    callback,
    campaign_transition,
    claim,
    complete,
    contact_transition,
    is_completion_due,
    manual_retry,
    mark_dnc,
    release_lease,
)
from campaigns.retry import MAX_FREE_TRUNK_FAILURES, total_attempts
from campaigns.types import AnswerStatus, CallSettings, CampaignStatus, ContactStatus

C = CampaignStatus
S = ContactStatus
A = AnswerStatus
E = ContactEvent
NOW = datetime(2025, 3, 10, 14, 0, tzinfo=UTC)
CFG = CallSettings(
    max_retries=2, retry_interval=timedelta(hours=4), completion_timeout=timedelta(hours=24)
)

# --- campaigns ----------------------------------------------------------------------------

CAMPAIGN_LEGAL = {
    (C.ACTIVE, C.PAUSED), (C.ACTIVE, C.COMPLETED), (C.ACTIVE, C.CANCELLED),
    (C.PAUSED, C.ACTIVE), (C.PAUSED, C.COMPLETED), (C.PAUSED, C.CANCELLED),
    (C.COMPLETED, C.ACTIVE), (C.COMPLETED, C.PAUSED), (C.COMPLETED, C.CANCELLED),
}
CAMPAIGN_PAIRS = list(itertools.product(CampaignStatus, CampaignStatus))


@pytest.mark.parametrize(("current", "target"), CAMPAIGN_PAIRS)
def test_campaign_transition(current: CampaignStatus, target: CampaignStatus) -> None:
    if current is target or (current, target) in CAMPAIGN_LEGAL:
        assert campaign_transition(current, target) is target
    else:
        with pytest.raises(IllegalTransition) as info:
            campaign_transition(current, target)
        assert (info.value.kind, info.value.current, info.value.target) == (
            "campaign", current.value, target.value)


@pytest.mark.parametrize("current", list(CampaignStatus))
def test_allowed_campaign_targets_match_the_transition(current: CampaignStatus) -> None:
    expected = {t for c, t in CAMPAIGN_LEGAL if c is current}
    assert allowed_campaign_targets(current) == expected


def test_cancelled_is_terminal() -> None:
    assert allowed_campaign_targets(C.CANCELLED) == frozenset()


# --- contact status table -------------------------------------------------------------------

CONTACT_LEGAL = {
    (S.PENDING, S.DIALING), (S.PENDING, S.FAILED),
    (S.RETRY, S.DIALING), (S.RETRY, S.FAILED), (S.RETRY, S.RETRY),
    (S.DIALING, S.CALLED), (S.DIALING, S.RETRY), (S.DIALING, S.FAILED),
    (S.DIALING, S.NO_CONVERSATION), (S.DIALING, S.PENDING),
    (S.CALLED, S.COMPLETED), (S.CALLED, S.RETRY), (S.CALLED, S.CALLED),
    (S.COMPLETED, S.RETRY), (S.FAILED, S.RETRY), (S.NO_CONVERSATION, S.RETRY),
}


@pytest.mark.parametrize(("current", "target"), list(itertools.product(S, S)))
def test_contact_transition(current: ContactStatus, target: ContactStatus) -> None:
    if (current, target) in CONTACT_LEGAL:
        assert contact_transition(current, target) is target
    else:
        with pytest.raises(IllegalTransition):
            contact_transition(current, target)


def test_legal_table_is_exactly_the_documented_one() -> None:
    table = {(c, t) for c, targets in LEGAL_CONTACT_TRANSITIONS.items() for t in targets}
    assert table == CONTACT_LEGAL
    assert set(LEGAL_CONTACT_TRANSITIONS) == set(ContactStatus)


def test_a_dialing_contact_cannot_be_claimed_twice() -> None:
    with pytest.raises(IllegalTransition):
        claim(ContactProgress(S.DIALING), now=NOW)


# --- events -----------------------------------------------------------------------------------

def dialing(attempts: int = 0, next_attempt_at: datetime | None = None) -> ContactProgress:
    return ContactProgress(S.DIALING, attempts, next_attempt_at=next_attempt_at)


def test_claim_pending() -> None:
    assert claim(ContactProgress(), now=NOW) == ContactProgress(S.DIALING)


def test_claim_due_retry_keeps_its_due_time() -> None:
    p = ContactProgress(S.RETRY, 1, next_attempt_at=NOW)
    assert claim(p, now=NOW) == ContactProgress(S.DIALING, 1, next_attempt_at=NOW)


def test_claim_retry_before_it_is_due_is_refused() -> None:
    p = ContactProgress(S.RETRY, 1, next_attempt_at=NOW + timedelta(seconds=1))
    with pytest.raises(IllegalTransition):
        claim(p, now=NOW)


@pytest.mark.parametrize("status", [S.CALLED, S.COMPLETED, S.FAILED, S.NO_CONVERSATION])
def test_claim_from_other_statuses_is_refused(status: ContactStatus) -> None:
    with pytest.raises(IllegalTransition):
        claim(ContactProgress(status), now=NOW)


def test_human_conversation_is_called_until_the_completion_timeout() -> None:
    p = apply_outcome(dialing(), A.HUMAN, conversation=True, now=NOW, settings=CFG)
    assert p == ContactProgress(
        S.CALLED, 1, last_called_at=NOW, completion_due_at=NOW + timedelta(hours=24)
    )
    assert not is_completion_due(p, NOW + timedelta(hours=23))
    assert is_completion_due(p, NOW + timedelta(hours=24))
    assert complete(p) == ContactProgress(S.COMPLETED, 1, last_called_at=NOW)


def test_no_answer_schedules_a_retry_and_uses_a_try() -> None:
    p = apply_outcome(dialing(), A.NO_ANSWER, conversation=False, now=NOW, settings=CFG)
    assert p == ContactProgress(
        S.RETRY, 1, next_attempt_at=NOW + timedelta(hours=4), last_called_at=NOW
    )


def test_machine_on_the_last_try_ends_no_conversation() -> None:
    p = apply_outcome(dialing(2), A.MACHINE, conversation=False, now=NOW, settings=CFG)
    assert p == ContactProgress(
        S.NO_CONVERSATION, 3, last_called_at=NOW, final_reason="max_attempts:machine"
    )


def test_busy_on_the_last_try_ends_failed() -> None:
    p = apply_outcome(dialing(2, next_attempt_at=NOW), A.BUSY, conversation=False, now=NOW,
                      settings=CFG)
    assert p == ContactProgress(S.FAILED, 3, last_called_at=NOW,
                                final_reason="max_attempts:busy")


def test_trunk_failure_counts_but_uses_no_try() -> None:
    p = apply_outcome(dialing(1), A.TRUNK_FAILURE, conversation=False, now=NOW, settings=CFG)
    assert p == ContactProgress(S.RETRY, 1, next_attempt_at=NOW + timedelta(minutes=5),
                                last_called_at=NOW, trunk_failures=1)


def test_rejected_fails_at_once() -> None:
    p = apply_outcome(dialing(), A.REJECTED, conversation=False, now=NOW, settings=CFG)
    assert (p.status, p.attempts, p.final_reason) == (S.FAILED, 1, "rejected")


@pytest.mark.parametrize("status", [s for s in S if s is not S.DIALING])
def test_call_ended_needs_a_dialing_contact(status: ContactStatus) -> None:
    with pytest.raises(IllegalTransition):
        apply_outcome(ContactProgress(status), A.HUMAN, conversation=True, now=NOW,
                      settings=CFG)


def test_lease_expiry_returns_a_pending_claim_to_pending() -> None:
    assert release_lease(dialing()) == ContactProgress(S.PENDING)


def test_lease_expiry_returns_a_retry_claim_to_retry_with_attempts_unchanged() -> None:
    p = dialing(1, next_attempt_at=NOW)
    assert release_lease(p) == ContactProgress(S.RETRY, 1, next_attempt_at=NOW)


@pytest.mark.parametrize("status", [s for s in S if s is not S.DIALING])
def test_lease_expiry_needs_a_dialing_contact(status: ContactStatus) -> None:
    with pytest.raises(IllegalTransition):
        release_lease(ContactProgress(status))


@pytest.mark.parametrize("status", [s for s in S if s is not S.CALLED])
def test_only_called_contacts_complete(status: ContactStatus) -> None:
    with pytest.raises(IllegalTransition):
        complete(ContactProgress(status))
    assert not is_completion_due(ContactProgress(status), NOW)


def test_callback_restarts_the_completion_window() -> None:
    p = ContactProgress(S.CALLED, 1, completion_due_at=NOW + timedelta(hours=1))
    later = callback(p, now=NOW + timedelta(minutes=30), settings=CFG)
    assert later.completion_due_at == NOW + timedelta(hours=24, minutes=30)
    with pytest.raises(IllegalTransition):
        callback(ContactProgress(S.COMPLETED), now=NOW, settings=CFG)


def test_callback_never_shrinks_the_window() -> None:
    short = CallSettings(completion_timeout=timedelta(minutes=1))
    p = ContactProgress(S.CALLED, 1, completion_due_at=NOW + timedelta(hours=1))
    assert callback(p, now=NOW, settings=short).completion_due_at == NOW + timedelta(hours=1)


@pytest.mark.parametrize(
    "status", [S.CALLED, S.RETRY, S.COMPLETED, S.FAILED, S.NO_CONVERSATION]
)
def test_manual_retry_is_due_now(status: ContactStatus) -> None:
    p = ContactProgress(status, 3, last_called_at=NOW, final_reason="x", trunk_failures=4,
                        completion_due_at=NOW)
    later = NOW + timedelta(minutes=1)
    assert manual_retry(p, now=later, settings=CFG) == ContactProgress(
        S.RETRY, 2, next_attempt_at=later, last_called_at=NOW
    )


def test_manual_retry_keeps_remaining_tries() -> None:
    p = ContactProgress(S.COMPLETED, 1)
    assert manual_retry(p, now=NOW, settings=CFG).attempts == 1


@pytest.mark.parametrize("status", [S.PENDING, S.DIALING])
def test_manual_retry_from_queued_or_dialing_is_refused(status: ContactStatus) -> None:
    with pytest.raises(IllegalTransition):
        manual_retry(ContactProgress(status), now=NOW, settings=CFG)


def test_manual_retry_after_dnc_is_refused() -> None:
    with pytest.raises(IllegalTransition):
        manual_retry(mark_dnc(ContactProgress()), now=NOW, settings=CFG)


def test_exhausted_contact_gets_exactly_one_more_try_by_hand() -> None:
    p = ContactProgress(S.FAILED, 3, final_reason="max_attempts:no_answer")
    p = claim(manual_retry(p, now=NOW, settings=CFG), now=NOW)
    p = apply_outcome(p, A.NO_ANSWER, conversation=False, now=NOW, settings=CFG)
    assert (p.status, p.attempts) == (S.FAILED, 3)


@pytest.mark.parametrize("status", [S.PENDING, S.RETRY, S.DIALING])
def test_dnc_fails_a_contact_that_may_still_be_dialled(status: ContactStatus) -> None:
    p = ContactProgress(status, 1, next_attempt_at=NOW)
    assert mark_dnc(p) == ContactProgress(S.FAILED, 1, final_reason="dnc")


@pytest.mark.parametrize("status", [S.CALLED, S.COMPLETED, S.FAILED, S.NO_CONVERSATION])
def test_dnc_leaves_reached_and_finished_contacts_alone(status: ContactStatus) -> None:
    with pytest.raises(IllegalTransition):
        mark_dnc(ContactProgress(status))


def test_call_ending_after_dnc_is_refused() -> None:
    p = mark_dnc(dialing())
    with pytest.raises(IllegalTransition):
        apply_outcome(p, A.HUMAN, conversation=True, now=NOW, settings=CFG)


def test_call_ended_event_needs_an_outcome() -> None:
    with pytest.raises(ValidationError):
        apply_event(dialing(), E.CALL_ENDED, now=NOW, settings=CFG)


def test_negative_counters_are_refused() -> None:
    with pytest.raises(ValidationError):
        ContactProgress(attempts=-1)
    with pytest.raises(ValidationError):
        ContactProgress(trunk_failures=-1)


# --- property: random event sequences -----------------------------------------------------

# DNC ends a contact for good, so it is drawn rarely; claims and call ends often.
EVENT_MIX = [*[E.CLAIMED, E.CALL_ENDED] * 8, *[e for e in E if e is not E.DNC] * 2, E.DNC]
steps = st.lists(
    st.tuples(
        st.sampled_from(EVENT_MIX),
        st.sampled_from(list(AnswerStatus)),
        st.booleans(),
        st.timedeltas(timedelta(0), timedelta(days=2)),
    ),
    max_size=60,
)


@settings(deadline=None, max_examples=300)
@given(max_retries=st.integers(0, 3) | st.integers(0, 10), steps=steps)
def test_random_event_sequences_respect_the_state_machine(
    max_retries: int,
    steps: list[tuple[ContactEvent, AnswerStatus, bool, timedelta]],
) -> None:
    cfg = CallSettings(max_retries=max_retries, retry_interval=timedelta(hours=1))
    state = ContactProgress()
    now = NOW
    for event, outcome, conversation, advance in steps:
        now += advance
        try:
            new = apply_event(state, event, now=now, settings=cfg, outcome=outcome,
                              conversation=conversation)
        except IllegalTransition:
            refusable = event in (E.CLAIMED, E.MANUAL_RETRY)  # not due yet / after DNC
            assert state.status not in EVENT_SOURCES[event] or refusable
            continue
        assert state.status in EVENT_SOURCES[event]
        assert new.status in LEGAL_CONTACT_TRANSITIONS[state.status]
        assert 0 <= new.attempts <= total_attempts(cfg)
        claimed_retry = new.status is S.DIALING and state.next_attempt_at is not None
        assert (new.next_attempt_at is not None) == (new.status is S.RETRY or claimed_retry)
        if event is E.CALL_ENDED:
            free = (outcome is A.TRUNK_FAILURE
                    and state.trunk_failures < MAX_FREE_TRUNK_FAILURES)
            assert new.attempts == state.attempts + (0 if free else 1)
            if new.status is S.RETRY and not free:
                assert new.next_attempt_at is not None
                assert new.next_attempt_at >= now + cfg.retry_interval
        elif event is not E.MANUAL_RETRY:
            assert new.attempts == state.attempts
        state = new


@settings(deadline=None)
@given(
    max_retries=st.integers(0, 10),
    status=st.sampled_from([S.CALLED, S.RETRY, S.COMPLETED, S.FAILED, S.NO_CONVERSATION]),
    used=st.integers(0, 11),
    outcomes=st.lists(st.sampled_from(list(AnswerStatus)), min_size=1, max_size=12),
)
def test_manual_retry_never_lets_attempts_pass_the_limit(
    max_retries: int, status: ContactStatus, used: int, outcomes: list[AnswerStatus]
) -> None:
    cfg = CallSettings(max_retries=max_retries, retry_interval=timedelta(minutes=1))
    state = ContactProgress(status, min(used, total_attempts(cfg)))
    now = NOW
    state = manual_retry(state, now=now, settings=cfg)
    for outcome in outcomes:
        if state.status is not S.RETRY:
            break
        now = max(now, state.next_attempt_at or now)
        state = apply_outcome(claim(state, now=now), outcome, conversation=False, now=now,
                              settings=cfg)
        assert state.attempts <= total_attempts(cfg)
