"""The import use case on committed data: progress, reports, and all-or-nothing."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import Engine, func, select

import storage.services as services
from campaigns.types import CampaignStatus
from storage import models as m
from storage.db import make_engine, session_factory
from storage.errors import StaleClaim
from storage.migrate import upgrade
from storage.repos import CampaignRepo, ImportRepo, Who

NOW = datetime(2026, 3, 10, 15, 0, tzinfo=UTC)
WHO = Who("tester", "test")


@pytest.fixture(params=["sqlite", "postgres"])
def fresh(request: pytest.FixtureRequest, tmp_path: Path,
          pg_engine_factory: Callable[[], Engine]) -> Iterator[Engine]:
    """A migrated, empty database with committed transactions (no outer rollback)."""
    if request.param == "postgres":
        yield pg_engine_factory()
        return
    engine = make_engine(f"sqlite:///{tmp_path / 'imp.sqlite3'}")
    upgrade(engine)
    yield engine
    engine.dispose()


def _campaign(engine: Engine) -> int:
    with session_factory(engine).begin() as s:
        campaign_id = CampaignRepo(s).create("Imports", WHO, NOW).id
        CampaignRepo(s).set_status(campaign_id, CampaignStatus.ACTIVE, WHO, NOW)
        return campaign_id


def _csv(n: int, bad_every: int = 0) -> bytes:
    lines = ["name,phone,priority"]
    for i in range(n):
        phone = "+1 555 000 0000" if bad_every and i % bad_every == 0 else (
            f"+1 202 {300 + i // 10000:03d} {i % 10000:04d}")
        lines.append(f"P{i},{phone},{'high' if i % 2 else 'low'}")
    return ("\n".join(lines) + "\n").encode()


def _count(engine: Engine) -> int:
    with session_factory(engine)() as s:
        return s.scalar(select(func.count()).select_from(m.CampaignContact)) or 0


def test_import_reports_lines_and_counts(fresh: Engine) -> None:
    _campaign(fresh)
    sessions = session_factory(fresh)
    data = _csv(300, bad_every=100) + b"P-dup,+1 202 300 0001,normal\n"
    import_id, _ = services.start_import(sessions, "Imports", "a.csv", len(data), WHO)
    report = services.run_import(sessions, import_id, data, clock=lambda: NOW)
    assert report.status == "done"
    assert (report.inserted, report.duplicates) == (297, 1)
    assert [e["line"] for e in report.errors] == [2, 102, 202]
    with sessions() as s:
        record = ImportRepo(s).get(import_id)
        assert (record.status, record.inserted, record.processed) == ("done", 297, 301)
    # The same file again: every row is now a duplicate, nothing new.
    again, _ = services.start_import(sessions, "Imports", "a.csv", len(data), WHO)
    second = services.run_import(sessions, again, data)
    assert (second.inserted, second.duplicates) == (0, 298)
    assert _count(fresh) == 297


def test_a_failure_mid_import_leaves_nothing(fresh: Engine,
                                             monkeypatch: pytest.MonkeyPatch) -> None:
    _campaign(fresh)
    sessions = session_factory(fresh)
    real = services.iter_contacts_csv

    def failing(data: bytes, **kw: object) -> Iterator[object]:
        for n, item in enumerate(real(data, **kw)):  # type: ignore[arg-type]
            if n == services.BATCH_ROWS + 5:
                raise RuntimeError("database went away")
            yield item

    monkeypatch.setattr(services, "iter_contacts_csv", failing)
    data = _csv(services.BATCH_ROWS + 100)
    import_id, _ = services.start_import(sessions, "Imports", "b.csv", len(data), WHO)
    report = services.run_import(sessions, import_id, data)
    assert report.status == "failed"
    assert report.failure == "import failed: RuntimeError"
    assert _count(fresh) == 0
    with sessions() as s:
        assert ImportRepo(s).get(import_id).status == "failed"


def test_large_import_streams_and_commits_once(fresh: Engine) -> None:
    _campaign(fresh)
    sessions = session_factory(fresh)
    data = _csv(services.BATCH_ROWS * 2 + 7)
    import_id, _ = services.start_import(sessions, "Imports", "c.csv", len(data), WHO)
    report = services.run_import(sessions, import_id, data)
    assert (report.status, report.inserted, report.errors) == (
        "done", services.BATCH_ROWS * 2 + 7, [])
    assert _count(fresh) == services.BATCH_ROWS * 2 + 7


def test_an_unreadable_file_fails_cleanly(fresh: Engine) -> None:
    _campaign(fresh)
    sessions = session_factory(fresh)
    data = b"\x00\x01\x02binary\xff" * 100
    import_id, _ = services.start_import(sessions, "Imports", "d.csv", len(data), WHO)
    report = services.run_import(sessions, import_id, data)
    assert report.status == "failed"
    assert report.failure
    assert _count(fresh) == 0



def test_expired_leases_are_returned_or_reconciled(fresh: Engine) -> None:
    from datetime import timedelta

    from campaigns import types as t
    from storage.repos import CallEnd, CallRepo, CallStart, ClaimRepo, ContactRepo, NewContact

    cid = _campaign(fresh)
    sessions = session_factory(fresh)
    with sessions.begin() as s:
        ContactRepo(s).add_many(cid, [NewContact(f"+120255501{i:02d}") for i in range(3)], NOW)
        a, b, c = ClaimRepo(s).claim(cid, "crashed", NOW, limit=3,
                                     lease=timedelta(minutes=1))
        calls = CallRepo(s)
        ended = calls.start(CallStart(cid, b.campaign_contact_id, b.token, 1, None,
                                      "+14155550100", b.phone), NOW)
        calls.finish(ended, CallEnd(t.AnswerStatus.HUMAN, 200, conversation=True,
                                    talk_ms=60_000), NOW + timedelta(seconds=70))
        calls.start(CallStart(cid, c.campaign_contact_id, c.token, 1, None, "+14155550100",
                              c.phone), NOW)
    assert services.reap_expired_leases(sessions, NOW + timedelta(seconds=30)) == (
        services.ReapReport(0, 0, 0))  # nothing has expired yet
    report = services.reap_expired_leases(sessions, NOW + timedelta(minutes=5))
    assert report == services.ReapReport(returned=1, reconciled=2, lost_calls=1)
    with sessions() as s:
        contacts = {v.phone: v for v in ContactRepo(s).list(cid)}
    assert contacts[a.phone].status is t.ContactStatus.PENDING  # never dialled: back in line
    assert contacts[a.phone].attempts == 0
    assert contacts[b.phone].status is t.ContactStatus.CALLED  # its outcome was kept
    assert contacts[c.phone].status is t.ContactStatus.RETRY  # died mid-call: retried later
    assert contacts[c.phone].due_at > NOW + timedelta(minutes=5)
    # The stale owner can no longer write anything.
    with sessions.begin() as s, pytest.raises(StaleClaim):
        ClaimRepo(s).finish(b.campaign_contact_id, b.token - 1, status=t.ContactStatus.CALLED,
                            attempts=1, due_at=NOW, now=NOW)


def test_status_counters_match_the_contacts_after_every_kind_of_write(fresh: Engine) -> None:
    from datetime import timedelta

    from campaigns import types as t
    from storage.repos import ClaimRepo, ContactRepo, NewContact

    cid = _campaign(fresh)
    sessions = session_factory(fresh)
    data = _csv(500)
    import_id, _ = services.start_import(sessions, "Imports", "e.csv", len(data), WHO)
    services.run_import(sessions, import_id, data, clock=lambda: NOW)
    with sessions.begin() as s:
        ContactRepo(s).add_many(cid, [NewContact("+14155550111")], NOW)
        claims = ClaimRepo(s).claim(cid, "w", NOW, limit=40, lease=timedelta(seconds=5))
        for c in claims[:10]:
            ClaimRepo(s).finish(c.campaign_contact_id, c.token, status=t.ContactStatus.CALLED,
                                attempts=1, due_at=NOW, now=NOW, completion_due_at=NOW)
        ClaimRepo(s).release(claims[10], NOW)
        ContactRepo(s).complete_due(cid, NOW)
        ClaimRepo(s).return_unplaced(NOW + timedelta(minutes=1))
        s.execute(m.CampaignContact.__table__.delete().where(
            m.CampaignContact.id == claims[11].campaign_contact_id))
    with sessions.begin() as s:  # a rolled-back change leaves the counters alone
        ClaimRepo(s).claim(cid, "w", NOW, limit=5)
        s.rollback()
    with sessions() as s:
        counted = ContactRepo(s).status_counts(cid)
        scanned = dict(s.execute(select(m.CampaignContact.status, func.count())
                                 .where(m.CampaignContact.campaign_id == cid)
                                 .group_by(m.CampaignContact.status)).all())
    assert {k.value: v for k, v in counted.items()} == scanned
    assert counted[t.ContactStatus.COMPLETED] == 10
    assert sum(counted.values()) == 500  # 500 imported + 1 added - 1 deleted
