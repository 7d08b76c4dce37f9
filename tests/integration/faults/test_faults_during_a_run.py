"""Faults during a running campaign: PostgreSQL restarts, Redis dies and is flushed, the
trunk fails and comes back. The campaign loop runs as a campaign actor runs it
(``LoopDriver`` on a thread, real time), calls are placed by a thread pool that records
outcomes as number actors do, and the database and Redis are private servers that these
tests stop and start (``tests.services``).

After each fault: no contact was dialled twice, no outcome was lost, the campaign went
on by itself to the end, and operators were alerted (through the audit log, which is
what Slack's alerts read). ``bench/load_campaign.py --faults`` does the same with the
whole dialer (Ray, SIP, the simulated trunk).
"""

from __future__ import annotations

import random
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import func, select

from actors.campaign_loop import CallResult, CampaignLoop, DialRequest, LoopDriver, record_call
from campaigns import types as t
from campaigns.health import BreakerSettings
from chatops.alerts import AlertEvent, AlertKind, AlertPoster, AuditAlertSource
from dialer.demo_support import WHO, add_numbers_and_contacts, campaign_figures, demo_numbers
from storage import models as m
from storage.coordination import CoordinationStore, MemoryStore, RedisStore
from storage.db import Sessions, make_engine, session_factory
from storage.migrate import upgrade
from storage.repos import CampaignRepo
from tests.services import PrivatePostgres, PrivateRedis

pytestmark = pytest.mark.timeout(300)

CONTACTS = 40
NUMBERS = 20  # 5 s apart each: about 4 calls a second


def _shifted_now() -> Callable[[], datetime]:
    """A clock on a Monday at 14:00 in New York (every US callee's window is open)."""
    start = datetime.now(UTC)
    monday_two_pm = datetime(2026, 12, 7, 19, 0, tzinfo=UTC)
    return lambda: monday_two_pm + (datetime.now(UTC) - start)


class Trunk:
    """Places calls on a thread pool: each ends after 0.2-0.6 s, the outcome recorded
    by the "number actor" side first (as ``PhoneNumberActor.place`` does), else by the
    campaign loop. While ``down``, every call is a trunk failure (503)."""

    def __init__(self, sessions: Sessions, now: Callable[[], datetime]) -> None:
        self.sessions = sessions
        self.now = now
        self.down = threading.Event()
        self.rng = random.Random(5)
        self.pool = ThreadPoolExecutor(max_workers=16, thread_name_prefix="call")
        self.placed = 0

    def place(self, request: DialRequest) -> Future[CallResult]:
        self.placed += 1
        return self.pool.submit(self._call, request, self.rng.uniform(0.2, 0.6))

    def _call(self, request: DialRequest, seconds: float) -> CallResult:
        time.sleep(seconds)
        if self.down.is_set():
            result = CallResult(t.AnswerStatus.TRUNK_FAILURE, ended_at=self.now(),
                                sip_status=503)
        else:
            result = CallResult(t.AnswerStatus.HUMAN, ended_at=self.now(), sip_status=200,
                                talk_ms=int(seconds * 1000), conversation=True)
        try:
            record_call(self.sessions, request, result)
        except Exception:  # the database is down: the campaign loop records it later
            return result
        return replace(result, recorded=True)


class Run:
    """One campaign dialled by a ``LoopDriver`` thread until it completes."""

    def __init__(self, sessions: Sessions, store: CoordinationStore,
                 breaker: BreakerSettings | None = None) -> None:
        self.sessions = sessions
        self.now = _shifted_now()
        self.trunk = Trunk(sessions, self.now)
        self.campaign_id = _seed(sessions, self.now())
        self.alerts = AuditAlertSource(sessions)
        loop = CampaignLoop(self.campaign_id, sessions=sessions, store=store,
                            placer=self.trunk, owner="fault-test", trunk_cps=50.0,
                            lease=timedelta(seconds=20), call_lease=timedelta(seconds=60),
                            **({"breaker": breaker} if breaker else {}))
        self.driver = LoopDriver(loop, self.now, tick_at_most_s=0.5)
        self.stopped = threading.Event()
        self.thread = threading.Thread(target=self.driver.run, args=(self.stopped,),
                                       daemon=True)

    def __enter__(self) -> Run:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stopped.set()
        self.thread.join(timeout=10)
        self.trunk.pool.shutdown(wait=True)

    def done(self) -> int:
        """Calls that reached someone and are recorded (a failing database reads as 0)."""
        try:
            with self.sessions() as s:
                return int(s.scalar(select(func.count()).select_from(m.Call).where(
                    m.Call.campaign_id == self.campaign_id,
                    m.Call.answer_status == t.AnswerStatus.HUMAN.value)) or 0)
        except Exception:
            return 0

    def wait_done(self, at_least: int, timeout_s: float = 120.0) -> None:
        deadline = time.monotonic() + timeout_s
        while self.done() < at_least:
            assert time.monotonic() < deadline, f"only {self.done()} contacts done"
            time.sleep(0.2)

    def wait_completed(self, timeout_s: float = 150.0) -> None:
        deadline = time.monotonic() + timeout_s
        while True:
            with self.sessions() as s:
                if CampaignRepo(s).get(self.campaign_id).status is t.CampaignStatus.COMPLETED:
                    return
            assert time.monotonic() < deadline, (
                f"not completed: {self.done()} of {CONTACTS} done, "
                f"last error {self.driver.last_error}; {self._open_contacts()}")
            time.sleep(0.3)

    def _open_contacts(self) -> list[tuple[object, ...]]:
        with self.sessions() as s:
            rows = s.execute(select(m.CampaignContact.status, m.CampaignContact.due_at,
                                    m.CampaignContact.lease_owner,
                                    m.CampaignContact.lease_expires_at,
                                    m.CampaignContact.attempts).where(
                m.CampaignContact.campaign_id == self.campaign_id,
                m.CampaignContact.status.not_in(["completed", "failed"]))).all()
        return [(*r, self.now()) for r in rows]

    def check_nothing_lost(self) -> dict[str, object]:
        with self.sessions() as s:
            figures = campaign_figures(s, self.campaign_id)
            open_calls = s.scalar(select(func.count()).select_from(m.Call).where(
                m.Call.campaign_id == self.campaign_id, m.Call.ended_at.is_(None)))
        assert figures["double_dials"] == 0
        assert figures["lost_outcomes"] == 0 and open_calls == 0
        assert figures["by_status"] == {"completed": CONTACTS}  # every contact reached
        assert figures["calls"] == self.trunk.placed  # every call placed has its row
        return figures


def _seed(sessions: Sessions, now: datetime) -> int:
    with sessions.begin() as s:
        settings = t.CallSettings(call_interval_s=5, max_concurrent_calls=NUMBERS,
                                  max_retries=1, retry_interval=timedelta(minutes=1),
                                  completion_timeout=timedelta(0))
        rotation = t.RotationSettings(strategy=t.RotationStrategy.ROUND_ROBIN,
                                      max_calls_per_number_per_day=1000)
        c = CampaignRepo(s).create("Faults", WHO, now, timezone="America/New_York",
                                   settings=settings, rotation=rotation)
        add_numbers_and_contacts(s, c.id, demo_numbers(NUMBERS, offset=7919),
                                 demo_numbers(CONTACTS), now - timedelta(minutes=1), now,
                                 random.Random(1))
        return c.id


def _kinds(events: list[AlertEvent]) -> list[AlertKind]:
    return [e.kind for e in events]


@pytest.fixture(scope="module")
def postgres() -> Iterator[PrivatePostgres]:
    server = PrivatePostgres()
    yield server
    server.close()


@pytest.fixture
def pg_sessions(postgres: PrivatePostgres) -> Iterator[Sessions]:
    engine = make_engine(postgres.url)
    with engine.begin() as conn:
        conn.exec_driver_sql("DROP SCHEMA public CASCADE")
        conn.exec_driver_sql("CREATE SCHEMA public")
    upgrade(engine)
    yield session_factory(engine)
    engine.dispose()


@pytest.fixture
def redis_server() -> Iterator[PrivateRedis]:
    server = PrivateRedis()
    yield server
    server.close()


def test_a_postgresql_restart_mid_run_loses_nothing_and_is_reported(
        postgres: PrivatePostgres, pg_sessions: Sessions) -> None:
    slack: list[AlertEvent] = []  # what the Slack service's alert poster posted, live
    poster = AlertPoster(AuditAlertSource(pg_sessions), slack.append, interval_s=0.5,
                         announce_after_s=2.0)
    with Run(pg_sessions, MemoryStore()) as run:
        run.wait_done(5)
        poster.start()
        postgres.restart(down_s=6.0)  # every connection dropped; 6 s without a database
        run.wait_completed()
        run.check_nothing_lost()
        time.sleep(1.5)  # the poster's next round
    poster.stop()
    live = _kinds(slack)
    assert live[:2] == [AlertKind.DATABASE_DOWN, AlertKind.DATABASE_BACK], live
    assert slack[0].reason.endswith("campaigns cannot dial and alerts wait until it is back")
    assert AlertKind.DIALER_RECOVERED in live[2:], live  # the audit's own word follows
    alerts = run.alerts.poll()
    recovered = [a for a in alerts if a.kind is AlertKind.DIALER_RECOVERED]
    assert len(recovered) == 1, _kinds(alerts)
    assert recovered[0].campaign == "Faults"
    assert recovered[0].reason.startswith("the database was unreachable for ")
    assert recovered[0].reason.endswith("; dialling resumed by itself")
    assert _kinds(alerts)[-1] is AlertKind.CAMPAIGN_COMPLETED


def test_redis_dying_and_being_flushed_mid_run_loses_nothing_and_is_reported(
        pg_sessions: Sessions, redis_server: PrivateRedis) -> None:
    store = RedisStore(redis_server.url)
    with Run(pg_sessions, store) as run:
        # Early, while most contacts are still to be dialled: only a dial asks Redis (an
        # outage after the last claim would go unnoticed, and do no harm), and the next
        # dials are due up to 5 s later (the call interval): 12 s down leaves over 5 s of
        # failing dials, when "held" is announced.
        run.wait_done(3)
        redis_server.restart(down_s=12.0)  # killed: the token bucket and events are gone
        run.wait_done(CONTACTS // 2)
        redis_server.flush()
        run.wait_completed()
        run.check_nothing_lost()
    store.close()
    alerts = run.alerts.poll()
    assert _kinds(alerts) == [AlertKind.DIALER_DEGRADED, AlertKind.DIALER_RECOVERED,
                              AlertKind.CAMPAIGN_COMPLETED]
    held, back, _ = alerts
    assert held.reason.startswith("the coordination store (Redis) unreachable since ")
    assert back.reason.startswith("the coordination store (Redis) was unreachable for ")


def test_a_trunk_that_fails_and_comes_back_is_held_then_resumed_by_itself(
        pg_sessions: Sessions) -> None:
    breaker = BreakerSettings(window=10, ratio=0.5, cooldown=timedelta(seconds=2),
                              max_cooldown=timedelta(seconds=4))
    with Run(pg_sessions, MemoryStore(), breaker) as run:
        run.wait_done(CONTACTS // 4)
        run.trunk.down.set()  # 503 to everything
        deadline = time.monotonic() + 60
        while run.driver.loop.breaker_state.phase.value != "open":
            assert time.monotonic() < deadline, "the breaker never opened"
            time.sleep(0.1)
        placed_when_opened = run.trunk.placed
        time.sleep(5.0)  # held: at most a probe or two go out (2 s, then 4 s apart)
        assert run.trunk.placed - placed_when_opened <= 2
        run.trunk.down.clear()  # the trunk is back
        run.wait_completed()
        figures = run.check_nothing_lost()
    alerts = run.alerts.poll()
    assert _kinds(alerts) == [AlertKind.TRUNK_FAILING, AlertKind.TRUNK_RECOVERED,
                              AlertKind.CAMPAIGN_COMPLETED]
    by_answer = figures["by_answer"]
    assert isinstance(by_answer, dict) and by_answer["human"] == CONTACTS
    with pg_sessions() as s:  # a trunk failure never used up a contact's attempt
        attempts = s.scalars(select(m.CampaignContact.attempts)).all()
    assert set(attempts) == {1}
