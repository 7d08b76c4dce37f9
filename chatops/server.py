"""``POST /slack/events`` over HTTP with one thread per request (stdlib only).

Bolt's built-in development server handles one request at a time; this runs Bolt's WSGI
adapter under ``wsgiref`` with ``ThreadingMixIn``, so a slow request never holds up the
ack of the next one.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterable
from socketserver import ThreadingMixIn
from typing import Any
from wsgiref.simple_server import WSGIRequestHandler, WSGIServer, make_server

from slack_bolt import App
from slack_bolt.adapter.wsgi import SlackRequestHandler

log = logging.getLogger(__name__)

EVENTS_PATH = "/slack/events"


class ThreadingWSGIServer(ThreadingMixIn, WSGIServer):
    """A WSGI server that serves each connection on its own daemon thread."""

    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 128


class _QuietHandler(WSGIRequestHandler):
    """Access lines go to logging at debug level instead of stderr."""

    def log_message(self, format: str, *args: Any) -> None:
        log.debug("%s " + format, self.address_string(), *args)


def wsgi_app(app: App, path: str = EVENTS_PATH) -> Any:
    """Bolt's WSGI adapter: POST ``path`` is dispatched, anything else is 404."""
    handler = SlackRequestHandler(app, path=path)

    def application(environ: dict[str, Any], start_response: Any) -> Iterable[bytes]:
        return handler(environ, start_response)

    return application


class SlackHttpServer:
    """A running threaded HTTP server for the app; ``port`` is the bound port."""

    def __init__(self, app: App, host: str = "127.0.0.1", port: int = 3000) -> None:
        self.httpd = make_server(host, port, wsgi_app(app), server_class=ThreadingWSGIServer,
                                 handler_class=_QuietHandler)
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
