"""The actors on a real local Ray: named, supervised, and a killed campaign actor loses
nothing and dials nobody twice."""

from __future__ import annotations

import os
import signal
import sys
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import func, select

from campaigns import types as t
from storage import models as m
from storage.db import Sessions, make_engine, session_factory
from storage.migrate import upgrade
from storage.repos import CampaignRepo, ContactRepo, NewContact, NumberRepo, Who

WHO = Who("tester", "test")
PHONES = [f"+1202555{100 + i:04d}" for i in range(4)]


@pytest.fixture(scope="module")
def ray_session(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    """One local Ray for this module, bound to 127.0.0.1 (FACTS.md)."""
    os.environ.setdefault("RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER", "0")
    os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")
    os.environ.setdefault("RAY_AUTH_MODE", "disabled")
    import ray

    temp = tmp_path_factory.mktemp("ray")
    short = Path("/tmp") / f"ray-{os.getpid()}"  # Ray's socket paths must stay short
    short.mkdir(exist_ok=True)
    ray.init(num_cpus=2, include_dashboard=False, namespace="dialer",
             _temp_dir=str(short), log_to_driver=False,
             runtime_env={"env_vars": {"PYTHONPATH": str(Path.cwd())}})
    yield ray
    ray.shutdown()
    del temp


def _noon_in_new_york() -> float:
    """Seconds to add to the wall clock so the actors live at 12:00 in New York."""
    now = datetime.now(UTC)
    noon = now.astimezone(ZoneInfo("America/New_York")).replace(hour=12, minute=0, second=0)
    return (noon - now).total_seconds()


@pytest.fixture
def database(tmp_path: Path) -> Iterator[tuple[str, Sessions]]:
    url = f"sqlite:///{tmp_path / 'ray.sqlite3'}"
    engine = make_engine(url)
    upgrade(engine)
    yield url, session_factory(engine)
    engine.dispose()


def _campaign(sessions: Sessions, now: datetime) -> int:
    with sessions.begin() as s:
        campaigns = CampaignRepo(s)
        c = campaigns.create("Ray", WHO, now, timezone="UTC",
                             settings=t.CallSettings(call_interval_s=5, max_concurrent_calls=4,
                                                     max_retries=0,
                                                     completion_timeout=timedelta(0)))
        NumberRepo(s).add("+14155550123", WHO, now)
        NumberRepo(s).assign(c.id, "+14155550123", WHO, now)
        ContactRepo(s).add_many(c.id, [NewContact(p) for p in PHONES],
                                now - timedelta(minutes=1))
        campaigns.set_status(c.id, t.CampaignStatus.ACTIVE, WHO, now)
        return c.id


def _calls(sessions: Sessions, campaign_id: int) -> list[m.Call]:
    with sessions() as s:
        return list(s.scalars(select(m.Call).where(m.Call.campaign_id == campaign_id)))


def _named(name: str) -> bool:
    import ray

    try:
        ray.get_actor(name, namespace="dialer")
    except ValueError:
        return False
    return True


def _wait(predicate: Any, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.2)
    return False


def test_supervised_actors_survive_a_kill(ray_session: Any,
                                           database: tuple[str, Sessions]) -> None:
    from actors.runtime import RuntimeConfig, start_supervisor

    ray = ray_session
    url, sessions = database
    config = RuntimeConfig(database_url=url, trunk_cps=50.0, time_scale=0.002, seed=3,
                           clock_shift_s=_noon_in_new_york(), lease_s=20.0,
                           call_lease_s=20.0)
    campaign_id = _campaign(sessions, config.now())
    supervisor = start_supervisor(config)
    assert ray.get(supervisor.reconcile.remote())["campaigns"] == [campaign_id]
    actor = ray.get_actor(f"campaign:{campaign_id}", namespace="dialer")
    assert _wait(lambda: len(_calls(sessions, campaign_id)) >= 1, 120)
    assert _wait(lambda: _named("number:+14155550123"), 30)  # named for the dashboard
    number = ray.get_actor("number:+14155550123", namespace="dialer")
    number_pid = ray.get(number.pid.remote())
    ray.kill(actor, no_restart=False)  # the process dies; Ray restarts it
    assert _wait(lambda: len(_calls(sessions, campaign_id)) == len(PHONES), 120)
    # A call row written just before the kill whose INVITE never left is settled by the
    # lease reaper once the (short, in this test) lease has expired.
    assert _wait(lambda: all(c.state == "ended" for c in _calls(sessions, campaign_id)), 90)
    calls = _calls(sessions, campaign_id)
    assert sorted(c.to_number for c in calls) == sorted(PHONES)  # each dialled exactly once
    # The number actor is shared and detached: it outlived the campaign actor that made it.
    assert ray.get(number.pid.remote()) == number_pid
    with sessions() as s:
        open_contacts = s.scalar(select(func.count()).select_from(m.CampaignContact).where(
            m.CampaignContact.status.in_(("pending", "dialing"))))
    assert open_contacts == 0
    placed = [c for c in calls if c.sip_reason != "dialer lost the call"]
    tallies = ray.get(ray.get_actor("number:+14155550123", namespace="dialer")
                      .state.remote())["metrics"]
    assert tallies["placed"] == len(placed)
    assert sum(n for k, n in tallies.items() if k.startswith("outcome:")) == len(placed)
    state = ray.get(actor.state.remote())
    assert state["campaign_id"] == campaign_id
    with sessions.begin() as s:
        CampaignRepo(s).set_status(campaign_id, t.CampaignStatus.PAUSED, WHO, config.now())
    assert ray.get(supervisor.reconcile.remote())["campaigns"] == []
    ray.get(supervisor.shutdown.remote())
    ray.kill(supervisor, no_restart=True)


@pytest.fixture
def sim_trunk(tmp_path: Path) -> Iterator[Any]:
    from tests.integration.sip.harness import sim_trunk_starter

    scenarios = tmp_path / "scenarios.json"  # one callee beyond the last-digit defaults
    scenarios.write_text('{"+12025550204": "short_greeting", "+12025550205": "long_answer"}')
    yield from sim_trunk_starter(tmp_path, "--scenarios", str(scenarios))


def _sip_campaign(sessions: Sessions, now: datetime, phones: list[str], caller: str) -> int:
    with sessions.begin() as s:
        campaigns = CampaignRepo(s)
        c = campaigns.create("Ray SIP", WHO, now, timezone="UTC",
                             settings=t.CallSettings(
                                 call_interval_s=5, max_concurrent_calls=4, max_retries=0,
                                 ring_timeout_s=10, completion_timeout=timedelta(0),
                                 machine_action=t.MachineAction.LEAVE_VOICEMAIL))
        NumberRepo(s).add(caller, WHO, now)
        NumberRepo(s).assign(c.id, caller, WHO, now)
        ContactRepo(s).add_many(c.id, [NewContact(p) for p in phones],
                                now - timedelta(minutes=1))
        campaigns.set_status(c.id, t.CampaignStatus.ACTIVE, WHO, now)
        return c.id


def test_number_actors_place_real_sip_calls_with_amd_agent_and_voicemail(
        ray_session: Any, database: tuple[str, Sessions], sim_trunk: Any,
        tmp_path: Path) -> None:
    """The whole call path on Ray: campaign actor → number actor → pjsua2 → simulated
    trunk; AMD on the answer; the scripted agent greets the human; the voicemail gets its
    message after the beep; busy and decline come back as SIP outcomes; a greeting too
    short for AMD ("hello", then the beep) is called human, and the beep after it turns
    the call into a voicemail with its message; a person whose long answer is called a
    machine says "Hello?" again and gets the agent instead of the message."""
    from actors.runtime import RuntimeConfig, start_supervisor
    from sip.types import TrunkConfig

    ray = ray_session
    url, sessions = database
    config = RuntimeConfig(database_url=url, trunk_cps=20.0, seed=5,
                           clock_shift_s=_noon_in_new_york(), lease_s=300.0,
                           trunk=TrunkConfig(host="127.0.0.1", port=sim_trunk.port),
                           sip_bind="127.0.0.1", recordings_dir=str(tmp_path / "rec"))
    # By last digit the simulated trunk answers: 0 human, 1 voicemail, 2 busy, 3 decline;
    # 4 is mapped to the short greeting, 5 to the long answer.
    phones = [f"+1202555{200 + i:04d}" for i in range(6)]
    campaign_id = _sip_campaign(sessions, config.now(), phones, "+14155550124")
    supervisor = start_supervisor(config)
    ray.get(supervisor.reconcile.remote())
    done = _wait(lambda: len(_calls(sessions, campaign_id)) == 6 and all(
        c.state == "ended" for c in _calls(sessions, campaign_id)), 150)
    tallies = ray.get(ray.get_actor("number:+14155550124", namespace="dialer")
                      .state.remote())["metrics"]
    report = ray.get(supervisor.shutdown.remote())
    ray.kill(supervisor, no_restart=True)
    assert done, [(c.to_number, c.state) for c in _calls(sessions, campaign_id)]
    assert report == {"unfinished_calls": 0}
    calls = {c.to_number[-1]: c for c in _calls(sessions, campaign_id)}
    human, machine, busy, decline, short, long = (calls[d] for d in "012345")
    assert (busy.answer_status, busy.sip_status) == ("busy", 486)
    assert (decline.answer_status, decline.sip_status) == ("rejected", 603)
    assert human.sip_status == machine.sip_status == 200
    assert human.answer_status == "human", (human.amd_label, human.amd_confidence)
    assert human.conversation
    assert human.transcript[0]["role"] == "agent"
    assert human.greet_delay_ms is not None
    assert human.abandoned == (human.greet_delay_ms > 2000)
    assert human.recording_path is not None
    assert Path(human.recording_path).stat().st_size > 8000 * 2  # > 1 s of audio
    assert machine.answer_status == "machine"
    assert machine.beep_ms is not None
    assert machine.voicemail_left
    assert (short.answer_status, short.amd_label) == ("machine", "machine")
    assert short.beep_ms is not None and short.voicemail_left and not short.conversation
    assert (long.answer_status, long.amd_label) == ("human", "human"), long.amd_confidence
    assert long.conversation and not long.voicemail_left and long.beep_ms is None
    # The on-call engineer sees both corrections on the dashboard's metrics.
    assert tallies.get("amd_correction:reply") == 1
    assert tallies.get("amd_correction:late_beep") == 1, tallies
    # The trunk's ground truth agrees, and the callee heard us hang up (not a timeout).
    truth = {line["number"][-1]: line for line in sim_trunk.truth_lines()}
    assert {d: truth[d]["truth"] for d in "012345"} == {
        "0": "human", "1": "machine", "2": "busy", "3": "rejected", "4": "machine",
        "5": "human"}
    assert truth["0"]["ended_by"] == "caller"
    assert truth["1"]["ended_by"] == "caller"
    with sessions() as s:
        statuses = ContactRepo(s).status_counts(campaign_id)
    assert sum(statuses.values()) == 6
    assert not statuses.get(t.ContactStatus.DIALING)


def test_shutdown_hangs_up_calls_in_flight_and_records_them(
        ray_session: Any, database: tuple[str, Sessions], sim_trunk: Any) -> None:
    from actors.runtime import RuntimeConfig, start_supervisor
    from sip.types import TrunkConfig

    ray = ray_session
    url, sessions = database
    config = RuntimeConfig(database_url=url, trunk_cps=20.0, seed=6,
                           clock_shift_s=_noon_in_new_york(), lease_s=300.0,
                           trunk=TrunkConfig(host="127.0.0.1", port=sim_trunk.port),
                           sip_bind="127.0.0.1")
    # Ending in 4: the callee's phone rings for two minutes.
    campaign_id = _sip_campaign(sessions, config.now(), ["+12025550304"], "+14155550125")
    with sessions.begin() as s:
        CampaignRepo(s).update(campaign_id, WHO, config.now(), ring_timeout_s=60)
    supervisor = start_supervisor(config)
    ray.get(supervisor.reconcile.remote())
    assert _wait(lambda: len(_calls(sessions, campaign_id)) == 1, 60)
    # The number actor's engine has the call (its start-up can take seconds on a busy
    # machine); then give the INVITE a moment to be out and ringing.
    assert _wait(lambda: _named("number:+14155550125") and ray.get(ray.get_actor(
        "number:+14155550125", namespace="dialer").state.remote())["sip_calls"] == 1, 60)
    time.sleep(1.0)
    started = time.monotonic()
    report = ray.get(supervisor.shutdown.remote())
    ray.kill(supervisor, no_restart=True)
    assert time.monotonic() - started < 30  # did not wait out the ring timeout
    assert report == {"unfinished_calls": 0}
    [call] = _calls(sessions, campaign_id)
    assert call.state == "ended"
    assert (call.answer_status, call.sip_status) == ("no_answer", 487)
    assert _wait(lambda: len(sim_trunk.truth_lines()) == 1, 10)
    assert sim_trunk.truth_lines()[0]["sip_status"] == 487


class _Pid:
    def pid(self) -> int:
        return os.getpid()


def test_a_stop_asks_an_actor_that_is_restarting_again_until_it_answers(
        ray_session: Any) -> None:
    from actors.runtime import call_each

    ray = ray_session
    ray.cloudpickle.register_pickle_by_value(sys.modules[__name__])  # workers lack tests/
    actors = [ray.remote(_Pid).options(max_restarts=-1, max_task_retries=0,
                                       num_cpus=0).remote() for _ in range(2)]
    first, other = ray.get([a.pid.remote() for a in actors])
    os.kill(first, signal.SIGKILL)  # as `dialer demo --chaos` does, right before a stop
    again, same = call_each(actors, "pid")
    assert again != first and same == other  # the killed one answered from its new life
    ray.kill(actors[1], no_restart=True)
    assert call_each(actors, "pid", attempts=5) == [again]  # a dead one is left out
