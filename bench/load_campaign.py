"""Load: one campaign of N contacts over K numbers, real SIP calls to the simulated trunk.

The whole dialer as ``dialer demo`` runs it (local Ray, number actors with pjsua2, AMD,
the scripted agent, voicemail drops), with the machine watched while it runs:

    .venv/bin/python bench/load_campaign.py --contacts 1000 --numbers 20

Prints calls per minute, CPU (all processes, in cores), memory (sum of RSS), the delay
from a retry falling due to its INVITE (p50/p99), and the exactness checks computed from
the database: double dials, lost outcomes, calls per number against the daily cap,
calls outside the callee's 08:00-21:00 window, and how long live answers waited for the
agent's first words (greet delay p50/p90/p99; the abandon rule allows 2 s). ``--chaos``
adds actor kills.

``--faults`` runs the fault drill on private PostgreSQL and Redis servers (started and
stopped by this script, ``tests/services.py``), at set shares of the contacts done:
SIGKILL of the campaign actor and of a number actor, a PostgreSQL restart (down 15 s),
Redis killed (down 15 s) and later flushed, every simulated trunk killed for 40 s, then
every trunk answering 503 for 60 s. It prints what was done and the operator alerts the
audit log raised, next to the exactness checks:

    .venv/bin/python bench/load_campaign.py --contacts 300 --numbers 20 --faults
"""

from __future__ import annotations

import argparse
import contextlib
import itertools
import json
import os
import signal
import statistics
import sys
import threading
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import psutil
from sqlalchemy import select

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))


from campaigns import types as t
from campaigns.compliance import check_dial
from dialer.demo import DEMO_DB, FaultContext, run_demo
from storage import models as m
from storage.db import make_engine, session_factory
from storage.repos import CampaignRepo, Who
from tests.services import PrivatePostgres, PrivateRedis


class Sampler:
    """CPU (cores busy, whole machine) and memory of this process tree + Ray: RSS every
    second (shared pages counted once per process) and PSS every 10 s (shared pages split
    between the processes that share them: what the dialer really holds)."""

    def __init__(self, every_s: float = 1.0, pss_every: int = 10) -> None:
        self.every_s = every_s
        self.pss_every = pss_every
        self.cpu: list[float] = []
        self.rss_mb: list[float] = []
        self.pss_mb: list[float] = []
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        psutil.cpu_percent(None)
        tick = 0
        while not self.stop.wait(self.every_s):
            self.cpu.append(psutil.cpu_percent(None) / 100 * psutil.cpu_count())
            rss = pss = 0
            full = tick % self.pss_every == 0
            for proc in psutil.process_iter(["cmdline", "memory_info"]):
                cmd = " ".join(proc.info.get("cmdline") or [])
                if "ray" in cmd or "dialer" in cmd or proc.pid == os.getpid():
                    mem = proc.info.get("memory_info")
                    rss += mem.rss if mem else 0
                    if full:
                        with contextlib.suppress(psutil.Error):  # it ended meanwhile
                            pss += getattr(proc.memory_full_info(), "pss", 0)
            self.rss_mb.append(rss / 2**20)
            if full:
                self.pss_mb.append(pss / 2**20)
            tick += 1


def _pct(values: list[float], q: float) -> float | None:
    if not values:
        return None
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def exactness(url: str) -> dict[str, Any]:
    """What must hold exactly, from the database."""
    sessions = session_factory(make_engine(url))
    with sessions() as s:
        calls = list(s.scalars(select(m.Call).order_by(m.Call.campaign_contact_id,
                                                       m.Call.started_at)))
        campaign = s.scalars(select(m.Campaign)).one()
        per_number: dict[str, int] = {}
        outside = 0
        for call in calls:
            per_number[call.from_number] = per_number.get(call.from_number, 0) + 1
            verdict = check_dial(at=call.started_at, phone=call.to_number, contact_tz=None,
                                 campaign_tz=campaign.timezone, schedule=None, start_at=None,
                                 dnc_blocked=False)
            outside += 0 if verdict.allowed else 1
        # A retry is due when the previous attempt ended plus the retry interval.
        delays = []
        retry = timedelta(seconds=campaign.retry_interval_s)
        for prev, cur in itertools.pairwise(calls):
            if prev.campaign_contact_id == cur.campaign_contact_id and prev.ended_at:
                delays.append((cur.started_at - (prev.ended_at + retry)).total_seconds())
    return {"max_calls_per_number": max(per_number.values(), default=0),
            "cap": campaign.max_calls_per_number_per_day,
            "calls_outside_callee_window": outside,
            "retry_due_to_invite_s": {"n": len(delays),
                                      "p50": _pct(delays, 0.5), "p99": _pct(delays, 0.99)}}


def pacing_and_cap(url: str) -> dict[str, Any]:
    """The tightest spacing of two calls from one number (the campaign's interval is the
    floor) and the most calls in flight at once (its concurrency cap is the ceiling)."""
    sessions = session_factory(make_engine(url))
    with sessions() as s:
        campaign = s.scalars(select(m.Campaign)).one()
        calls = list(s.scalars(select(m.Call).order_by(m.Call.started_at)))
    gaps: list[float] = []
    last: dict[str, Any] = {}
    for call in calls:
        prev = last.get(call.from_number)
        if prev is not None:
            gaps.append((call.started_at - prev).total_seconds())
        last[call.from_number] = call.started_at
    edges = sorted([(c.started_at, 1, c) for c in calls]
                   + [(c.ended_at, -1, c) for c in calls if c.ended_at],
                   key=lambda e: (e[0], e[1]))
    live = peak = 0
    at_peak: list[str] = []
    up: set[Any] = set()
    for when, step, call in edges:
        live += step
        if step > 0:
            up.add(call)
        else:
            up.discard(call)
        if live > peak:
            peak = live
            at_peak = [f"{c.id} {c.started_at:%H:%M:%S.%f}-{c.ended_at:%H:%M:%S.%f} "
                       f"{c.answer_status} {c.sip_reason or ''}"[:120]
                       for c in sorted(up, key=lambda c: c.started_at) if c.ended_at]
            at_peak.insert(0, f"peak at {when:%H:%M:%S.%f}")
    return {"min_gap_same_number_s": round(min(gaps), 2) if gaps else None,
            "call_interval_s": campaign.call_interval_s,
            "peak_calls_in_flight": peak,
            "max_concurrent_calls": campaign.max_concurrent_calls,
            **({"calls_at_peak": at_peak} if peak > campaign.max_concurrent_calls else {})}


def greetings(url: str) -> dict[str, Any]:
    """How long live answers waited for the agent's first words (the abandon rule: 2 s)."""
    sessions = session_factory(make_engine(url))
    with sessions() as s:
        rows = s.execute(select(m.Call.greet_delay_ms, m.Call.abandoned).where(
            m.Call.answer_status == t.AnswerStatus.HUMAN.value,
            m.Call.greet_delay_ms.is_not(None))).all()
    delays = [float(r[0]) for r in rows]
    return {"live_answers": len(rows), "abandoned": sum(1 for r in rows if r[1]),
            "greet_delay_ms": {"p50": _pct(delays, 0.5), "p90": _pct(delays, 0.9),
                               "p99": _pct(delays, 0.99)}}


def alerts(url: str) -> list[str]:
    """Every operator alert the run's audit log raised (what Slack would have posted)."""
    from chatops.alerts import AuditAlertSource

    source = AuditAlertSource(session_factory(make_engine(url)), batch=1_000_000)
    source.cursor = 0
    return [f"{e.kind.value}: {e.reason}"[:160] for e in source.poll()]


def fault_drill(pg: PrivatePostgres, redis: PrivateRedis) -> Any:
    """The faults, each once the given share of contacts is done."""
    import ray

    def kill(ctx: FaultContext, name: str) -> str:
        actor = ray.get_actor(name, namespace="dialer")
        pid = int(ray.get(actor.pid.remote(), timeout=30))
        os.kill(pid, signal.SIGKILL)
        return f"pid {pid}"

    def trunks_down(ctx: FaultContext, seconds: float, reject: int | None) -> str:
        count = len(ctx.trunks.ports)
        for i in range(count):
            if reject is None:
                ctx.trunks.stop(i)
            else:
                ctx.trunks.start(i, reject=reject)
        time.sleep(seconds)
        for i in range(count):
            ctx.trunks.start(i)
        return f"{count} trunks"

    steps: list[tuple[float, str, Any]] = [
        (0.08, "SIGKILL campaign actor", lambda c: kill(c, f"campaign:{c.campaign_id}")),
        (0.14, "SIGKILL number actor", lambda c: kill(c, f"number:{c.callers[0]}")),
        (0.22, "PostgreSQL restart, down 15 s", lambda c: pg.restart(down_s=15.0)),
        (0.34, "Redis killed, down 15 s", lambda c: redis.restart(down_s=15.0)),
        (0.42, "Redis FLUSHALL", lambda c: redis.flush()),
        (0.50, "every trunk killed for 40 s", lambda c: trunks_down(c, 40.0, None)),
        (0.66, "every trunk answering 503 for 60 s", lambda c: trunks_down(c, 60.0, 503)),
    ]

    operator_sessions = session_factory(make_engine(pg.url))

    def resume_if_paused(ctx: FaultContext, did: list[str]) -> None:
        """An operator resumes a campaign the dialer paused (e.g. the abandon limit: the
        drill's trunk restarts starve these 2 cores and greetings run late)."""
        sessions = operator_sessions
        try:
            with sessions.begin() as s:
                campaigns = CampaignRepo(s)
                if campaigns.get(ctx.campaign_id).status is not t.CampaignStatus.PAUSED:
                    return
                campaigns.set_status(ctx.campaign_id, t.CampaignStatus.ACTIVE,
                                     Who("drill-operator", "cli"), datetime.now(UTC))
        except Exception:  # the database is down (a fault of its own): next time
            return
        line = f"operator resumed the auto-paused campaign at {ctx.done():.0%} done"
        print(f"fault: {line}", file=sys.stderr, flush=True)
        did.append(line)

    def watch(ctx: FaultContext, did: list[str]) -> None:
        while not ctx.stop.wait(15.0):
            resume_if_paused(ctx, did)

    def run(ctx: FaultContext) -> list[str]:
        did: list[str] = []
        threading.Thread(target=watch, args=(ctx, did), daemon=True).start()
        for share, name, act in steps:
            while ctx.done() < share:
                if ctx.stop.wait(1.0):
                    return did
            started = time.monotonic()
            try:
                detail = act(ctx)
            except Exception as exc:  # report it; the run goes on
                detail = f"failed: {type(exc).__name__}: {exc}"
            line = (f"{name} at {share:.0%} done ({time.monotonic() - started:.0f} s"
                    f"{'; ' + detail if isinstance(detail, str) else ''})")
            print(f"fault: {line}", file=sys.stderr, flush=True)
            did.append(line)
        return did

    return run


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--contacts", type=int, default=1000)
    parser.add_argument("--numbers", type=int, default=20)
    parser.add_argument("--chaos", action="store_true")
    parser.add_argument("--seed", type=int, default=11)
    parser.add_argument("--faults", action="store_true",
                        help="the fault drill, on private PostgreSQL and Redis servers")
    args = parser.parse_args()
    pg = PrivatePostgres() if args.faults else None
    redis = PrivateRedis() if args.faults else None
    url = pg.url if pg else f"sqlite:///{DEMO_DB}"
    sampler = Sampler()
    sampler.thread.start()
    started = time.monotonic()
    try:
        summary = run_demo(n_contacts=args.contacts, n_numbers=args.numbers,
                           chaos=args.chaos, seed=args.seed, quiet=True,
                           database_url=pg.url if pg else None,
                           redis_url=redis.url if redis else None,
                           faults=fault_drill(pg, redis) if pg and redis else None)
        elapsed = time.monotonic() - started
        sampler.stop.set()
        sampler.thread.join()
        figures = _figures(args, summary, elapsed, sampler, url)
    finally:
        if redis:
            redis.close()
        if pg:
            pg.close()
    print(json.dumps(figures, indent=2))


def _figures(args: argparse.Namespace, summary: dict[str, Any], elapsed: float,
             sampler: Sampler, url: str) -> dict[str, Any]:
    figures = {
        "contacts": args.contacts, "numbers": args.numbers, "calls": summary["calls"],
        "elapsed_s": round(elapsed, 1),
        "calls_per_min": round(summary["calls"] / (summary["elapsed_s"] / 60), 1),
        "cpu_cores_mean": round(statistics.fmean(sampler.cpu), 2) if sampler.cpu else None,
        "cpu_cores_p95": _pct(sampler.cpu, 0.95),
        "rss_mb_peak": round(max(sampler.rss_mb), 0) if sampler.rss_mb else None,
        "pss_mb_peak": round(max(sampler.pss_mb), 0) if sampler.pss_mb else None,
        "double_dials": summary["double_dials"], "lost_outcomes": summary["lost_outcomes"],
        "by_answer": summary["by_answer"], "amd_accuracy": summary["amd_accuracy"],
        "abandon_rate": summary["abandon_rate"], "chaos_kills": summary["chaos_kills"],
        "by_status": summary["by_status"],
        **exactness(url), **pacing_and_cap(url), **greetings(url),
        "alerts": alerts(url),
    }
    return figures


if __name__ == "__main__":
    main()
