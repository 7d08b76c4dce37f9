"""``dialer demo``: a whole campaign on embedded defaults, for real, on one machine.

What runs is what production runs:

- SQLite under ``var/`` (migrated), the source of truth;
- a local Ray bound to 127.0.0.1 with the supervisor, one campaign actor and one number
  actor per caller ID (each its own worker process owning a pjsua2 endpoint), and the
  in-cluster coordination store (a Ray actor);
- the simulated trunk: one ``dialer sim-trunk`` process per caller ID (pjsua2 takes four
  calls per process; the campaign keeps two per number in flight, so a call that a
  killed actor left on the trunk does not fill it up); callees answer by a seeded,
  realistic mix of scenarios (humans, voicemails with beeps, busy, no answer, rejects,
  silence, fax, early media, invalid numbers) and log the ground truth;
- AMD on every answered call, the scripted agent greeting the humans, the campaign's
  voicemail after the beep, recordings under ``var/recordings``.

The actors live on a weekday at 14:00 in New York (their clock is shifted), so business
hours and every US callee's calling window (Hawaii: 09:00) are open whenever it runs. ``--chaos``
SIGKILLs campaign and number actor processes at random moments; the figures at the end
(double dials, lost outcomes) come from the database. ``--simulated`` runs the campaign
logic alone on a simulated clock (``dialer.demo_simulated``).
"""

from __future__ import annotations

import json
import os
import random
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time as wall
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from campaigns import types as t
from campaigns.lifecycle import FINAL_CONTACT_STATUSES
from campaigns.schedule import Schedule, parse_weekly, schedule_to_dict
from dialer.demo_support import WHO, add_numbers_and_contacts, campaign_figures, demo_numbers
from storage import models as m
from storage.db import make_engine, session_factory
from storage.migrate import upgrade
from storage.repos import (
    AgentRepo,
    CampaignRepo,
    ContactRepo,
    ScheduleRepo,
)
from storage.repos.results import AnalysisRepo, GoalRepo
from storage.services import dashboard

if TYPE_CHECKING:
    from agent.llm import LlmConfig

DATA = Path("var")
DEMO_DB = DATA / "demo.sqlite3"
STALL_S = 180
"""Stop when nothing was in a call and no contact finished for this long."""
ZONE = "America/New_York"

SCENARIO_MIX: dict[str, int] = {
    "human": 30, "human_twice": 5, "early_media": 3, "voicemail": 27, "hangup_greeting": 3,
    "busy": 8, "decline": 5, "no_answer": 10, "silence": 4, "fax": 2, "invalid": 3,
    "short_greeting": 2,
}
"""How the demo's callees answer (weights): roughly what an outbound list gets."""

FIRST_MESSAGE = ("Hi, this is Ava calling from Acme Solar. We are offering free roof "
                 "assessments this month. Would you like to hear more?")
VOICEMAIL = ("Hi, this is Ava from Acme Solar about a free roof assessment. Please call "
             "us back at your convenience. Thank you, goodbye.")


@dataclass
class Chaos:
    """Kills actor processes with SIGKILL at random moments (``--chaos``)."""

    rng: random.Random
    kills: list[str] = field(default_factory=list)
    stop: threading.Event = field(default_factory=threading.Event)

    def run(self, campaign_id: int, numbers: list[str], ray: Any,
            done: Callable[[], float]) -> None:
        """Until ``stop`` or 85 % done: every 10-25 s, kill the campaign actor or a number
        actor (each restarts by itself: ``max_restarts``)."""
        while not self.stop.wait(self.rng.uniform(10.0, 25.0)):
            if done() >= 0.85:
                return
            name = (f"campaign:{campaign_id}" if self.rng.random() < 0.4
                    else f"number:{self.rng.choice(numbers)}")
            try:
                actor = ray.get_actor(name, namespace="dialer")
                pid = int(ray.get(actor.pid.remote(), timeout=10))
                os.kill(pid, signal.SIGKILL)
            except Exception as exc:  # not started yet, or already restarting
                self.kills.append(f"{name}: not killed ({type(exc).__name__})")
                continue
            self.kills.append(f"{name} (pid {pid})")


@dataclass(frozen=True, slots=True)
class FaultContext:
    """What a fault drill (``run_demo(faults=…)``) may act on while the campaign runs."""

    ray: Any
    campaign_id: int
    callers: list[str]
    trunks: SimTrunks
    done: Callable[[], float]
    """Share of contacts finished, 0 to 1."""
    stop: threading.Event


def run_demo(*, n_contacts: int = 60, n_numbers: int = 4, chaos: bool = False, seed: int = 7,
             quiet: bool = False, ray_dashboard: bool = False, judge: LlmConfig | None = None,
             voice: LlmConfig | None = None, db_path: Path = DEMO_DB,
             database_url: str | None = None, redis_url: str | None = None,
             faults: Callable[[FaultContext], list[str]] | None = None) -> dict[str, Any]:
    """Run the demo campaign to completion and return the summary (CONTRACTS.md).

    ``database_url`` (default: SQLite at ``db_path``) is emptied first; ``redis_url``
    puts the coordination store on Redis; ``faults`` runs on a thread during the
    campaign and returns what it did (``bench/load_campaign.py --faults``).
    """
    started = wall.monotonic()
    err = Console(stderr=True, highlight=False)
    out = Console(highlight=False, quiet=quiet)
    rng = random.Random(seed)
    url = database_url or f"sqlite:///{db_path}"
    sessions = _fresh_database(url)
    shift = _clock_shift()
    now = datetime.now(UTC) + timedelta(seconds=shift)
    callers = demo_numbers(n_numbers, offset=7919)
    phones = demo_numbers(n_contacts)
    scenarios = {p: rng.choices(list(SCENARIO_MIX), weights=list(SCENARIO_MIX.values()))[0]
                 for p in phones}
    campaign_id = _seed(sessions, phones, callers, now, rng)
    run_dir = Path(tempfile.mkdtemp(prefix="dialer-demo-"))
    where = f"SQLite at {db_path}" if database_url is None else "PostgreSQL"
    err.print(f"[bold]dialer demo[/]: {n_contacts} contacts, {n_numbers} numbers, "
              f"{where}; actors' clock {now.astimezone(ZoneInfo(ZONE)):%a %H:%M} "
              "in New York")
    with SimTrunks(len(callers), scenarios, run_dir, err) as trunks:
        err.print("starting Ray (local, 127.0.0.1) …")
        ray = _start_ray(run_dir, ray_dashboard, err)
        try:
            kills = _dial(ray, sessions, campaign_id, url, redis_url, trunks, callers, shift,
                          chaos, rng, n_contacts, err, voice, faults)
        finally:
            ray.shutdown()
    summary = _summary(sessions, campaign_id, n_contacts, trunks_truth(run_dir), shift,
                       started, kills)
    if judge is not None:
        summary["goals"] = _judge(sessions, campaign_id, judge, shift, err)
    if not quiet:
        from dialer.render import print_dashboard

        c, d = dashboard(sessions, campaign_id)
        print_dashboard(c, d, out)
        _print_call_table(sessions, campaign_id, summary, out)
    return summary


# --- set-up ------------------------------------------------------------------------------

def _fresh_database(url: str) -> sessionmaker[Session]:
    if url.startswith("sqlite:///"):
        db_path = Path(url.removeprefix("sqlite:///"))
        db_path.parent.mkdir(parents=True, exist_ok=True)
        for suffix in ("", "-wal", "-shm"):
            Path(f"{db_path}{suffix}").unlink(missing_ok=True)
    engine = make_engine(url)
    if not url.startswith("sqlite"):
        with engine.begin() as conn:  # a demo database: start from nothing
            conn.exec_driver_sql("DROP SCHEMA IF EXISTS public CASCADE")
            conn.exec_driver_sql("CREATE SCHEMA public")
    upgrade(engine)
    return session_factory(engine)


def _clock_shift() -> float:
    """Seconds that move the wall clock to the coming Tuesday 14:00 in New York."""
    now = datetime.now(UTC)
    local = now.astimezone(ZoneInfo(ZONE))
    days = (1 - local.weekday()) % 7
    at = (local + timedelta(days=days)).replace(hour=14, minute=0, second=0, microsecond=0)
    return (at - now).total_seconds()


def _seed(sessions: sessionmaker[Session], phones: list[str], callers: list[str],
          now: datetime, rng: random.Random) -> int:
    with sessions.begin() as s:
        settings = t.CallSettings(call_interval_s=5, ring_timeout_s=15, max_retries=1,
                                  retry_interval=timedelta(minutes=1),
                                  completion_timeout=timedelta(0),
                                  max_concurrent_calls=2 * len(callers),
                                  machine_action=t.MachineAction.LEAVE_VOICEMAIL)
        rotation = t.RotationSettings(strategy=t.RotationStrategy.ROUND_ROBIN,
                                      max_calls_per_number_per_day=1000)
        campaigns = CampaignRepo(s)
        c = campaigns.create("Demo", WHO, now, timezone=ZONE, settings=settings,
                             rotation=rotation, notes="dialer demo: simulated trunk")
        agent = AgentRepo(s).create("Ava (scripted)", WHO, now, first_message=FIRST_MESSAGE,
                                    voicemail_message=VOICEMAIL,
                                    instructions="Offer a free roof assessment.")
        hours = Schedule(timezone=ZONE, windows=parse_weekly("mon-fri 09:00-20:00"))
        sid = ScheduleRepo(s).create("Demo hours", ZONE, schedule_to_dict(hours), WHO, now)
        campaigns.update(c.id, WHO, now, schedule_id=sid, agent_id=agent)
        GoalRepo(s).add(c.id, "Book a roof assessment", WHO, now, primary=True,
                        description="The callee agrees to a free roof assessment visit.")
        GoalRepo(s).add(c.id, "Reach the homeowner", WHO, now,
                        description="The person on the phone owns the home.")
        AnalysisRepo(s).add(c.id, t.Analysis(
            id=0, name="Interested", question="Did the callee show interest in solar?",
            kind=t.AnalysisKind.YES_NO), WHO, now)
        add_numbers_and_contacts(s, c.id, callers, phones, now - timedelta(minutes=1), now,
                                 rng)
    return c.id


def _free_port() -> int:
    for _ in range(50):
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as udp:
            udp.bind(("127.0.0.1", 0))
            port = int(udp.getsockname()[1])
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as tcp:
            try:
                tcp.bind(("127.0.0.1", port))
            except OSError:
                continue
        return port
    raise OSError("no free port for the simulated trunk")


class SimTrunks:
    """``count`` simulated trunk processes (4 calls each) that a fault drill may stop,
    restart, or restart failing (``--reject``); all stopped on the way out."""

    def __init__(self, count: int, scenarios: dict[str, str], run_dir: Path,
                 err: Console) -> None:
        self.run_dir = run_dir
        self.mapping = run_dir / "scenarios.json"
        self.mapping.write_text(json.dumps(scenarios))
        self.procs: list[subprocess.Popen[bytes] | None] = [None] * count
        self.ports = [_free_port() for _ in range(count)]
        self.restarts = [0] * count
        self.err = err

    def __enter__(self) -> SimTrunks:
        try:
            for i in range(len(self.ports)):
                self._spawn(i, None)
            for i in range(len(self.ports)):
                self._wait(i)
        except BaseException:
            self.__exit__()
            raise
        self.err.print(f"simulated trunk: {len(self.ports)} process(es) on 127.0.0.1 ports "
                       f"{', '.join(map(str, self.ports))}")
        return self

    def __exit__(self, *exc: object) -> None:
        for i in range(len(self.procs)):
            self.stop(i, kill=False)

    def _spawn(self, i: int, reject: int | None) -> None:
        # Each (re)start logs ground truth to its own file: a killed process's last
        # lines are never interleaved with its successor's.
        truth = self.run_dir / f"truth-{i}-{self.restarts[i]}.jsonl"
        args = [sys.executable, "-c", "from dialer.cli import main; main()", "sim-trunk",
                "--port", str(self.ports[i]), "--scenarios", str(self.mapping),
                "--truth", str(truth)]
        if reject is not None:
            args += ["--reject", str(reject)]
        self.procs[i] = subprocess.Popen(
            args, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
            stderr=open(self.run_dir / f"trunk-{i}.log", "ab"))  # noqa: SIM115
        self.restarts[i] += 1

    def _wait(self, i: int) -> None:
        proc = self.procs[i]
        if proc is not None:
            _wait_listening(proc, self.ports[i])

    def stop(self, i: int, *, kill: bool = True) -> None:
        """Stop trunk ``i`` (SIGKILL: calls on it vanish without a BYE)."""
        proc, self.procs[i] = self.procs[i], None
        if proc is None:
            return
        if kill:
            proc.kill()
        else:
            proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=10)

    def start(self, i: int, reject: int | None = None) -> None:
        """(Re)start trunk ``i`` on its port; ``reject``: answer every INVITE so."""
        self.stop(i)
        self._spawn(i, reject)
        self._wait(i)


def _wait_listening(proc: subprocess.Popen[bytes], port: int) -> None:
    deadline = wall.monotonic() + 120  # 20 processes importing pjsua2 on 2 busy cores
    while wall.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"the simulated trunk exited with {proc.returncode}")
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
            probe.settimeout(0.2)
            if probe.connect_ex(("127.0.0.1", port)) == 0:
                return
        wall.sleep(0.2)
    raise RuntimeError("the simulated trunk did not start listening")


def _start_ray(run_dir: Path, with_dashboard: bool, err: Console) -> Any:
    # Keep every Ray listener on 127.0.0.1 and nothing phoning home (FACTS.md).
    os.environ.setdefault("RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER", "0")
    os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")
    os.environ.setdefault("RAY_AUTH_MODE", "disabled")
    import ray

    temp = Path("/tmp") / f"ray-demo-{os.getpid()}"  # Ray's socket paths must stay short
    temp.mkdir(exist_ok=True)
    context = ray.init(num_cpus=max(2, os.cpu_count() or 2), namespace="dialer",
                       include_dashboard=with_dashboard, dashboard_host="127.0.0.1",
                       _temp_dir=str(temp), log_to_driver=False,
                       configure_logging=False)
    if with_dashboard and getattr(context, "dashboard_url", None):
        err.print(f"Ray dashboard: http://{context.dashboard_url}")
    return ray


# --- the run -----------------------------------------------------------------------------

def _dial(ray: Any, sessions: sessionmaker[Session], campaign_id: int, url: str,
          redis_url: str | None, trunks: SimTrunks, callers: list[str], shift: float,
          chaos: bool, rng: random.Random, n_contacts: int, err: Console,
          voice: LlmConfig | None,
          faults: Callable[[FaultContext], list[str]] | None) -> list[str]:
    from actors.runtime import RuntimeConfig, start_supervisor
    from sip.types import TrunkConfig

    config = RuntimeConfig(
        database_url=url, redis_url=redis_url, trunk_cps=20.0, seed=rng.randrange(1 << 30),
        clock_shift_s=shift, lease_s=20.0, call_lease_s=150.0, sip_bind="127.0.0.1",
        trunk_by_number=tuple((n, TrunkConfig(host="127.0.0.1", port=p))
                              for n, p in zip(callers, trunks.ports, strict=True)),
        recordings_dir=str(DATA / "recordings"), agent_max_s=45.0, voice=voice)
    supervisor = start_supervisor(config)
    monkey = Chaos(random.Random(rng.random())) if chaos else None
    progress = _Progress(sessions, campaign_id, n_contacts)
    chaos_thread = None
    if monkey is not None:
        chaos_thread = threading.Thread(
            target=monkey.run, args=(campaign_id, callers, ray, progress.fraction_done),
            daemon=True, name="chaos")
        chaos_thread.start()
    drill: list[str] = []
    drill_stop = threading.Event()
    drill_thread = None
    if faults is not None:
        context = FaultContext(ray, campaign_id, callers, trunks, progress.fraction_done,
                               drill_stop)
        drill_thread = threading.Thread(target=lambda: drill.extend(faults(context)),
                                        daemon=True, name="faults")
        drill_thread.start()
    try:
        with Progress(TextColumn("[progress.description]{task.description}"), BarColumn(),
                      MofNCompleteColumn(), TextColumn("{task.fields[detail]}"),
                      TimeElapsedColumn(), console=err, transient=False) as bar:
            task = bar.add_task("contacts done", total=n_contacts, detail="")
            last_change, last_done = wall.monotonic(), -1
            next_reconcile = next_line = 0.0
            while True:
                try:
                    if wall.monotonic() >= next_reconcile:
                        ray.get(supervisor.reconcile.remote(), timeout=60)
                        next_reconcile = wall.monotonic() + 2.0
                    snap = progress.snapshot()
                except Exception as exc:  # the database is away (a fault drill): wait
                    err.print(f"[yellow]progress unavailable: {type(exc).__name__}")
                    last_change = wall.monotonic()
                    wall.sleep(2.0)
                    continue
                kills = f" · chaos kills {len(monkey.kills)}" if monkey else ""
                bar.update(task, completed=snap.done, detail=snap.line + kills)
                if not err.is_terminal and wall.monotonic() >= next_line:
                    # No live bar on a pipe or CI log: a plain line every 10 s instead.
                    err.print(f"{snap.done}/{n_contacts} contacts done · {snap.line}{kills}")
                    next_line = wall.monotonic() + 10.0
                if snap.status is not t.CampaignStatus.ACTIVE and not (
                        faults is not None and snap.status is t.CampaignStatus.PAUSED):
                    break  # a fault drill resumes an auto-paused campaign, as a person would
                if snap.done != last_done or snap.in_flight:
                    last_change, last_done = wall.monotonic(), snap.done
                elif wall.monotonic() - last_change > STALL_S:
                    err.print(f"[red]nothing dialled for {STALL_S} s: stopping the demo "
                              "(see the contacts' final_reason)")
                    break
                wall.sleep(0.5)
    finally:
        if monkey is not None:
            monkey.stop.set()
        if chaos_thread is not None:
            chaos_thread.join(timeout=15)
        drill_stop.set()
        if drill_thread is not None:
            drill_thread.join(timeout=120)
        err.print("shutting down: campaigns stop, calls in flight are hung up and recorded …")
        try:
            ray.get(supervisor.shutdown.remote(), timeout=120)
        except Exception as exc:  # report it; the figures still come from the database
            err.print(f"[yellow]shutdown: {type(exc).__name__}: {exc}")
    return (monkey.kills if monkey else []) + drill


@dataclass(frozen=True, slots=True)
class _Snapshot:
    done: int
    status: t.CampaignStatus
    line: str
    in_flight: int


class _Progress:
    """Reads the live figures from the database (what the dashboard would show)."""

    def __init__(self, sessions: sessionmaker[Session], campaign_id: int, total: int) -> None:
        self.sessions = sessions
        self.campaign_id = campaign_id
        self.total = total
        self._done = 0

    def snapshot(self) -> _Snapshot:
        with self.sessions() as s:
            status = CampaignRepo(s).get(self.campaign_id).status
            counts = ContactRepo(s).status_counts(self.campaign_id)
            answers = Counter(str(a) for a in s.scalars(
                select(m.Call.answer_status).where(m.Call.campaign_id == self.campaign_id,
                                                   m.Call.state == "ended")))
            in_flight = s.scalar(select(func.count()).select_from(m.Call).where(
                m.Call.campaign_id == self.campaign_id, m.Call.state != "ended")) or 0
        self._done = sum(n for k, n in counts.items() if k in FINAL_CONTACT_STATUSES)
        top = ", ".join(f"{k} {n}" for k, n in answers.most_common(5))
        return _Snapshot(self._done, status, f"in call {in_flight} · {top}", in_flight)

    def fraction_done(self) -> float:
        return self._done / max(1, self.total)


# --- the figures -------------------------------------------------------------------------

def _judge(sessions: sessionmaker[Session], campaign_id: int, config: LlmConfig,
           shift: float, err: Console) -> dict[str, int]:
    """Judge every conversation (the demo does not wait out a completion timeout)."""
    from actors.judging import rejudge
    from agent.judging import Judge

    err.print(f"judging the conversations with {config.model} …")
    with Judge(config) as judge:
        report = rejudge(sessions, campaign_id, judge,
                         datetime.now(UTC) + timedelta(seconds=shift))
    counts = {r.value: n for r, n in report.primary.items()}
    return {k.value: int(counts.get(k.value, 0)) for k in t.GoalResult}

def trunks_truth(run_dir: Path) -> list[dict[str, Any]]:
    """Every ground-truth line the simulated trunks logged."""
    lines: list[dict[str, Any]] = []
    for path in sorted(run_dir.glob("truth-*.jsonl")):
        for line in path.read_text(encoding="utf-8").splitlines():
            if line.strip():
                lines.append(json.loads(line))
    return lines


AMD_LABELS = ("human", "machine", "silence", "fax")


def amd_scores(calls: list[m.Call], truth: list[dict[str, Any]],
               shift: float) -> dict[str, Any]:
    """AMD against the trunk's ground truth: each answered call is matched to the truth
    line of the same number whose start is nearest (within 10 s)."""
    by_number: dict[str, list[dict[str, Any]]] = {}
    for line in truth:
        by_number.setdefault("+" + str(line["number"]).lstrip("+"), []).append(line)
    confusion: Counter[tuple[str, str]] = Counter()
    for call in calls:
        if not call.amd_label:
            continue
        started = call.started_at.timestamp() - shift
        candidates = [x for x in by_number.get(call.to_number, [])
                      if abs(float(x["ts"]) - started) < 10 and x.get("answered")]
        if not candidates:
            continue
        line = min(candidates, key=lambda x: abs(float(x["ts"]) - started))
        if line["truth"] in AMD_LABELS:
            confusion[(str(line["truth"]), call.amd_label)] += 1
    judged = sum(confusion.values())
    correct = sum(n for (truth_label, got), n in confusion.items() if truth_label == got)
    hm = {k: n for k, n in confusion.items() if k[0] in ("human", "machine")}
    hm_total = sum(hm.values())
    return {
        "amd_accuracy": round(correct / judged, 3) if judged else None,
        "amd_human_machine_accuracy": round(
            sum(n for (a, b), n in hm.items() if a == b) / hm_total, 3) if hm_total else None,
        "amd_judged": judged,
        "amd_confusion": {f"{a}->{b}": n for (a, b), n in sorted(confusion.items())},
    }


def _summary(sessions: sessionmaker[Session], campaign_id: int, n_contacts: int,
             truth: list[dict[str, Any]], shift: float, started: float,
             kills: list[str]) -> dict[str, Any]:
    with sessions() as s:
        figures = campaign_figures(s, campaign_id)
        calls = list(s.scalars(select(m.Call).where(m.Call.campaign_id == campaign_id)))
    amd = amd_scores(calls, truth, shift)
    humans = [c for c in calls if c.answer_status == t.AnswerStatus.HUMAN.value]
    delays = sorted(c.greet_delay_ms for c in humans if c.greet_delay_ms is not None)
    return {
        "contacts": n_contacts, "calls": figures["calls"],
        "by_status": figures["by_status"], "by_answer": figures["by_answer"],
        "amd_accuracy": amd["amd_accuracy"], "double_dials": figures["double_dials"],
        "lost_outcomes": figures["lost_outcomes"],
        "elapsed_s": round(wall.monotonic() - started, 2),
        "amd_human_machine_accuracy": amd["amd_human_machine_accuracy"],
        "amd_judged": amd["amd_judged"], "amd_confusion": amd["amd_confusion"],
        "voicemails_left": sum(1 for c in calls if c.voicemail_left),
        "abandon_rate": round(sum(1 for c in humans if c.abandoned) / len(humans), 3)
        if humans else None,
        "greet_delay_ms_p50": delays[len(delays) // 2] if delays else None,
        "chaos_kills": kills,
    }


def _print_call_table(sessions: sessionmaker[Session], campaign_id: int,
                      summary: dict[str, Any], out: Console) -> None:
    from rich.table import Table

    table = Table(title="Calls and AMD", show_header=True)
    for column in ("figure", "value"):
        table.add_column(column)
    rows = [
        ("calls placed", summary["calls"]),
        ("AMD accuracy (vs the trunk's truth)", summary["amd_accuracy"]),
        ("AMD human vs machine", summary["amd_human_machine_accuracy"]),
        ("AMD confusion (truth->verdict)", ", ".join(
            f"{k} {v}" for k, v in summary["amd_confusion"].items())),
        ("voicemails left after the beep", summary["voicemails_left"]),
        ("abandon rate (humans not greeted in 2 s)", summary["abandon_rate"]),
        ("greet delay p50 (ms)", summary["greet_delay_ms_p50"]),
        ("double dials / lost outcomes",
         f"{summary['double_dials']} / {summary['lost_outcomes']}"),
        ("chaos kills", len(summary["chaos_kills"])),
    ]
    for name, value in rows:
        table.add_row(name, "—" if value is None else str(value))
    out.print(table)
    out.print(f"[dim]Recordings: {DATA / 'recordings' / str(campaign_id)}[/]")
