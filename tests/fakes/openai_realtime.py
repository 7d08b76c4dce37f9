"""A local fake of the OpenAI Realtime API (GA WebSocket protocol) and an in-memory call.

``FakeRealtimeServer`` listens on 127.0.0.1 (ephemeral port) in a thread and speaks to
the real ``openai`` client: ``OpenAI(base_url=server.base_url).realtime.connect(model=M)``
opens ``ws://127.0.0.1:PORT/v1/realtime?model=M`` with ``Authorization: Bearer KEY``.
It checks the ``session.update`` (µ-law in and out, server VAD, input transcription, the
``hang_up`` tool), collects appended audio, runs a small energy VAD on it
(``input_audio_buffer.speech_started``/``speech_stopped``), answers each response at once
from a ``RealtimeScript`` (µ-law audio deltas of a tone, the transcript, an optional
``hang_up`` call, usage), and fails on cue (an ``error`` event, a dropped connection, a
response that never comes). Everything it receives is recorded for assertions.

``FakeCall`` is the callee side as an agent sees it (``agent.base.CallAudio``) with a
virtual clock: each frame read is 20 ms of call time, and our audio plays out at that
pace. A script of frames and wait conditions makes barge-in timing exact.
"""

from __future__ import annotations

import base64
import itertools
import json
import math
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from http import HTTPStatus
from typing import Any, Literal
from urllib.parse import parse_qs, urlsplit

import numpy as np
from websockets.datastructures import Headers
from websockets.exceptions import ConnectionClosed
from websockets.http11 import Request, Response
from websockets.sync.server import Server, ServerConnection, serve

from agent.base import CallAudio
from agent.g711 import pcm16_to_ulaw, ulaw_to_pcm16

API_KEY = "sk-test-realtime"
FRAME_BYTES = 320
SILENT_FRAME = bytes(FRAME_BYTES)


def tone(ms: int, hz: float = 440.0, amplitude: int = 8000) -> bytes:
    """``ms`` of a sine tone as 8 kHz 16-bit mono PCM."""
    t = np.arange(ms * 8) / 8000
    return bytes((amplitude * np.sin(2 * math.pi * hz * t)).astype("<i2").tobytes())


def speech_frames(count: int, amplitude: int = 6000) -> list[bytes]:
    """``count`` loud 20 ms frames (a 300 Hz tone: enough for any energy VAD)."""
    pcm = tone(count * 20, 300.0, amplitude)
    return [pcm[i:i + FRAME_BYTES] for i in range(0, len(pcm), FRAME_BYTES)]


def silence(count: int) -> list[bytes]:
    """``count`` silent 20 ms frames."""
    return [SILENT_FRAME] * count


# --- the fake server ---------------------------------------------------------------------
@dataclass(frozen=True)
class Reply:
    """One response: ``audio_ms`` of a tone sent as µ-law deltas, its transcript, and an
    optional ``hang_up`` function call after the audio."""

    text: str
    audio_ms: int = 400
    tone_hz: float = 440.0
    amplitude: int = 8000
    chunk_ms: int = 100
    hang_up: bool = False
    tool: str | None = None
    """Call this (unknown) tool instead of ``hang_up``."""


@dataclass
class RealtimeScript:
    """What the fake does. ``replies[0]`` answers the first ``response.create``; each
    later reply answers one callee turn (or a ``response.create``), in order; with no
    reply left, a turn gets no response."""

    replies: list[Reply] = field(default_factory=list)
    callee_transcripts: list[str] = field(default_factory=list)
    vad_rms: float = 800.0
    """A 20 ms frame louder than this (RMS) is speech."""
    silence_frames: int = 10
    """Quiet frames that end a turn (``speech_stopped``)."""
    error_after_appends: int | None = None
    """Send an ``error`` event after this many appends."""
    close_after_appends: int | None = None
    """Drop the connection (no close frame) after this many appends."""
    ignore_responses: bool = False
    """Never answer: no ``response.created``, no audio."""
    failed_response: bool = False
    """Answer each response with ``response.done`` status ``failed``."""
    reject_status: int | None = None
    """Refuse the WebSocket handshake with this HTTP status."""
    usage: tuple[int, int] = (120, 80)
    """(input, output) tokens reported in each ``response.done``."""


@dataclass
class Session:
    """One WebSocket connection as the fake saw it."""

    path: str
    query: dict[str, list[str]]
    authorization: str
    events: list[dict[str, Any]] = field(default_factory=list)
    session: dict[str, Any] | None = None
    audio_in: bytearray = field(default_factory=bytearray)
    appends: int = 0
    speech_started: list[int] = field(default_factory=list)
    speech_stopped: list[int] = field(default_factory=list)
    truncates: list[dict[str, Any]] = field(default_factory=list)
    item_audio_ms: dict[str, int] = field(default_factory=dict)
    replies_sent: list[str] = field(default_factory=list)
    """The item id of each reply's audio, in order."""
    problems: list[str] = field(default_factory=list)
    """Protocol violations found in what the client sent."""
    closed: bool = False

    def types(self) -> list[str]:
        """The ``type`` of every client event, in order."""
        return [str(e.get("type")) for e in self.events]

    def audio_pcm(self) -> bytes:
        """All appended audio, decoded to 16-bit PCM."""
        return ulaw_to_pcm16(bytes(self.audio_in))


class FakeRealtimeServer:
    """The fake Realtime API on 127.0.0.1; use as a context manager."""

    def __init__(self, script: RealtimeScript | None = None, *, api_key: str = API_KEY,
                 path_prefix: str = "/v1") -> None:
        self.script = script or RealtimeScript()
        self.api_key = api_key
        self.path_prefix = path_prefix
        self.sessions: list[Session] = []
        self._lock = threading.Lock()
        self._ids = itertools.count(1)
        self._server: Server | None = None
        self._thread: threading.Thread | None = None
        self._open: list[ServerConnection] = []

    # --- lifecycle ------------------------------------------------------------------
    def __enter__(self) -> FakeRealtimeServer:
        self._server = serve(self._handle, "127.0.0.1", 0,
                             process_request=self._check_request, compression=None,
                             max_size=None)
        self._thread = threading.Thread(target=self._server.serve_forever,
                                        name="fake-realtime", daemon=True)
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        assert self._server is not None and self._thread is not None
        for conn in list(self._open):
            conn.close()
        self._server.shutdown()
        self._thread.join(10)

    @property
    def port(self) -> int:
        assert self._server is not None
        return int(self._server.socket.getsockname()[1])

    @property
    def base_url(self) -> str:
        """What to pass as ``OPENAI_BASE_URL``."""
        return f"http://127.0.0.1:{self.port}{self.path_prefix}"

    @property
    def last(self) -> Session:
        """The latest session (fails when there was none)."""
        with self._lock:
            assert self.sessions, "the client never connected"
            return self.sessions[-1]

    def wait_for(self, predicate: Callable[[], bool], timeout: float = 30.0) -> None:
        """Block until ``predicate()`` holds (a guard against hangs, not a timing check)."""
        deadline = time.monotonic() + timeout
        while not predicate():
            if time.monotonic() > deadline:
                raise AssertionError("the fake Realtime server waited in vain")
            time.sleep(0.005)

    # --- one connection --------------------------------------------------------------
    def _check_request(self, conn: ServerConnection, request: Request) -> Response | None:
        url = urlsplit(request.path)
        if self.script.reject_status is not None:
            return conn.respond(HTTPStatus(self.script.reject_status), "refused by script\n")
        if url.path != f"{self.path_prefix}/realtime":
            return conn.respond(HTTPStatus.NOT_FOUND, f"no route {url.path}\n")
        if request.headers.get("Authorization") != f"Bearer {self.api_key}":
            return conn.respond(HTTPStatus.UNAUTHORIZED, "bad api key\n")
        if not parse_qs(url.query).get("model"):
            return conn.respond(HTTPStatus.BAD_REQUEST, "model is required\n")
        return None

    def _handle(self, conn: ServerConnection) -> None:
        request = conn.request
        assert request is not None
        url = urlsplit(request.path)
        headers: Headers = request.headers
        session = Session(url.path, parse_qs(url.query), headers.get("Authorization", ""))
        with self._lock:
            self.sessions.append(session)
            self._open.append(conn)
        _Peer(self, conn, session).run()
        with self._lock:
            session.closed = True
            self._open.remove(conn)

    def next_id(self, prefix: str) -> str:
        return f"{prefix}_{next(self._ids):04d}"


class _Peer:
    """The server side of one connection (runs on the server's connection thread)."""

    def __init__(self, server: FakeRealtimeServer, conn: ServerConnection,
                 session: Session) -> None:
        self.server = server
        self.script = server.script
        self.conn = conn
        self.session = session
        self.replies: Iterator[Reply] = iter(self.script.replies)
        self.transcripts: Iterator[str] = iter(self.script.callee_transcripts)
        self.pending = b""
        self.vad_ms = 0
        self.speaking = False
        self.quiet = 0
        self.user_item = ""

    def send(self, event_type: str, **fields: Any) -> None:
        self.conn.send(json.dumps({"type": event_type,
                                   "event_id": self.server.next_id("event"), **fields}))

    def run(self) -> None:
        model = self.session.query.get("model", [""])[0]
        self.send("session.created", session={"type": "realtime", "id": "sess_fake",
                                              "object": "realtime.session", "model": model})
        try:
            for message in self.conn:
                event = json.loads(message)
                with self.server._lock:
                    self.session.events.append(event)
                if not self.on_event(event):
                    return
        except ConnectionClosed:
            return
        except Exception as exc:  # a bug in the fake: make the test see it
            self.session.problems.append(f"fake server crashed: {exc!r}")
            raise

    def on_event(self, event: dict[str, Any]) -> bool:
        kind = event.get("type")
        if kind == "session.update":
            self.check_session(event.get("session", {}))
            self.session.session = event.get("session")
            self.send("session.updated", session=event.get("session"))
        elif kind == "input_audio_buffer.append":
            return self.on_append(str(event.get("audio", "")))
        elif kind == "response.create":
            self.respond()
        elif kind == "conversation.item.truncate":
            self.on_truncate(event)
        elif kind == "conversation.item.create":
            item = event.get("item", {})
            self.send("conversation.item.added", item={**item, "id": self.server.next_id("item")})
        else:
            self.session.problems.append(f"unexpected client event {kind!r}")
        return True

    def check_session(self, s: dict[str, Any]) -> None:
        audio = s.get("audio", {})
        checks = {
            "type is realtime": s.get("type") == "realtime",
            "input format audio/pcmu": audio.get("input", {}).get("format", {}).get("type")
            == "audio/pcmu",
            "output format audio/pcmu": audio.get("output", {}).get("format", {}).get("type")
            == "audio/pcmu",
            "server_vad": audio.get("input", {}).get("turn_detection", {}).get("type")
            == "server_vad",
            "input transcription": bool(audio.get("input", {}).get("transcription", {})
                                        .get("model")),
            "hang_up tool": any(t.get("type") == "function" and t.get("name") == "hang_up"
                                for t in s.get("tools", [])),
        }
        for name, ok in checks.items():
            if not ok:
                self.session.problems.append(f"session.update: {name}")
        if self.session.problems:
            self.send("error", error={"type": "invalid_request_error",
                                      "code": "invalid_session",
                                      "message": "; ".join(self.session.problems)})

    # --- audio in and the energy VAD ---------------------------------------------------
    def on_append(self, payload: str) -> bool:
        ulaw = base64.b64decode(payload)
        s = self.session
        with self.server._lock:
            s.audio_in += ulaw
            s.appends += 1
        if self.script.close_after_appends is not None \
                and s.appends >= self.script.close_after_appends:
            # drop the TCP connection without a close frame: a network failure
            self.conn.socket.close()
            return False
        if self.script.error_after_appends is not None \
                and s.appends == self.script.error_after_appends:
            self.send("error", error={"type": "server_error", "code": "internal_error",
                                      "message": "The server had an error (scripted)."})
        data = self.pending + ulaw
        whole = len(data) - len(data) % 160
        self.pending = data[whole:]
        for i in range(0, whole, 160):
            self.vad_ms += 20
            self.vad_frame(data[i:i + 160], self.vad_ms)
        return True

    def vad_frame(self, ulaw: bytes, end_ms: int) -> None:
        pcm = np.frombuffer(ulaw_to_pcm16(ulaw), dtype="<i2").astype(np.float64)
        loud = float(np.sqrt(np.mean(pcm * pcm))) > self.script.vad_rms
        if loud and not self.speaking:
            self.speaking, self.quiet = True, 0
            self.user_item = self.server.next_id("item")
            self.session.speech_started.append(end_ms - 20)
            self.send("input_audio_buffer.speech_started", audio_start_ms=end_ms - 20,
                      item_id=self.user_item)
        elif self.speaking:
            self.quiet = 0 if loud else self.quiet + 1
            if self.quiet >= self.script.silence_frames:
                self.speaking = False
                self.session.speech_stopped.append(end_ms)
                self.send("input_audio_buffer.speech_stopped", audio_end_ms=end_ms,
                          item_id=self.user_item)
                self.send("input_audio_buffer.committed", item_id=self.user_item,
                          previous_item_id=None)
                text = next(self.transcripts, None)
                if text is not None:
                    self.send("conversation.item.input_audio_transcription.completed",
                              item_id=self.user_item, content_index=0, transcript=text,
                              usage={"type": "duration", "seconds": 1.0})
                self.respond()

    # --- responses -------------------------------------------------------------------
    def respond(self) -> None:
        if self.script.ignore_responses:
            return
        reply = next(self.replies, None)
        if reply is None:
            return
        rid = self.server.next_id("resp")
        self.send("response.created", response={"id": rid, "object": "realtime.response",
                                                "status": "in_progress", "output": []})
        if self.script.failed_response:
            self.send("response.done", response={
                "id": rid, "object": "realtime.response", "status": "failed",
                "status_details": {"type": "failed", "error": {
                    "type": "server_error", "message": "model overloaded (scripted)"}}})
            return
        item = self.server.next_id("item")
        self.session.item_audio_ms[item] = reply.audio_ms
        self.session.replies_sent.append(item)
        self.send("response.output_item.added", response_id=rid, output_index=0, item={
            "id": item, "type": "message", "role": "assistant", "status": "in_progress",
            "content": []})
        pcm = tone(reply.audio_ms, reply.tone_hz, reply.amplitude)
        step = reply.chunk_ms * 16
        for i in range(0, len(pcm), step):
            delta = base64.b64encode(pcm16_to_ulaw(pcm[i:i + step])).decode("ascii")
            self.send("response.output_audio.delta", response_id=rid, item_id=item,
                      output_index=0, content_index=0, delta=delta)
        self.send("response.output_audio.done", response_id=rid, item_id=item,
                  output_index=0, content_index=0)
        self.send("response.output_audio_transcript.done", response_id=rid, item_id=item,
                  output_index=0, content_index=0, transcript=reply.text)
        tool = reply.tool or ("hang_up" if reply.hang_up else None)
        if tool is not None:
            call_item = self.server.next_id("item")
            self.send("response.function_call_arguments.done", response_id=rid,
                      item_id=call_item, output_index=1, call_id=f"call_{call_item}",
                      name=tool, arguments=json.dumps({"reason": "conversation over"}))
        n_in, n_out = self.script.usage
        self.send("response.done", response={
            "id": rid, "object": "realtime.response", "status": "completed",
            "usage": {"input_tokens": n_in, "output_tokens": n_out,
                      "total_tokens": n_in + n_out}})

    def on_truncate(self, event: dict[str, Any]) -> None:
        item = str(event.get("item_id"))
        end = event.get("audio_end_ms")
        if item not in self.session.item_audio_ms:
            self.session.problems.append(f"truncate of unknown item {item}")
        elif not isinstance(end, int) or not 0 <= end <= self.session.item_audio_ms[item]:
            self.session.problems.append(f"truncate {item} at bad audio_end_ms {end}")
        if event.get("content_index") != 0:
            self.session.problems.append("truncate with bad content_index")
        self.session.truncates.append(event)
        self.send("conversation.item.truncated", item_id=item, content_index=0,
                  audio_end_ms=end)


# --- the call side ---------------------------------------------------------------------------
Step = bytes | Callable[["FakeCall"], bool]
"""A frame the callee sends, or a condition to wait for (``read`` gives ``b""``) first."""


class FakeCall(CallAudio):
    """``CallAudio`` in memory with a virtual clock advanced 20 ms by each frame read.

    ``script`` is played in order; then ``after`` decides: ``"silence"`` keeps sending
    silent frames until someone hangs up, ``"hangup"`` ends the call (the callee hangs
    up). ``pace_s`` sleeps per frame so silent stretches do not spin; ``realtime=True``
    paces frames at 20 ms of wall time (benchmarks).
    """

    def __init__(self, script: Iterable[Step] = (), *,
                 after: Literal["silence", "hangup"] = "silence", pace_s: float = 0.001,
                 realtime: bool = False) -> None:
        self._script = list(script)
        self._after = after
        self._pace_s = pace_s
        self._realtime = realtime
        self._lock = threading.Lock()
        self.now_ms = 0
        self._run_started = 0
        self._play_until = 0
        self._played_before = 0
        self.sent: list[tuple[int, bytes]] = []
        """(virtual ms, pcm) of every ``send``."""
        self.send_wall: list[float] = []
        """``time.perf_counter()`` of every ``send``."""
        self.frame_wall: list[float] = []
        """``time.perf_counter()`` of every frame handed out by ``read``."""
        self.clears: list[int] = []
        """ms dropped by each ``clear``."""
        self.hung_up = False
        self.played_at_hangup: int | None = None
        self.sent_at_hangup: int | None = None
        self.queued_at_hangup: int | None = None
        """ms of our audio not yet played when ``hangup`` came (0: all of it was heard)."""
        self._ended = False
        self._wall_start: float | None = None

    # --- the callee's side ----------------------------------------------------------
    def read(self, timeout_s: float) -> bytes | None:
        while True:
            with self._lock:
                if self._ended:
                    return None
                step: Step | None = self._script[0] if self._script else None
            if step is None:
                if self._after == "hangup":
                    with self._lock:
                        self._ended = True
                    return None
                return self._frame(SILENT_FRAME)
            if isinstance(step, bytes):
                with self._lock:
                    self._script.pop(0)
                return self._frame(step)
            if step(self):
                with self._lock:
                    self._script.pop(0)
                continue
            time.sleep(min(timeout_s, 0.005))
            return b""

    def _frame(self, frame: bytes) -> bytes:
        if self._realtime:
            if self._wall_start is None:
                self._wall_start = time.perf_counter()
            due = self._wall_start + (self.now_ms + 20) / 1000
            pause = due - time.perf_counter()
            if pause > 0:
                time.sleep(pause)
        elif self._pace_s:
            time.sleep(self._pace_s)
        with self._lock:
            self.now_ms += 20
            self.frame_wall.append(time.perf_counter())
        return frame

    # --- our audio ------------------------------------------------------------------
    def send(self, pcm: bytes) -> None:
        with self._lock:
            ms = len(pcm) // 16
            if self._play_until <= self.now_ms:
                self._played_before += self._play_until - self._run_started
                self._run_started = self.now_ms
                self._play_until = self.now_ms
            self._play_until += ms
            self.sent.append((self.now_ms, pcm))
            self.send_wall.append(time.perf_counter())

    def clear(self) -> int:
        with self._lock:
            dropped = max(0, self._play_until - self.now_ms)
            self._play_until = min(self._play_until, self.now_ms)
            self.clears.append(dropped)
            return dropped

    def _played(self) -> int:
        return self._played_before + min(self.now_ms, self._play_until) - self._run_started

    def played_ms(self) -> int:
        with self._lock:
            return self._played()

    def queued_ms(self) -> int:
        with self._lock:
            return max(0, self._play_until - self.now_ms)

    def hangup(self) -> None:
        with self._lock:
            if not self.hung_up:
                self.hung_up = True
                self.played_at_hangup = self._played()
                self.sent_at_hangup = self.sent_ms_locked()
                self.queued_at_hangup = max(0, self._play_until - self.now_ms)
            self._ended = True

    @property
    def ended(self) -> bool:
        with self._lock:
            return self._ended

    # --- for assertions -------------------------------------------------------------
    def sent_ms_locked(self) -> int:
        return sum(len(p) for _, p in self.sent) // 16

    def sent_ms(self) -> int:
        """ms of audio the agent has queued so far."""
        with self._lock:
            return self.sent_ms_locked()

    def sent_pcm(self) -> bytes:
        """Everything the agent queued, in order."""
        with self._lock:
            return b"".join(p for _, p in self.sent)
