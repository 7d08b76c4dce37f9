"""Next-contact order: high priority first, then due retries, then pending."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from campaigns.errors import ValidationError
from campaigns.queue import due_contacts, is_due, queue_key
from campaigns.types import CampaignContact, ContactStatus, Priority

NOW = datetime(2025, 3, 10, 14, 0, tzinfo=UTC)
S = ContactStatus


def cc(
    id: int,
    status: ContactStatus = S.PENDING,
    priority: Priority = Priority.NORMAL,
    created: int = 0,
    due: int | None = None,
    contact_id: int | None = None,
) -> CampaignContact:
    """A campaign contact; ``created``/``due`` are minutes from NOW."""
    return CampaignContact(
        id=id,
        campaign_id=1,
        contact_id=id if contact_id is None else contact_id,
        phone=f"+1202555{id:04d}",
        status=status,
        priority=priority,
        created_at=NOW + timedelta(minutes=created),
        next_attempt_at=None if due is None else NOW + timedelta(minutes=due),
    )


def ids(contacts: list[CampaignContact]) -> list[int]:
    return [c.id for c in contacts]


def test_high_priority_first_then_due_retries_then_pending() -> None:
    contacts = [
        cc(1, created=-50),
        cc(2, S.RETRY, due=-5),
        cc(3, priority=Priority.HIGH, created=-1),
        cc(4, S.RETRY, priority=Priority.HIGH, due=-1),
        cc(5, priority=Priority.LOW, created=-100),
        cc(6, S.RETRY, due=-30),
        cc(7, created=-60),
    ]
    assert ids(due_contacts(contacts, NOW, 10)) == [4, 3, 6, 2, 7, 1, 5]


def test_pending_ties_break_by_id() -> None:
    assert ids(due_contacts([cc(9), cc(3), cc(5)], NOW, 10)) == [3, 5, 9]


@pytest.mark.parametrize(
    ("contact", "due"),
    [
        (cc(1), True),
        (cc(1, S.RETRY, due=0), True),
        (cc(1, S.RETRY, due=-1), True),
        (cc(1, S.RETRY, due=1), False),
        (cc(1, S.RETRY), False),
        (cc(1, S.DIALING), False),
        (cc(1, S.DIALING, due=-10), False),
        (cc(1, S.CALLED), False),
        (cc(1, S.COMPLETED), False),
        (cc(1, S.FAILED), False),
        (cc(1, S.NO_CONVERSATION), False),
    ],
)
def test_is_due(contact: CampaignContact, due: bool) -> None:
    assert is_due(contact, NOW) is due


def test_limit_cuts_the_list() -> None:
    assert ids(due_contacts([cc(i) for i in range(10)], NOW, 3)) == [0, 1, 2]
    assert due_contacts([cc(1)], NOW, 0) == []
    with pytest.raises(ValidationError):
        due_contacts([cc(1)], NOW, -1)


def test_people_on_a_call_elsewhere_are_skipped() -> None:
    contacts = [cc(1, contact_id=100), cc(2, contact_id=200)]
    assert ids(due_contacts(contacts, NOW, 10, busy_contact_ids={100})) == [2]


def test_queue_key_is_the_documented_tuple() -> None:
    assert queue_key(cc(7, S.RETRY, Priority.LOW, created=-9, due=-3)) == (
        2, 0, NOW - timedelta(minutes=3), 7)
    assert queue_key(cc(8, created=-9, due=-3)) == (1, 1, NOW - timedelta(minutes=9), 8)


def test_missing_created_at_sorts_first() -> None:
    old = cc(2, created=-100)
    missing = CampaignContact(id=5, campaign_id=1, contact_id=5, phone="+12025550105")
    assert ids(due_contacts([old, missing], NOW, 10)) == [5, 2]


contacts_st = st.lists(
    st.builds(
        cc,
        id=st.integers(0, 10_000),
        status=st.sampled_from(list(ContactStatus)),
        priority=st.sampled_from(list(Priority)),
        created=st.integers(-1000, 0),
        due=st.none() | st.integers(-1000, 1000),
    ),
    max_size=40,
    unique_by=lambda c: c.id,
)


@settings(deadline=None)
@given(contacts=contacts_st, limit=st.integers(0, 50))
def test_due_contacts_properties(contacts: list[CampaignContact], limit: int) -> None:
    picked = due_contacts(contacts, NOW, limit)
    assert len(picked) == min(limit, sum(is_due(c, NOW) for c in contacts))
    for c in picked:
        assert c.status is not S.DIALING
        assert c.status is S.PENDING or (
            c.next_attempt_at is not None and c.next_attempt_at <= NOW)
    keys = [queue_key(c) for c in picked]
    assert keys == sorted(keys)
    skipped = [c for c in contacts if is_due(c, NOW) and c not in picked]
    if picked and skipped:
        assert max(keys) <= min(queue_key(c) for c in skipped)
