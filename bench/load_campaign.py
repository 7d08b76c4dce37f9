"""Load: one campaign of N contacts over K numbers, real SIP calls to the simulated trunk.

The whole dialer as ``dialer demo`` runs it (local Ray, number actors with pjsua2, AMD,
the scripted agent, voicemail drops), with the machine watched while it runs:

    .venv/bin/python bench/load_campaign.py --contacts 1000 --numbers 20

Prints calls per minute, CPU (all processes, in cores), memory (sum of RSS), the delay
from a retry falling due to its INVITE (p50/p99), and the exactness checks computed from
the database: double dials, lost outcomes, calls per number against the daily cap,
calls outside the callee's 08:00-21:00 window. ``--chaos`` adds actor kills.
"""

from __future__ import annotations

import argparse
import itertools
import json
import os
import statistics
import sys
import threading
import time
from datetime import timedelta
from pathlib import Path
from typing import Any

import psutil
from sqlalchemy import select

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))


from campaigns.compliance import check_dial
from dialer.demo import DEMO_DB, run_demo
from storage import models as m
from storage.db import make_engine, session_factory


class Sampler:
    """CPU (cores busy, whole machine) and memory (RSS of this process tree + Ray)."""

    def __init__(self, every_s: float = 1.0) -> None:
        self.every_s = every_s
        self.cpu: list[float] = []
        self.rss_mb: list[float] = []
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        psutil.cpu_percent(None)
        while not self.stop.wait(self.every_s):
            self.cpu.append(psutil.cpu_percent(None) / 100 * psutil.cpu_count())
            total = 0
            for proc in psutil.process_iter(["cmdline", "memory_info"]):
                cmd = " ".join(proc.info.get("cmdline") or [])
                if "ray" in cmd or "dialer" in cmd or proc.pid == os.getpid():
                    mem = proc.info.get("memory_info")
                    total += mem.rss if mem else 0
            self.rss_mb.append(total / 2**20)


def _pct(values: list[float], q: float) -> float | None:
    if not values:
        return None
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def exactness(db_path: Path) -> dict[str, Any]:
    """What must hold exactly, from the database."""
    sessions = session_factory(make_engine(f"sqlite:///{db_path}"))
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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--contacts", type=int, default=1000)
    parser.add_argument("--numbers", type=int, default=20)
    parser.add_argument("--chaos", action="store_true")
    parser.add_argument("--seed", type=int, default=11)
    args = parser.parse_args()
    sampler = Sampler()
    sampler.thread.start()
    started = time.monotonic()
    summary = run_demo(n_contacts=args.contacts, n_numbers=args.numbers, chaos=args.chaos,
                       seed=args.seed, quiet=True)
    elapsed = time.monotonic() - started
    sampler.stop.set()
    sampler.thread.join()
    figures = {
        "contacts": args.contacts, "numbers": args.numbers, "calls": summary["calls"],
        "elapsed_s": round(elapsed, 1),
        "calls_per_min": round(summary["calls"] / (summary["elapsed_s"] / 60), 1),
        "cpu_cores_mean": round(statistics.fmean(sampler.cpu), 2) if sampler.cpu else None,
        "cpu_cores_p95": _pct(sampler.cpu, 0.95),
        "rss_mb_peak": round(max(sampler.rss_mb), 0) if sampler.rss_mb else None,
        "double_dials": summary["double_dials"], "lost_outcomes": summary["lost_outcomes"],
        "by_answer": summary["by_answer"], "amd_accuracy": summary["amd_accuracy"],
        "abandon_rate": summary["abandon_rate"], "chaos_kills": len(summary["chaos_kills"]),
        **exactness(DEMO_DB),
    }
    print(json.dumps(figures, indent=2))


if __name__ == "__main__":
    main()
