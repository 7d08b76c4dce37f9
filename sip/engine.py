"""The SIP engine: the one module that imports pjsua2.

One ``SipEngine`` per process owns the pjsua2 ``Endpoint`` on one dedicated thread
(``threadCnt=0``; the thread polls ``libHandleEvents``). Everything else talks to it
through a command queue and gets our own types back (``sip.types``): no pjsua2 object
leaves this module.

Threads:
- the engine thread runs every pjsua2 call and every SIP callback;
- pjmedia's clock thread calls ``_Tap.onFrameReceived`` (every 60 ms with three 20 ms
  frames, batched by the bridge in C) and ``_Source.onFrameRequested`` (every 20 ms,
  only on calls that stream audio); they only copy and queue. ``bytes(frame.buf)``
  would cost 220-330 µs a frame (SWIG iterates the vector); ``_fast_read`` and
  ``_fast_write`` reach the vector's buffer directly in 1-3 µs (checked at import, with
  the portable copies as the fallback);
- any other thread may call the public methods; they post commands and wait.
"""

from __future__ import annotations

import atexit
import contextlib
import ctypes
import itertools
import logging
import os
import queue
import socket
import sys
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import Future
from dataclasses import dataclass, field
from typing import Any, Final, TypeVar

import pjsua2 as pj

from campaigns.types import AnswerStatus
from sip import outcomes
from sip.pacing import DEFAULT_SETUPS_PER_S, HARD_MAX_SETUPS_PER_S, TokenBucket
from sip.types import (
    CLOCK_RATE,
    FRAME_BYTES,
    FRAME_MS,
    BadRequest,
    CallEvent,
    CallEventKind,
    CallOutcome,
    DialRequest,
    EngineClosed,
    HangupBy,
    RegistrationFailed,
    SipError,
    TooManyCalls,
    Transport,
    TrunkConfig,
)

log = logging.getLogger(__name__)

T = TypeVar("T")

MAX_CALLS_PER_PROCESS: Final = 4
"""pjsua2 from the wheel silently caps ``maxCalls`` at 4 (FACTS.md)."""
_POLL_MS: Final = 20
_IDLE_POLL_MS: Final = 100
"""With a UDP transport, a posted command wakes the engine thread (``_wake``): the loop
then only needs to come round for our timers (ring, RTP), so it polls longer while no
call waits for pacing. Each pass costs Python work; 10 a second instead of 50."""
_WAKE_DATAGRAM: Final = b"\r\n"
"""pjsip drops a datagram of bare CRLFs silently (keep-alive) but it ends the poll."""
_TICK_S: Final = 0.05
_PJ_ETOOMANY: Final = 70010
_SLOT_WAIT_S: Final = 30.0
_PORT_ATTEMPTS: Final = 5
_CODECS_PREFERRED: Final = {"PCMU/8000/1": 255, "PCMA/8000/1": 254}

_engine_lock = threading.Lock()
_engine_alive: SipEngine | None = None


@dataclass(frozen=True, slots=True)
class EngineConfig:
    """How the engine's endpoint is set up.

    ``bind_address`` is the local IP for SIP and RTP (and what goes in Contact and SDP);
    ``None`` lets pjsua2 pick the default interface. ``sip_port`` 0 picks a free port.
    ``accept_incoming`` turns on the UAS side (the simulated trunk).
    """

    bind_address: str | None = None
    sip_port: int = 0
    transports: tuple[Transport, ...] = ("udp", "tcp")
    setups_per_s: float = DEFAULT_SETUPS_PER_S
    max_queued: int = 256
    accept_incoming: bool = False
    incoming_rtp_timeout_s: float = 0.0
    """End an answered incoming call whose caller stopped sending RTP this long (0: off);
    the simulated trunk uses it so a caller that died without a BYE frees its slot."""
    user_agent: str = "dialer"
    log_level: int = 0

    def __post_init__(self) -> None:
        if not 0 < self.setups_per_s <= HARD_MAX_SETUPS_PER_S:
            raise BadRequest(f"setups_per_s must be in (0, {HARD_MAX_SETUPS_PER_S:g}]")


@dataclass(eq=False)
class _CallState:
    """What the engine knows about one call; touched on the engine thread only."""

    handle: CallHandle
    request: DialRequest | None = None
    call: _Call | None = None
    started: float = 0.0
    answered_at: float | None = None
    invite_status: int = 0
    invite_reason: str = ""
    received_any: bool = False
    redirect: tuple[int, str] | None = None
    hangup_by: HangupBy | None = None
    cancelled_by_us: bool = False
    done: bool = False
    tap: _Tap | None = None
    source: _Source | None = None
    source_queue: queue.SimpleQueue[bytes] | None = None
    recorder: Any = None
    players: list[Any] = field(default_factory=list)
    pending_play: list[tuple[str, bool]] = field(default_factory=list)
    media_active: bool = False
    held: bool = False
    last_rx_pkts: int = -1
    last_rx_at: float = 0.0
    early_media_posted: bool = False
    media_index: int = 0
    queued_at: float = 0.0


class CallHandle:
    """Our side of one call, safe to use from any thread.

    ``events`` receives ``CallEvent`` values; ``frames`` receives the far end's audio
    after the 200 OK as 320-byte frames (20 ms, 8 kHz, 16-bit) and ``None`` at the end.
    """

    def __init__(self, engine: SipEngine, call_id: int, *, incoming: bool = False,
                 remote_user: str = "", want_frames: bool = True) -> None:
        self.id = call_id
        self.incoming = incoming
        self.remote_user = remote_user
        """For incoming calls: the user part of the dialled request URI."""
        self.events: queue.Queue[CallEvent] = queue.Queue()
        self.frames: queue.SimpleQueue[bytes | None] | None = (
            queue.SimpleQueue() if want_frames else None)
        self._engine = engine
        self._ended = threading.Event()
        self._outcome: CallOutcome | None = None

    @property
    def outcome(self) -> CallOutcome | None:
        """The final outcome once the call has ended, else ``None``."""
        return self._outcome

    def wait(self, timeout: float | None = None) -> CallOutcome:
        """Block until the call ends; raise ``TimeoutError`` after ``timeout`` seconds."""
        if not self._ended.wait(timeout):
            raise TimeoutError(f"call {self.id} still going after {timeout} s")
        assert self._outcome is not None
        return self._outcome

    def hangup(self) -> None:
        """End the call (CANCEL before the answer, BYE after); a no-op once ended."""
        self._engine._post(lambda: self._engine._hangup(self.id, HangupBy.US, 0))

    def play(self, wav_path: str, *, loop: bool = False) -> None:
        """Play an 8 kHz mono WAV to the far end (queued until media is up)."""
        self._engine._post(lambda: self._engine._play(self.id, wav_path, loop))

    def stream_audio(self) -> queue.SimpleQueue[bytes]:
        """A queue whose 320-byte frames (8 kHz 16-bit mono, 20 ms) are sent to the far end.

        Frames play in order at 50 a second from when media is up; an empty queue sends
        silence. For a voice agent or a generated prompt; WAV files go through ``play``.
        """
        out: queue.SimpleQueue[bytes] = queue.SimpleQueue()
        self._engine._post(lambda: self._engine._stream(self.id, out))
        return out

    def stop_playing(self) -> None:
        """Stop every player on this call."""
        self._engine._post(lambda: self._engine._stop_players(self.id))

    def ring(self, code: int = 180) -> None:
        """Incoming calls: send a provisional response (180, or 183 for early media)."""
        self._engine._post(lambda: self._engine._respond(self.id, code))

    def answer(self) -> None:
        """Incoming calls: send 200 OK."""
        self._engine._post(lambda: self._engine._respond(self.id, 200))

    def reject(self, code: int) -> None:
        """Incoming calls: end with a final error response (486, 603, ...)."""
        self._engine._post(lambda: self._engine._hangup(self.id, HangupBy.US, code))

    def _finish(self, outcome: CallOutcome, event: CallEvent) -> None:
        self._outcome = outcome
        if self.frames is not None:
            self.frames.put(None)
        self.events.put(event)
        self._ended.set()


class _MediaFrameView(ctypes.Structure):
    """pjsua2's C++ ``MediaFrame`` as libstdc++ lays it out: the frame type, then the
    ``std::vector<unsigned char>`` buffer (start, finish, end of storage), then the size.
    ``_frame_layout_ok`` checks this once at import before the view is trusted."""

    _fields_ = (("type", ctypes.c_int), ("start", ctypes.c_void_p),
                ("finish", ctypes.c_void_p), ("end", ctypes.c_void_p),
                ("size", ctypes.c_uint))


def _slow_read(frame: Any) -> bytes:
    """The portable read: SWIG iterates the vector (220-330 µs for 320 bytes)."""
    if frame.type != pj.PJMEDIA_FRAME_TYPE_AUDIO:
        return b""
    return bytes(frame.buf)


def _fast_read(frame: Any) -> bytes:
    """A received frame's audio, read through its C++ buffer (about 1 µs); ``b""`` for
    an empty (``NONE``) frame."""
    view = _MediaFrameView.from_address(int(frame.this))
    if view.type != _FRAME_AUDIO or not view.start:
        return b""
    return ctypes.string_at(view.start, view.finish - view.start)


def _slow_write(frame: Any, data: bytes) -> None:
    """The portable write: SWIG builds a vector from the bytes (about 20 µs for 320)."""
    frame.buf = pj.ByteVector(data)


def _fast_write(frame: Any, data: bytes) -> None:
    """Fill a requested frame's (empty) C++ buffer in place (about 3 µs)."""
    frame.buf.resize(len(data))
    view = _MediaFrameView.from_address(int(frame.this))
    ctypes.memmove(view.start, data, len(data))


def _frame_layout_ok() -> bool:
    sample = bytes((i * 7 + 3) % 256 for i in range(FRAME_BYTES))
    try:
        frame = pj.MediaFrame()
        frame.type = pj.PJMEDIA_FRAME_TYPE_AUDIO
        frame.buf = pj.ByteVector(list(sample))
        frame.size = FRAME_BYTES
        view = _MediaFrameView.from_address(int(frame.this))
        if view.size != FRAME_BYTES or _fast_read(frame) != sample:
            return False
        frame.type = pj.PJMEDIA_FRAME_TYPE_NONE
        if _fast_read(frame) != b"":
            return False
        out = pj.MediaFrame()
        _fast_write(out, sample)
        return bytes(out.buf) == sample
    except Exception:  # any surprise in the layout: use the portable copies
        return False


_FRAME_AUDIO: Final = int(pj.PJMEDIA_FRAME_TYPE_AUDIO)
_DIRECTOR_GRACE_S: Final = 2.0
"""How long a released tap or source rests before another call may take it, so the
bridge has dropped the old call's connections (it does so on a later clock tick).

Python media ports are never freed while the engine runs: they are pooled. Freeing one
runs pjsua2's destructor, which only queues the port's removal from the bridge and then
frees the port, so the clock thread could still call into it (SIGSEGV in number actors
under load, whatever the wait before freeing: a TypeError on the director, then a crash
in the garbage collector). A pool holds at most as many as calls were ever up at once."""
_TAP_FRAMES: Final = 3
"""20 ms frames the bridge hands the tap at once (60 ms): Python is entered about 17
times a second instead of 50 (about 20 µs each, most of a tap's cost); AMD and the agent
see the callee's audio up to 40 ms later (100 ms batches saved a little more CPU but cost
the agent's turn-taking 80 ms), and the last partial batch of a call is lost."""
_FAST_FRAMES: Final = _frame_layout_ok()
_read_frame: Callable[[Any], bytes] = _fast_read if _FAST_FRAMES else _slow_read
_write_frame: Callable[[Any, bytes], None] = _fast_write if _FAST_FRAMES else _slow_write


class _Tap(pj.AudioMediaPort):  # type: ignore[misc]
    """A conference-bridge sink that hands the received audio to a queue, 20 ms a frame.

    Its port runs at ``_TAP_FRAMES`` × 20 ms: the bridge gathers that many frames in C
    and calls ``onFrameReceived`` once for all of them.
    """

    def __init__(self) -> None:
        super().__init__()
        self._put: Callable[[bytes | None], None] | None = None

    def bind(self, sink: queue.SimpleQueue[bytes | None] | None) -> None:
        """Hand frames to ``sink`` from now on (None: drop them, the tap is idle)."""
        self._put = None if sink is None else sink.put

    def onFrameReceived(self, frame: Any) -> None:
        # Runs on pjmedia's clock thread: copy, split and enqueue, nothing else.
        try:
            put = self._put
            if put is None:
                return
            data = _read_frame(frame)
            for i in range(0, len(data) - FRAME_BYTES + 1, FRAME_BYTES):
                put(data[i:i + FRAME_BYTES])
        except BaseException:  # an exception escaping a director aborts the process
            log.exception("audio tap failed")


class _Source(pj.AudioMediaPort):  # type: ignore[misc]
    """A conference-bridge source that sends frames taken from a queue."""

    def __init__(self) -> None:
        super().__init__()
        self._frames: queue.SimpleQueue[bytes] | None = None

    def bind(self, frames: queue.SimpleQueue[bytes] | None) -> None:
        """Send frames from ``frames`` from now on (None: silence, the source is idle)."""
        self._frames = frames

    def onFrameRequested(self, frame: Any) -> None:
        # pjmedia's clock thread, every 20 ms: one dequeue and one copy (a few µs).
        try:
            frames = self._frames
            if frames is None or frames.empty():
                return  # the bridge sends silence for an empty frame
            data = frames.get_nowait()
            frame.type = pj.PJMEDIA_FRAME_TYPE_AUDIO
            _write_frame(frame, data)
            frame.size = len(data)
        except queue.Empty:
            return
        except BaseException:  # an exception escaping a director aborts the process
            log.exception("audio source failed")


_Idle = TypeVar("_Idle", _Tap, _Source)


def _take_idle(pool: list[tuple[float, _Idle]]) -> _Idle | None:
    """The first pooled port whose rest is over (None: make a new one)."""
    now = time.monotonic()
    for i, (ready, port) in enumerate(pool):
        if ready <= now:
            del pool[i]
            return port
    return None


class _Call(pj.Call):  # type: ignore[misc]
    """A pjsua2 call whose callbacks forward to the engine (on the engine thread)."""

    def __init__(self, engine: SipEngine, account: pj.Account, state: _CallState,
                 call_id: int = pj.PJSUA_INVALID_ID) -> None:
        super().__init__(account, call_id)
        self._engine = engine
        self.state = state

    # Every callback is guarded: a Python exception escaping a SWIG director becomes a
    # C++ exception inside pjsua, which aborts the process.
    def onCallState(self, prm: Any) -> None:
        with _guard("onCallState"):
            self._note_rx(prm.e)
            self._engine._on_call_state(self)

    def onCallTsxState(self, prm: Any) -> None:
        with _guard("onCallTsxState"):
            self._note_rx(prm.e)

    def _note_rx(self, e: Any) -> None:
        # A final response made up locally (timeout, connection refused) comes as a
        # TIMER or TRANSPORT_ERROR event; only RX_MSG proves the trunk answered.
        if e.type != pj.PJSIP_EVENT_TSX_STATE:
            return
        event = e.body.tsxState
        if event.type == pj.PJSIP_EVENT_RX_MSG:
            self.state.received_any = True
        elif (event.type == pj.PJSIP_EVENT_TX_MSG and self.state.hangup_by is None
              and event.tsx.role == pj.PJSIP_ROLE_UAC and event.tsx.method in ("BYE", "CANCEL")):
            # pjsua ends a call by itself (an SDP it cannot use, an unanswered refresh):
            # every hangup of ours sets hangup_by before it reaches pjsua.
            self._engine._on_stack_hangup(self, _reason_text(str(event.src.tdata.wholeMsg)))

    def onCallRedirected(self, prm: Any) -> int:
        # Never followed (a 3xx to itself would loop). pjsua then ends the call as a 487:
        # keep what the trunk said.
        with _guard("onCallRedirected"):
            tsx = prm.e.body.tsxState.tsx
            self.state.redirect = (int(tsx.statusCode), str(tsx.statusText))
        return int(pj.PJSIP_REDIRECT_STOP)

    def onCallMediaState(self, prm: Any) -> None:
        with _guard("onCallMediaState"):
            self._engine._on_media_state(self)


class _Account(pj.Account):  # type: ignore[misc]
    """A pjsua2 account: a trunk (registration, credentials) or the local UAS."""

    def __init__(self, engine: SipEngine) -> None:
        super().__init__()
        self._engine = engine
        self.reg_status: Future[tuple[int, str]] | None = None
        self.reg_code = 0

    def onRegState(self, prm: Any) -> None:
        with _guard("onRegState"):
            self._on_reg_state(int(prm.code), str(prm.reason))

    def _on_reg_state(self, code: int, reason: str) -> None:
        self.reg_code = code
        if self.reg_status is not None and not self.reg_status.done():
            self.reg_status.set_result((code, reason))
        elif not 200 <= code < 300:
            log.warning("trunk registration failed: %s %s", code, reason)

    def onIncomingCall(self, prm: Any) -> None:
        with _guard("onIncomingCall"):
            self._engine._on_incoming(self, int(prm.callId))


class SipEngine:
    """The process's one SIP endpoint, run on its own thread.

    Calls are paced (token bucket, ``setups_per_s``) and at most four are live at once;
    further dial requests wait in a queue (``TooManyCalls`` beyond ``max_queued``).
    ``shutdown`` (also run at interpreter exit) hangs up and tears down in the order
    pjsua2 needs to avoid aborting.
    """

    def __init__(self, config: EngineConfig | None = None) -> None:
        global _engine_alive
        self.config = config or EngineConfig()
        with _engine_lock:
            if _engine_alive is not None:
                raise SipError("one SIP engine per process (pjsua2 allows one Endpoint)")
            _engine_alive = self
        self.incoming: queue.Queue[CallHandle] = queue.Queue()
        """Incoming calls (``accept_incoming``), as handles to answer or reject."""
        self.local_port = 0
        self._cmds: queue.SimpleQueue[Callable[[], None]] = queue.SimpleQueue()
        self._ids = itertools.count(1)
        self._states: dict[int, _CallState] = {}
        self._waiting: list[_CallState] = []
        self._accounts: dict[TrunkConfig, _Account] = {}
        self._local_account: _Account | None = None
        self._transports: dict[Transport, int] = {}
        self._graveyard: list[Any] = []
        self._idle_taps: list[tuple[float, _Tap]] = []
        self._idle_sources: list[tuple[float, _Source]] = []
        """Released tap/source ports (see ``_DIRECTOR_GRACE_S``) and when each may go to
        the next call."""
        self._port_ids = itertools.count(1)
        self._peak_live = 0
        self._bucket = TokenBucket(self.config.setups_per_s)
        self._stop = threading.Event()
        self._ready: Future[None] = Future()
        self._ep: Any = None
        self._waker: socket.socket | None = None
        self._waker_addr: tuple[str, int] = ("127.0.0.1", 0)
        self._thread = threading.Thread(target=self._run, name="sip-engine", daemon=True)
        self._thread.start()
        try:
            self._ready.result(timeout=15)
        except BaseException:
            self._release()
            raise
        atexit.register(self.shutdown)

    # --- public, any thread ----------------------------------------------------------

    def dial(self, request: DialRequest, *, want_frames: bool = True) -> CallHandle:
        """Queue one outbound call; it starts when pacing and the 4-call cap allow."""
        handle = CallHandle(self, next(self._ids), want_frames=want_frames)
        state = _CallState(handle=handle, request=request)
        return self._call(lambda: self._enqueue(state))

    def register(self, trunk: TrunkConfig, timeout: float = 10.0) -> None:
        """Add ``trunk``'s account and, when ``trunk.register``, wait for the REGISTER.

        Raises ``RegistrationFailed`` on a final failure or no answer within ``timeout``.
        pjsua2 re-registers before expiry by itself; later failures are logged.
        """
        acc = self._call(lambda: self._account(trunk))
        status = acc.reg_status
        if status is None:
            return
        try:
            code, reason = status.result(timeout=timeout)
        except TimeoutError as exc:
            raise RegistrationFailed(408, "no answer to REGISTER") from exc
        if not 200 <= code < 300:
            raise RegistrationFailed(code, reason)

    def registration_status(self, trunk: TrunkConfig) -> int | None:
        """The last REGISTER result for ``trunk`` (200 while registered), ``None`` if none.

        pjsua2 refreshes the registration by itself; a refresh that fails shows here (and
        in the log) so a caller can stop dialling through a trunk that dropped us.
        """
        def read() -> int | None:
            acc = self._accounts.get(trunk)
            return acc.reg_code if acc is not None and acc.reg_status is not None else None

        return self._call(read)

    def hangup_all(self) -> None:
        """Hang up every call of this engine (CANCEL or BYE); each ends with its outcome.

        For a graceful stop: a killed process sends no BYE and leaves callees on the line.
        """
        def run() -> None:
            for call_id in list(self._states):
                with contextlib.suppress(pj.Error):
                    self._hangup(call_id, HangupBy.US, 0)

        self._post(run)

    def peak_live_calls(self) -> int:
        """The most calls this engine has had up at once (never above 4)."""
        return self._call(lambda: self._peak_live)

    def active_calls(self) -> int:
        """Calls live or waiting in this engine."""
        return self._call(lambda: len(self._states))

    def shutdown(self, timeout: float = 10.0) -> None:
        """Hang up everything, tear the endpoint down in order, stop the thread."""
        if self._thread.is_alive():
            self._stop.set()
            self._wake()
            self._thread.join(timeout)
        self._release()
        with contextlib.suppress(Exception):
            atexit.unregister(self.shutdown)

    def __enter__(self) -> SipEngine:
        return self

    def __exit__(self, *exc: object) -> None:
        self.shutdown()

    # --- plumbing ----------------------------------------------------------------------

    def _release(self) -> None:
        global _engine_alive
        with _engine_lock:
            if _engine_alive is self:
                _engine_alive = None

    def _post(self, fn: Callable[[], None]) -> None:
        if self._stop.is_set():
            return
        self._cmds.put(fn)
        self._wake()

    def _wake(self) -> None:
        """End the engine thread's current ``libHandleEvents`` poll (any thread)."""
        waker = self._waker
        if waker is not None:
            with contextlib.suppress(OSError):
                waker.sendto(_WAKE_DATAGRAM, self._waker_addr)

    def _call(self, fn: Callable[[], T], timeout: float = 15.0) -> T:
        """Run ``fn`` on the engine thread and return its result (or raise its error)."""
        if threading.current_thread() is self._thread:
            return fn()
        if self._stop.is_set() or not self._thread.is_alive():
            raise EngineClosed("the SIP engine is shut down")
        fut: Future[T] = Future()

        def run() -> None:
            try:
                fut.set_result(fn())
            except BaseException as exc:
                fut.set_exception(exc)

        self._cmds.put(run)
        self._wake()
        deadline = time.monotonic() + timeout
        while True:
            try:
                return fut.result(timeout=0.2)
            except TimeoutError:
                if not self._thread.is_alive():
                    raise EngineClosed("the SIP engine stopped") from None
                if time.monotonic() > deadline:
                    raise

    def _run(self) -> None:
        try:
            self._start()
        except BaseException as exc:
            detail = exc.info() if isinstance(exc, pj.Error) else exc
            self._ready.set_exception(SipError(f"SIP stack failed to start: {detail}"))
            self._destroy()
            return
        self._ready.set_result(None)
        next_tick = 0.0
        while not self._stop.is_set():
            # The loop must survive anything: a dead engine thread leaves pjsua2 objects
            # alive at exit, and that aborts the process.
            with _guard("engine loop"):
                self._drain()
                now = time.monotonic()
                self._start_waiting(now)
                idle = self._waker is not None and not self._waiting
                self._ep.libHandleEvents(_IDLE_POLL_MS if idle else _POLL_MS)
                self._graveyard.clear()
                if now >= next_tick:
                    self._check_timers(time.monotonic())
                    next_tick = now + _TICK_S
        self._destroy()

    def _drain(self) -> None:
        while True:
            try:
                fn = self._cmds.get_nowait()
            except queue.Empty:
                return
            try:
                fn()
            except pj.Error as exc:
                log.warning("SIP command failed: %s", exc.info())
            except Exception:
                log.exception("SIP command failed")

    def _start(self) -> None:
        ep = pj.Endpoint()
        self._ep = ep
        with _stdout_to_stderr():
            # libCreate logs to stdout before any log level can be set; stdout is for
            # our JSON.
            ep.libCreate()
            self._init(ep)

    def _init(self, ep: Any) -> None:
        cfg = pj.EpConfig()
        cfg.uaConfig.threadCnt = 0
        cfg.uaConfig.mainThreadOnly = False
        cfg.uaConfig.maxCalls = MAX_CALLS_PER_PROCESS
        cfg.uaConfig.userAgent = self.config.user_agent
        cfg.logConfig.level = self.config.log_level
        cfg.logConfig.consoleLevel = self.config.log_level
        cfg.medConfig.clockRate = CLOCK_RATE
        cfg.medConfig.sndClockRate = CLOCK_RATE
        cfg.medConfig.channelCount = 1
        cfg.medConfig.audioFramePtime = FRAME_MS
        cfg.medConfig.noVad = True
        ep.libInit(cfg)
        for attempt in itertools.count(1):
            try:
                self._create_transports(ep)
                break
            except pj.Error:
                # With sip_port 0 the first transport picks a free port that the next one
                # (same number, other protocol) may find taken: about 1 start in 150.
                if self.config.sip_port or attempt == _PORT_ATTEMPTS:
                    raise
                for tid in self._transports.values():
                    with contextlib.suppress(pj.Error):
                        ep.transportClose(tid)
                self._transports.clear()
                self.local_port = 0
        if "udp" in self._transports:
            self._open_waker(self.local_port)
        ep.libStart()
        ep.audDevManager().setNullDev()
        for codec in ep.codecEnum2():
            ep.codecSetPriority(codec.codecId, _CODECS_PREFERRED.get(codec.codecId, 0))
        if self.config.accept_incoming:
            self._local_account = self._make_account(None)

    def _create_transports(self, ep: Any) -> None:
        for transport in self.config.transports:
            tcfg = pj.TransportConfig()
            tcfg.port = self.local_port or self.config.sip_port
            if self.config.bind_address:
                tcfg.boundAddress = self.config.bind_address
            kind = pj.PJSIP_TRANSPORT_UDP if transport == "udp" else pj.PJSIP_TRANSPORT_TCP
            tid = ep.transportCreate(kind, tcfg)
            self._transports[transport] = tid
            port = int(ep.transportGetInfo(tid).localName.rsplit(":", 1)[1])
            if not self.local_port:
                self.local_port = port

    def _open_waker(self, udp_port: int) -> None:
        bind = self.config.bind_address
        host = bind if bind and bind not in ("0.0.0.0", "::") else "127.0.0.1"
        try:
            family = socket.AF_INET6 if ":" in host else socket.AF_INET
            waker = socket.socket(family, socket.SOCK_DGRAM)
            waker.setblocking(False)
        except OSError as exc:  # no waker: the loop just polls every _POLL_MS
            log.warning("no engine waker: %s", exc)
            return
        self._waker_addr = (host, udp_port)
        self._waker = waker

    def _account_config(self, trunk: TrunkConfig | None) -> Any:
        acfg = pj.AccountConfig()
        bind = self.config.bind_address
        if trunk is None:
            acfg.idUri = f"sip:trunk@{bind or '127.0.0.1'}:{self.local_port}"
        else:
            acfg.idUri = f"sip:{trunk.username or 'dialer'}@{trunk.hostport}"
            if trunk.register:
                acfg.regConfig.registrarUri = trunk.uri()
                acfg.regConfig.registerOnAdd = True
                acfg.regConfig.retryIntervalSec = 30
            if trunk.username and trunk.password is not None:
                acfg.sipConfig.authCreds.append(pj.AuthCredInfo(
                    "digest", trunk.realm, trunk.username, 0, trunk.password))
            if trunk.outbound_proxy:
                proxy = trunk.outbound_proxy
                acfg.sipConfig.proxies.append(proxy if ";lr" in proxy else proxy + ";lr")
            tid = self._transports.get(trunk.transport)
            if tid is None:
                raise BadRequest(f"no {trunk.transport} transport in this engine")
            acfg.sipConfig.transportId = tid
        if bind:
            acfg.mediaConfig.transportConfig.boundAddress = bind
        acfg.mediaConfig.transportConfig.port = 0
        # An answer listing several codecs would otherwise trigger our own re-INVITE.
        acfg.mediaConfig.lockCodecEnabled = False
        acfg.natConfig.sdpNatRewriteUse = 0
        acfg.natConfig.contactRewriteUse = 0
        acfg.natConfig.viaRewriteUse = 0
        return acfg

    def _make_account(self, trunk: TrunkConfig | None) -> _Account:
        acc = _Account(self)
        if trunk is not None and trunk.register:
            acc.reg_status = Future()
        acc.create(self._account_config(trunk), trunk is None)
        return acc

    def _account(self, trunk: TrunkConfig) -> _Account:
        acc = self._accounts.get(trunk)
        if acc is None:
            acc = self._make_account(trunk)
            self._accounts[trunk] = acc
        return acc

    # --- outbound calls (engine thread) -------------------------------------------------

    def _enqueue(self, state: _CallState) -> CallHandle:
        if len(self._waiting) >= self.config.max_queued:
            raise TooManyCalls(self.config.max_queued)
        self._states[state.handle.id] = state
        state.queued_at = time.monotonic()
        self._waiting.append(state)
        return state.handle

    def _live_calls(self) -> int:
        return sum(1 for s in self._states.values() if s.call is not None)

    def _start_waiting(self, now: float) -> None:
        while self._waiting and self._live_calls() < MAX_CALLS_PER_PROCESS:
            if not self._bucket.take(now):
                return
            state = self._waiting.pop(0)
            try:
                self._make_call(state, now)
            except pj.Error as exc:
                self._graveyard.append(state.call)
                state.call = None
                if exc.status == _PJ_ETOOMANY and now - state.queued_at < _SLOT_WAIT_S:
                    # pjsua frees a call slot a little after DISCONNECTED: retry soon.
                    self._waiting.insert(0, state)
                    return
                log.warning("makeCall failed: %s", exc.info())
                self._end(state, 500, f"local error: {exc.reason}", reachable=False)
            except SipError as exc:
                state.call = None
                self._end(state, 400, str(exc), reachable=False)

    def _make_call(self, state: _CallState, now: float) -> None:
        req = state.request
        assert req is not None
        acc = self._account(req.trunk)
        call = _Call(self, acc, state)
        prm = pj.CallOpParam(True)
        prm.opt.audioCount = 1
        prm.opt.videoCount = 0
        prm.txOption.localUri = f"sip:{req.caller_id}@{req.trunk.hostport}"
        headers = list(req.extra_headers)
        if req.trunk.pai:
            headers.append(("P-Asserted-Identity", f"<sip:{req.caller_id}@{req.trunk.host}>"))
        for name, value in headers:
            hdr = pj.SipHeader()
            hdr.hName, hdr.hValue = name, value
            prm.txOption.headers.append(hdr)
        state.started = now
        state.last_rx_at = now
        state.call = call
        call.makeCall(req.trunk.uri(req.to), prm)
        self._peak_live = max(self._peak_live, self._live_calls())
        self._post_event(state, CallEventKind.TRYING)

    def _post_event(self, state: _CallState, kind: CallEventKind, status: int = 0) -> None:
        at = int((time.monotonic() - state.started) * 1000) if state.started else 0
        state.handle.events.put(CallEvent(state.handle.id, kind, status, at))

    def _on_call_state(self, call: _Call) -> None:
        state = call.state
        try:
            info = call.getInfo()
        except pj.Error:
            return
        inv = info.state
        code, reason = int(info.lastStatusCode), str(info.lastReason)
        if state.done and inv != pj.PJSIP_INV_STATE_DISCONNECTED:
            return  # already reported (the stack gave up on it): only the end matters
        if inv == pj.PJSIP_INV_STATE_EARLY:
            state.received_any = True
            if not state.handle.incoming:
                kind = CallEventKind.TRYING if code == 100 else CallEventKind.RINGING
                self._post_event(state, kind, code)
        elif inv in (pj.PJSIP_INV_STATE_CONNECTING, pj.PJSIP_INV_STATE_CONFIRMED):
            if state.answered_at is None:
                state.answered_at = time.monotonic()
                state.last_rx_at = state.answered_at
                state.received_any = True
                state.invite_status = code if 200 <= code < 300 else 200
                state.invite_reason = reason if 200 <= code < 300 else "OK"
                self._post_event(state, CallEventKind.ANSWERED, state.invite_status)
            if inv == pj.PJSIP_INV_STATE_CONFIRMED:
                self._connect_media(state, call)
        elif inv == pj.PJSIP_INV_STATE_DISCONNECTED:
            if state.answered_at is None:
                state.invite_status, state.invite_reason = state.redirect or (code, reason)
            if state.hangup_by is None:
                state.hangup_by = HangupBy.THEM if state.received_any else HangupBy.NETWORK
            self._drop_media(state)
            # Call ids are reused at once: drop our reference inside this callback.
            state.call = None
            self._end(state, state.invite_status, state.invite_reason,
                      reachable=state.received_any)
            self._states.pop(state.handle.id, None)

    def _on_stack_hangup(self, call: _Call, reason: str) -> None:
        """pjsua sent a BYE or CANCEL of its own (most often: an SDP answer it cannot use).

        The outcome is reported now: a far end that never answers leaves the transaction
        (and the call's slot) to pjsip's timers, up to 32 s.
        """
        state = call.state
        state.hangup_by = HangupBy.NETWORK
        log.warning("call %s: the SIP stack ended it: %s", state.handle.id, reason)
        if state.answered_at is not None:
            self._end(state, state.invite_status, reason, reachable=True)
            return
        # A CANCEL, after an unusable SDP in a 18x; a compliant far end answers 487.
        self._end(state, outcomes.REQUEST_TERMINATED, reason, reachable=state.received_any)
        # Hang up here, before pjsua reads another message: a 200 OK with SDP crossing
        # the CANCEL would reach pjsua's media update after it freed the call's media, and
        # its assertion aborts the process (pjsua_media.c:3920, pjsua2 2.15.1).
        with contextlib.suppress(pj.Error):
            call.hangup(pj.CallOpParam())

    def _on_media_state(self, call: _Call) -> None:
        state = call.state
        if state.done:
            return
        try:
            info = call.getInfo()
        except pj.Error:
            return
        held = False
        active = False
        for i, mi in enumerate(info.media):
            if mi.type != pj.PJMEDIA_TYPE_AUDIO:
                continue
            if mi.status == pj.PJSUA_CALL_MEDIA_REMOTE_HOLD:
                held = True
            if mi.status in (pj.PJSUA_CALL_MEDIA_ACTIVE, pj.PJSUA_CALL_MEDIA_REMOTE_HOLD):
                active = True
                state.media_index = i
        if held != state.held:
            state.held = held
            state.last_rx_at = time.monotonic()
            state.last_rx_pkts = -1
            if held:
                self._post_event(state, CallEventKind.HELD)
        state.media_active = active
        if not active:
            return
        if state.answered_at is None:
            if not state.early_media_posted and not state.handle.incoming:
                state.early_media_posted = True
                self._post_event(state, CallEventKind.EARLY_MEDIA, 183)
            if state.handle.incoming:
                self._start_players(state, call)
            return
        if info.state == pj.PJSIP_INV_STATE_CONFIRMED:
            self._connect_media(state, call)

    def _connect_media(self, state: _CallState, call: _Call) -> None:
        """After the 200 OK: tap, recorder, players. AMD never sees early media."""
        if not state.media_active:
            return
        try:
            aud = call.getAudioMedia(-1)
        except pj.Error:
            return
        frames = state.handle.frames
        if frames is not None and state.tap is None:
            tap: _Tap = _take_idle(self._idle_taps) or self._new_port(_Tap(), "tap", _TAP_FRAMES)
            tap.bind(frames)
            state.tap = tap
        if state.tap is not None:
            aud.startTransmit(state.tap)
        req = state.request
        if req is not None and req.record_path and state.recorder is None:
            rec = pj.AudioMediaRecorder()
            rec.createRecorder(req.record_path)
            state.recorder = rec
            aud.startTransmit(rec)
        elif state.recorder is not None:
            aud.startTransmit(state.recorder)
        self._connect_source(state, aud)
        if req is not None and req.play_wav and not state.players and not state.pending_play:
            state.pending_play.append((req.play_wav, False))
        self._start_players(state, call)

    def _connect_source(self, state: _CallState, aud: Any) -> None:
        if state.source_queue is None:
            return
        if state.source is None:
            source: _Source = (_take_idle(self._idle_sources)
                               or self._new_port(_Source(), "src", 1))
            source.bind(state.source_queue)
            state.source = source
        state.source.startTransmit(aud)
        if state.recorder is not None:
            state.source.startTransmit(state.recorder)

    def _new_port(self, port: _Idle, kind: str, frames: int) -> _Idle:
        port.createPort(f"{kind}{next(self._port_ids)}", _pcm_format(frames))
        return port

    def _stream(self, call_id: int, frames: queue.SimpleQueue[bytes]) -> None:
        state = self._find(call_id)
        if state is None or state.call is None:
            return
        state.source_queue = frames
        if state.media_active and (state.answered_at is not None or state.handle.incoming):
            with contextlib.suppress(pj.Error):
                self._connect_source(state, state.call.getAudioMedia(-1))

    def _start_players(self, state: _CallState, call: _Call) -> None:
        if not state.pending_play:
            return
        try:
            aud = call.getAudioMedia(-1)
        except pj.Error:
            return
        for path, loop in state.pending_play:
            player = pj.AudioMediaPlayer()
            try:
                player.createPlayer(path, 0 if loop else pj.PJMEDIA_FILE_NO_LOOP)
            except pj.Error as exc:
                log.warning("cannot play %s: %s", path, exc.info())
                continue
            player.startTransmit(aud)
            if state.recorder is not None:
                player.startTransmit(state.recorder)
            state.players.append(player)
        state.pending_play.clear()

    def _drop_media(self, state: _CallState) -> None:
        # Players and recorders are C++ only: destroyed after this poll returns, not
        # inside pjsua2's callback. Our tap and source are Python directors that the
        # conference bridge calls from its clock thread: never freed while the engine
        # runs (see _DIRECTOR_GRACE_S), they are unbound, disconnected (the call's own
        # port went with the call) and pooled for a later call.
        self._graveyard.extend(state.players)
        state.players.clear()
        if state.source is not None and state.recorder is not None:
            with contextlib.suppress(pj.Error):
                state.source.stopTransmit(state.recorder)
        ready = time.monotonic() + _DIRECTOR_GRACE_S
        if state.tap is not None:
            state.tap.bind(None)
            self._idle_taps.append((ready, state.tap))
        if state.source is not None:
            state.source.bind(None)
            self._idle_sources.append((ready, state.source))
        if state.recorder is not None:
            self._graveyard.append(state.recorder)
        state.tap = None
        state.source = None
        state.recorder = None

    def _end(self, state: _CallState, status: int, reason: str, *, reachable: bool) -> None:
        if state.done:
            return
        state.done = True
        now = time.monotonic()
        if state.started and state.answered_at is None:
            ring_ms = int((now - state.started) * 1000)
        elif state.started and state.answered_at is not None:
            ring_ms = int((state.answered_at - state.started) * 1000)
        else:
            ring_ms = 0
        talk_ms = int((now - state.answered_at) * 1000) if state.answered_at else 0
        answered = state.answered_at is not None
        status = status or (200 if answered else 408)
        answer = (AnswerStatus.UNKNOWN if answered else outcomes.answer_status(
            status, cancelled_by_us=state.cancelled_by_us, reachable=reachable))
        req = state.request
        outcome = CallOutcome(
            answer_status=answer, sip_status=status, sip_reason=reason, ring_ms=ring_ms,
            talk_ms=talk_ms, hangup_by=state.hangup_by,
            recording_path=req.record_path if req and req.record_path and answered else None,
            reachable=reachable or answered)
        event = CallEvent(state.handle.id, CallEventKind.ENDED, status,
                          int((now - state.started) * 1000) if state.started else 0, outcome)
        if state in self._waiting:
            self._waiting.remove(state)
        state.handle._finish(outcome, event)

    def _find(self, call_id: int) -> _CallState | None:
        return self._states.get(call_id)

    def _hangup(self, call_id: int, by: HangupBy, code: int) -> None:
        state = self._find(call_id)
        if state is None or (state.done and state.call is None):
            return
        if state.call is None:  # still waiting for pacing
            state.hangup_by = by
            self._end(state, 487, "cancelled before sending", reachable=True)
            self._states.pop(call_id, None)
            return
        if state.hangup_by is None:
            state.hangup_by = by
        if state.answered_at is None and not state.handle.incoming:
            state.cancelled_by_us = True
        prm = pj.CallOpParam()
        if code:
            prm.statusCode = code
        state.call.hangup(prm)

    def _play(self, call_id: int, path: str, loop: bool) -> None:
        state = self._find(call_id)
        if state is None or state.call is None:
            return
        state.pending_play.append((path, loop))
        if state.media_active:
            self._start_players(state, state.call)

    def _stop_players(self, call_id: int) -> None:
        state = self._find(call_id)
        if state is not None:
            self._graveyard.extend(state.players)
            state.players.clear()

    def _check_timers(self, now: float) -> None:
        for state in list(self._states.values()):
            req, call = state.request, state.call
            if call is None or state.done:
                continue
            if req is None:  # an incoming call: only the RTP timeout applies
                rtp_timeout = self.config.incoming_rtp_timeout_s
                if state.answered_at is not None and rtp_timeout > 0:
                    self._check_rtp(state, call, now, rtp_timeout)
                continue
            if state.answered_at is None:
                waited = now - state.started
                if not state.received_any and waited >= req.no_response_timeout_s:
                    # SIP Timer B (32 s) would end this INVITE; report unreachable now
                    # and let pjsua2 finish the transaction in the background.
                    state.hangup_by = HangupBy.NETWORK
                    self._end(state, 408, "no response from trunk", reachable=False)
                    with contextlib.suppress(pj.Error):
                        call.hangup(pj.CallOpParam())
                elif waited >= req.ring_timeout_s and not state.cancelled_by_us:
                    self._hangup(state.handle.id, HangupBy.RING_TIMEOUT, 0)
                continue
            if req.rtp_timeout_s > 0:
                self._check_rtp(state, call, now, req.rtp_timeout_s)

    def _check_rtp(self, state: _CallState, call: _Call, now: float, timeout_s: float) -> None:
        """Hang up an answered call whose far end stopped sending audio (not on hold)."""
        if state.held or not state.media_active:
            return
        try:
            pkts = int(call.getStreamStat(state.media_index).rtcp.rxStat.pkt)
        except pj.Error:
            return
        if pkts != state.last_rx_pkts:
            state.last_rx_pkts = pkts
            state.last_rx_at = now
        elif now - state.last_rx_at >= timeout_s and state.hangup_by is None:
            log.info("call %s: no RTP for %.1f s, hanging up", state.handle.id,
                     now - state.last_rx_at)
            self._hangup(state.handle.id, HangupBy.RTP_TIMEOUT, 0)

    # --- incoming calls (engine thread) -------------------------------------------------

    def _on_incoming(self, acc: _Account, pj_call_id: int) -> None:
        handle = CallHandle(self, next(self._ids), incoming=True, want_frames=False)
        state = _CallState(handle=handle, started=time.monotonic(), received_any=True)
        call = _Call(self, acc, state, pj_call_id)
        state.call = call
        try:
            info = call.getInfo()
            handle.remote_user = _user_part(str(info.localUri))
        except pj.Error:
            pass
        self._states[handle.id] = state
        self.incoming.put(handle)

    def _respond(self, call_id: int, code: int) -> None:
        state = self._find(call_id)
        if state is None or state.call is None:
            return
        prm = pj.CallOpParam()
        prm.statusCode = code
        state.call.answer(prm)

    # --- teardown (engine thread) -------------------------------------------------------

    def _destroy(self) -> None:
        """Tear down in the order pjsua2 needs (FACTS.md) or it aborts the process."""
        ep = self._ep
        if ep is None:
            return
        try:
            for state in list(self._waiting):
                state.hangup_by = HangupBy.US
                self._end(state, 487, "engine shut down", reachable=True)
            self._waiting.clear()
            if any(s.call is not None for s in self._states.values()):
                for state in self._states.values():
                    if state.call is not None and state.hangup_by is None:
                        state.hangup_by = HangupBy.US
                with contextlib.suppress(pj.Error):
                    ep.hangupAllCalls()
                deadline = time.monotonic() + 3.0
                while (any(s.call is not None for s in self._states.values())
                       and time.monotonic() < deadline):
                    ep.libHandleEvents(20)
            for state in self._states.values():
                self._drop_media(state)
                if not state.done:
                    self._end(state, state.invite_status or 487, "engine shut down",
                              reachable=state.received_any)
                state.call = None
            self._states.clear()
            self._graveyard.clear()
            if self._idle_taps or self._idle_sources:
                # Let the media clock pass the unbound ports by before they are freed;
                # the endpoint is destroyed right after this.
                until = time.monotonic() + 1.0
                while time.monotonic() < until:
                    ep.libHandleEvents(20)
                self._idle_taps.clear()
                self._idle_sources.clear()
            accounts = list(self._accounts.values())
            if self._local_account is not None:
                accounts.append(self._local_account)
            self._accounts.clear()
            self._local_account = None
            registered = any(a.reg_status is not None for a in accounts)
            for account in accounts:
                with contextlib.suppress(pj.Error):
                    account.shutdown()
            # Let the un-REGISTERs go out and be answered; then destroy without the
            # network so libDestroy does not sleep a second for them.
            deadline = time.monotonic() + (0.5 if registered else 0.1)
            while time.monotonic() < deadline:
                ep.libHandleEvents(10)
            accounts.clear()
        finally:
            self._ep = None
            waker, self._waker = self._waker, None
            if waker is not None:
                waker.close()
            with contextlib.suppress(pj.Error):
                ep.libDestroy(pj.PJSUA_DESTROY_NO_NETWORK)
            del ep


def _pcm_format(frames: int = 1) -> Any:
    """8 kHz 16-bit mono in ``frames`` × 20 ms (the bridge batches other ptimes in C)."""
    fmt = pj.MediaFormatAudio()
    fmt.init(pj.PJMEDIA_FORMAT_PCM, CLOCK_RATE, 1, frames * FRAME_MS * 1000, 16)
    return fmt


@contextlib.contextmanager
def _guard(where: str) -> Iterator[None]:
    """Log and swallow any exception (pjsua2 callbacks and the engine loop)."""
    try:
        yield
    except pj.Error as exc:
        log.warning("%s: %s", where, exc.info())
    except Exception:
        log.exception("%s failed", where)


@contextlib.contextmanager
def _stdout_to_stderr() -> Iterator[None]:
    """Point file descriptor 1 at stderr for the duration (C code writing to stdout)."""
    sys.stdout.flush()
    saved = os.dup(1)
    try:
        os.dup2(2, 1)
        yield
    finally:
        os.dup2(saved, 1)
        os.close(saved)


def _reason_text(message: str) -> str:
    """The text of the ``Reason`` header pjsua puts on a BYE or CANCEL of its own."""
    for line in message.splitlines():
        if not line.strip():
            break
        name, _, value = line.partition(":")
        start = value.find('text="')
        if name.strip().lower() == "reason" and start >= 0:
            return value[start + 6:].split('"', 1)[0] or "ended by the SIP stack"
    return "ended by the SIP stack"


def _user_part(uri: str) -> str:
    """``"Bob" <sip:+12025550101@host;x=y>`` → ``+12025550101``."""
    start = uri.find("sip:")
    rest = uri[start + 4:] if start >= 0 else uri
    return rest.split("@", 1)[0] if "@" in rest else ""
