"""A local fake of the Slack Web API (and of ``response_url`` and file hosting).

A threaded ``http.server`` on 127.0.0.1 that answers the methods the dialer's Slack app
calls, records every call, and serves shared files to requests that carry the bot token
(like ``url_private``). ``fail_channels`` makes posts to a channel fail with an error.
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import itertools
import json
import socket
import struct
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

BOT_USER = "UBOT0001"
TEAM = "T0000001"


@dataclass
class Call:
    """One request the fake received."""

    method: str  # the API method ("chat.postMessage"), "upload", "respond" or "download"
    path: str
    params: dict[str, Any]
    headers: dict[str, str]
    body: bytes = b""


@dataclass
class FakeSlack:
    """The server's state: recorded calls, uploaded bytes, files to serve."""

    token: str = "xoxb-test-token"
    calls: list[Call] = field(default_factory=list)
    uploads: dict[str, bytes] = field(default_factory=dict)
    files: dict[str, tuple[bytes, str]] = field(default_factory=dict)
    fail_channels: dict[str, str] = field(default_factory=dict)
    port: int = 0
    socket_url: str | None = None  # what apps.connections.open hands out

    def __post_init__(self) -> None:
        self._lock = threading.Condition()
        self._ts = itertools.count(1)
        self._ids = itertools.count(1)
        self._server: ThreadingHTTPServer | None = None

    # --- control -------------------------------------------------------------------

    @property
    def base(self) -> str:
        """``http://127.0.0.1:PORT``."""
        return f"http://127.0.0.1:{self.port}"

    @property
    def api_url(self) -> str:
        """The Web API base URL (trailing slash matters)."""
        return f"{self.base}/api/"

    def start(self) -> FakeSlack:
        """Listen on a free port on a daemon thread."""
        fake = self

        class Handler(_Handler):
            state = fake

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self.port = int(self._server.server_address[1])
        threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.1},
                         daemon=True).start()
        return self

    def stop(self) -> None:
        """Shut the server down."""
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()

    def host_file(self, name: str, data: bytes, content_type: str = "text/csv") -> str:
        """Serve ``data`` at a private URL (token required); returns the URL."""
        self.files[name] = (data, content_type)
        return f"{self.base}/files/{name}"

    def record(self, call: Call) -> None:
        """Remember a call and wake waiters."""
        with self._lock:
            self.calls.append(call)
            self._lock.notify_all()

    def since(self, mark: int) -> list[Call]:
        """Calls after ``mark`` (a length of ``calls`` taken earlier)."""
        with self._lock:
            return list(self.calls[mark:])

    def mark(self) -> int:
        """The current number of calls, for ``since`` and ``wait``."""
        with self._lock:
            return len(self.calls)

    def wait(self, method: str, mark: int = 0, timeout: float = 10.0,
             where: Callable[[Call], bool] | None = None) -> Call:
        """The first call to ``method`` after ``mark`` (matching ``where``); waits for it."""
        deadline = time.monotonic() + timeout
        with self._lock:
            while True:
                for call in self.calls[mark:]:
                    if call.method == method and (where is None or where(call)):
                        return call
                left = deadline - time.monotonic()
                if left <= 0:
                    seen = [c.method for c in self.calls[mark:]]
                    raise AssertionError(f"no {method} call within {timeout} s; saw {seen}")
                self._lock.wait(left)

    def next_ts(self) -> str:
        """A fresh message timestamp."""
        return f"1700000000.{next(self._ts):06d}"

    def next_id(self, prefix: str) -> str:
        """A fresh id like ``F000001``."""
        return f"{prefix}{next(self._ids):06d}"


class _Handler(BaseHTTPRequestHandler):
    state: FakeSlack
    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def _reply(self, status: int, body: bytes, content_type: str = "application/json") -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def _json(self, value: dict[str, Any]) -> None:
        self._reply(200, json.dumps(value).encode())

    def do_GET(self) -> None:
        path = urlsplit(self.path).path
        headers = {k.lower(): v for k, v in self.headers.items()}
        if path.startswith("/files/"):
            name = path[len("/files/"):]
            self.state.record(Call("download", path, {}, headers))
            if headers.get("authorization") != f"Bearer {self.state.token}":
                self._reply(200, b"<html>sign in</html>", "text/html")  # what Slack does
                return
            if name not in self.state.files:
                self._reply(404, b"not found", "text/plain")
                return
            data, content_type = self.state.files[name]
            self._reply(200, data, content_type)
            return
        self._reply(404, b"not found", "text/plain")

    def do_POST(self) -> None:
        split = urlsplit(self.path)
        path = split.path
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length)
        headers = {k.lower(): v for k, v in self.headers.items()}
        if path.startswith("/upload/"):
            self.state.uploads[path[len("/upload/"):]] = raw
            self.state.record(Call("upload", path, {}, headers, raw))
            self._reply(200, f"OK - {len(raw)}".encode(), "text/plain")
            return
        if path.startswith("/respond/"):
            params = json.loads(raw or b"{}")
            self.state.record(Call("respond", path, params, headers, raw))
            self._reply(200, b"ok", "text/plain")
            return
        if not path.startswith("/api/"):
            self._reply(404, b"not found", "text/plain")
            return
        method = path[len("/api/"):]
        params = _params(raw, headers.get("content-type", ""), split.query)
        self.state.record(Call(method, path, params, headers, raw))
        auth = headers.get("authorization", "")
        if method == "apps.connections.open" and auth.startswith("Bearer xapp-"):
            self._json({"ok": True, "url": self.state.socket_url} if self.state.socket_url
                       else {"ok": False, "error": "invalid_auth"})
            return
        if auth != f"Bearer {self.state.token}":
            self._json({"ok": False, "error": "invalid_auth"})
            return
        self._json(self._answer(method, params))

    def _answer(self, method: str, params: dict[str, Any]) -> dict[str, Any]:
        s = self.state
        channel = str(params.get("channel") or params.get("channel_id") or "")
        if method == "auth.test":
            return {"ok": True, "url": s.base + "/", "team": "test", "user": "dialer",
                    "team_id": TEAM, "user_id": BOT_USER, "bot_id": "B0000001"}
        if method in ("chat.postMessage", "chat.postEphemeral", "chat.update") \
                and channel in s.fail_channels:
            return {"ok": False, "error": s.fail_channels[channel]}
        if method == "chat.postMessage":
            ts = s.next_ts()
            return {"ok": True, "channel": channel, "ts": ts,
                    "message": {"ts": ts, "text": params.get("text"), "bot_id": "B0000001"}}
        if method == "chat.update":
            return {"ok": True, "channel": channel, "ts": params.get("ts"),
                    "text": params.get("text")}
        if method == "chat.postEphemeral":
            return {"ok": True, "message_ts": s.next_ts()}
        if method == "files.getUploadURLExternal":
            file_id = s.next_id("F")
            return {"ok": True, "upload_url": f"{s.base}/upload/{file_id}", "file_id": file_id}
        if method == "files.completeUploadExternal":
            files = params.get("files")
            if isinstance(files, str):
                files = json.loads(files)
            return {"ok": True, "files": [{"id": f["id"], "title": f.get("title")}
                                          for f in files or []]}
        if method.startswith("conversations."):
            return {"ok": True, "channel": {"id": channel or "C0000001", "name": "dialer",
                                            "is_member": True},
                    "channels": [], "members": [BOT_USER], "messages": [],
                    "response_metadata": {"next_cursor": ""}}
        return {"ok": False, "error": "unknown_method"}


def _params(raw: bytes, content_type: str, query: str) -> dict[str, Any]:
    params: dict[str, Any] = {k: v[0] for k, v in parse_qs(query).items()}
    if content_type.startswith("application/json"):
        params.update(json.loads(raw or b"{}"))
    elif raw:
        params.update({k: v[0] for k, v in parse_qs(raw.decode()).items()})
    for key in ("blocks", "files"):
        if isinstance(params.get(key), str):
            with contextlib.suppress(ValueError):
                params[key] = json.loads(params[key])
    return params


_WS_GUID = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"


class FakeSocketMode:
    """A minimal Socket Mode endpoint: one WebSocket client, ``hello`` on connect,
    envelopes pushed with ``send``, the app's acks recorded in ``acks``."""

    def __init__(self) -> None:
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port = int(self.listener.getsockname()[1])
        self.acks: list[dict[str, Any]] = []
        self.connected = threading.Event()
        self._cond = threading.Condition()
        self._conn: socket.socket | None = None
        self._send_lock = threading.Lock()
        threading.Thread(target=self._accept, daemon=True).start()

    @property
    def url(self) -> str:
        """The ``ws://`` URL for ``apps.connections.open``."""
        return f"ws://127.0.0.1:{self.port}/link"

    def _accept(self) -> None:
        try:
            conn, _ = self.listener.accept()
        except OSError:
            return
        request = b""
        while b"\r\n\r\n" not in request:
            chunk = conn.recv(4096)
            if not chunk:
                return
            request += chunk
        key = ""
        for line in request.decode().split("\r\n"):
            if line.lower().startswith("sec-websocket-key:"):
                key = line.split(":", 1)[1].strip()
        accept = base64.b64encode(hashlib.sha1((key + _WS_GUID).encode()).digest()).decode()
        conn.sendall(("HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n"
                      "Connection: Upgrade\r\n"
                      f"Sec-WebSocket-Accept: {accept}\r\n\r\n").encode())
        self._conn = conn
        self.send({"type": "hello", "num_connections": 1,
                   "connection_info": {"app_id": "A0000001"},
                   "debug_info": {"host": "fake", "approximate_connection_time": 3600}})
        self.connected.set()
        self._read(conn)

    def _frame(self, opcode: int, payload: bytes) -> bytes:
        n = len(payload)
        if n < 126:
            head = struct.pack("!BB", 0x80 | opcode, n)
        elif n < 65536:
            head = struct.pack("!BBH", 0x80 | opcode, 126, n)
        else:
            head = struct.pack("!BBQ", 0x80 | opcode, 127, n)
        return head + payload

    def send(self, message: dict[str, Any]) -> None:
        """Push one JSON text frame to the app."""
        assert self._conn is not None
        with self._send_lock:
            self._conn.sendall(self._frame(0x1, json.dumps(message).encode()))

    def _recv(self, conn: socket.socket, n: int) -> bytes:
        data = b""
        while len(data) < n:
            chunk = conn.recv(n - len(data))
            if not chunk:
                raise ConnectionError
            data += chunk
        return data

    def _read(self, conn: socket.socket) -> None:
        try:
            while True:
                b0, b1 = self._recv(conn, 2)
                opcode, length = b0 & 0x0F, b1 & 0x7F
                if length == 126:
                    (length,) = struct.unpack("!H", self._recv(conn, 2))
                elif length == 127:
                    (length,) = struct.unpack("!Q", self._recv(conn, 8))
                mask = self._recv(conn, 4) if b1 & 0x80 else b"\0\0\0\0"
                data = bytes(b ^ mask[i % 4] for i, b in enumerate(self._recv(conn, length)))
                if opcode == 0x1:
                    with self._cond:
                        self.acks.append(json.loads(data))
                        self._cond.notify_all()
                elif opcode == 0x9:
                    with self._send_lock:
                        conn.sendall(self._frame(0xA, data))
                elif opcode == 0x8:
                    with self._send_lock:
                        conn.sendall(self._frame(0x8, b""))
                    return
        except (ConnectionError, OSError):
            return

    def wait_ack(self, envelope_id: str, timeout: float = 10.0) -> dict[str, Any]:
        """The app's acknowledgement of one envelope."""
        deadline = time.monotonic() + timeout
        with self._cond:
            while True:
                for ack in self.acks:
                    if ack.get("envelope_id") == envelope_id:
                        return ack
                left = deadline - time.monotonic()
                if left <= 0:
                    raise AssertionError(f"no ack for {envelope_id}; got {self.acks}")
                self._cond.wait(left)

    def close(self) -> None:
        """Stop listening and drop the client."""
        self.listener.close()
        if self._conn is not None:
            self._conn.close()
