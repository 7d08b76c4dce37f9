"""Dashboard of a campaign with 1,000,000 contacts and 3,000,000 calls on PostgreSQL.

Target: <= 250 ms. Seeds with set-based SQL (generate_series), builds the call rollup
the way the dialer keeps it (per 15-minute UTC bucket and answer status), then times
``storage.services.dashboard`` (every query plus the pure maths) over repeated runs.
Run: .venv/bin/python bench/dashboard_1m.py [--contacts N] [--calls M] [--runs R]
"""

from __future__ import annotations

import argparse
import statistics
import sys
from datetime import UTC, datetime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from sqlalchemy import text

from bench._common import Timer, pg_schema, say
from storage.db import session_factory
from storage.repos import CampaignRepo, Who
from storage.services import dashboard

NOW = datetime(2026, 3, 10, 15, 0, tzinfo=UTC)

STATUSES = "ARRAY['pending','completed','completed','failed','no_conversation','retry','called']"
GOALS = "ARRAY['achieved','partially_achieved','not_achieved','unknown']"
ANSWERS = ("ARRAY['human','human','human','machine','machine','no_answer','no_answer',"
           "'busy','rejected','failed']")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--contacts", type=int, default=1_000_000)
    parser.add_argument("--calls", type=int, default=3_000_000)
    parser.add_argument("--runs", type=int, default=30)
    args = parser.parse_args()
    with pg_schema("bench_dash") as engine:
        sessions = session_factory(engine)
        with sessions.begin() as s:
            cid = CampaignRepo(s).create("bench", Who("bench"), NOW,
                                         timezone="America/New_York").id
        with Timer() as seed, engine.begin() as conn:
            say(f"seeding {args.contacts:,} contacts …")
            conn.execute(text(
                "INSERT INTO contacts (phone, name, tags, attributes, created_at) "
                "SELECT '+1' || (2000000000 + g)::text, 'c' || g, '[]', '{}', :now "
                "FROM generate_series(1, :n) g"), {"n": args.contacts, "now": NOW})
            conn.execute(text(
                f"INSERT INTO campaign_contacts (campaign_id, contact_id, status, priority, "
                f"priority_rank, attempts, trunk_failures, due_at, created_at, fencing_token, "
                f"conversation_count, total_duration_s, goal_result) "
                f"SELECT :cid, id, ({STATUSES})[1 + id % 7], 'normal', 1, 1, 0, :now, :now, 1, "
                f"0, 0, CASE WHEN id % 3 = 0 THEN ({GOALS})[1 + id % 4] END FROM contacts"),
                {"cid": cid, "now": NOW})
            say(f"seeding {args.calls:,} calls …")
            conn.execute(text(
                f"INSERT INTO calls (campaign_id, campaign_contact_id, fencing_token, "
                f"attempt_no, from_number, to_number, state, answer_status, sip_status, "
                f"started_at, answered_at, ended_at, talk_ms, conversation, transcript, "
                f"llm_tokens, llm_cost_usd) "
                f"SELECT :cid, 1 + (g % :n), g, 1, '+14155550100', '+12025550100', 'ended', "
                f"({ANSWERS})[1 + g % 10], 200, "
                f"timestamptz '2026-01-01' + (g * interval '7 second'), "
                f"timestamptz '2026-01-01' + (g * interval '7 second'), "
                f"timestamptz '2026-01-01' + (g * interval '7 second') + interval '1 minute', "
                f"60000, g % 10 < 3, '[]', 0, 0 FROM generate_series(1, :m) g"),
                {"cid": cid, "n": args.contacts, "m": args.calls})
            say("building the rollup from the calls …")
            conn.execute(text(
                "INSERT INTO call_rollups (campaign_id, bucket, answer_status, calls, "
                "conversations, talk_s) "
                "SELECT campaign_id, date_bin('15 minutes', coalesce(answered_at, started_at), "
                "timestamptz '2000-01-01'), answer_status, count(*), "
                "count(*) FILTER (WHERE conversation), "
                "coalesce(sum(talk_ms) FILTER (WHERE conversation), 0) / 1000.0 "
                "FROM calls WHERE campaign_id = :cid GROUP BY 1, 2, 3"), {"cid": cid})
        with engine.connect() as conn:
            conn.execution_options(isolation_level="AUTOCOMMIT").exec_driver_sql(
                "VACUUM ANALYZE")
            buckets = conn.execute(text("SELECT count(*) FROM call_rollups")).scalar_one()
        say(f"seeded in {seed.seconds:.0f} s; rollup has {buckets:,} rows")
        times = []
        for i in range(args.runs + 2):
            with Timer() as timer:
                _, d = dashboard(sessions, cid)
            if i >= 2:  # the first two warm caches and the connection pool
                times.append(timer.seconds * 1000)
        times.sort()
        p50 = statistics.median(times)
        p99 = times[min(len(times) - 1, int(len(times) * 0.99))]
        say(f"dashboard of {args.contacts:,} contacts / {args.calls:,} calls: "
            f"p50 {p50:.1f} ms, p99 {p99:.1f} ms, max {times[-1]:.1f} ms over {len(times)} "
            f"runs (target <= 250 ms); calls counted {d.quick_stats.calls:,}")
        return 0 if d.quick_stats.calls == args.calls else 1


if __name__ == "__main__":
    raise SystemExit(main())
