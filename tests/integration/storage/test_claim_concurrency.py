"""Many concurrent claimers on committed data: no contact is ever claimed twice."""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import Engine

from campaigns.types import CampaignStatus
from storage.db import make_engine, session_factory
from storage.migrate import upgrade
from storage.repos import CampaignRepo, ClaimRepo, ContactRepo, NewContact, Who

NOW = datetime(2026, 3, 10, 15, 0, tzinfo=UTC)


def _seed(engine: Engine, contacts: int) -> int:
    with session_factory(engine).begin() as s:
        campaign = CampaignRepo(s).create("Load", Who("t"), NOW)
        CampaignRepo(s).set_status(campaign.id, CampaignStatus.ACTIVE, Who("t"), NOW)
        phones = [f"+1202555{i % 10000:04d}" if i < 10000 else f"+1415555{i % 10000:04d}"
                  for i in range(contacts)]
        ContactRepo(s).add_many(campaign.id, [NewContact(p) for p in phones], NOW)
        return campaign.id


def _race(engine: Engine, campaign_id: int, workers: int, batch: int) -> list[int]:
    factory = session_factory(engine)
    claimed: list[int] = []
    lock = threading.Lock()
    errors: list[BaseException] = []
    start = threading.Barrier(workers)

    def work(name: str) -> None:
        try:
            start.wait()
            while True:
                with factory.begin() as s:
                    got = ClaimRepo(s).claim(campaign_id, name, NOW, limit=batch)
                if not got:
                    return
                with lock:
                    claimed.extend(c.campaign_contact_id for c in got)
        except BaseException as exc:  # reported below; a thread must not die silently
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(f"w{i}",)) for i in range(workers)]
    for th in threads:
        th.start()
    for th in threads:
        th.join(timeout=120)
    assert not errors, errors
    return claimed


def test_postgres_concurrent_claimers_never_share_a_contact(
        pg_engine_factory: Callable[[], Engine]) -> None:
    engine = pg_engine_factory()
    campaign_id = _seed(engine, 3000)
    claimed = _race(engine, campaign_id, workers=8, batch=7)
    dups = [k for k, n in Counter(claimed).items() if n > 1]
    assert dups == []
    assert len(claimed) == 3000


@pytest.mark.parametrize("workers", [4])
def test_sqlite_concurrent_claimers_never_share_a_contact(tmp_path: Path, workers: int) -> None:
    engine = make_engine(f"sqlite:///{tmp_path / 'race.sqlite3'}")
    upgrade(engine)
    campaign_id = _seed(engine, 600)
    claimed = _race(engine, campaign_id, workers=workers, batch=5)
    assert sorted(Counter(claimed).values()) == [1] * 600
    engine.dispose()
