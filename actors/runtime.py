"""Ray actors: the supervisor, one actor per campaign and one per phone number.

Names (namespace ``dialer``) make them readable on the Ray dashboard:
``supervisor``, ``campaign:<id>``, ``number:<e164>``, ``store`` (the in-cluster
coordination store used when no ``REDIS_URL`` is set). Every ``ray.remote`` option is
applied in ``actor_options``. The actor classes are plain classes; their logic lives in
``CampaignLoop`` and the storage layer, so a restarted actor rebuilds from the database.

Placing calls: with a trunk configured, a number actor owns its process's SIP engine
(pjsua2 allows one Endpoint per process; Ray gives each actor its own worker process)
and runs every call through ``actors.callflow``: AMD on the answer, the voice agent on a
human, the voicemail drop on a machine. Without a trunk (tests, the simulated-clock
demo) calls go to the simulated callees of ``actors.simcalls``.
"""

from __future__ import annotations

import concurrent.futures
import contextlib
import logging
import os
import random
import threading
import time
from collections.abc import Callable
from concurrent.futures import Future
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

import ray

from actors.campaign_loop import (
    SYSTEM,
    CallResult,
    CampaignLoop,
    DialRequest,
    LoopDriver,
    record_call,
)
from actors.metrics import CallMetrics
from actors.simcalls import simulate_call
from campaigns import types as t
from campaigns.health import AbandonSettings
from sip.types import TrunkConfig

if TYPE_CHECKING:
    from agent.llm import LlmConfig
from storage.coordination import CoordinationStore, MemoryStore, RedisStore, StoredEvent
from storage.db import make_engine, session_factory
from storage.repos import AuditRepo, CampaignRepo, NumberRepo

log = logging.getLogger(__name__)

NAMESPACE = "dialer"
TICK_AT_MOST = 1.0
"""Seconds between ticks at most: a pause or cancel takes effect within this."""


@dataclass(frozen=True, slots=True)
class RuntimeConfig:
    """What every actor needs to rebuild itself (picklable, no secrets in logs: the URLs,
    which may hold passwords, are left out of its repr)."""

    database_url: str = field(repr=False)
    redis_url: str | None = field(default=None, repr=False)
    trunk_cps: float = 10.0
    time_scale: float = 1.0
    seed: int = 7
    clock_shift_s: float = 0.0
    lease_s: float = 900.0
    """A claim's lease until its call row is written (then ``call_lease_s``)."""
    call_lease_s: float = 900.0
    """A claim's lease once its call is under way: longer than any call."""
    """Seconds added to the wall clock (demos and tests that must run at a set hour)."""
    sip_resource: str | None = None
    """A custom Ray resource number actors need (SIP-capable nodes, ray_cluster.yaml)."""
    trunk: TrunkConfig | None = None
    """Where calls go; None: simulated callees (no SIP)."""
    trunk_by_number: tuple[tuple[str, TrunkConfig], ...] = ()
    """Per caller ID trunks (the demo gives each number its own simulated trunk
    process); numbers not listed use ``trunk``."""
    sip_bind: str | None = None
    """Local address for SIP and RTP (None: pjsua2's default interface)."""
    recordings_dir: str | None = None
    """Where call recordings go (None: no recordings)."""
    abandon_limit: float = 0.03
    agent_max_s: float = 180.0
    reply_window_ms: int = 8000
    """After a machine verdict on a hang-up campaign, hold the call this long for the beep
    or a person's reply (``FlowSettings.reply_window_ms``)."""
    judge: LlmConfig | None = None
    """The OpenAI-compatible server that judges conversations (None: no judging)."""
    voice: LlmConfig | None = None
    """The Realtime server the voice agent talks through (None: the scripted agent);
    ``model`` is the default for agents that name none."""
    judge_every_s: float = 30.0

    def now(self) -> datetime:
        """The actors' clock: the wall clock, shifted."""
        return datetime.now(UTC) + timedelta(seconds=self.clock_shift_s)

    def trunk_for(self, e164: str) -> TrunkConfig | None:
        """The trunk a number's calls go through."""
        for number, trunk in self.trunk_by_number:
            if number == e164:
                return trunk
        return self.trunk


def actor_options(kind: str, name: str, **extra: Any) -> dict[str, Any]:
    """The one place that decides how actors are created."""
    options: dict[str, Any] = {
        "name": name, "namespace": NAMESPACE, "get_if_exists": True,
        "max_restarts": -1, "max_task_retries": 0, "num_cpus": 0,
    }
    if kind in ("number", "store"):
        # Shared by every campaign: detached, so they outlive the campaign actor that
        # happened to create them (an owned actor dies with its owner, calls and all).
        options["lifetime"] = "detached"
    if kind == "number":
        options["max_concurrency"] = 4  # pjsua2 allows 4 calls per process (FACTS.md)
    elif kind in ("campaign", "store", "supervisor"):
        options["max_concurrency"] = 8
    options.update(extra)
    return options


# --- the in-cluster coordination store ---------------------------------------------------

class StoreActor:
    """``MemoryStore`` in one actor, so every process in the cluster shares it."""

    def __init__(self) -> None:
        self.store = MemoryStore()

    def call(self, method: str, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
        """Run one store method."""
        return getattr(self.store, method)(*args, **kwargs)


class ActorStore:
    """A ``CoordinationStore`` client that talks to the ``store`` actor."""

    def __init__(self, handle: Any) -> None:
        self.handle = handle

    def _call(self, method: str, *args: Any, **kwargs: Any) -> Any:
        return ray.get(self.handle.call.remote(method, args, kwargs))

    def incr_capped(self, key: str, cap: int, *, ttl_s: int = 172_800) -> Any:
        """See ``CoordinationStore``."""
        return self._call("incr_capped", key, cap, ttl_s=ttl_s)

    def count(self, key: str) -> int:
        """See ``CoordinationStore``."""
        return int(self._call("count", key))

    def release(self, key: str) -> int:
        """See ``CoordinationStore``."""
        return int(self._call("release", key))

    def take_token(self, bucket: str, *, rate: float, burst: int) -> float:
        """See ``CoordinationStore``."""
        return float(self._call("take_token", bucket, rate=rate, burst=burst))

    def publish(self, stream: str, data: dict[str, Any]) -> str:
        """See ``CoordinationStore``."""
        return str(self._call("publish", stream, data))

    def read(self, stream: str, *, after: str = "0", count: int = 100) -> list[StoredEvent]:
        """See ``CoordinationStore``."""
        return list(self._call("read", stream, after=after, count=count))

    def wake(self, channel: str) -> None:
        """See ``CoordinationStore``."""
        self._call("wake", channel)

    def wait(self, channel: str, timeout_s: float) -> bool:
        """See ``CoordinationStore`` (polls, so the store actor is never blocked)."""
        deadline = time.monotonic() + timeout_s
        while True:
            if bool(self._call("wait", channel, 0.0)):
                return True
            if time.monotonic() >= deadline:
                return False
            time.sleep(min(0.05, max(0.0, deadline - time.monotonic())))


def coordination_store(config: RuntimeConfig) -> CoordinationStore:
    """Redis when configured, else the cluster's ``store`` actor."""
    if config.redis_url:
        return RedisStore(config.redis_url)
    handle = ray.remote(StoreActor).options(**actor_options("store", "store")).remote()
    return ActorStore(handle)


# --- phone numbers -----------------------------------------------------------------------

class PhoneNumberActor:
    """Places the calls of one caller-ID number, up to four at a time."""

    def __init__(self, e164: str, config: RuntimeConfig) -> None:
        self.e164 = e164
        self.config = config
        self.sessions = session_factory(make_engine(config.database_url))
        self.rng = random.Random(f"{config.seed}:{e164}")
        self.active = 0
        self.placed = 0
        self.lock = threading.Lock()
        self.idle = threading.Condition(self.lock)
        self.closing = False
        self.engine: Any = None
        self.gates: dict[TrunkConfig, Any] = {}
        self.metrics = CallMetrics()

    def place(self, request: DialRequest) -> CallResult:
        """Place one call and return how it ended (blocks for the call's duration)."""
        with self.lock:
            if self.closing:
                raise RuntimeError(f"number {self.e164} is shutting down")
            self.active += 1
            self.placed += 1
            rng = random.Random(self.rng.random())
            self.metrics.started(request, self.active)
        result: CallResult | None = None
        try:
            trunk = self.config.trunk_for(self.e164)
            if trunk is None:
                result = simulate_call(request, rng, self.config.now, self.config.time_scale,
                                       self.config.seed)
            else:
                result = self._sip_call(request, trunk)
            try:
                record_call(self.sessions, request, result)
            except Exception:  # the campaign actor (or the lease reaper) records it
                log.exception("could not record a call", extra={"call": request.call_id})
                return result
            self._publish_number_state()
            return replace(result, recorded=True)
        finally:
            with self.lock:
                self.active -= 1
                if result is not None:
                    self.metrics.ended(request, result, self.active)
                self.idle.notify_all()

    def _sip_call(self, request: DialRequest, trunk: TrunkConfig) -> CallResult:
        """One real call through this process's SIP engine (see ``actors.callflow``)."""
        from actors.sipcalls import TrunkGate, place_sip_call

        engine = self._engine()
        with self.lock:
            gate = self.gates.get(trunk)
            if gate is None:
                gate = self.gates[trunk] = TrunkGate(engine, trunk, self._trunk_failing)
        return place_sip_call(engine, request, trunk, self.config, gate=gate)

    def _trunk_failing(self, reason: str) -> None:
        """Audited by the system: Slack sends the trunk-failing alert."""
        log.warning("trunk failing: %s", reason)
        with self.sessions.begin() as s:
            AuditRepo(s).record(SYSTEM, "trunk.failing", "trunk", self.e164, self.config.now(),
                                {"reason": reason, "number": self.e164})

    def _engine(self) -> Any:
        with self.lock:
            if self.engine is None:
                from sip.engine import EngineConfig, SipEngine

                self.engine = SipEngine(EngineConfig(bind_address=self.config.sip_bind,
                                                     user_agent=f"dialer {self.e164}"))
            return self.engine

    def shutdown(self, timeout_s: float = 30.0) -> dict[str, Any]:
        """Hang up every live call (a killed process sends no BYE), let the outcomes be
        recorded, then tear the SIP engine down in pjsua2's order."""
        deadline = time.monotonic() + timeout_s
        with self.lock:
            self.closing = True
            while self.active and time.monotonic() < deadline:
                # Again and again: a call that was being set up when we started (the
                # engine still starting, the INVITE still queued) is hung up as well.
                if self.engine is not None:
                    self.engine.hangup_all()
                self.idle.wait(timeout=0.5)
            left = self.active
            engine, self.engine = self.engine, None
        if engine is not None:
            engine.shutdown()
        return {"number": self.e164, "unfinished_calls": left}

    def __ray_shutdown__(self) -> None:
        """Ray's graceful exit hook (``ray.kill`` without ``no_restart`` skips it)."""
        self.shutdown(timeout_s=10.0)

    def _publish_number_state(self) -> None:
        with self.sessions() as s:
            row = NumberRepo(s).row(self.e164)
            self.metrics.number_state(self.e164, row.spam_score, row.calls_today)

    def pid(self) -> int:
        """The actor's worker process (for ``dialer demo --chaos``)."""
        return os.getpid()

    def state(self) -> dict[str, Any]:
        """What the Ray dashboard and ``dialer status`` show."""
        engine = self.engine
        return {"number": self.e164, "active_calls": self.active, "placed": self.placed,
                "sip_calls": engine.active_calls() if engine is not None else 0,
                "node_id": ray.get_runtime_context().get_node_id(),
                "metrics": self.metrics.snapshot()}


class RayPlacer:
    """A ``CallPlacer`` that sends each call to its caller ID's number actor."""

    def __init__(self, config: RuntimeConfig) -> None:
        self.config = config
        self.handles: dict[str, Any] = {}

    def place(self, request: DialRequest) -> Future[CallResult]:
        """Route to ``number:<caller_id>`` and return the call's future."""
        handle: Any = self.handles.get(request.caller_id)
        if handle is None:
            extra = ({"resources": {self.config.sip_resource: 1}}
                     if self.config.sip_resource else {})
            handle = ray.remote(PhoneNumberActor).options(
                **actor_options("number", f"number:{request.caller_id}", **extra)).remote(
                    request.caller_id, self.config)
            self.handles[request.caller_id] = handle
        future: Future[CallResult] = handle.place.remote(request).future()
        return future


# --- campaigns ---------------------------------------------------------------------------

class CampaignActor:
    """Runs one campaign's dial loop on a thread; rebuilds everything on restart."""

    def __init__(self, campaign_id: int, config: RuntimeConfig) -> None:
        self.campaign_id = campaign_id
        self.config = config
        self.sessions = session_factory(make_engine(config.database_url))
        self.store = coordination_store(config)
        self.loop = CampaignLoop(campaign_id, sessions=self.sessions, store=self.store,
                                 placer=RayPlacer(config), owner=f"campaign:{campaign_id}",
                                 rng=random.Random(config.seed), trunk_cps=config.trunk_cps,
                                 lease=timedelta(seconds=config.lease_s),
                                 call_lease=timedelta(seconds=config.call_lease_s),
                                 abandon=AbandonSettings(limit=config.abandon_limit))
        self.driver = LoopDriver(self.loop, config.now, TICK_AT_MOST)
        self.stopped = threading.Event()
        self.thread = threading.Thread(target=self._run, name=f"campaign-{campaign_id}",
                                       daemon=True)
        self.thread.start()
        self.judged = 0
        if config.judge is not None:
            # Judging waits on an LLM (and its retries): never on the dialling thread.
            threading.Thread(target=self._judge_loop, name=f"judge-{campaign_id}",
                             daemon=True).start()

    def _judge_loop(self) -> None:
        from actors.judging import judge_due
        from agent.judging import Judge

        with Judge(self.config.judge) as judge:
            while not self.stopped.wait(self.config.judge_every_s):
                try:
                    report = judge_due(self.sessions, self.campaign_id, judge,
                                       self.config.now())
                    self.judged += report.contacts
                except Exception:  # a database hiccup: try again on the next round
                    log.exception("judging failed", extra={"campaign": self.campaign_id})

    def _run(self) -> None:
        self.driver.run(self.stopped)

    def pid(self) -> int:
        """The actor's worker process (for ``dialer demo --chaos``)."""
        return os.getpid()

    def state(self) -> dict[str, Any]:
        """Custom state for the dashboard: in flight, ticks, calls placed, last error."""
        d = self.driver
        return {"campaign_id": self.campaign_id, "in_flight": len(self.loop.in_flight),
                "ticks": d.ticks, "placed": d.placed, "completed": d.done,
                "judged": self.judged, "breaker": self.loop.breaker_state.phase.value,
                "concurrency_limit": self.loop.limit,
                "last_error": d.last_error}

    def halt(self) -> None:
        """Stop claiming new contacts (calls in flight go on)."""
        self.stopped.set()
        self.thread.join(timeout=5)

    def hang_up(self) -> list[dict[str, Any]]:
        """Shut down every number actor this campaign placed calls through (they hang up
        their calls and record them); for a graceful stop of the whole dialer."""
        placer = self.loop.placer
        handles = list(placer.handles.values()) if isinstance(placer, RayPlacer) else []
        return call_each(handles, "shutdown")

    def stop(self, timeout_s: float = 120.0) -> dict[str, Any]:
        """Stop claiming, let calls in flight finish and record them, then stop."""
        self.halt()
        deadline = time.monotonic() + timeout_s
        while self.loop.in_flight and time.monotonic() < deadline:
            concurrent.futures.wait([i.future for i in self.loop.in_flight], timeout=1.0)
            self.loop.collect(self.config.now())
        return self.state()


# --- the supervisor ----------------------------------------------------------------------

class Supervisor:
    """Keeps one campaign actor per active campaign, reconciled from the database."""

    def __init__(self, config: RuntimeConfig) -> None:
        self.config = config
        self.sessions = session_factory(make_engine(config.database_url))
        self.campaigns: dict[int, Any] = {}

    def reconcile(self) -> dict[str, Any]:
        """Start actors for active campaigns; stop those whose campaign is not active."""
        with self.sessions() as s:
            active = {c.campaign.id for c in CampaignRepo(s).list(
                statuses=[t.CampaignStatus.ACTIVE])}
            numbers = [n.e164 for n in NumberRepo(s).list()]
        for campaign_id in active - set(self.campaigns):
            self.campaigns[campaign_id] = ray.remote(CampaignActor).options(
                **actor_options("campaign", f"campaign:{campaign_id}")).remote(
                    campaign_id, self.config)
        for campaign_id in set(self.campaigns) - active:
            handle = self.campaigns.pop(campaign_id)
            ray.get(handle.stop.remote())
            ray.kill(handle, no_restart=True)
        return {"campaigns": sorted(self.campaigns), "numbers": numbers}

    def states(self) -> list[dict[str, Any]]:
        """Every campaign actor's state."""
        return list(ray.get([h.state.remote() for h in self.campaigns.values()]))

    def shutdown(self) -> dict[str, Any]:
        """Stop gracefully: campaigns stop claiming, number actors hang up their calls
        (BYE/CANCEL: a killed process sends none) and record the outcomes, campaigns
        collect what is left, then every actor goes."""
        ray.get([h.halt.remote() for h in self.campaigns.values()])
        reports: list[dict[str, Any]] = [
            r for rs in call_each(list(self.campaigns.values()), "hang_up") for r in rs]
        numbers: list[Any] = []
        with self.sessions() as s:
            names = [f"number:{n.e164}" for n in NumberRepo(s).list()]
        for name in names:
            try:
                numbers.append(ray.get_actor(name, namespace=NAMESPACE))
            except ValueError:
                continue  # never placed a call: no actor
        reports += call_each(numbers, "shutdown")
        call_each(list(self.campaigns.values()), "stop")
        for handle in [*self.campaigns.values(), *numbers]:
            ray.kill(handle, no_restart=True)
        with contextlib.suppress(ValueError):  # the in-cluster store, when there is one
            ray.kill(ray.get_actor("store", namespace=NAMESPACE), no_restart=True)
        self.campaigns.clear()
        return {"unfinished_calls": sum(int(r["unfinished_calls"]) for r in reports)}


def call_each(handles: list[Any], method: str, *, attempts: int = 60) -> list[Any]:
    """Call ``method`` on every actor at once and gather the answers. An actor that is
    restarting (SIGKILLed a moment ago) is asked again once a second until it is back;
    one that is gone for good is left out (logged): a stop must not fail on either."""
    pending = {i: getattr(h, method).remote() for i, h in enumerate(handles)}
    results: dict[int, Any] = {}
    for _ in range(attempts):
        for i, ref in list(pending.items()):
            try:
                results[i] = ray.get(ref, timeout=180)
            except ray.exceptions.ActorUnavailableError:
                pending[i] = getattr(handles[i], method).remote()
                continue
            except (ray.exceptions.RayActorError, ray.exceptions.GetTimeoutError) as exc:
                log.warning("%s on an actor failed: %s", method, type(exc).__name__)
            del pending[i]
        if not pending:
            break
        time.sleep(1.0)
    return [results[i] for i in sorted(results)]


def start_supervisor(config: RuntimeConfig) -> Any:
    """The named supervisor actor (created once per cluster)."""
    return ray.remote(Supervisor).options(**actor_options("supervisor", "supervisor")).remote(
        config)


def run_forever(config: RuntimeConfig, *, every_s: float = 2.0,
                stop: Callable[[], bool] = lambda: False) -> None:
    """Reconcile every few seconds until ``stop()`` says so; then shut down gracefully."""
    supervisor = start_supervisor(config)
    try:
        while not stop():
            ray.get(supervisor.reconcile.remote())
            time.sleep(every_s)
    finally:
        ray.get(supervisor.shutdown.remote())
