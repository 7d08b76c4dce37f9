"""Hostile input at the real ``POST /slack/events`` endpoint, driven by Hypothesis.

The app runs behind ``chatops.server`` exactly as ``dialer slack --http`` serves it, with
the fake Web API from the chat-ops integration tests. Properties:

- no input gets a 5xx, and every answer comes within Slack's 3 s (no hang);
- nothing past Bolt's request verification runs unless the request carries a fresh,
  valid signature (a probe middleware records every request that gets that far);
- a signed request sent again (a replay) is carried out at most once;
- oversized, truncated or badly framed bodies are refused quickly with a 4xx;
- whatever a user or the database says is echoed inert: no ``<!…>`` broadcast, no
  ``<@…>`` mention but the bot's own of the person who asked, no ``<http…>`` link.
"""

from __future__ import annotations

import contextlib
import http.client
import itertools
import json
import os
import re
import socket
import string
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlencode

import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st
from slack_bolt import App, BoltResponse

from chatops.server import MAX_BODY_BYTES, SlackHttpServer
from dialer.slack_commands import build_slack_app
from storage.db import make_engine, session_factory
from storage.migrate import upgrade
from storage.repos import ContactRepo
from tests.integration.chatops.conftest import (
    CHANNEL,
    NOW,
    OPERATOR,
    SECRET,
    VIEWER,
    Driver,
    SlackApp,
    settings_for,
    sign,
)
from tests.integration.chatops.fake_slack import TEAM, Call, FakeSlack

pytestmark = pytest.mark.integration

# DIALER_FUZZ_EXAMPLES=500 searches harder (random seeds); CI runs a fixed, quick set.
DEEP = int(os.environ.get("DIALER_FUZZ_EXAMPLES", "0"))
FUZZ = settings(max_examples=DEEP or 40, deadline=None, derandomize=not DEEP,
                suppress_health_check=[HealthCheck.function_scoped_fixture,
                                       HealthCheck.too_slow])
SLOW_FUZZ = settings(FUZZ, max_examples=max(12, DEEP // 10))
READ_TIMEOUT_S = 1.0
FORM = "application/x-www-form-urlencoded"

# --- a raw HTTP client: every byte of the request is the test's to choose -------------


@dataclass(frozen=True)
class Raw:
    """What came back: the status (None when the server closed or reset the connection
    without one) and how long it took."""

    status: int | None
    body: bytes
    seconds: float


def raw_request(port: int, body: bytes = b"", *, headers: dict[str, bytes] | None = None,
                send_body: bool = True, method: bytes = b"POST",
                path: bytes = b"/slack/events", timeout: float = 6.0) -> Raw:
    """Send one request byte for byte; wait at most ``timeout`` for the answer."""
    head = [method + b" " + path + b" HTTP/1.1", b"Host: 127.0.0.1"]
    head += [name.encode() + b": " + value for name, value in (headers or {}).items()]
    start = time.perf_counter()
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as sock:
        # the server may answer and close before it reads an oversized body
        with contextlib.suppress(BrokenPipeError, ConnectionResetError):
            sock.sendall(b"\r\n".join(head) + b"\r\n\r\n" + (body if send_body else b""))
        response = http.client.HTTPResponse(sock)
        try:
            response.begin()
            data = response.read()
        except (ConnectionResetError, BrokenPipeError, http.client.RemoteDisconnected):
            return Raw(None, b"", time.perf_counter() - start)
        except TimeoutError:
            pytest.fail(f"no answer within {timeout} s: the server hangs")
        return Raw(response.status, data, time.perf_counter() - start)


_AGE = itertools.count()


def signed_headers(body: bytes, content_type: str = FORM, *, secret: str = SECRET,
                   ts: str | None = None) -> dict[str, bytes]:
    """The headers Slack sends with ``body``; by default a fresh timestamp that differs
    from the last few hundred, so the same body sent again is no replay."""
    ts = ts if ts is not None else str(int(time.time()) - next(_AGE) % 240)
    return {"Content-Type": content_type.encode(), "Content-Length": str(len(body)).encode(),
            "X-Slack-Request-Timestamp": ts.encode(),
            "X-Slack-Signature": sign(secret, ts, body).encode()}


# --- the app under test -----------------------------------------------------------------


class Endpoint:
    """The app behind its HTTP server, the fake Web API and a probe of what got past
    request verification (a plain class: Hypothesis prints dataclasses field by field)."""

    def __init__(self, slack: SlackApp, server: SlackHttpServer) -> None:
        self.slack, self.server = slack, server
        self.passed: list[dict[str, Any]] = []
        self.lock = threading.Lock()

    @property
    def port(self) -> int:
        return self.server.port

    @property
    def fake(self) -> FakeSlack:
        return self.slack.fake

    @property
    def driver(self) -> Driver:
        return self.slack.driver

    def __repr__(self) -> str:
        return f"Endpoint(port={self.port})"

    def seen(self) -> int:
        with self.lock:
            return len(self.passed)


@pytest.fixture(scope="module")
def endpoint(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Endpoint]:
    fake = FakeSlack().start()
    path: Path = tmp_path_factory.mktemp("fuzz") / "slack.sqlite3"
    engine = make_engine(f"sqlite:///{path}")
    upgrade(engine)
    sessions = session_factory(engine)
    app = build_slack_app(settings_for(fake, DIALER_SLACK_CHANNELS=CHANNEL), sessions,
                          lambda: NOW)
    server = SlackHttpServer(app, "127.0.0.1", 0, read_timeout_s=READ_TIMEOUT_S).start()
    driver = Driver(f"http://127.0.0.1:{server.port}/slack/events", fake)
    ep = Endpoint(SlackApp(driver, fake, sessions, "sqlite"), server)
    _install_probe(app, ep)
    yield ep
    server.shutdown()
    fake.stop()
    engine.dispose()


def _install_probe(app: App, ep: Endpoint) -> None:
    """A global middleware in front of the app's own (auth) middleware: it records every
    request that Bolt's request verification let through."""

    def probe(body: dict[str, Any], next: Callable[[], None]) -> BoltResponse | None:
        with ep.lock:
            ep.passed.append(body)
        next()
        return None

    app.use(probe)
    # app.use appends; move the probe in front of the last one, chatops' authorisation
    # (which would hide refused requests from it), right behind Bolt's built-in ones.
    chain = app._middleware_list  # test-only reach into Bolt's chain
    chain.insert(len(chain) - 2, chain.pop())


def _texts(calls: list[Call]) -> str:
    return "\n".join(str(c.params.get("text", "")) + str(c.params.get("initial_comment", ""))
                     + str(c.params.get("title", ""))
                     + json.dumps(c.params.get("blocks", []), ensure_ascii=False)
                     for c in calls)


_OWN_MENTION = re.compile(rf"<@(?:{OPERATOR}|{VIEWER})>")
_CHANNEL_REF = re.compile(r"<#C[A-Z0-9]+>")


def assert_inert(text: str) -> None:
    """No broadcast, mention or link in ``text`` but the app's own (the mention of who
    asked, the allowed channels in a refusal)."""
    rest = _CHANNEL_REF.sub("", _OWN_MENTION.sub("", text)).lower()
    for bad in ("<!", "<@", "<http", "<mailto:", "<tel:", "<#"):
        assert bad not in rest, f"{bad!r} echoed into Slack: {text[:500]!r}"


def _operator_request(endpoint: Endpoint, kind: str) -> tuple[str, bytes]:
    """A request the app would act on, from an operator in the allowed channel."""
    if kind == "command":
        return FORM, endpoint.driver.command_body("pause 1", user=OPERATOR)
    if kind == "click":
        payload = _click({"action_id": "dialer_pause", "value": "1"})
        return FORM, urlencode({"payload": json.dumps(payload)}).encode()
    return "application/json", json.dumps({
        "type": "event_callback", "team_id": TEAM, "event_id": f"Ev{uuid.uuid4().hex[:8]}",
        "event": {"type": "message", "subtype": "file_share", "user": OPERATOR,
                  "channel": CHANNEL, "text": "add 1", "ts": "1.1",
                  "files": [{"id": "F1", "name": "x.csv", "url_private": "https://x"}]},
    }).encode()


# --- signatures, timestamps, replays -------------------------------------------------------

header_bytes = st.binary(max_size=120).filter(lambda b: b"\r" not in b and b"\n" not in b)


@FUZZ
@given(signature=st.one_of(
    header_bytes,
    st.text(alphabet="0123456789abcdef", min_size=64, max_size=64).map(
        lambda h: ("v0=" + h).encode()),
    st.text(min_size=1, max_size=40).filter(lambda s: s != SECRET)),
    kind=st.sampled_from(["command", "click", "event"]))
def test_forged_signatures_get_401_and_run_nothing(endpoint: Endpoint,
                                                   signature: bytes | str, kind: str) -> None:
    content_type, body = _operator_request(endpoint, kind)
    headers = signed_headers(body, content_type)
    if isinstance(signature, str):  # signed with another secret
        headers["X-Slack-Signature"] = sign(signature, headers[
            "X-Slack-Request-Timestamp"].decode(), body).encode()
    else:
        headers["X-Slack-Signature"] = signature
    before, mark = endpoint.seen(), endpoint.fake.mark()
    reply = raw_request(endpoint.port, body, headers=headers)
    assert reply.status == 401 and reply.seconds < 3
    assert endpoint.seen() == before
    assert endpoint.fake.since(mark) == []


@FUZZ
@given(offset=st.one_of(st.integers(301, 10**12), st.integers(-(10**12), -301)))
def test_stale_and_future_timestamps_get_401(endpoint: Endpoint, offset: int) -> None:
    body = endpoint.driver.command_body("help")
    ts = str(int(time.time()) + offset)
    before = endpoint.seen()
    reply = raw_request(endpoint.port, body, headers=signed_headers(body, ts=ts))
    assert reply.status == 401
    assert endpoint.seen() == before


@FUZZ
@given(ts=st.one_of(header_bytes, st.text(string.digits + " +-_.e", max_size=30).map(
    str.encode)))
def test_malformed_timestamps_get_401_not_500(endpoint: Endpoint, ts: bytes) -> None:
    body = endpoint.driver.command_body("help")
    headers = signed_headers(body, ts=ts.decode("latin-1"))
    headers["X-Slack-Request-Timestamp"] = ts
    before = endpoint.seen()
    reply = raw_request(endpoint.port, body, headers=headers)
    assert reply.status is not None and 400 <= reply.status < 500
    assert endpoint.seen() == before


@SLOW_FUZZ
@given(offset=st.integers(-280, 280))
def test_fresh_signatures_within_five_minutes_are_accepted(endpoint: Endpoint,
                                                           offset: int) -> None:
    body = endpoint.driver.command_body("help", user=VIEWER)
    before = endpoint.seen()
    reply = raw_request(endpoint.port, body,
                        headers=signed_headers(body, ts=str(int(time.time()) + offset)))
    assert reply.status == 200 and "Dialer commands" in reply.body.decode()
    assert endpoint.seen() == before + 1


def test_a_replayed_request_is_carried_out_once(endpoint: Endpoint) -> None:
    slack = endpoint.slack
    c = slack.campaign("replay", numbers=())
    phone = "+12025550177"
    body = endpoint.driver.command_body(f"add {c.id} {phone} Replayed")
    headers = signed_headers(body)
    before = endpoint.seen()
    statuses = [raw_request(endpoint.port, body, headers=headers).status for _ in range(3)]
    assert statuses[0] == 200
    assert all(s is not None and s < 500 for s in statuses)
    slack.fake.wait("chat.postMessage", 0, where=lambda call: "Replayed" in _texts([call]))
    assert endpoint.seen() == before + 1, "a replay got past verification"
    with slack.sessions() as s:
        assert [x.phone for x in ContactRepo(s).list(c.id)] == [phone]


def test_a_replayed_button_click_is_carried_out_once(endpoint: Endpoint) -> None:
    slack = endpoint.slack
    c = slack.campaign("click-replay")
    payload = {"type": "block_actions", "team": {"id": TEAM}, "api_app_id": "A0000001",
               "user": {"id": OPERATOR, "team_id": TEAM}, "channel": {"id": CHANNEL},
               "container": {"type": "message", "message_ts": "1.1", "channel_id": CHANNEL},
               "trigger_id": "t.1", "response_url": f"{slack.fake.base}/respond/r",
               "actions": [{"type": "button", "action_id": "dialer_pause",
                            "value": str(c.id), "block_id": "b", "action_ts": "1.2"}]}
    body = urlencode({"payload": json.dumps(payload)}).encode()
    headers = signed_headers(body)
    before = endpoint.seen()
    for _ in range(2):
        reply = raw_request(endpoint.port, body, headers=headers)
        assert reply.status is not None and reply.status < 500
    assert endpoint.seen() == before + 1


def test_slacks_unsigned_ssl_check_is_answered_and_runs_nothing(endpoint: Endpoint) -> None:
    body = b"ssl_check=1&token=legacy"
    before = endpoint.seen()
    reply = raw_request(endpoint.port, body, headers={
        "Content-Type": FORM.encode(), "Content-Length": str(len(body)).encode()})
    assert reply.status == 200 and endpoint.seen() == before


# --- framing: sizes and lengths ----------------------------------------------------------


@pytest.mark.parametrize("declared", [MAX_BODY_BYTES + 1, 50 * 1024 * 1024, 2**62])
def test_an_oversized_declared_body_is_refused_at_once(endpoint: Endpoint,
                                                       declared: int) -> None:
    headers = {"Content-Type": FORM.encode(), "Content-Length": str(declared).encode(),
               "X-Slack-Request-Timestamp": str(int(time.time())).encode(),
               "X-Slack-Signature": b"v0=" + b"0" * 64}
    reply = raw_request(endpoint.port, headers=headers, send_body=False, timeout=3)
    assert reply.status == 413 and reply.seconds < 1.5


def test_an_oversized_body_that_is_really_sent_is_refused_quickly(endpoint: Endpoint) -> None:
    body = b"text=" + b"a" * (2 * MAX_BODY_BYTES)
    before = endpoint.seen()
    reply = raw_request(endpoint.port, body, headers=signed_headers(body), timeout=5)
    assert reply.status in (413, None) and reply.seconds < 3  # None: reset mid-upload
    assert endpoint.seen() == before


def test_a_body_just_under_the_limit_is_still_verified(endpoint: Endpoint) -> None:
    body = endpoint.driver.command_body("help", user=VIEWER)
    body += b"&pad=" + b"x" * (MAX_BODY_BYTES - len(body) - 5)
    assert len(body) == MAX_BODY_BYTES
    reply = raw_request(endpoint.port, body, headers=signed_headers(body))
    assert reply.status == 200


@pytest.mark.parametrize("length", [b"-1", b"abc", b"1e3", b"", b"12 34", b"0x10",
                                    b"99999999999999999999999999"])
def test_a_malformed_content_length_is_a_4xx(endpoint: Endpoint, length: bytes) -> None:
    body = endpoint.driver.command_body("help")
    headers = signed_headers(body)
    headers["Content-Length"] = length
    reply = raw_request(endpoint.port, body, headers=headers, timeout=4)
    assert reply.status is not None and 400 <= reply.status < 500


def test_a_missing_content_length_is_refused(endpoint: Endpoint) -> None:
    body = endpoint.driver.command_body("help")
    headers = signed_headers(body)
    del headers["Content-Length"]
    reply = raw_request(endpoint.port, body, headers=headers, timeout=4)
    assert reply.status is not None and 400 <= reply.status < 500


def test_chunked_bodies_are_refused(endpoint: Endpoint) -> None:
    body = endpoint.driver.command_body("help")
    headers = signed_headers(body)
    del headers["Content-Length"]
    headers["Transfer-Encoding"] = b"chunked"
    chunked = f"{len(body):x}\r\n".encode() + body + b"\r\n0\r\n\r\n"
    reply = raw_request(endpoint.port, chunked, headers=headers, timeout=4)
    assert reply.status is not None and 400 <= reply.status < 500


def test_a_body_shorter_than_declared_does_not_hold_a_thread(endpoint: Endpoint) -> None:
    body = endpoint.driver.command_body("help")
    headers = signed_headers(body)
    headers["Content-Length"] = str(len(body) + 100).encode()
    reply = raw_request(endpoint.port, body, headers=headers, timeout=READ_TIMEOUT_S + 4)
    assert reply.status is None or 400 <= reply.status < 500
    assert reply.seconds < READ_TIMEOUT_S + 3


def test_a_silent_client_is_dropped(endpoint: Endpoint) -> None:
    start = time.perf_counter()
    with socket.create_connection(("127.0.0.1", endpoint.port), timeout=READ_TIMEOUT_S + 4) \
            as sock:
        sock.sendall(b"POST /slack/events HTTP/1.1\r\n")  # and then nothing
        assert sock.recv(1024) is not None  # returns once the server gives up
    assert time.perf_counter() - start < READ_TIMEOUT_S + 3
    assert raw_request(endpoint.port, b"", headers={"Content-Length": b"0"}).status == 401


# --- malformed bodies, signed and unsigned -------------------------------------------------

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False)
    | st.text(max_size=20),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=10), inner,
                                                                 max_size=4),
    max_leaves=12)
_KEYS = ("type", "user", "channel", "team", "container", "actions", "message", "event",
         "enterprise", "authorizations", "view", "response_url", "trigger_id", "api_app_id",
         "is_enterprise_install", "token", "command", "text", "user_id", "channel_id")
_TYPES = ("block_actions", "event_callback", "url_verification", "view_submission",
          "shortcut", "message_action", "interactive_message", "app_rate_limited")
payload_dicts = st.fixed_dictionaries(
    {"type": st.sampled_from(_TYPES) | json_values},
    optional={k: json_values | st.just({"id": OPERATOR}) for k in _KEYS[1:]})
_ACTION_IDS = ("dialer_pause", "dialer_resume", "dialer_cancel_confirm", "dialer_cancel_keep")


def _click(action: dict[str, Any], **top: Any) -> dict[str, Any]:
    payload = {"type": "block_actions", "team": {"id": TEAM}, "api_app_id": "A0000001",
               "user": {"id": OPERATOR, "team_id": TEAM}, "channel": {"id": CHANNEL},
               "container": {"type": "message", "message_ts": "1.1", "channel_id": CHANNEL},
               "trigger_id": "t", "actions": [action]}
    payload.update(top)
    return payload


near_valid = st.one_of(
    # a slash command with any text, from anyone, anywhere
    st.fixed_dictionaries({
        "command": st.sampled_from(["/dialer", "/other", ""]) | st.text(max_size=10),
        "text": st.text(max_size=80), "user_id": st.sampled_from([OPERATOR, VIEWER, ""]),
        "channel_id": st.sampled_from([CHANNEL, "D0DM", ""]), "team_id": st.just(TEAM),
        "response_url": st.just("http://127.0.0.1:9/respond")}).map(
        lambda d: (FORM, urlencode(d).encode())),
    # a button click with odd actions or odd top-level fields
    st.builds(_click, st.fixed_dictionaries(
        {"action_id": st.sampled_from(_ACTION_IDS) | json_values,
         "value": st.text(max_size=12) | json_values},
        optional={"type": json_values, "block_id": json_values}),
        container=json_values | st.just({"is_ephemeral": True}),
        message=json_values | st.just({"ts": "1.1"})).map(
        lambda p: (FORM, urlencode({"payload": json.dumps(p)}).encode())),
    # an event callback with an odd message event
    st.fixed_dictionaries({
        "type": st.just("event_callback"), "team_id": st.just(TEAM),
        "event_id": st.text(max_size=8),
        "event": st.fixed_dictionaries(
            {"type": st.just("message"), "text": st.text(max_size=30) | json_values},
            optional={"user": json_values, "channel": json_values, "files": json_values,
                      "subtype": json_values, "bot_id": json_values, "ts": json_values})}
    ).map(lambda e: ("application/json", json.dumps(e).encode())),
)
bodies = st.one_of(
    near_valid,
    st.tuples(st.just(FORM), st.binary(max_size=300)),
    st.tuples(st.just("application/json"), st.binary(max_size=300)),
    st.tuples(st.just("application/json"), (json_values | payload_dicts).map(
        lambda v: json.dumps(v).encode())),
    st.tuples(st.just(FORM), (json_values | payload_dicts).map(
        lambda v: urlencode({"payload": json.dumps(v)}).encode())),
    st.tuples(st.just(FORM), st.text(max_size=60).map(
        lambda t: b"payload=" + quote(t).encode())),
    st.tuples(st.just(FORM), st.dictionaries(st.sampled_from(_KEYS), st.text(max_size=40),
                                             max_size=8).map(
        lambda d: urlencode(d).encode())),
    st.tuples(st.sampled_from(["text/plain", "", "multipart/form-data; boundary=x"]),
              st.binary(max_size=100)),
)


@FUZZ
@given(body=bodies)
def test_unsigned_junk_gets_401_never_5xx(endpoint: Endpoint,
                                          body: tuple[str, bytes]) -> None:
    content_type, data = body
    headers = {"Content-Type": content_type.encode(),
               "Content-Length": str(len(data)).encode()}
    before = endpoint.seen()
    reply = raw_request(endpoint.port, data, headers=headers)
    assert reply.status is not None and 400 <= reply.status < 500 and reply.seconds < 3
    assert endpoint.seen() == before


@FUZZ
@given(body=bodies)
def test_signed_malformed_bodies_never_get_5xx(endpoint: Endpoint,
                                               body: tuple[str, bytes]) -> None:
    content_type, data = body
    reply = raw_request(endpoint.port, data, headers=signed_headers(data, content_type))
    event(f"status {reply.status}")
    assert reply.status is not None and reply.status < 500, reply
    assert reply.seconds < 3


# --- markup and mention injection ----------------------------------------------------------

HOSTILE_TOKENS = ("<!channel>", "<!here>", "<!everyone>", "<@U123>", "<@W0ABC|boss>",
                  "<#C0123|general>", "*bold*", "_it_", "~s~", "<http://evil|click>",
                  "<https://evil.example>", "<mailto:a@b.c|mail>", "&lt;", "&gt;", "&amp;",
                  "&lt;!channel&gt;", "`", "```", ">", "<", "&", "@here", "@channel",
                  "<!subteam^S1|@team>", "<!date^1|x>", "\u200b", "\n", "'", "\\")
hostile_text = st.lists(st.sampled_from(HOSTILE_TOKENS) | st.text(
    alphabet=string.ascii_letters + " -", max_size=4), min_size=1, max_size=6).map(
    "".join).filter(lambda s: s.strip() and '"' not in s)


def _slack_escaped(text: str) -> str:
    """How Slack sends what a person typed: ``&``, ``<`` and ``>`` as entities."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _echoes(endpoint: Endpoint, text: str, user: str, *, replies: bool = True) -> str:
    """The ack and, unless the ack already answered, the first reply in the channel."""
    mark = endpoint.fake.mark()
    reply = endpoint.driver.command(text, user=user)
    assert reply.status == 200 and reply.seconds < 3
    if reply.body or not replies:
        return reply.body
    deadline = time.monotonic() + 10
    while not any(c.method.startswith("chat.") for c in endpoint.fake.since(mark)):
        assert time.monotonic() < deadline, f"no reply to {text!r}"
        time.sleep(0.02)
    return _texts(endpoint.fake.since(mark))


@SLOW_FUZZ
@given(name=hostile_text, escaped=st.booleans(), n=st.integers(0, 99))
def test_hostile_names_and_arguments_are_echoed_inert(endpoint: Endpoint, name: str,
                                                      escaped: bool, n: int) -> None:
    slack = endpoint.slack
    c = slack.campaign(name.strip()[:150])
    arg = _slack_escaped(name) if escaped else name
    texts = [
        _echoes(endpoint, f"status {c.id}", VIEWER),
        _echoes(endpoint, f"add {c.id} +1 202 555 01{n:02d} {arg}", OPERATOR),
        _echoes(endpoint, f"status {arg}-nope", VIEWER),
        _echoes(endpoint, f"agent {c.id} {arg}", OPERATOR),
        _echoes(endpoint, f"add {c.id} {arg}x 1", OPERATOR),
        _echoes(endpoint, arg, VIEWER, replies=False),
        _echoes(endpoint, f"pause {c.id}", OPERATOR),
    ]
    for text in texts:
        assert_inert(text)


def test_list_and_cancel_echo_hostile_names_inert(endpoint: Endpoint) -> None:
    slack = endpoint.slack
    c = slack.campaign("<!channel> <@U999> <http://evil|x> &lt;!here&gt;")
    assert_inert(_echoes(endpoint, "list", VIEWER))
    assert_inert(_echoes(endpoint, "status", VIEWER))
    assert_inert(_echoes(endpoint, f"cancel {c.id}", OPERATOR))
    mark = endpoint.fake.mark()
    endpoint.driver.click("dialer_cancel_keep", str(c.id), user=VIEWER)
    endpoint.fake.wait("chat.update", mark)
    assert_inert(_texts(endpoint.fake.since(mark)))


def test_the_dashboard_and_its_heatmap_echo_a_hostile_name_inert(endpoint: Endpoint) -> None:
    c = endpoint.slack.campaign("<!here> `x` <@U1> <https://evil|y>", contacts=2)
    mark = endpoint.fake.mark()
    endpoint.driver.command(f"dashboard {c.id}", user=VIEWER)
    endpoint.fake.wait("files.completeUploadExternal", mark, timeout=20)
    assert_inert(_texts(endpoint.fake.since(mark)))


def test_a_hostile_csv_is_reported_inert(endpoint: Endpoint) -> None:
    c = endpoint.slack.campaign("csv-<!channel>")
    name = "<!channel> <http://evil|x>`.csv"
    data = (b"phone,name\n"
            b"+1 202 555 0150,<!channel> Ada\n"
            b"<!here>,<@U123>\n"
            b"<http://evil|+1 202 555 0151>,`Bob`\n"
            b"&lt;!channel&gt;,*bold*\n")
    url = endpoint.fake.host_file(f"hostile-{uuid.uuid4().hex[:6]}.csv", data)
    event = {"type": "message", "subtype": "file_share", "user": OPERATOR,
             "channel": CHANNEL, "text": f"add {c.id}", "ts": f"{time.time():.6f}",
             "files": [{"id": "F1", "name": name, "title": name, "filetype": "csv",
                        "mimetype": "text/csv", "size": len(data), "url_private": url}]}
    mark = endpoint.fake.mark()
    assert endpoint.driver.event(event).status == 200
    endpoint.fake.wait("chat.postMessage", mark, timeout=20,
                       where=lambda call: "finished" in call.params.get("text", ""))
    posts = endpoint.fake.since(mark)
    text = _texts(posts)
    assert "rows with errors" in text
    assert_inert(text)
