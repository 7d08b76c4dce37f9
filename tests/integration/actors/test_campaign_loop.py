"""The campaign loop over real storage with a fake call placer, on SQLite and PostgreSQL."""

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterator
from concurrent.futures import Future
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import Engine, func, select

from actors.campaign_loop import CallResult, CampaignLoop, DialRequest, record_call
from campaigns import types as t
from campaigns.health import AbandonSettings
from storage import models as m
from storage.coordination import MemoryStore
from storage.db import Sessions, make_engine, session_factory
from storage.migrate import upgrade
from storage.repos import (
    CallRepo,
    CampaignRepo,
    ContactRepo,
    DncRepo,
    NewContact,
    NumberRepo,
    Who,
)

WHO = Who("tester", "test")
MONDAY_NOON_NY = datetime(2026, 12, 7, 17, 0, tzinfo=UTC)
EAST = [f"+1202555{100 + i:04d}" for i in range(10)]  # Washington DC: America/New_York


class ManualPlacer:
    """Records each request; the test decides when and how each call ends."""

    def __init__(self) -> None:
        self.calls: list[tuple[DialRequest, Future[CallResult]]] = []

    def place(self, request: DialRequest) -> Future[CallResult]:
        future: Future[CallResult] = Future()
        self.calls.append((request, future))
        return future

    def end(self, index: int, status: t.AnswerStatus, at: datetime, *,
            conversation: bool = False) -> None:
        self.calls[index][1].set_result(CallResult(
            answer_status=status, ended_at=at, sip_status=200 if status.connected else 486,
            talk_ms=30_000 if conversation else 0, conversation=conversation))

    @property
    def dialled(self) -> list[str]:
        return [request.to for request, _ in self.calls]


@pytest.fixture(params=["sqlite", "postgres"])
def sessions(request: pytest.FixtureRequest, tmp_path: Path,
             pg_engine_factory: Callable[[], Engine]) -> Iterator[Sessions]:
    if request.param == "postgres":
        yield session_factory(pg_engine_factory())
        return
    engine = make_engine(f"sqlite:///{tmp_path / 'loop.sqlite3'}")
    upgrade(engine)
    yield session_factory(engine)
    engine.dispose()


def _setup(sessions: Sessions, phones: list[str], *, cap: int = 100, interval_s: int = 5,
           concurrent: int = 2, max_retries: int = 1) -> int:
    with sessions.begin() as s:
        campaigns = CampaignRepo(s)
        c = campaigns.create("Loop", WHO, MONDAY_NOON_NY, timezone="America/New_York",
                             settings=t.CallSettings(call_interval_s=interval_s,
                                                     max_concurrent_calls=concurrent,
                                                     max_retries=max_retries,
                                                     retry_interval=timedelta(hours=1),
                                                     completion_timeout=timedelta(0)),
                             rotation=t.RotationSettings(max_calls_per_number_per_day=cap))
        NumberRepo(s).add("+14155550100", WHO, MONDAY_NOON_NY)
        NumberRepo(s).assign(c.id, "+14155550100", WHO, MONDAY_NOON_NY)
        ContactRepo(s).add_many(c.id, [NewContact(p) for p in phones],
                                MONDAY_NOON_NY - timedelta(hours=5))
        campaigns.set_status(c.id, t.CampaignStatus.ACTIVE, WHO, MONDAY_NOON_NY)
        return c.id


def _loop(sessions: Sessions, campaign_id: int, placer: ManualPlacer,
          store: MemoryStore | None = None, owner: str = "loop-1") -> CampaignLoop:
    return CampaignLoop(campaign_id, sessions=sessions, store=store or MemoryStore(),
                        placer=placer, owner=owner, trunk_cps=1000.0)


def _status(sessions: Sessions, campaign_id: int) -> dict[str, int]:
    with sessions() as s:
        return {k.value: v for k, v in ContactRepo(s).status_counts(campaign_id).items()}


def test_paces_records_and_completes(sessions: Sessions) -> None:
    cid = _setup(sessions, EAST[:3])
    placer = ManualPlacer()
    loop = _loop(sessions, cid, placer)
    now = MONDAY_NOON_NY
    first = loop.tick(now)
    assert (first.placed, placer.dialled) == (1, [EAST[0]])  # the interval holds the next
    assert first.next_tick_at == now + timedelta(seconds=5)
    now += timedelta(seconds=5)
    assert loop.tick(now).placed == 1
    now += timedelta(seconds=5)
    assert loop.tick(now).placed == 0  # two in flight: at the concurrency cap
    placer.end(0, t.AnswerStatus.HUMAN, now, conversation=True)
    placer.end(1, t.AnswerStatus.BUSY, now)
    report = loop.tick(now)
    assert (report.finished, report.placed) == (2, 1)
    placer.end(2, t.AnswerStatus.HUMAN, now, conversation=True)
    now += timedelta(seconds=5)
    loop.tick(now)
    assert _status(sessions, cid) == {"completed": 2, "retry": 1}
    now += timedelta(hours=1)  # the busy contact's retry falls due
    loop.tick(now)
    assert placer.dialled[-1] == EAST[1]
    placer.end(3, t.AnswerStatus.HUMAN, now, conversation=True)
    loop.tick(now + timedelta(seconds=1))  # records the call; the interval still runs
    done = loop.tick(now + timedelta(seconds=30))
    assert done.completed
    with sessions() as s:
        assert CampaignRepo(s).get(cid).status is t.CampaignStatus.COMPLETED
        lost = s.scalar(select(func.count()).select_from(m.Call).where(m.Call.state != "ended"))
    assert lost == 0
    assert [e.data["kind"] for e in loop.store.read("alerts")] == ["campaign_completed"]


def test_pause_stops_new_calls_and_lets_calls_in_flight_finish(sessions: Sessions) -> None:
    cid = _setup(sessions, EAST[:4])
    placer = ManualPlacer()
    loop = _loop(sessions, cid, placer)
    now = MONDAY_NOON_NY
    loop.tick(now)
    with sessions.begin() as s:
        CampaignRepo(s).set_status(cid, t.CampaignStatus.PAUSED, WHO, now)
    for step in range(1, 4):
        assert loop.tick(now + timedelta(seconds=5 * step)).placed == 0
    placer.end(0, t.AnswerStatus.HUMAN, now + timedelta(seconds=20), conversation=True)
    assert loop.tick(now + timedelta(seconds=21)).finished == 1  # recorded while paused
    with sessions.begin() as s:
        CampaignRepo(s).set_status(cid, t.CampaignStatus.ACTIVE, WHO, now)
    assert loop.tick(now + timedelta(seconds=30)).placed == 1  # resume goes on
    assert placer.dialled == EAST[:2]
    with sessions.begin() as s:
        CampaignRepo(s).set_status(cid, t.CampaignStatus.CANCELLED, WHO, now)
    assert loop.tick(now + timedelta(hours=2)).placed == 0
    assert len(placer.calls) == 2


def test_dnc_and_the_callee_window_are_checked_at_dial_time(sessions: Sessions) -> None:
    seattle = "+12065550100"  # America/Los_Angeles
    cid = _setup(sessions, [EAST[0], seattle, EAST[1]])
    with sessions.begin() as s:  # listed after being queued
        DncRepo(s).add([EAST[0]], WHO, MONDAY_NOON_NY)
    placer = ManualPlacer()
    loop = _loop(sessions, cid, placer)
    early = datetime(2026, 12, 7, 15, 0, tzinfo=UTC)  # 10:00 New York, 07:00 Seattle
    loop.tick(early)
    assert placer.dialled == [EAST[1]]  # DNC ended as failed, Seattle too early
    with sessions() as s:
        rows = {v.phone: v for v in ContactRepo(s).list(cid)}
    assert (rows[EAST[0]].status, rows[EAST[0]].final_reason) == (t.ContactStatus.FAILED, "dnc")
    assert rows[seattle].status is t.ContactStatus.PENDING
    assert rows[seattle].due_at == datetime(2026, 12, 7, 16, 0, tzinfo=UTC)  # 08:00 Seattle
    loop.tick(datetime(2026, 12, 7, 16, 0, tzinfo=UTC))
    assert placer.dialled == [EAST[1], seattle]


def test_daily_cap_is_exact_and_resets_on_the_campaign_day(sessions: Sessions) -> None:
    cid = _setup(sessions, EAST[:5], cap=3, concurrent=5, interval_s=5)
    placer = ManualPlacer()
    loop = _loop(sessions, cid, placer)
    now = MONDAY_NOON_NY
    for step in range(10):
        loop.tick(now + timedelta(seconds=5 * step))
    assert len(placer.calls) == 3
    tuesday = datetime(2026, 12, 8, 14, 30, tzinfo=UTC)  # 09:30 New York next day
    for step in range(10):
        loop.tick(tuesday + timedelta(seconds=5 * step))
    assert len(placer.calls) == 5
    assert len(set(placer.dialled)) == 5


def test_a_crashed_loop_loses_nothing_and_dials_nobody_twice(sessions: Sessions) -> None:
    cid = _setup(sessions, EAST[:2], concurrent=2)
    crashed = ManualPlacer()
    store = MemoryStore()
    dead = _loop(sessions, cid, crashed, store, owner="dead")
    now = MONDAY_NOON_NY
    dead.tick(now)
    dead.tick(now + timedelta(seconds=5))
    assert len(crashed.calls) == 2
    crashed.end(0, t.AnswerStatus.HUMAN, now + timedelta(seconds=40), conversation=True)
    del dead  # the process dies: one call ended unrecorded, one still "ringing"
    placer = ManualPlacer()
    heir = _loop(sessions, cid, placer, store, owner="heir")
    heir.tick(now + timedelta(minutes=1))
    assert placer.calls == []  # both leases are still live: nobody is dialled again
    later = now + timedelta(minutes=30)
    heir.tick(later)  # the leases expired: the heir reaps them from the call rows
    with sessions() as s:
        rows = {v.phone: v for v in ContactRepo(s).list(cid)}
        ended = s.scalar(select(func.count()).select_from(m.Call)
                         .where(m.Call.state == "ended"))
    assert ended == 2
    assert placer.calls == []
    assert rows[EAST[0]].status in (t.ContactStatus.RETRY, t.ContactStatus.CALLED)
    assert rows[EAST[1]].status in (t.ContactStatus.RETRY, t.ContactStatus.CALLED)


def test_a_number_reaching_the_spam_threshold_is_excluded_and_alerted(
        sessions: Sessions) -> None:
    from chatops.alerts import AlertKind, AuditAlertSource

    phones = [f"+1202555{200 + i:04d}" for i in range(40)]
    cid = _setup(sessions, phones, concurrent=1, max_retries=0)
    with sessions.begin() as s:
        CampaignRepo(s).update(cid, WHO, MONDAY_NOON_NY, spam_threshold=1)
    alerts = AuditAlertSource(sessions)
    placer = ManualPlacer()
    loop = _loop(sessions, cid, placer)
    now = MONDAY_NOON_NY
    for _ in range(60):  # every callee declines: the number's reputation sinks
        loop.tick(now)
        for i, (_, future) in enumerate(placer.calls):
            if not future.done():
                placer.end(i, t.AnswerStatus.REJECTED, now)
        now += timedelta(seconds=5)
    with sessions() as s:
        number = NumberRepo(s).row("+14155550100")
    assert (number.status, number.spam_score) == ("excluded", 1)
    assert number.excluded_reason == "spam score 1 reached the threshold 1"
    assert 10 <= len(placer.calls) < 40  # dialling stopped once the number was excluded
    [alert] = [a for a in alerts.poll() if a.kind is AlertKind.NUMBER_EXCLUDED]
    assert alert.number == "+14155550100"


def test_the_circuit_breaker_holds_a_failing_trunk_and_resumes_by_itself(
        sessions: Sessions) -> None:
    from chatops.alerts import AlertKind, AuditAlertSource

    phones = [f"+1202555{300 + i:04d}" for i in range(30)]
    cid = _setup(sessions, phones, concurrent=1, max_retries=0)
    alerts = AuditAlertSource(sessions)
    placer = ManualPlacer()
    loop = _loop(sessions, cid, placer)
    now = MONDAY_NOON_NY

    def run(seconds: int, status: t.AnswerStatus) -> None:
        nonlocal now
        for _ in range(seconds // 5):
            loop.tick(now)
            for i, (_, future) in enumerate(placer.calls):
                if not future.done():
                    placer.end(i, status, now, conversation=status.connected)
            now += timedelta(seconds=5)

    run(400, t.AnswerStatus.TRUNK_FAILURE)  # the trunk answers 503 to everything
    # 20 calls trip it (in 100 s); then probes 30, 60 and 120 s apart (the next is due
    # 240 s later): each fails, and the cool-down doubles.
    assert len(placer.calls) == 23
    with sessions() as s:
        assert CampaignRepo(s).get(cid).status is t.CampaignStatus.ACTIVE  # held, not paused
    assert loop.breaker_state.phase.value == "open"
    [failing] = alerts.poll()  # one alert per outage, not one per failed probe
    assert failing.kind is AlertKind.TRUNK_FAILING and failing.campaign == "Loop"
    assert failing.reason == ("circuit breaker: 20 of the last 20 calls failed at the trunk; "
                              "dialling held, next try in 30 s")
    run(600, t.AnswerStatus.HUMAN)  # the trunk is back: the next probe closes it
    back, done = alerts.poll()
    assert (back.kind, done.kind) == (AlertKind.TRUNK_RECOVERED, AlertKind.CAMPAIGN_COMPLETED)
    assert back.reason.startswith("a probe call got through (human); dialling resumed after")
    assert loop.breaker_state.phase.value == "closed"
    assert _status(sessions, cid).get("pending", 0) == 0  # it dialled on by itself
    assert len(placer.calls) == 30 + 23  # trunk failures do not use up attempts
    assert [e.data["kind"] for e in loop.store.read("alerts")] == [
        "breaker_opened", "breaker_closed", "campaign_completed"]


@pytest.mark.parametrize("new_actor", [False, True], ids=["same-loop", "new-loop"])
def test_too_many_abandoned_live_answers_pause_the_campaign_and_alert(
        sessions: Sessions, new_actor: bool) -> None:
    from chatops.alerts import AlertKind, AuditAlertSource

    phones = [f"+1202555{400 + i:04d}" for i in range(40)]
    cid = _setup(sessions, phones, concurrent=1, max_retries=0)
    alerts = AuditAlertSource(sessions)
    placer = ManualPlacer()
    loop = CampaignLoop(cid, sessions=sessions, store=MemoryStore(), placer=placer,
                        owner="loop-1", trunk_cps=1000.0,
                        abandon=AbandonSettings(limit=0.03, min_live=10))
    now = MONDAY_NOON_NY
    for _ in range(120):  # every answer is a human; every 4th waits too long for us
        loop.tick(now)
        for i, (_, future) in enumerate(placer.calls):
            if not future.done():
                future.set_result(CallResult(
                    answer_status=t.AnswerStatus.HUMAN, ended_at=now, sip_status=200,
                    talk_ms=20_000, conversation=True, greet_delay_ms=2600 if i % 4 == 3
                    else 400, abandoned=i % 4 == 3))
        now += timedelta(seconds=11)
    with sessions() as s:
        assert CampaignRepo(s).get(cid).status is t.CampaignStatus.PAUSED
        live, abandoned = CallRepo(s).abandon_counts(cid, MONDAY_NOON_NY)
    assert live >= 10
    assert live < len(phones)  # it stopped early, not at the end of the list
    assert abandoned == live // 4
    [alert] = [a for a in alerts.poll() if a.kind is AlertKind.AUTO_PAUSE]
    assert alert.reason == (f"abandon rate {abandoned / live:.1%} ({abandoned} of {live} "
                            "live answers in 24 h) is above 3%")
    with sessions.begin() as s:  # an operator resumes it; greetings are quick again
        CampaignRepo(s).set_status(cid, t.CampaignStatus.ACTIVE, WHO, now)
    if new_actor:  # the supervisor stops a paused campaign's actor, starts one on resume
        loop = CampaignLoop(cid, sessions=sessions, store=MemoryStore(), placer=placer,
                            owner="loop-2", trunk_cps=1000.0,
                            abandon=AbandonSettings(limit=0.03, min_live=10))
    for _ in range(60):
        loop.tick(now)
        for _, future in placer.calls:
            if not future.done():
                future.set_result(CallResult(
                    answer_status=t.AnswerStatus.HUMAN, ended_at=now, sip_status=200,
                    talk_ms=20_000, conversation=True, greet_delay_ms=400))
        now += timedelta(seconds=11)
    with sessions() as s:  # the 24 h rate is still over 3 %: only new answers count now
        assert CampaignRepo(s).get(cid).status is t.CampaignStatus.COMPLETED


def test_the_call_interval_spaces_each_number_so_more_numbers_dial_more(
        sessions: Sessions) -> None:
    cid = _setup(sessions, EAST[:8], concurrent=8)
    with sessions.begin() as s:
        for e164 in ("+14155550101", "+14155550102"):
            NumberRepo(s).add(e164, WHO, MONDAY_NOON_NY)
            NumberRepo(s).assign(cid, e164, WHO, MONDAY_NOON_NY)
    placer = ManualPlacer()
    loop = _loop(sessions, cid, placer)
    first = loop.tick(MONDAY_NOON_NY)
    assert first.placed == 3  # one per number, at once
    assert sorted(r.caller_id for r, _ in placer.calls) == [
        "+14155550100", "+14155550101", "+14155550102"]
    assert first.next_tick_at == MONDAY_NOON_NY + timedelta(seconds=5)
    assert loop.tick(MONDAY_NOON_NY + timedelta(seconds=4)).placed == 0
    assert loop.tick(MONDAY_NOON_NY + timedelta(seconds=5)).placed == 3
    by_number: dict[str, list[datetime]] = {}
    for request, _ in placer.calls:
        by_number.setdefault(request.caller_id, []).append(request.started_at)
    assert all(b - a >= timedelta(seconds=5) for times in by_number.values()
               for a, b in itertools.pairwise(times))


def test_a_claim_gets_the_long_call_lease_once_its_call_row_is_written(
        sessions: Sessions) -> None:
    cid = _setup(sessions, EAST[:1])
    loop = CampaignLoop(cid, sessions=sessions, store=MemoryStore(), placer=ManualPlacer(),
                        owner="loop-1", trunk_cps=1000.0, lease=timedelta(seconds=30),
                        call_lease=timedelta(minutes=6))
    assert loop.tick(MONDAY_NOON_NY).placed == 1
    with sessions() as s:
        expires = s.scalar(select(m.CampaignContact.lease_expires_at)
                           .where(m.CampaignContact.campaign_id == cid))
    assert expires == MONDAY_NOON_NY + timedelta(minutes=6)


def test_a_restarted_loop_counts_calls_still_in_flight_against_the_cap(
        sessions: Sessions) -> None:
    cid = _setup(sessions, EAST[:6], concurrent=2, interval_s=5)
    first = ManualPlacer()
    loop = _loop(sessions, cid, first)
    now = MONDAY_NOON_NY
    loop.tick(now)
    loop.tick(now + timedelta(seconds=5))
    assert len(first.calls) == 2  # at the cap; both calls still going on elsewhere
    second = ManualPlacer()  # the campaign actor restarted: a fresh loop, no futures
    restarted = _loop(sessions, cid, second, owner="loop-2")
    assert restarted.tick(now + timedelta(seconds=20)).placed == 0
    first.end(0, t.AnswerStatus.BUSY, now + timedelta(seconds=21))
    record_call(sessions, first.calls[0][0], first.calls[0][1].result())
    assert restarted.tick(now + timedelta(seconds=30)).placed == 1  # one slot came free


def test_slow_greetings_make_the_loop_dial_fewer_calls_at_once_then_more(
        sessions: Sessions) -> None:
    from campaigns.health import GovernorSettings

    phones = [f"+1202555{500 + i:04d}" for i in range(80)]
    cid = _setup(sessions, phones, concurrent=10, interval_s=5, max_retries=0)
    with sessions.begin() as s:  # ten numbers, so the interval never holds a call back
        for i in range(1, 10):
            NumberRepo(s).add(f"+1415555{i:04d}", WHO, MONDAY_NOON_NY)
            NumberRepo(s).assign(cid, f"+1415555{i:04d}", WHO, MONDAY_NOON_NY)
    placer = ManualPlacer()
    loop = CampaignLoop(cid, sessions=sessions, store=MemoryStore(), placer=placer,
                        owner="loop-1", trunk_cps=1000.0,
                        governor=GovernorSettings(sample=10))
    now = MONDAY_NOON_NY
    peaks: list[int] = []

    def run(rounds: int, greet_ms: int) -> None:
        nonlocal now
        for _ in range(rounds):
            loop.tick(now)
            open_calls = [i for i, (_, f) in enumerate(placer.calls) if not f.done()]
            peaks.append(len(open_calls))
            for i in open_calls:
                placer.calls[i][1].set_result(CallResult(
                    answer_status=t.AnswerStatus.HUMAN, ended_at=now, sip_status=200,
                    talk_ms=5_000, conversation=True, greet_delay_ms=greet_ms))
            now += timedelta(seconds=5)

    run(2, 1800)  # 20 live answers, every greeting late: 10 → 7 at once
    assert loop.limit == 7
    run(1, 1800)  # 7 late ones under the new limit: not enough to judge yet
    run(1, 300)  # 14 under it: 7 → 4 (the 4 now placed greet quickly)
    assert (loop.limit, peaks[-1]) == (4, 4)
    run(6, 300)  # quick greetings: one more call at once per 10 answers (4 → 5 → 6)
    assert loop.limit == 6
    assert max(peaks[-2:]) == loop.limit or max(peaks[-2:]) == loop.limit - 1
    assert [e.data["kind"] for e in loop.store.read("alerts")][:2] == ["governor"] * 2
