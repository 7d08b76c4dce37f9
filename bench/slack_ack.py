"""Ack latency of ``/dialer status <campaign>`` with 1,000,000 contacts on PostgreSQL.

Target: p99 <= 100 ms. Seeds the campaign with set-based SQL (generate_series), runs the
real app behind its threaded HTTP endpoint (``chatops.server``) against the local fake
Slack Web API, and sends correctly signed slash commands:

* sequential: one request at a time; ack = HTTP response time, reply = time until the
  status message reached ``chat.postMessage`` (the lazy listener's full work);
* concurrent: ``--clients`` senders at once, replies not awaited, so lazy status queries
  pile up behind the acks (what a busy channel looks like).

Run: .venv/bin/python bench/slack_ack.py [--contacts N] [--requests R] [--clients C]
"""

from __future__ import annotations

import argparse
import hashlib
import hmac
import statistics
import sys
import threading
import time
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import urlencode

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from sqlalchemy import text

from bench._common import Timer, pg_schema, say
from chatops.server import SlackHttpServer
from dialer.settings import Settings
from dialer.slack_commands import build_slack_app
from storage.db import session_factory
from storage.repos import CampaignRepo, Who
from tests.integration.chatops.fake_slack import FakeSlack

NOW = datetime(2026, 3, 10, 15, 0, tzinfo=UTC)
SECRET = "bench-secret"
STATUSES = "ARRAY['pending','completed','completed','failed','no_conversation','retry','called']"


def _seed(engine: object, contacts: int) -> int:
    sessions = session_factory(engine)  # type: ignore[arg-type]
    with sessions.begin() as s:
        repo = CampaignRepo(s)
        cid = repo.create("bench", Who("bench"), NOW, timezone="America/New_York").id
        repo.set_status(cid, repo.get(cid).status.ACTIVE, Who("bench"), NOW)
    with Timer() as seed, engine.begin() as conn:  # type: ignore[attr-defined]
        say(f"seeding {contacts:,} contacts …")
        conn.execute(text(
            "INSERT INTO contacts (phone, name, tags, attributes, created_at) "
            "SELECT '+1' || (2000000000 + g)::text, 'c' || g, '[]', '{}', :now "
            "FROM generate_series(1, :n) g"), {"n": contacts, "now": NOW})
        conn.execute(text(
            f"INSERT INTO campaign_contacts (campaign_id, contact_id, status, priority, "
            f"priority_rank, attempts, trunk_failures, due_at, created_at, fencing_token, "
            f"conversation_count, total_duration_s) "
            f"SELECT :cid, id, ({STATUSES})[1 + id % 7], 'normal', 1, 1, 0, :now, :now, 1, "
            f"0, 0 FROM contacts"), {"cid": cid, "now": NOW})
    with engine.connect() as conn:  # type: ignore[attr-defined]
        conn.execution_options(isolation_level="AUTOCOMMIT").exec_driver_sql("VACUUM ANALYZE")
    say(f"seeded in {seed.seconds:.0f} s")
    return int(cid)


def _signed(url: str, body: bytes) -> urllib.request.Request:
    ts = str(int(time.time()))
    sig = "v0=" + hmac.new(SECRET.encode(), b"v0:" + ts.encode() + b":" + body,
                           hashlib.sha256).hexdigest()
    return urllib.request.Request(url, data=body, method="POST", headers={
        "Content-Type": "application/x-www-form-urlencoded",
        "X-Slack-Request-Timestamp": ts, "X-Slack-Signature": sig})


def _body(fake: FakeSlack, n: int) -> bytes:
    return urlencode({"team_id": "T0000001", "channel_id": "CBENCH", "user_id": "UBENCH",
                      "command": "/dialer", "text": "status bench",
                      "response_url": f"{fake.base}/respond/{n}",
                      "trigger_id": f"t{n}"}).encode()


def _ack(url: str, body: bytes) -> float:
    start = time.perf_counter()
    with urllib.request.urlopen(_signed(url, body), timeout=10) as response:
        response.read()
        assert response.status == 200
    return (time.perf_counter() - start) * 1000


def _pct(values: list[float]) -> str:
    values = sorted(values)
    p99 = values[min(len(values) - 1, int(len(values) * 0.99))]
    return (f"p50 {statistics.median(values):.1f} ms, p99 {p99:.1f} ms, "
            f"max {values[-1]:.1f} ms (n={len(values)})")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--contacts", type=int, default=1_000_000)
    parser.add_argument("--requests", type=int, default=200)
    parser.add_argument("--clients", type=int, default=8)
    args = parser.parse_args()
    fake = FakeSlack(token="xoxb-bench").start()
    with pg_schema("bench_slack") as engine:
        _seed(engine, args.contacts)
        settings = Settings(SLACK_BOT_TOKEN=fake.token, SLACK_SIGNING_SECRET=SECRET,
                            SLACK_API_URL=fake.api_url)  # type: ignore[call-arg]
        app = build_slack_app(settings, session_factory(engine), lambda: NOW)
        server = SlackHttpServer(app, "127.0.0.1", 0).start()
        url = f"http://127.0.0.1:{server.port}/slack/events"
        try:
            for i in range(3):  # auth.test, pool and import warm-up
                mark = fake.mark()
                _ack(url, _body(fake, i))
                fake.wait("chat.postMessage", mark, timeout=60)
            acks, replies = [], []
            for i in range(args.requests):
                mark = fake.mark()
                start = time.perf_counter()
                acks.append(_ack(url, _body(fake, 100 + i)))
                call = fake.wait("chat.postMessage", mark, timeout=60)
                replies.append((time.perf_counter() - start) * 1000)
            assert f"{args.contacts:,} contacts" in str(call.params.get("blocks"))
            say(f"sequential ack   : {_pct(acks)}")
            say(f"sequential reply : {_pct(replies)} (status message posted)")
            mark = fake.mark()
            lock = threading.Lock()
            loaded: list[float] = []

            def one(n: int) -> None:
                ms = _ack(url, _body(fake, 10_000 + n))
                with lock:
                    loaded.append(ms)

            with Timer() as burst, ThreadPoolExecutor(args.clients) as pool:
                list(pool.map(one, range(args.requests)))
            deadline = time.monotonic() + 300
            while (sum(1 for c in fake.since(mark) if c.method == "chat.postMessage")
                   < args.requests and time.monotonic() < deadline):
                time.sleep(0.2)
            drained = time.monotonic()
            posted = sum(1 for c in fake.since(mark) if c.method == "chat.postMessage")
            say(f"concurrent ack   : {_pct(loaded)} with {args.clients} clients, "
                f"{args.requests} requests sent in {burst.seconds:.1f} s")
            say(f"concurrent replies posted: {posted}/{args.requests} "
                f"(drained {drained - burst.start - burst.seconds:.1f} s after the burst)")
            p99 = sorted(acks + loaded)[int(len(acks + loaded) * 0.99)]
            say(f"RESULT ack p99 {p99:.1f} ms over {len(acks) + len(loaded)} requests with "
                f"{args.contacts:,} contacts (target <= 100 ms)")
            return 0 if p99 <= 100 else 1
        finally:
            server.shutdown()
            fake.stop()


if __name__ == "__main__":
    raise SystemExit(main())
