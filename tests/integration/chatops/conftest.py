"""Fixtures for the Slack app: a fake Web API, the app behind its real HTTP endpoint, and a
driver that sends correctly signed slash commands, button clicks and events."""

from __future__ import annotations

import hashlib
import hmac
import itertools
import json
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import pytest
from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from campaigns import types as t
from chatops.server import SlackHttpServer
from dialer.settings import Settings
from dialer.slack_commands import build_slack_app
from storage.db import make_engine, session_factory
from storage.migrate import upgrade
from storage.repos import CampaignRepo, ContactRepo, NewContact, NumberRepo, Who
from tests.integration.chatops.fake_slack import TEAM, FakeSlack

SECRET = "test-signing-secret"
OPERATOR = "UOPERATOR1"
VIEWER = "UVIEWER01"
CHANNEL = "CDIALER01"
OTHER_CHANNEL = "COTHER001"
ALERTS = "CALERTS01"
NOW = datetime(2026, 3, 10, 15, 0, tzinfo=UTC)


def sign(secret: str, ts: str, body: bytes) -> str:
    """Slack's request signature: ``v0=`` + HMAC-SHA256 of ``v0:{ts}:{body}``."""
    base = b"v0:" + ts.encode() + b":" + body
    return "v0=" + hmac.new(secret.encode(), base, hashlib.sha256).hexdigest()


@dataclass
class Reply:
    """The HTTP answer the app gave (the ack)."""

    status: int
    body: str
    seconds: float

    def json(self) -> Any:
        """The ack body as JSON."""
        return json.loads(self.body)


@dataclass
class Driver:
    """Talks to the app's ``/slack/events`` like Slack does."""

    url: str
    fake: FakeSlack
    secret: str = SECRET
    _n: Iterator[int] = field(default_factory=lambda: itertools.count(1))

    def post(self, body: bytes, content_type: str, *, ts: str | None = None,
             signature: str | None = None, drop: tuple[str, ...] = ()) -> Reply:
        """POST a body, signed unless told otherwise."""
        ts = ts if ts is not None else str(int(time.time()))
        headers = {"Content-Type": content_type, "X-Slack-Request-Timestamp": ts,
                   "X-Slack-Signature": signature or sign(self.secret, ts, body)}
        for name in drop:
            headers.pop(name, None)
        request = urllib.request.Request(self.url, data=body, headers=headers, method="POST")
        start = time.perf_counter()
        try:
            with urllib.request.urlopen(request, timeout=10) as response:
                text = response.read().decode()
                status = response.status
        except urllib.error.HTTPError as exc:
            with exc:  # closes the connection (else an unclosed-socket warning later)
                text, status = exc.read().decode(), exc.code
        return Reply(status, text, time.perf_counter() - start)

    def command_body(self, text: str, user: str = OPERATOR, channel: str = CHANNEL) -> bytes:
        """The form body of ``/dialer <text>``."""
        n = next(self._n)
        return urlencode({
            "token": "legacy", "team_id": TEAM, "team_domain": "test", "channel_id": channel,
            "channel_name": "dialer", "user_id": user, "user_name": user.lower(),
            "command": "/dialer", "text": text, "api_app_id": "A0000001",
            "response_url": f"{self.fake.base}/respond/{n}", "trigger_id": f"trig.{n}",
        }).encode()

    def command(self, text: str, user: str = OPERATOR, channel: str = CHANNEL) -> Reply:
        """Send ``/dialer <text>``."""
        return self.post(self.command_body(text, user, channel),
                         "application/x-www-form-urlencoded")

    def click(self, action_id: str, value: str, user: str = OPERATOR, channel: str = CHANNEL,
              message_ts: str = "1700000000.000001") -> Reply:
        """Click a button on a message in ``channel``."""
        n = next(self._n)
        payload = {
            "type": "block_actions", "team": {"id": TEAM}, "api_app_id": "A0000001",
            "user": {"id": user, "team_id": TEAM}, "channel": {"id": channel},
            "container": {"type": "message", "message_ts": message_ts, "channel_id": channel,
                          "is_ephemeral": False},
            "message": {"ts": message_ts, "text": "status"}, "trigger_id": f"trig.{n}",
            "response_url": f"{self.fake.base}/respond/{n}",
            "actions": [{"type": "button", "action_id": action_id, "value": value,
                         "block_id": "b", "action_ts": "1700000000.1"}],
        }
        return self.post(urlencode({"payload": json.dumps(payload)}).encode(),
                         "application/x-www-form-urlencoded")

    def event(self, event: dict[str, Any], event_id: str | None = None) -> Reply:
        """Deliver an Events API callback (the same ``event_id`` again is a retry)."""
        body = {"type": "event_callback", "team_id": TEAM, "api_app_id": "A0000001",
                "event": event, "event_id": event_id or f"Ev{next(self._n):08d}",
                "event_time": int(time.time()), "authorizations": [
                    {"team_id": TEAM, "user_id": "UBOT0001", "is_bot": True}]}
        return self.post(json.dumps(body).encode(), "application/json")


@pytest.fixture(scope="module")
def fake() -> Iterator[FakeSlack]:
    """The fake Slack Web API for the module."""
    server = FakeSlack().start()
    yield server
    server.stop()


def settings_for(fake: FakeSlack, **extra: Any) -> Settings:
    """Settings as the environment would give them, pointing at the fake."""
    values: dict[str, Any] = {
        "SLACK_BOT_TOKEN": fake.token, "SLACK_SIGNING_SECRET": SECRET,
        "SLACK_API_URL": fake.api_url, "DIALER_SLACK_OPERATORS": OPERATOR,
        "DIALER_SLACK_ALERTS_CHANNEL": ALERTS, **extra}
    return Settings(**values)


@dataclass
class SlackApp:
    """The app under test: its driver, the fake, and the database behind it."""

    driver: Driver
    fake: FakeSlack
    sessions: sessionmaker[Session]
    backend: str

    def campaign(self, name: str = "", *, status: t.CampaignStatus = t.CampaignStatus.ACTIVE,
                 contacts: int = 0, numbers: tuple[str, ...] = ()) -> t.Campaign:
        """A committed campaign with a unique name (``name`` is its prefix)."""
        full = f"{name or 'camp'}-{uuid.uuid4().hex[:6]}"
        who = Who("test", "test")
        with self.sessions.begin() as s:
            c = CampaignRepo(s).create(full, who, NOW)
            if status is not t.CampaignStatus.PAUSED:
                CampaignRepo(s).set_status(c.id, status, who, NOW)
            if contacts:
                ContactRepo(s).add_many(c.id, [NewContact(phone=f"+1202555{i:04d}")
                                               for i in range(contacts)], NOW)
            for e164 in numbers:
                repo = NumberRepo(s)
                try:
                    repo.row(e164)
                except Exception:
                    repo.add(e164, who, NOW)
                repo.assign(c.id, e164, who, NOW)
            return CampaignRepo(s).get(c.id)

    def status_of(self, campaign_id: int) -> str:
        """The campaign's status as the database has it now."""
        with self.sessions() as s:
            return CampaignRepo(s).get(campaign_id).status.value


@pytest.fixture
def make_app(fake: FakeSlack, tmp_path: Path, pg_engine_factory: Callable[[], Engine]
             ) -> Iterator[Callable[..., SlackApp]]:
    """Build the app from settings on a fresh database and serve it on a free port.

    The app commits for real, so each test gets its own database: a SQLite file, or a
    new PostgreSQL schema; nothing leaks into other tests.
    """
    servers: list[SlackHttpServer] = []
    engines: list[Engine] = []

    def build(backend: str = "sqlite", **extra: Any) -> SlackApp:
        if backend == "postgres":
            engine = pg_engine_factory()
        else:
            engine = make_engine(f"sqlite:///{tmp_path / f'slack-{len(engines)}.sqlite3'}")
            upgrade(engine)
            engines.append(engine)
        sessions = session_factory(engine)
        app = build_slack_app(settings_for(fake, **extra), sessions, lambda: NOW)
        server = SlackHttpServer(app, "127.0.0.1", 0).start()
        servers.append(server)
        driver = Driver(f"http://127.0.0.1:{server.port}/slack/events", fake)
        return SlackApp(driver, fake, sessions, backend)

    yield build
    for server in servers:
        server.shutdown()
    for engine in engines:
        engine.dispose()


@pytest.fixture
def slack(make_app: Callable[..., SlackApp]) -> SlackApp:
    """The app on SQLite with the default settings."""
    return make_app("sqlite")
