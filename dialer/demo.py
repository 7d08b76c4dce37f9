"""``dialer demo``: a whole campaign on embedded defaults, on a simulated clock.

Until the SIP, AMD and actors issues land, the demo runs the real domain decisions and
the real storage (SQLite under ``var/``) in one process, against *simulated callees*:
each contact is a seeded persona (human, voicemail, busy, no answer, reject, invalid)
whose answer is drawn where a SIP call will later be placed. Everything else is what
production runs: the atomic claim with fencing, the callee's calling window, business
hours, rotation with daily caps, the retry policy, the completion timeout, the rollup
and the dashboard. The summary says what is still simulated.
"""

from __future__ import annotations

import itertools
import random
import time as wall
from concurrent.futures import Future
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import phonenumbers
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from actors.campaign_loop import CallResult, CampaignLoop, DialRequest
from actors.simcalls import plan_call
from campaigns import types as t
from campaigns.schedule import Schedule, parse_weekly, schedule_to_dict
from storage import models as m
from storage.coordination import MemoryStore
from storage.db import make_engine, session_factory
from storage.migrate import upgrade
from storage.repos import (
    CampaignRepo,
    ContactRepo,
    NewContact,
    NumberRepo,
    ScheduleRepo,
    Who,
)
from storage.services import dashboard

DEMO_DB = Path("var") / "demo.sqlite3"
WHO = Who("demo", "demo")
MISSING = ("SIP calls through pjsua2 and the simulated trunk (SIP issue)",
           "ML answering-machine detection on call audio (AMD issue)",
           "Ray actors per campaign and per number: the campaign loop runs in-process "
           "(actors issue)",
           "voice agent and LLM judging (agent issue)")

# Area codes from several US time zones, so the callee's calling window matters.
_AREAS = ("202", "212", "305", "312", "415", "503", "602", "702", "713", "808", "907",
          "617", "404", "206", "303", "214", "720", "919", "512", "615")
def demo_numbers(count: int, offset: int = 0) -> list[str]:
    """``count`` valid, distinct US numbers (555-01xx in many area codes)."""
    out: list[str] = []
    for i in range(offset, offset + count * 4):
        area = _AREAS[i % len(_AREAS)]
        block = i // len(_AREAS)
        exchange, line = 555, 100 + block % 100
        if block >= 100:
            exchange, line = 200 + block // 100, 1000 + block % 100
        candidate = f"+1{area}{exchange:03d}{line:04d}"
        if phonenumbers.is_valid_number(phonenumbers.parse(candidate)):
            out.append(candidate)
        if len(out) == count:
            return out
    raise ValueError(f"could not make {count} demo numbers")


def run_demo(*, n_contacts: int = 200, n_numbers: int = 4, chaos: bool = False, seed: int = 7,
             quiet: bool = False, db_path: Path = DEMO_DB) -> dict[str, Any]:
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
        err.print("[yellow]--chaos needs the actors issue (actor kills); running without it")
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
        out.print("[dim]Simulated in this build: " + "; ".join(MISSING) + ".[/]")
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
        numbers = NumberRepo(s)
        for e164 in callers:
            numbers.add(e164, WHO, now, friendly_name=f"Demo {e164[2:5]}-{e164[-4:]}")
            numbers.assign(c.id, e164, WHO, now, weight=1)
        priorities = (t.Priority.HIGH, t.Priority.NORMAL, t.Priority.NORMAL, t.Priority.LOW)
        ContactRepo(s).add_many(c.id, [NewContact(p, name=f"Demo contact {i}",
                                                  priority=rng.choice(priorities))
                                       for i, p in enumerate(phones)], now)
        CampaignRepo(s).set_status(c.id, t.CampaignStatus.ACTIVE, WHO, now)
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
        by_status = dict(s.execute(
            select(m.CampaignContact.status, func.count())
            .where(m.CampaignContact.campaign_id == campaign_id)
            .group_by(m.CampaignContact.status)).all())
        by_answer = dict(s.execute(
            select(m.Call.answer_status, func.count()).where(m.Call.campaign_id == campaign_id)
            .group_by(m.Call.answer_status)).all())
        calls = s.scalar(select(func.count()).select_from(m.Call)
                         .where(m.Call.campaign_id == campaign_id)) or 0
        lost = s.scalar(select(func.count()).select_from(m.Call)
                        .where(m.Call.campaign_id == campaign_id, m.Call.state != "ended")) or 0
        double = _double_dials(s, campaign_id)
    return {"contacts": n_contacts, "calls": int(calls),
            "by_status": {k: int(v) for k, v in by_status.items()},
            "by_answer": {str(k): int(v) for k, v in by_answer.items()},
            "amd_accuracy": None, "double_dials": double, "lost_outcomes": int(lost),
            "elapsed_s": round(wall.monotonic() - started, 2),
            "simulated": list(MISSING)}


def _double_dials(s: Session, campaign_id: int) -> int:
    """Calls to one contact that overlapped in time (should always be zero)."""
    rows = s.execute(select(m.Call.campaign_contact_id, m.Call.started_at, m.Call.ended_at)
                     .where(m.Call.campaign_id == campaign_id)
                     .order_by(m.Call.campaign_contact_id, m.Call.started_at)).all()
    overlaps = 0
    for prev, cur in itertools.pairwise(rows):
        if prev[0] == cur[0] and prev[2] is not None and cur[1] < prev[2]:
            overlaps += 1
    return overlaps
