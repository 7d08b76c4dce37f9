"""Claim throughput on PostgreSQL with 8 concurrent claimers (target >= 2,000 contacts/s).

Seeds N due contacts, then 8 threads (each its own connection) claim batches until the
queue is empty; prints contacts/s and the number of contacts claimed twice (must be 0).
Run: .venv/bin/python bench/claim_throughput.py [--contacts N] [--batch B] [--workers W]
"""

from __future__ import annotations

import argparse
import sys
import threading
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench._common import Timer, pg_schema, say
from campaigns.types import CampaignStatus
from storage.db import session_factory
from storage.repos import CampaignRepo, ClaimRepo, ContactRepo, NewContact, Who

NOW = datetime(2026, 3, 10, 15, 0, tzinfo=UTC)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--contacts", type=int, default=50_000)
    parser.add_argument("--batch", type=int, default=25)
    parser.add_argument("--workers", type=int, default=8)
    args = parser.parse_args()
    with pg_schema("bench_claim", pool_size=args.workers + 2) as engine:
        sessions = session_factory(engine)
        say(f"seeding {args.contacts:,} contacts …")
        with sessions.begin() as s:
            c = CampaignRepo(s).create("bench", Who("bench"), NOW)
            CampaignRepo(s).set_status(c.id, CampaignStatus.ACTIVE, Who("bench"), NOW)
            phones = [f"+1{200 + i // 10_000_000 % 800:03d}{i % 10_000_000:07d}"
                      for i in range(args.contacts)]
            ContactRepo(s).add_many(c.id, [NewContact(p) for p in phones], NOW)
        with engine.begin() as conn:
            conn.exec_driver_sql("ANALYZE")
        claimed: list[int] = []
        lock = threading.Lock()
        barrier = threading.Barrier(args.workers + 1)

        def work(name: str) -> None:
            barrier.wait()
            while True:
                with sessions.begin() as s:
                    got = ClaimRepo(s).claim(c.id, name, NOW, limit=args.batch)
                if not got:
                    return
                with lock:
                    claimed.extend(x.campaign_contact_id for x in got)

        threads = [threading.Thread(target=work, args=(f"w{i}",)) for i in range(args.workers)]
        for th in threads:
            th.start()
        with Timer() as timer:
            barrier.wait()
            for th in threads:
                th.join()
        dups = sum(1 for n in Counter(claimed).values() if n > 1)
        rate = len(claimed) / timer.seconds
        say(f"claimed {len(claimed):,} of {args.contacts:,} contacts with {args.workers} "
            f"claimers, batch {args.batch}: {timer.seconds:.2f} s, {rate:,.0f} contacts/s, "
            f"{dups} claimed twice (target >= 2,000/s, 0 twice)")
        return 0 if dups == 0 and len(claimed) == args.contacts else 1


if __name__ == "__main__":
    raise SystemExit(main())
