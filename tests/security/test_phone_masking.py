"""Callees' phone numbers never reach the logs in full (STYLE.md: numbers masked in logs).

Representative paths run with every logger at DEBUG: the campaign loop dialling, ending
and retrying calls; the Slack app adding a contact (the Slack SDK logs whole request
bodies at debug level); a database failure while dialling (SQLAlchemy puts bound values
into its error text, which the traceback carries); the CLI importing contacts with
``--debug``. Every record is
searched: the message, its arguments, ``extra`` fields and the traceback.
"""

from __future__ import annotations

import logging
import os
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import text

from actors.campaign_loop import CallResult, CampaignLoop
from campaigns import types as t
from campaigns.phones import mask
from storage.coordination import MemoryStore
from storage.db import Sessions, make_engine, session_factory
from storage.migrate import upgrade
from storage.repos import CampaignRepo, ContactRepo, NewContact, NumberRepo, Who
from tests.integration.actors.test_campaign_loop import ManualPlacer

WHO = Who("tester", "test")
MONDAY_NOON_NY = datetime(2026, 12, 7, 17, 0, tzinfo=UTC)
CONTACTS = [f"+1202555{150 + i:04d}" for i in range(6)]
CALLER_ID = "+14155550100"
DIALER = shutil.which("dialer", path=str(Path(sys.executable).parent)) or "dialer"


def _record_text(record: logging.LogRecord) -> str:
    """Everything a handler could write for ``record``."""
    parts = [record.getMessage(), repr(record.args), record.exc_text or ""]
    if record.exc_info and record.exc_info[1] is not None:
        parts.append(logging.Formatter().formatException(record.exc_info))
    parts += [repr(v) for k, v in vars(record).items() if k not in _STANDARD]
    return "\n".join(parts)


_STANDARD = set(vars(logging.LogRecord("x", 0, "x", 0, "x", None, None))) | {"message",
                                                                             "asctime"}


def assert_masked(records: list[logging.LogRecord], phones: list[str]) -> None:
    leaks = [(r.name, r.levelname, _record_text(r)[:300]) for r in records
             for p in phones if p in _record_text(r) or p[1:] in _record_text(r)]
    assert leaks == [], f"full phone numbers in logs: {leaks}"


@pytest.fixture
def debug_logs(caplog: pytest.LogCaptureFixture) -> pytest.LogCaptureFixture:
    """Every logger at DEBUG, as ``dialer --debug`` has it (SQLAlchemy keeps its own
    loggers at WARNING unless asked to echo SQL, which is a choice to see the data)."""
    caplog.set_level(logging.DEBUG)
    return caplog


@pytest.fixture
def sessions(tmp_path: Path) -> Iterator[Sessions]:
    engine = make_engine(f"sqlite:///{tmp_path / 'mask.sqlite3'}")
    upgrade(engine)
    yield session_factory(engine)
    engine.dispose()


def _campaign(sessions: Sessions) -> int:
    with sessions.begin() as s:
        campaigns = CampaignRepo(s)
        c = campaigns.create("Masked", WHO, MONDAY_NOON_NY, timezone="America/New_York",
                             settings=t.CallSettings(call_interval_s=5, max_concurrent_calls=3,
                                                     max_retries=1,
                                                     retry_interval=timedelta(minutes=5),
                                                     completion_timeout=timedelta(0)))
        NumberRepo(s).add(CALLER_ID, WHO, MONDAY_NOON_NY)
        NumberRepo(s).assign(c.id, CALLER_ID, WHO, MONDAY_NOON_NY)
        ContactRepo(s).add_many(c.id, [NewContact(p, name="Ada") for p in CONTACTS],
                                MONDAY_NOON_NY - timedelta(hours=5))
        campaigns.set_status(c.id, t.CampaignStatus.ACTIVE, WHO, MONDAY_NOON_NY)
        return c.id


def _run_loop(sessions: Sessions, campaign_id: int, *, fail_with_uri: bool) -> ManualPlacer:
    placer = ManualPlacer()
    loop = CampaignLoop(campaign_id, sessions=sessions, store=MemoryStore(), placer=placer,
                        owner="mask", trunk_cps=1000.0)
    now = MONDAY_NOON_NY
    outcomes = [t.AnswerStatus.HUMAN, t.AnswerStatus.BUSY, t.AnswerStatus.NO_ANSWER,
                t.AnswerStatus.MACHINE, t.AnswerStatus.FAILED]
    ended = 0
    for _ in range(40):
        loop.tick(now)
        for request, future in placer.calls[ended:]:
            if fail_with_uri and ended == 0:
                # what a SIP stack says when it rejects the dialled URI
                future.set_exception(RuntimeError(
                    f"Invalid URI sip:{request.to}@trunk.example:5060 (PJSIP_EINVALIDURI)"))
            else:
                status = outcomes[ended % len(outcomes)]
                future.set_result(CallResult(status, ended_at=now, sip_status=200 if
                                             status.connected else 486,
                                             talk_ms=20_000 if status is t.AnswerStatus.HUMAN
                                             else 0,
                                             conversation=status is t.AnswerStatus.HUMAN))
            ended += 1
        now += timedelta(minutes=1)
    return placer


def test_the_campaign_loop_logs_masked_numbers(sessions: Sessions,
                                               debug_logs: pytest.LogCaptureFixture) -> None:
    placer = _run_loop(sessions, _campaign(sessions), fail_with_uri=False)
    assert {r.to for r, _ in placer.calls} == set(CONTACTS)  # every contact was dialled
    dialling = [r for r in debug_logs.records if r.getMessage() == "dialling"]
    assert {getattr(r, "to", None) for r in dialling} == {mask(p) for p in CONTACTS}
    assert_masked(debug_logs.records, CONTACTS)


def test_a_failing_placer_does_not_log_the_number(sessions: Sessions,
                                                  debug_logs: pytest.LogCaptureFixture) -> None:
    _run_loop(sessions, _campaign(sessions), fail_with_uri=True)
    assert any(r.getMessage() == "call placer failed" for r in debug_logs.records)
    assert_masked(debug_logs.records, CONTACTS)


def test_a_database_error_while_dialling_logs_no_number(
        sessions: Sessions, debug_logs: pytest.LogCaptureFixture) -> None:
    """The driver logs a failed tick with its traceback; the failing statement (the DNC
    check at dial time) has the callee's number as a bound value."""
    from actors.campaign_loop import LoopDriver

    campaign_id = _campaign(sessions)
    placer = ManualPlacer()
    loop = CampaignLoop(campaign_id, sessions=sessions, store=MemoryStore(), placer=placer,
                        owner="mask", trunk_cps=1000.0)
    with sessions.begin() as s:
        s.execute(text("ALTER TABLE dnc RENAME TO dnc_gone"))
    LoopDriver(loop, lambda: MONDAY_NOON_NY).step()
    failed = [r for r in debug_logs.records if r.getMessage() == "campaign tick failed"]
    assert failed and "dnc" in _record_text(failed[0])  # it did fail on the DNC check
    assert placer.calls == []
    assert_masked(debug_logs.records, CONTACTS)


# --- the Slack app --------------------------------------------------------------------------

@pytest.mark.integration
def test_slack_add_logs_no_full_number(tmp_path: Path,
                                       debug_logs: pytest.LogCaptureFixture) -> None:
    from chatops.server import SlackHttpServer
    from dialer.slack_commands import build_slack_app
    from tests.integration.chatops.conftest import NOW, Driver, SlackApp, settings_for
    from tests.integration.chatops.fake_slack import FakeSlack

    fake = FakeSlack().start()
    engine = make_engine(f"sqlite:///{tmp_path / 'slack.sqlite3'}")
    upgrade(engine)
    sessions = session_factory(engine)
    server = SlackHttpServer(build_slack_app(settings_for(fake), sessions, lambda: NOW),
                             "127.0.0.1", 0).start()
    slack = SlackApp(Driver(f"http://127.0.0.1:{server.port}/slack/events", fake), fake,
                     sessions, "sqlite")
    phones = ["+14155550123", "+12025550142"]
    try:
        c = slack.campaign("masked")
        mark = fake.mark()
        slack.driver.command(f"add {c.id} +1 415 555 0123 Ada")
        posted = fake.wait("chat.postMessage", mark)
        assert "+14155550123" in posted.params["text"]  # Slack itself shows the number
        refused = slack.driver.command(f"add {c.id} +1 202 555 0142 Bob", user="UNOBODY")
        assert "Only dialer operators" in refused.body
        time.sleep(0.2)
    finally:
        server.shutdown()
        fake.stop()
        engine.dispose()
    records = debug_logs.records
    assert_masked(records, phones)
    assert any(r.name.startswith("slack_sdk") and mask(phones[0]) in r.getMessage()
               for r in records), "the SDK's debug lines were not seen"


# --- the CLI --------------------------------------------------------------------------------

def test_cli_import_with_debug_logs_no_full_number(tmp_path: Path) -> None:
    phones = ["+12025550161", "+12025550162"]
    csv_file = tmp_path / "contacts.csv"
    csv_file.write_text("phone,name\n+1 202 555 0161,Ada\n(202) 555-0162,Bob\n"
                        "+1 555 0100,Bad\n", encoding="utf-8")
    env = {k: v for k, v in os.environ.items()
           if not k.upper().startswith(("DATABASE_URL", "SLACK", "OPENAI"))}
    env["DATABASE_URL"] = f"sqlite:///{tmp_path / 'cli.sqlite3'}"

    def dialer(*args: str) -> subprocess.CompletedProcess[str]:
        proc = subprocess.run([DIALER, "--debug", *args], capture_output=True, text=True,
                              env=env, cwd=tmp_path, timeout=120, check=False)
        assert proc.returncode == 0, proc.stderr[-1500:]
        return proc

    created = dialer("campaign", "create", "cli-mask", "--json")
    imported = dialer("contacts", "import", "cli-mask", str(csv_file), "--json")
    assert '"inserted": 2' in imported.stdout
    assert "DEBUG" in created.stderr + imported.stderr  # --debug did turn logging on
    for proc in (created, imported):
        for p in phones:
            assert p not in proc.stderr and p[1:] not in proc.stderr, proc.stderr[-1500:]
