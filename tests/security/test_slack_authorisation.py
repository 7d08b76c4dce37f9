"""Who may do what from Slack: every ``/dialer`` subcommand, every button and the CSV
import, from an operator in an allowed channel, an operator elsewhere, someone who is no
operator, and a direct message (CONTRACTS.md: reading is open to anyone; changes need a
user in ``DIALER_SLACK_OPERATORS`` in one of ``DIALER_SLACK_CHANNELS``, any channel when
that is empty; clicks are authorised like the commands they stand for).

The requests go through the real endpoint, signed; a probe middleware behind chatops'
authorisation records which requests reached the listeners.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from slack_bolt import BoltResponse

from chatops.auth import Policy, classify
from chatops.commands import Action
from chatops.server import SlackHttpServer
from dialer.slack_commands import build_slack_app
from storage.db import make_engine, session_factory
from storage.migrate import upgrade
from tests.integration.chatops.conftest import (
    CHANNEL,
    NOW,
    OPERATOR,
    OTHER_CHANNEL,
    Driver,
    SlackApp,
    settings_for,
)
from tests.integration.chatops.fake_slack import FakeSlack

pytestmark = pytest.mark.integration

STRANGER = "USTRANGER1"
DM = "D0DIRECT01"
CONTEXTS = {  # name: (user, channel)
    "operator_in_allowed_channel": (OPERATOR, CHANNEL),
    "operator_in_other_channel": (OPERATOR, OTHER_CHANNEL),
    "unknown_user_in_allowed_channel": (STRANGER, CHANNEL),
    "operator_in_dm": (OPERATOR, DM),
}
ONLY_ALLOWED = {"operator_in_allowed_channel"}
EVERYWHERE = set(CONTEXTS)

# (kind, what, who may) — "{c}" is the campaign's id
REQUESTS: list[tuple[str, str, set[str]]] = [
    ("command", "", EVERYWHERE),
    ("command", "help", EVERYWHERE),
    ("command", "list", EVERYWHERE),
    ("command", "status", EVERYWHERE),
    ("command", "status {c}", EVERYWHERE),
    ("command", "dashboard {c}", EVERYWHERE),
    ("command", "numbers {c}", EVERYWHERE),
    ("command", "no-such-subcommand {c}", EVERYWHERE),
    ("command", "pause {c}", ONLY_ALLOWED),
    ("command", "resume {c}", ONLY_ALLOWED),
    ("command", "cancel {c}", ONLY_ALLOWED),
    ("command", "add {c} +1 202 555 0199 Ada", ONLY_ALLOWED),
    ("command", "add {c}", ONLY_ALLOWED),  # the import command without a file
    ("command", "agent {c} Ava", ONLY_ALLOWED),
    ("button", "dialer_pause", ONLY_ALLOWED),
    ("button", "dialer_resume", ONLY_ALLOWED),
    ("button", "dialer_cancel_confirm", ONLY_ALLOWED),
    ("button", "dialer_cancel_keep", EVERYWHERE),  # declining changes nothing
    ("event", "add {c}", ONLY_ALLOWED),  # a CSV shared with "add <campaign>"
]


class Probe:
    """Records the bodies that got past the authorisation middleware."""

    def __init__(self) -> None:
        self.bodies: list[dict[str, Any]] = []
        self.lock = threading.Lock()

    def __call__(self, body: dict[str, Any], next: Callable[[], None]) -> BoltResponse | None:
        with self.lock:
            self.bodies.append(body)
        next()
        return None

    def count(self) -> int:
        with self.lock:
            return len(self.bodies)


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[SlackApp, Probe]]:
    fake = FakeSlack().start()
    path: Path = tmp_path_factory.mktemp("authz") / "slack.sqlite3"
    engine = make_engine(f"sqlite:///{path}")
    upgrade(engine)
    sessions = session_factory(engine)
    app = build_slack_app(settings_for(fake, DIALER_SLACK_CHANNELS=CHANNEL), sessions,
                          lambda: NOW)
    probe = Probe()
    app.use(probe)  # appended: runs after chatops' authorisation
    server = SlackHttpServer(app, "127.0.0.1", 0).start()
    driver = Driver(f"http://127.0.0.1:{server.port}/slack/events", fake)
    yield SlackApp(driver, fake, sessions, "sqlite"), probe
    server.shutdown()
    fake.stop()
    engine.dispose()


def _send(slack: SlackApp, kind: str, what: str, user: str, channel: str) -> str:
    """Send one request; returns the ack body (refusals of commands are in the ack)."""
    if kind == "command":
        reply = slack.driver.command(what, user=user, channel=channel)
    elif kind == "button":
        campaign = slack.campaign("clicked")
        reply = slack.driver.click(what, str(campaign.id), user=user, channel=channel)
    else:
        url = slack.fake.host_file("authz.csv", b"phone\n+12025550123\n")
        reply = slack.driver.event({
            "type": "message", "subtype": "file_share", "user": user, "channel": channel,
            "text": what, "ts": f"{time.time():.6f}",
            "files": [{"id": "F1", "name": "authz.csv", "filetype": "csv", "size": 20,
                       "mimetype": "text/csv", "url_private": url}]})
    assert reply.status == 200 and reply.seconds < 3
    return reply.body


@pytest.mark.parametrize("context", sorted(CONTEXTS))
@pytest.mark.parametrize(("kind", "what", "allowed"), REQUESTS,
                         ids=[f"{k}:{w.split(' ')[0] or 'empty'}{'-file' if w == 'add {c}' else ''}"
                              for k, w, _ in REQUESTS])
def test_each_request_is_allowed_or_refused_as_the_contract_says(
        served: tuple[SlackApp, Probe], context: str, kind: str, what: str,
        allowed: set[str]) -> None:
    slack, probe = served
    user, channel = CONTEXTS[context]
    campaign = slack.campaign("authz")
    before, mark = probe.count(), slack.fake.mark()
    ack = _send(slack, kind, what.format(c=campaign.id), user, channel)
    reached = probe.count() > before
    if context in allowed:
        assert reached, f"{kind} {what!r} was refused for {context}"
        assert "Only dialer operators" not in ack and "only allowed in" not in ack
        return
    assert not reached, f"{kind} {what!r} reached the listeners for {context}"
    if kind == "command":
        refusal = json.loads(ack)
        assert refusal["response_type"] == "ephemeral"
        text = refusal["text"]
    else:  # a click or an event is refused privately, to the person
        call = slack.fake.wait("chat.postEphemeral", mark)
        assert (call.params["user"], call.params["channel"]) == (user, channel)
        text = call.params["text"]
    expected = "Only dialer operators" if user != OPERATOR else "only allowed in the dialer's"
    assert expected in text
    assert slack.status_of(campaign.id) == "active"


# --- the decision itself, exhaustively (no HTTP) ----------------------------------------

def _body(kind: str, action_text: str, user: str, channel: str) -> dict[str, Any]:
    if kind == "command":
        return {"command": "/dialer", "text": action_text, "user_id": user,
                "channel_id": channel}
    if kind == "button":
        return {"type": "block_actions", "user": {"id": user}, "channel": {"id": channel},
                "actions": [{"action_id": action_text, "value": "1"}]}
    return {"type": "event_callback", "event": {
        "type": "message", "subtype": "file_share", "user": user, "channel": channel,
        "text": action_text, "files": [{"id": "F1"}]}}


@pytest.mark.parametrize("channels", [frozenset({CHANNEL}), frozenset()],
                         ids=["channels_set", "channels_empty"])
@pytest.mark.parametrize(("kind", "what", "allowed"), REQUESTS)
@pytest.mark.parametrize("context", sorted(CONTEXTS))
def test_the_policy_matrix(channels: frozenset[str], kind: str, what: str,
                           allowed: set[str], context: str) -> None:
    user, channel = CONTEXTS[context]
    asked = classify(_body(kind, what.format(c=7), user, channel))
    refusal = (Policy(frozenset({OPERATOR}), channels).refusal(asked.user, asked.channel,
                                                             asked.action)
               if asked is not None else None)
    if not channels:  # empty = any channel, DMs included; still operators only
        allowed = EVERYWHERE if allowed == EVERYWHERE else {
            c for c, (u, _) in CONTEXTS.items() if u == OPERATOR}
    assert (refusal is None) == (context in allowed)


@pytest.mark.parametrize("action", list(Action))
def test_every_action_that_changes_things_needs_an_operator(action: Action) -> None:
    policy = Policy(frozenset({OPERATOR}), frozenset({CHANNEL}))
    changes = {Action.PAUSE, Action.RESUME, Action.CANCEL, Action.ADD, Action.IMPORT,
               Action.AGENT}
    assert action.changes_things == (action in changes)
    assert (policy.refusal(STRANGER, CHANNEL, action) is None) == (action not in changes)
    assert (policy.refusal(OPERATOR, DM, action) is None) == (action not in changes)
    assert policy.refusal(OPERATOR, CHANNEL, action) is None


def test_a_user_id_that_only_looks_like_an_operator_is_refused() -> None:
    policy = Policy(frozenset({OPERATOR}), frozenset({CHANNEL}))
    for user in (OPERATOR.lower(), f" {OPERATOR}", f"{OPERATOR} ", f"<@{OPERATOR}>", "",
                 f"{OPERATOR},{STRANGER}"):
        assert policy.refusal(user, CHANNEL, Action.PAUSE) is not None, user
    for channel in (CHANNEL.lower(), f"<#{CHANNEL}>", "", f"{CHANNEL} "):
        assert policy.refusal(OPERATOR, channel, Action.PAUSE) is not None, channel
