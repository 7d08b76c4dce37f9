"""``dialer demo --simulated``: the campaign logic alone, on a simulated clock.

No Ray and no SIP: the real domain decisions and the real storage (SQLite under
``var/``) run in one process against *simulated callees*: each contact is a seeded
persona (human, voicemail, busy, no answer, reject, invalid) whose answer is drawn where
the number actor would place a SIP call. Everything else is what production runs: the
atomic claim with fencing, the callee's calling window, business hours, rotation with
daily caps, the retry policy, the completion timeout, the rollup and the dashboard.
Days of dialling take seconds, which makes it the quick way to see pacing, windows and
retries play out. ``dialer demo`` (without the flag) runs the real thing.
"""

from __future__ import annotations

import random
import time as wall
from concurrent.futures import Future
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from sqlalchemy.orm import Session, sessionmaker

from actors.campaign_loop import CallResult, CampaignLoop, DialRequest
from actors.simcalls import plan_call
from campaigns import types as t
from campaigns.schedule import Schedule, parse_weekly, schedule_to_dict
from dialer.demo_support import WHO, add_numbers_and_contacts, campaign_figures, demo_numbers
from storage.coordination import MemoryStore
from storage.db import make_engine, session_factory
from storage.migrate import upgrade
from storage.repos import (
    CampaignRepo,
    ContactRepo,
    ScheduleRepo,
)
from storage.services import dashboard

DEMO_DB = Path("var") / "demo-simulated.sqlite3"
MISSING = ("SIP calls, AMD and the agent: callees are seeded personas (run without "
           "--simulated for real calls)",
           "Ray actors: the campaign loop runs in-process on a simulated clock")


def run_simulated_demo(*, n_contacts: int = 200, n_numbers: int = 4, chaos: bool = False,
                       seed: int = 7, quiet: bool = False,
                       db_path: Path = DEMO_DB) -> dict[str, Any]:
    """Run the demo campaign to completion and return the summary (CONTRACTS.md)."""
    started = wall.monotonic()
    err = Console(stderr=True, highlight=False, quiet=quiet)
    out = Console(highlight=False, quiet=quiet)
    rng = random.Random(seed)
    db_path.parent.mkdir(parents=True, exist_ok=True)
    for suffix in ("", "-wal", "-shm"):
        Path(f"{db_path}{suffix}").unlink(missing_ok=True)
    engine = make_engine(f"sqlite:///{db_path}")
    upgrade(engine)
    sessions = session_factory(engine)
    clock = datetime(2026, 12, 7, 14, 0, tzinfo=UTC)  # Monday 09:00 in New York
    campaign_id = _seed(sessions, n_contacts, n_numbers, clock, rng)
    err.print(f"[bold]dialer demo[/]: {n_contacts} contacts, {n_numbers} numbers, "
              f"SQLite at {db_path}, simulated clock from {clock:%a %Y-%m-%d %H:%M} UTC")
    if chaos:
        err.print("[yellow]--chaos kills actor processes: it needs the real demo (without "
                  "--simulated); running without it")
    with Progress(TextColumn("[progress.description]{task.description}"), BarColumn(),
                  MofNCompleteColumn(), TextColumn("{task.fields[now]}"), TimeElapsedColumn(),
                  console=err, transient=False, disable=quiet) as progress:
        task = progress.add_task("dialling", total=n_contacts, now="")
        clock = _run(sessions, campaign_id, seed, clock, rng,
                     lambda done, at: progress.update(task, completed=done,
                                                      now=f"{at:%a %H:%M} UTC"))
    summary = _summary(sessions, campaign_id, n_contacts, started)
    c, d = dashboard(sessions, campaign_id)
    if not quiet:
        from dialer.render import print_dashboard

        print_dashboard(c, d, out)
        out.print("[dim]Simulated in this mode: " + "; ".join(MISSING) + ".[/]")
    engine.dispose()
    return summary


def _seed(sessions: sessionmaker[Session], n_contacts: int, n_numbers: int, now: datetime,
          rng: random.Random) -> int:
    phones = demo_numbers(n_contacts)
    callers = demo_numbers(n_numbers, offset=7919)
    with sessions.begin() as s:
        settings = t.CallSettings(call_interval_s=5, ring_timeout_s=25, max_retries=2,
                                  retry_interval=timedelta(hours=2),
                                  completion_timeout=timedelta(hours=1),
                                  max_concurrent_calls=4)
        rotation = t.RotationSettings(strategy=t.RotationStrategy.LOCAL_PRESENCE,
                                      max_calls_per_number_per_day=max(
                                          20, n_contacts // max(1, n_numbers)))
        c = CampaignRepo(s).create("Demo", WHO, now, timezone="America/New_York",
                                   settings=settings, rotation=rotation,
                                   notes="dialer demo: simulated callees")
        hours = Schedule(timezone="America/New_York",
                         windows=parse_weekly("mon-fri 09:00-20:00; sat 10:00-16:00"))
        sid = ScheduleRepo(s).create("Demo hours", "America/New_York",
                                     schedule_to_dict(hours), WHO, now)
        CampaignRepo(s).update(c.id, WHO, now, schedule_id=sid)
        add_numbers_and_contacts(s, c.id, callers, phones, now, now, rng)
    return c.id


class SimulatedPlacer:
    """Answers each call from the callee's simulated persona, on the simulated clock.

    Stands where the number actors and the SIP trunk will be (SIP and actors issues).
    """

    def __init__(self, seed: int, rng: random.Random) -> None:
        self.seed = seed
        self.rng = rng

    def place(self, request: DialRequest) -> Future[CallResult]:
        """Resolve at once with a result that ends in simulated time."""
        future: Future[CallResult] = Future()
        future.set_result(plan_call(request, self.rng, self.seed, request.started_at))
        return future


def _run(sessions: sessionmaker[Session], campaign_id: int, seed: int, clock: datetime,
         rng: random.Random, report: Any) -> datetime:
    """Drive the campaign loop on a simulated clock until the campaign completes."""
    loop = CampaignLoop(campaign_id, sessions=sessions, store=MemoryStore(),
                        placer=SimulatedPlacer(seed, rng), owner="demo", rng=rng,
                        trunk_cps=1000.0)
    give_up = clock + timedelta(days=90)
    while clock < give_up:
        tick = loop.tick(clock)
        with sessions() as s:
            done = sum(n for status, n in ContactRepo(s).status_counts(campaign_id).items()
                       if status in _FINAL)
        report(done, clock)
        if tick.completed:
            return clock
        candidates = [x for x in (tick.next_tick_at,) if x is not None]
        candidates += [item.future.result().ended_at for item in loop.in_flight]
        nxt = min(candidates, default=clock + timedelta(minutes=1))
        clock = max(nxt, clock + timedelta(milliseconds=1))
    return clock  # stalled (e.g. every number excluded): the summary shows where it stopped


_FINAL = (t.ContactStatus.COMPLETED, t.ContactStatus.FAILED, t.ContactStatus.NO_CONVERSATION)


def _summary(sessions: sessionmaker[Session], campaign_id: int, n_contacts: int,
             started: float) -> dict[str, Any]:
    with sessions() as s:
        figures = campaign_figures(s, campaign_id)
    return {"contacts": n_contacts, "calls": figures["calls"],
            "by_status": figures["by_status"], "by_answer": figures["by_answer"],
            "amd_accuracy": None, "double_dials": figures["double_dials"],
            "lost_outcomes": figures["lost_outcomes"],
            "elapsed_s": round(wall.monotonic() - started, 2), "simulated": list(MISSING)}
