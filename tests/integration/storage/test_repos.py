"""Repository behaviour, run on SQLite and on the real PostgreSQL alike."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from campaigns import types as t
from campaigns.dashboard import heatmap
from campaigns.errors import IllegalTransition, ValidationError
from storage import models as m
from storage.errors import AlreadyExists, NotFound, StaleClaim
from storage.repos import (
    AgentRepo,
    AnalysisRepo,
    CallEnd,
    CallRepo,
    CallStart,
    CampaignRepo,
    ClaimRepo,
    ContactRepo,
    DashboardRepo,
    DncRepo,
    GoalRepo,
    NewContact,
    NumberRepo,
    ScheduleRepo,
    Who,
)

WHO = Who("tester", "test")


def _campaign(session: Session, now: datetime, name: str = "Spring",
              status: t.CampaignStatus = t.CampaignStatus.ACTIVE) -> t.Campaign:
    repo = CampaignRepo(session)
    created = repo.create(name, WHO, now, timezone="America/New_York")
    repo.set_status(created.id, status, WHO, now)
    return repo.get(created.id)


def _phones(n: int, start: int = 100) -> list[str]:
    return [f"+1202555{start + i:04d}" for i in range(n)]


def test_campaign_create_find_and_suggest(session: Session, now: datetime) -> None:
    repo = CampaignRepo(session)
    created = CampaignRepo(session).create("Spring", WHO, now)
    assert created.status is t.CampaignStatus.PAUSED
    assert repo.get(str(created.id)).name == "Spring"
    assert repo.get("spring").id == created.id
    with pytest.raises(AlreadyExists):
        _campaign(session, now)
    with pytest.raises(NotFound) as err:
        repo.get("Sprng")
    assert "Spring" in err.value.suggestions


def test_status_transitions_are_legal_and_audited(session: Session, now: datetime) -> None:
    repo = CampaignRepo(session)
    c = repo.create("Spring", WHO, now)
    assert repo.set_status(c.id, t.CampaignStatus.ACTIVE, WHO, now) == (
        t.CampaignStatus.PAUSED, t.CampaignStatus.ACTIVE)
    repo.set_status(c.id, t.CampaignStatus.CANCELLED, WHO, now)
    with pytest.raises(IllegalTransition):
        repo.set_status(c.id, t.CampaignStatus.ACTIVE, WHO, now)
    actions = session.scalars(select(m.AuditEntry.action).where(
        m.AuditEntry.entity_id == str(c.id)).order_by(m.AuditEntry.id)).all()
    assert actions == ["campaign.create", "campaign.status", "campaign.status"]


def test_update_validates_through_the_domain(session: Session, now: datetime) -> None:
    repo = CampaignRepo(session)
    c = _campaign(session, now)
    updated = repo.update(c.id, WHO, now, call_interval_s=10, max_retries=5,
                          spam_threshold=5, notes="hi")
    assert (updated.settings.call_interval_s, updated.settings.max_retries,
            updated.rotation.spam_threshold, updated.notes) == (10, 5, 5, "hi")
    with pytest.raises(ValidationError):
        repo.update(c.id, WHO, now, call_interval_s=7)
    with pytest.raises(ValidationError):
        repo.update(c.id, WHO, now, max_retries=11)


def test_list_counts_contacts_and_numbers(session: Session, now: datetime) -> None:
    a = _campaign(session, now, "Alpha")
    _campaign(session, now, "Beta")
    ContactRepo(session).add_many(a.id, [NewContact(p) for p in _phones(3)], now)
    NumberRepo(session).add("+14155550100", WHO, now)
    NumberRepo(session).assign(a.id, "+14155550100", WHO, now, weight=3)
    rows = {s.campaign.name: s for s in CampaignRepo(session).list()}
    assert (rows["Alpha"].contacts, rows["Alpha"].numbers) == (3, 1)
    assert (rows["Beta"].contacts, rows["Beta"].numbers) == (0, 0)
    assert [s.campaign.name for s in CampaignRepo(session).list(search="alp")] == ["Alpha"]


def test_add_many_skips_duplicates(session: Session, now: datetime) -> None:
    c = _campaign(session, now)
    repo = ContactRepo(session)
    assert repo.add_many(c.id, [NewContact(p) for p in _phones(5)], now) == (5, 0)
    again = [NewContact(p) for p in _phones(7)] + [NewContact(_phones(1)[0])]
    assert repo.add_many(c.id, again, now) == (2, 6)
    assert len(repo.list(c.id)) == 7


def _seed_queue(session: Session, c: t.Campaign, now: datetime) -> None:
    repo = ContactRepo(session)
    repo.add_many(c.id, [NewContact("+12025550101", priority=t.Priority.LOW)],
                  now - timedelta(hours=3))
    repo.add_many(c.id, [NewContact("+12025550102")], now - timedelta(hours=2))
    repo.add_many(c.id, [NewContact("+12025550103", priority=t.Priority.HIGH)],
                  now - timedelta(hours=1))
    repo.add_many(c.id, [NewContact("+12025550104")], now - timedelta(hours=4))
    # A due retry among the normals goes before pending ones; a future retry waits.
    retry_due = repo.find(c.id, "+12025550102")
    retry_due.status, retry_due.due_at = "retry", now - timedelta(minutes=1)
    repo.add_many(c.id, [NewContact("+12025550105")], now - timedelta(hours=5))
    later = repo.find(c.id, "+12025550105")
    later.status, later.due_at = "retry", now + timedelta(hours=1)
    session.flush()


def test_a_paused_campaign_hands_out_nothing(session: Session, now: datetime) -> None:
    c = _campaign(session, now, status=t.CampaignStatus.PAUSED)
    ContactRepo(session).add_many(c.id, [NewContact(p) for p in _phones(3)], now)
    assert ClaimRepo(session).claim(c.id, "w1", now, limit=3) == []
    CampaignRepo(session).set_status(c.id, t.CampaignStatus.ACTIVE, WHO, now)
    assert len(ClaimRepo(session).claim(c.id, "w1", now, limit=3)) == 3


def test_claim_follows_queue_order_and_leases(session: Session, now: datetime) -> None:
    c = _campaign(session, now)
    _seed_queue(session, c, now)
    claims = ClaimRepo(session)
    got = [claims.claim(c.id, "w1", now)[0].phone for _ in range(4)]
    assert got == ["+12025550103", "+12025550102", "+12025550104", "+12025550101"]
    assert claims.claim(c.id, "w1", now) == []  # only the future retry is left
    dialing = ContactRepo(session).list(c.id, status=t.ContactStatus.DIALING)
    assert len(dialing) == 4


def test_fencing_rejects_stale_tokens(session: Session, now: datetime) -> None:
    c = _campaign(session, now)
    ContactRepo(session).add_many(c.id, [NewContact("+12025550101")], now)
    claims = ClaimRepo(session)
    first = claims.claim(c.id, "w1", now, lease=timedelta(seconds=30))[0]
    # The lease runs out with no call row: the contact goes back to the queue...
    assert claims.return_unplaced(now + timedelta(minutes=1)) == 1
    second = claims.claim(c.id, "w2", now + timedelta(minutes=1))[0]
    assert second.token == first.token + 1
    # ...and the first owner's late write is refused.
    with pytest.raises(StaleClaim):
        claims.finish(first.campaign_contact_id, first.token,
                      status=t.ContactStatus.CALLED, attempts=1, due_at=now, now=now)
    claims.finish(second.campaign_contact_id, second.token, status=t.ContactStatus.CALLED,
                  attempts=1, due_at=now, now=now)


def test_one_call_row_per_claim(session: Session, now: datetime) -> None:
    c = _campaign(session, now)
    ContactRepo(session).add_many(c.id, [NewContact("+12025550101")], now)
    claim = ClaimRepo(session).claim(c.id, "w1", now)[0]
    start = CallStart(c.id, claim.campaign_contact_id, claim.token, 1, None, "+14155550100",
                      claim.phone)
    CallRepo(session).start(start, now)
    with pytest.raises(Exception, match=r"(?i)unique|duplicate"), session.begin_nested():
        CallRepo(session).start(start, now)
    # A lease that expires after its call row was written is not handed out again.
    assert ClaimRepo(session).return_unplaced(now + timedelta(hours=1)) == 0
    expired = ClaimRepo(session).expired(now + timedelta(hours=1))
    assert [(cc.id, call is not None) for cc, call in expired] == [
        (claim.campaign_contact_id, True)]


def test_daily_cap_is_counted_in_one_statement(session: Session, now: datetime) -> None:
    numbers = NumberRepo(session)
    n = numbers.add("+14155550100", WHO, now)
    assert all(numbers.count_call(n.id, "2026-03-10", 3) for _ in range(3))
    assert not numbers.count_call(n.id, "2026-03-10", 3)
    assert numbers.count_call(n.id, "2026-03-11", 3)  # a new local day starts at 1
    row = numbers.row("+14155550100")
    assert (row.calls_today, row.calls_today_day, row.calls_total) == (1, "2026-03-11", 4)


def test_call_outcome_feeds_the_dashboard_rollup(session: Session, now: datetime) -> None:
    c = _campaign(session, now)
    ContactRepo(session).add_many(c.id, [NewContact(p) for p in _phones(3)], now)
    calls = CallRepo(session)
    for i, claim in enumerate(ClaimRepo(session).claim(c.id, "w", now, limit=3)):
        call_id = calls.start(CallStart(c.id, claim.campaign_contact_id, claim.token, 1, None,
                                        "+14155550100", claim.phone), now)
        status = t.AnswerStatus.HUMAN if i < 2 else t.AnswerStatus.NO_ANSWER
        end = CallEnd(status, 200 if i < 2 else 480, answered_at=now + timedelta(minutes=i),
                      talk_ms=30_000, conversation=i < 2)
        calls.finish(call_id, end, now)
        calls.finish(call_id, end, now)  # a repeated finish changes nothing
    repo = DashboardRepo(session)
    calls_agg = repo.call_aggregates(c.id, "America/New_York")
    assert calls_agg.answer_counts == {t.AnswerStatus.HUMAN: 2, t.AnswerStatus.NO_ANSWER: 1}
    assert calls_agg.conversations == 2
    assert calls_agg.talk_s == pytest.approx(60.0)
    # Both human answers were on Tuesday 11:00-11:02 in New York (EDT since 8 March).
    grid = (calls_agg.grids[0] if calls_agg.grids is not None
            else heatmap(calls_agg.human_buckets, "America/New_York"))
    assert grid[1][11] == 2
    assert sum(map(sum, grid)) == 2
    assert repo.contact_counts(c.id).status_counts == {t.ContactStatus.DIALING: 3}


def test_manual_retry_and_goals(session: Session, now: datetime) -> None:
    c = _campaign(session, now)
    contacts = ContactRepo(session)
    contacts.add_many(c.id, [NewContact("+12025550101")], now)
    row = contacts.find(c.id, "+12025550101")
    row.status, row.attempts = "failed", 3
    contacts.retry(c.id, "+12025550101", c.settings, WHO, now)
    assert contacts.find(c.id, "+12025550101").status == "retry"
    goals = GoalRepo(session)
    goals.add(c.id, "Booked", WHO, now, primary=True)
    goals.add(c.id, "Consent", WHO, now, primary=True)
    listed = goals.list(c.id)
    assert [(g.name, g.primary) for g in listed] == [("Consent", True), ("Booked", False)]
    goals.set_archived(c.id, "Booked", True, WHO, now)
    assert [g.name for g in goals.list(c.id, include_archived=False)] == ["Consent"]


def test_dnc(session: Session, now: datetime) -> None:
    dnc = DncRepo(session)
    assert dnc.add(["+12025550101", "+12025550101", "+12025550102"], WHO, now) == 2
    assert dnc.add(["+12025550101"], WHO, now) == 0
    assert dnc.blocked("+12025550102")
    assert not dnc.blocked("+12025550103")


_TOO_LONG: list[tuple[str, Callable[[Session, datetime, int], object]]] = [
    ("contact name", lambda s, now, cid: ContactRepo(s).add_many(
        cid, [NewContact("+12025550101", name="n" * 301)], now)),
    ("campaign name", lambda s, now, cid: CampaignRepo(s).create("n" * 201, WHO, now)),
    ("campaign rename", lambda s, now, cid: CampaignRepo(s).update(cid, WHO, now,
                                                                  name="n" * 201)),
    ("campaign region", lambda s, now, cid: CampaignRepo(s).create("Fall", WHO, now,
                                                                  region="USA")),
    ("number name", lambda s, now, cid: NumberRepo(s).add("+14155550100", WHO, now,
                                                          friendly_name="n" * 201)),
    ("agent name", lambda s, now, cid: AgentRepo(s).create("n" * 201, WHO, now)),
    ("agent voice", lambda s, now, cid: AgentRepo(s).create("Ada", WHO, now, voice="v" * 65)),
    ("schedule name", lambda s, now, cid: ScheduleRepo(s).create("n" * 201, "UTC", {}, WHO,
                                                                 now)),
    ("goal name", lambda s, now, cid: GoalRepo(s).add(cid, "n" * 201, WHO, now)),
    ("goal rename", lambda s, now, cid: GoalRepo(s).edit(cid, "Book", WHO, now,
                                                         name="n" * 201)),
    ("analysis name", lambda s, now, cid: AnalysisRepo(s).add(
        cid, t.Analysis(0, "n" * 201, "Why?", t.AnalysisKind.OPEN), WHO, now)),
]


@pytest.mark.parametrize("write", [w for _, w in _TOO_LONG], ids=[i for i, _ in _TOO_LONG])
def test_text_longer_than_its_column_is_refused_before_the_database(
        session: Session, now: datetime,
        write: Callable[[Session, datetime, int], object]) -> None:
    campaign = CampaignRepo(session).create("Spring", WHO, now)
    GoalRepo(session).add(campaign.id, "Book", WHO, now)
    session.flush()
    before = session.scalar(select(func.count()).select_from(m.AuditEntry))
    with pytest.raises(ValidationError, match=r"characters; the limit is|two-letter"):
        write(session, now, campaign.id)
    session.flush()  # nothing half-made waits to be written either
    assert session.scalar(select(func.count()).select_from(m.AuditEntry)) == before
    assert [g.name for g in GoalRepo(session).list(campaign.id)] == ["Book"]
    assert CampaignRepo(session).get(campaign.id).name == "Spring"
