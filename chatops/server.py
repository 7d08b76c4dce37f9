"""``POST /slack/events`` over HTTP with one thread per request (stdlib only).

Bolt's built-in development server handles one request at a time; this runs Bolt under
``wsgiref`` with ``ThreadingMixIn``, so a slow request never holds up the ack of the next
one.

The endpoint faces the internet, so the request is checked here before Bolt sees it
(Bolt parses the body before it verifies the signature, and some hostile headers make
its verifier raise, which would be a 500):

- the body must come with a ``Content-Length`` of at most ``MAX_BODY_BYTES`` (413 at
  once, unread, when larger; no chunked bodies), and arrive within the read timeout;
- it must carry a valid Slack signature no more than five minutes off (401 otherwise;
  Slack's unsigned ``ssl_check`` pings go on to Bolt, which answers them and runs
  nothing);
- a signature is honoured once: the same signed request again (a replay, or a duplicate
  delivery) is answered 200 and dropped;
- a signed body that does not parse, or whose well-known fields have the wrong shape,
  is a 400.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import re
import sys
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Iterable, Sequence
from socketserver import ThreadingMixIn
from typing import Any, Final
from urllib.parse import parse_qsl
from wsgiref.simple_server import WSGIRequestHandler, WSGIServer, make_server

from slack_bolt import App, BoltRequest
from slack_bolt.adapter.wsgi import SlackRequestHandler
from slack_bolt.adapter.wsgi.http_request import WsgiHttpRequest
from slack_bolt.adapter.wsgi.http_response import WsgiHttpResponse

log = logging.getLogger(__name__)

EVENTS_PATH: Final = "/slack/events"
MAX_BODY_BYTES: Final = 1024 * 1024
"""Slack's requests are a few kilobytes (an interactive payload carries its message, at
most 50 blocks); a megabyte is far beyond anything Slack sends."""
READ_TIMEOUT_S: Final = 10.0
"""How long a connection may take to send its request line, headers and body."""
MAX_SKEW_S: Final = 300
"""Slack's rule: a request more than five minutes off is refused (as Bolt does)."""

_DIGITS = re.compile(r"[0-9]{1,19}")
_SIGNATURE = re.compile(r"v0=[0-9a-f]{64}")
_DICT_FIELDS: Final = ("user", "channel", "team", "container", "enterprise", "message",
                       "view", "event", "state", "function_data")
_LIST_OF_DICTS: Final = ("actions", "authorizations")
_STR_FIELDS: Final = ("type", "command", "text", "user_id", "channel_id", "team_id",
                      "response_url", "trigger_id", "api_app_id", "token")


class ThreadingWSGIServer(ThreadingMixIn, WSGIServer):
    """A WSGI server that serves each connection on its own daemon thread."""

    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 128

    def handle_error(self, request: Any, client_address: Any) -> None:
        """A client that stalls or hangs up is routine here, not a traceback on stderr."""
        if isinstance(sys.exc_info()[1], (TimeoutError, ConnectionError)):
            log.debug("dropped a slow or vanished client %s", client_address[0])
            return
        super().handle_error(request, client_address)


class _QuietHandler(WSGIRequestHandler):
    """Access lines go to logging at debug level instead of stderr; every socket read
    times out (a stalled client cannot hold a thread for good)."""

    timeout = READ_TIMEOUT_S

    def log_message(self, format: str, *args: Any) -> None:
        log.debug("%s " + format, self.address_string(), *args)


class Replays:
    """Signatures seen within the last ``window_s``: each is honoured once."""

    def __init__(self, window_s: float = 2 * MAX_SKEW_S + 60,
                 clock: Callable[[], float] = time.time, limit: int = 200_000) -> None:
        self.window_s, self.clock, self.limit = window_s, clock, limit
        self._seen: OrderedDict[str, float] = OrderedDict()
        self._lock = threading.Lock()

    def first(self, signature: str) -> bool:
        """True the first time ``signature`` is seen; False for a replay."""
        now = self.clock()
        with self._lock:
            while self._seen and (next(iter(self._seen.values())) < now
                                  or len(self._seen) >= self.limit):
                self._seen.popitem(last=False)
            if signature in self._seen:
                return False
            self._seen[signature] = now + self.window_s
            return True


def signature_ok(secret: str, timestamp: str | None, signature: str | None, body: bytes,
                 now: float) -> bool:
    """Slack's check, strict about the shape of both headers (never raises)."""
    if not secret or timestamp is None or signature is None:
        return False
    if not _DIGITS.fullmatch(timestamp) or not _SIGNATURE.fullmatch(signature):
        return False
    if abs(now - int(timestamp)) > MAX_SKEW_S:
        return False
    base = b"v0:" + timestamp.encode() + b":" + body
    expected = "v0=" + hmac.new(secret.encode(), base, hashlib.sha256).hexdigest()
    return hmac.compare_digest(expected, signature)


def _is_ssl_check(body: bytes) -> bool:
    try:
        return dict(parse_qsl(body.decode("ascii"))).get("ssl_check") == "1"
    except (UnicodeDecodeError, ValueError):
        return False


def well_formed(body: dict[str, Any]) -> bool:
    """The fields Bolt and our middleware look into have the types Slack gives them."""
    if any(k in body and not isinstance(body[k], dict) for k in _DICT_FIELDS):
        return False
    for key in _LIST_OF_DICTS:
        value = body.get(key)
        if value is not None and not (isinstance(value, list)
                                      and all(isinstance(v, dict) for v in value)):
            return False
    return all(isinstance(body.get(k, ""), str) for k in _STR_FIELDS)


def wsgi_app(app: App, path: str = EVENTS_PATH, *, signing_secret: str | None = None,
             clock: Callable[[], float] = time.time) -> Any:
    """Bolt behind the checks above: POST ``path`` is dispatched, anything else is 404.

    ``signing_secret`` defaults to the one the Bolt app verifies with.
    """
    handler = SlackRequestHandler(app, path=path)
    # Bolt keeps the secret it verifies with to itself; the same value checks here.
    secret = signing_secret if signing_secret is not None else str(
        getattr(app, "_signing_secret", "") or "")
    replays = Replays(clock=clock)

    def answer(start_response: Any, status: int, body: str = "",
               headers: dict[str, Sequence[str]] | None = None) -> Iterable[bytes]:
        response = WsgiHttpResponse(status=status, headers=headers or {
            "content-type": ["text/plain;charset=utf-8"]}, body=body)
        start_response(response.status, response.get_headers())
        return response.get_body()

    def application(environ: dict[str, Any], start_response: Any) -> Iterable[bytes]:
        if environ.get("REQUEST_METHOD") != "POST" or environ.get("PATH_INFO") != path:
            return handler(environ, start_response)
        if environ.get("HTTP_TRANSFER_ENCODING"):
            return answer(start_response, 411, "Length Required")
        length = str(environ.get("CONTENT_LENGTH") or "").strip()
        if not length:
            return answer(start_response, 411, "Length Required")
        if not (length.isascii() and length.isdigit()):
            return answer(start_response, 400, "Bad Request")
        if len(length) > 9 or int(length) > MAX_BODY_BYTES:
            return answer(start_response, 413, "Payload Too Large")
        size = int(length)
        try:
            raw: bytes = environ["wsgi.input"].read(size)
        except (TimeoutError, ConnectionError):
            return answer(start_response, 408, "Request Timeout")
        if len(raw) != size:
            return answer(start_response, 400, "Bad Request")
        timestamp = environ.get("HTTP_X_SLACK_REQUEST_TIMESTAMP")
        signature = environ.get("HTTP_X_SLACK_SIGNATURE")
        if not signature_ok(secret, timestamp, signature, raw, clock()):
            if signature is None and _is_ssl_check(raw):
                return _dispatch(app, environ, raw.decode("ascii"), start_response, answer)
            return answer(start_response, 401, "")
        assert signature is not None
        if not replays.first(signature):
            log.info("dropped a Slack request seen before (a replay or a duplicate)")
            return answer(start_response, 200, "")
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError:
            return answer(start_response, 400, "Bad Request")
        return _dispatch(app, environ, text, start_response, answer)

    return application


def _dispatch(app: App, environ: dict[str, Any], text: str, start_response: Any,
              answer: Callable[..., Iterable[bytes]]) -> Iterable[bytes]:
    wsgi_request = WsgiHttpRequest(environ)
    try:
        request = BoltRequest(body=text, query=wsgi_request.query_string,
                              headers=wsgi_request.get_headers())
        parsed_ok = isinstance(request.body, dict) and well_formed(request.body)
    except (ValueError, TypeError, AttributeError, KeyError, IndexError):
        parsed_ok = False  # bad JSON (a ValueError) or a payload of the wrong shape
    if not parsed_ok:
        return answer(start_response, 400, "Bad Request")
    response = app.dispatch(request)
    return answer(start_response, response.status, response.body, response.headers)


class SlackHttpServer:
    """A running threaded HTTP server for the app; ``port`` is the bound port."""

    def __init__(self, app: App, host: str = "127.0.0.1", port: int = 3000, *,
                 signing_secret: str | None = None,
                 read_timeout_s: float = READ_TIMEOUT_S) -> None:
        handler = type("_Handler", (_QuietHandler,), {"timeout": read_timeout_s})
        self.httpd = make_server(host, port, wsgi_app(app, signing_secret=signing_secret),
                                 server_class=ThreadingWSGIServer, handler_class=handler)
        self.host = host
        self.port = int(self.httpd.server_address[1])
        self._thread: threading.Thread | None = None

    def serve_forever(self) -> None:
        """Serve on this thread until ``shutdown``."""
        self.httpd.serve_forever(poll_interval=0.2)

    def start(self) -> SlackHttpServer:
        """Serve on a daemon thread (tests, benchmarks)."""
        self._thread = threading.Thread(target=self.serve_forever, name="slack-http",
                                        daemon=True)
        self._thread.start()
        return self

    def shutdown(self) -> None:
        """Stop serving and close the socket."""
        self.httpd.shutdown()
        self.httpd.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)


__all__ = ["EVENTS_PATH", "MAX_BODY_BYTES", "READ_TIMEOUT_S", "Replays", "SlackHttpServer",
           "signature_ok", "well_formed", "wsgi_app"]
