"""``dialer slack --http`` as a real process, and the ``/dialer`` text parser."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path
from urllib.parse import parse_qsl

import pytest

from chatops import commands as c
from chatops import strings
from tests.integration.chatops.conftest import CHANNEL, OPERATOR, SECRET, Driver
from tests.integration.chatops.fake_slack import FakeSlack, FakeSocketMode

pytestmark = pytest.mark.integration

# The lead registers the command with ``from dialer import slack_commands`` in cli.py;
# importing it here first makes this test independent of that line.
LAUNCH = "from dialer import slack_commands; from dialer.cli import main; main()"


def _env(fake: FakeSlack, tmp_path: Path, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("DATABASE_URL", "SLACK", "DIALER_SLACK"))}
    env.update({"DATABASE_URL": f"sqlite:///{tmp_path / 'cli.sqlite3'}",
                "SLACK_BOT_TOKEN": fake.token, "SLACK_SIGNING_SECRET": SECRET,
                "SLACK_API_URL": fake.api_url, "DIALER_SLACK_OPERATORS": OPERATOR, **extra})
    return env


def test_dialer_slack_http_serves_signed_requests_and_stops_on_sigterm(
        fake: FakeSlack, tmp_path: Path) -> None:
    proc = subprocess.Popen([sys.executable, "-c", LAUNCH, "slack", "--http", "--port", "0"],
                            env=_env(fake, tmp_path), stderr=subprocess.PIPE, text=True)
    try:
        assert proc.stderr is not None
        port = None
        deadline = time.monotonic() + 30
        while port is None and time.monotonic() < deadline:
            line = proc.stderr.readline()
            if not line:
                break
            match = re.search(r"listening on http://127\.0\.0\.1:(\d+)/slack/events", line)
            port = int(match.group(1)) if match else None
        assert port, "dialer slack did not report its port"
        driver = Driver(f"http://127.0.0.1:{port}/slack/events", fake)
        mark = fake.mark()
        assert driver.command("list", channel=CHANNEL).status == 200
        call = fake.wait("chat.postMessage", mark)
        assert "no campaigns" in call.params["text"].lower()
        assert driver.post(b"text=list", "application/x-www-form-urlencoded",
                           signature="v0=bad").status == 401
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=10) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        if proc.stderr is not None:
            proc.stderr.close()


def _wait_line(proc: subprocess.Popen[str], needle: str, timeout: float = 30) -> None:
    assert proc.stderr is not None
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        line = proc.stderr.readline()
        if not line:
            break
        if needle in line:
            return
    raise AssertionError(f"dialer slack never said {needle!r}")


def test_dialer_slack_socket_mode_acks_envelopes(fake: FakeSlack, tmp_path: Path) -> None:
    ws = FakeSocketMode()
    fake.socket_url = ws.url
    env = _env(fake, tmp_path, SLACK_APP_TOKEN="xapp-1-test")
    del env["SLACK_SIGNING_SECRET"]  # Socket Mode needs no signing secret
    proc = subprocess.Popen([sys.executable, "-c", LAUNCH, "slack"], env=env,
                            stderr=subprocess.PIPE, text=True)
    try:
        _wait_line(proc, "connected in Socket Mode")
        assert ws.connected.wait(10)
        payload = dict(parse_qsl(Driver("unused", fake).command_body("help").decode()))
        ws.send({"envelope_id": "env-help", "type": "slash_commands",
                 "accepts_response_payload": True, "payload": payload})
        ack = ws.wait_ack("env-help")
        assert "/dialer pause &lt;campaign&gt;" in json.dumps(ack["payload"])
        mark = fake.mark()
        ws.send({"envelope_id": "env-list", "type": "slash_commands",
                 "accepts_response_payload": True, "payload": {**payload, "text": "list"}})
        ws.wait_ack("env-list")
        assert "no campaigns" in fake.wait("chat.postMessage", mark).params["text"].lower()
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=10) == 0
    finally:
        fake.socket_url = None
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        if proc.stderr is not None:
            proc.stderr.close()
        ws.close()


def test_dialer_slack_without_credentials_exits_2(fake: FakeSlack, tmp_path: Path) -> None:
    env = _env(fake, tmp_path)
    del env["SLACK_BOT_TOKEN"]
    proc = subprocess.run([sys.executable, "-c", LAUNCH, "slack"], env=env, text=True,
                          capture_output=True, timeout=60, check=False)
    assert proc.returncode == 2
    assert proc.stderr.strip().splitlines() == ["dialer: error: SLACK_BOT_TOKEN is not set"]


def test_dialer_slack_with_a_rejected_token_exits_2(fake: FakeSlack, tmp_path: Path) -> None:
    env = _env(fake, tmp_path, SLACK_BOT_TOKEN="xoxb-wrong")
    proc = subprocess.run([sys.executable, "-c", LAUNCH, "slack", "--http", "--port", "0"],
                          env=env, text=True, capture_output=True, timeout=60, check=False)
    assert proc.returncode == 2, proc.stderr
    [last] = proc.stderr.strip().splitlines()  # one line, as for any bad input
    assert last.startswith("dialer: error: Slack rejected SLACK_BOT_TOKEN")
    assert "invalid_auth" in last
    assert "Traceback" not in proc.stderr


@pytest.mark.parametrize(("text", "expected"), [
    ("", c.Help()),
    ("HELP", c.Help()),
    ("list", c.ListCampaigns()),
    ("status", c.Status(None)),
    ("status spring promo", c.Status("spring promo")),
    ("pause 12", c.Pause("12")),
    ("resume “spring promo”", c.Resume("spring promo")),
    ("cancel spring", c.Cancel("spring")),
    ("dashboard spring", c.Dashboard("spring")),
    ("numbers spring", c.Numbers("spring")),
    ("add spring +1 415 555 0123", c.Add("spring", "+1 415 555 0123")),
    ("add spring +1 (415) 555-0123 Ada Lovelace", c.Add("spring", "+1 (415) 555-0123",
                                                         "Ada Lovelace")),
    ("add \"spring promo\" 415.555.0123 Ada", c.Add("spring promo", "415.555.0123", "Ada")),
    ("add spring <tel:+14155550123|+1 415 555 0123> Ada",
     c.Add("spring", "+1 415 555 0123", "Ada")),
    ("add spring call-me Ada", c.Add("spring", "call-me", "Ada")),
    ("add spring", c.ImportFile("spring")),
    ("status a &amp; b", c.Status("a & b")),
])
def test_parse(text: str, expected: c.Command) -> None:
    assert c.parse(text) == expected


@pytest.mark.parametrize(("text", "reason"), [
    ("pause", "needs a campaign"),
    ("add", "needs a campaign and a phone"),
    ("frob", "I don't know `frob`"),
    ('status "open', "not closed"),
    ("x" * 3000, "too long"),
])
def test_parse_errors(text: str, reason: str) -> None:
    with pytest.raises(c.CommandError, match=re.escape(reason)):
        c.parse(text)


def test_only_changes_need_an_operator() -> None:
    assert {a for a in c.Action if a.changes_things} == {
        c.Action.PAUSE, c.Action.RESUME, c.Action.CANCEL, c.Action.ADD, c.Action.IMPORT,
        c.Action.AGENT}


def test_trusted_strings_carry_no_raw_angle_brackets() -> None:
    for name, value in vars(strings).items():
        if name.isupper() and isinstance(value, str):
            assert not re.search(r"<(?![@#])", value), name  # mentions come from templates
