"""The OpenAI Realtime voice agent: a live call bridged to a Realtime session.

``RealtimeAgent.converse`` opens one WebSocket session per call (the real ``openai``
client, ``client.realtime.connect``, GA event protocol) and carries audio both ways as
G.711 µ-law at 8 kHz: the call's 16-bit PCM frames are µ-law coded sample by sample
(``agent.g711``) and appended to the input buffer; ``response.output_audio.delta``
chunks are decoded and queued to the callee. The session uses ``audio/pcmu`` in both
directions, so nothing is ever resampled.

What happens on the call:

- the agent's first message is requested at once (``response.create`` right after the
  ``session.update``, without waiting for the server's acknowledgement);
- turn taking is the server's VAD (``server_vad``); when the callee starts talking
  (``input_audio_buffer.speech_started``) while our audio is still playing, the queued
  audio is dropped (``CallAudio.clear``) and the agent's item is truncated
  (``conversation.item.truncate``) at what the callee actually heard of it, so the model
  knows where it was cut off;
- the model may call the ``hang_up`` tool; the call ends once that response is done and
  its goodbye has finished playing (the callee talking over a goodbye does not cut it);
- both sides are transcribed (``response.output_audio_transcript.done`` for the agent,
  ``conversation.item.input_audio_transcription.completed`` for the callee);
- when the session fails the callee hears a short apology (``agent/audio/apology.wav``,
  made by ``agent/audio/make_apology.sh``; a tone if the file is missing), then the call
  is hung up: never dead air. Failing means: cannot connect, the connection drops, a
  failed response, no response within ``response_timeout_s``, or any ``error`` event
  (the bridge never sends the events whose errors would be benign: cancel, commit).

Threads. Three threads per call, none blocking another:

- the *pump* reads the callee's frames (``CallAudio.read``) and sends appends;
- the *receiver* iterates the connection and only posts parsed server events onto a
  queue;
- the caller's thread (inside ``converse``) drains that queue and does everything else:
  playing audio, barge-in, transcripts, the hang-up, timeouts.

We use the SDK's synchronous client with plain threads rather than asyncio in a private
event loop: ``CallAudio`` is a blocking, thread-safe interface (``read`` with a timeout),
the synchronous WebSocket connection allows one thread in ``recv`` while others ``send``,
and a blocked ``read`` or a slow ``send`` can never stall the receive loop, which a single
event loop calling into blocking code could. Every decision is made on one thread, so the
per-call state needs no locks.
"""

from __future__ import annotations

import base64
import json
import logging
import math
import queue
import threading
import time
import wave
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final, cast

import numpy as np
from openai import OpenAI
from openai.resources.realtime.realtime import RealtimeConnection
from openai.types.realtime import (
    ConversationItemInputAudioTranscriptionCompletedEvent,
    InputAudioBufferSpeechStartedEvent,
    InputAudioBufferSpeechStoppedEvent,
    RealtimeErrorEvent,
    RealtimeServerEvent,
    RealtimeSessionCreateRequestParam,
    ResponseAudioDeltaEvent,
    ResponseAudioTranscriptDoneEvent,
    ResponseCreatedEvent,
    ResponseDoneEvent,
    ResponseFunctionCallArgumentsDoneEvent,
)
from openai.types.websocket_connection_options import SyncWebSocketConnectionOptions

from agent.base import AgentProfile, CallAudio, Conversation, EndedBy, Turn
from agent.g711 import pcm16_to_ulaw, ulaw_to_pcm16

log = logging.getLogger(__name__)

APOLOGY_WAV: Final = Path(__file__).parent / "audio" / "apology.wav"
"""Played to the callee when the session fails (8 kHz 16-bit mono)."""

HANG_UP_TOOL: Final[dict[str, Any]] = {
    "type": "function",
    "name": "hang_up",
    "description": ("End the phone call. Say a short goodbye first; the call ends once "
                    "the goodbye has been heard."),
    "parameters": {
        "type": "object",
        "properties": {"reason": {"type": "string",
                                  "description": "Why the call is over, in a few words."}},
        "required": [],
        "additionalProperties": False,
    },
}
HANG_UP_GUIDANCE: Final = ("This is a phone call. When the conversation is over, say a "
                           "short goodbye and then call the hang_up tool.")

_PCM_BYTES_PER_MS: Final = 16  # 8 kHz, 16-bit mono
DEFAULT_BASE_URL: Final = "https://api.openai.com/v1"


def apology_pcm() -> bytes:
    """The shipped apology as 8 kHz 16-bit mono PCM; two short beeps if it is missing."""
    try:
        with wave.open(str(APOLOGY_WAV)) as w:
            if (w.getframerate(), w.getnchannels(), w.getsampwidth()) == (8000, 1, 2):
                return bytes(w.readframes(w.getnframes()))
            log.warning("%s is not 8 kHz 16-bit mono; using a tone", APOLOGY_WAV)
    except (OSError, EOFError, wave.Error) as exc:
        log.warning("cannot read %s (%s); using a tone", APOLOGY_WAV, exc)
    return fallback_tone()


def fallback_tone() -> bytes:
    """Two 300 ms beeps at 480 Hz (the sound of a call that is going away)."""
    t = np.arange(2400) / 8000
    beep = (6000 * np.sin(2 * math.pi * 480 * t)).astype("<i2")
    gap = np.zeros(1600, dtype="<i2")
    return bytes(np.concatenate([beep, gap, beep]).tobytes())


_WARM: list[bool] = []


def _warm_up(client: OpenAI) -> None:
    """Pay the SDK's first-use costs (lazy imports, event type tables: 100-300 ms) when
    the agent is built, not while a callee waits for the first message."""
    _ = client.realtime
    if _WARM:
        return
    import websockets.sync.client  # noqa: F401  (the SDK imports it at the first connect)

    sample = json.dumps({"type": "response.output_audio.delta", "event_id": "e",
                         "response_id": "r", "item_id": "i", "output_index": 0,
                         "content_index": 0, "delta": ""})
    # parse_event does not use its connection; there is no public module-level parser.
    RealtimeConnection.parse_event(cast(RealtimeConnection, None), sample)
    _WARM.append(True)


@dataclass(frozen=True, slots=True)
class _CalleeGone:
    """The call ended on the callee's side (``CallAudio.read`` returned None)."""


@dataclass(frozen=True, slots=True)
class _Broken:
    """The session cannot go on (the connection closed or failed)."""

    reason: str


_Post = RealtimeServerEvent | _CalleeGone | _Broken


class _SessionFailed(Exception):
    """The Realtime session failed: apologise and hang up."""


@dataclass(slots=True)
class _AgentItem:
    """One assistant item's audio as queued to the callee."""

    item_id: str
    content_index: int
    start_ms: int
    """Where the item starts on the call's playback timeline (``CallAudio.played_ms``)."""
    at_ms: int
    sent_ms: int = 0
    interrupted: bool = False


@dataclass(slots=True)
class _State:
    """What one call's bridge knows; touched only by the thread running ``converse``."""

    started: float
    turns: list[Turn] = field(default_factory=list)
    first_audio_ms: int | None = None
    callee_spoke: bool = False
    tokens: int = 0
    cost_usd: float = 0.0
    items: dict[str, _AgentItem] = field(default_factory=dict)
    playing: list[_AgentItem] = field(default_factory=list)
    callee_started: dict[str, int] = field(default_factory=dict)
    awaiting_since: float | None = None
    hang_up_response: str | None = None
    hang_up_requested_at: float | None = None
    hang_up_ready: bool = False
    drained_at: float | None = None


class RealtimeAgent:
    """A ``VoiceAgent`` backed by an OpenAI Realtime session (one per call).

    ``api_key`` and ``base_url`` come from the settings (``OPENAI_API_KEY``,
    ``OPENAI_BASE_URL``: any OpenAI-compatible server; ``None`` is api.openai.com).
    ``model`` overrides ``profile.model``. Token prices, when given, turn the usage of
    each ``response.done`` into ``Conversation.cost_usd``. One agent may run several
    calls at once: all per-call state lives inside ``converse``.
    """

    def __init__(self, profile: AgentProfile, *, api_key: str, base_url: str | None = None,
                 model: str | None = None,
                 transcription_model: str = "gpt-4o-mini-transcribe",
                 vad_threshold: float = 0.5, vad_prefix_ms: int = 300,
                 vad_silence_ms: int = 500,
                 connect_timeout_s: float = 10.0, response_timeout_s: float = 15.0,
                 hangup_tail_s: float = 0.2,
                 usd_per_input_token: float = 0.0, usd_per_output_token: float = 0.0,
                 apology: bytes | None = None,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.profile = profile
        self.model = model or profile.model
        self.transcription_model = transcription_model
        self.vad_threshold = vad_threshold
        self.vad_prefix_ms = vad_prefix_ms
        self.vad_silence_ms = vad_silence_ms
        self.connect_timeout_s = connect_timeout_s
        self.response_timeout_s = response_timeout_s
        self.hangup_tail_s = hangup_tail_s
        self.usd_per_input_token = usd_per_input_token
        self.usd_per_output_token = usd_per_output_token
        self._apology = apology if apology is not None else apology_pcm()
        self._clock = clock
        # base_url spelled out: the SDK would otherwise read OPENAI_BASE_URL itself
        self._client = OpenAI(api_key=api_key, base_url=base_url or DEFAULT_BASE_URL,
                              max_retries=0, timeout=connect_timeout_s)
        _warm_up(self._client)

    def session_config(self) -> RealtimeSessionCreateRequestParam:
        """The ``session.update`` payload: µ-law both ways, server VAD, transcription,
        the agent's instructions and voice, and the ``hang_up`` tool."""
        instructions = "\n\n".join(p for p in (self.profile.instructions.strip(),
                                               HANG_UP_GUIDANCE) if p)
        return {
            "type": "realtime",
            "instructions": instructions,
            "output_modalities": ["audio"],
            "audio": {
                "input": {
                    "format": {"type": "audio/pcmu"},
                    "turn_detection": {
                        "type": "server_vad", "threshold": self.vad_threshold,
                        "prefix_padding_ms": self.vad_prefix_ms,
                        "silence_duration_ms": self.vad_silence_ms,
                        "create_response": True, "interrupt_response": True,
                    },
                    "transcription": {"model": self.transcription_model},
                },
                "output": {"format": {"type": "audio/pcmu"}, "voice": self.profile.voice},
            },
            "tools": [cast(Any, HANG_UP_TOOL)],
            "tool_choice": "auto",
        }

    def converse(self, audio: CallAudio, *, max_s: float) -> Conversation:
        """Run the conversation until either side ends it, ``max_s`` passes or the
        session fails (then the callee hears the apology); never raises."""
        return _Bridge(self, audio, max_s).run()


class _Bridge:
    """One call's session: the pump and receiver threads and the decision loop."""

    def __init__(self, agent: RealtimeAgent, audio: CallAudio, max_s: float) -> None:
        self.agent = agent
        self.audio = audio
        self.clock = agent._clock
        self.state = _State(started=self.clock())
        self.deadline = self.state.started + max_s
        self.posts: queue.SimpleQueue[_Post] = queue.SimpleQueue()
        self.stop = threading.Event()
        self._conn: RealtimeConnection | None = None

    @property
    def conn(self) -> RealtimeConnection:
        assert self._conn is not None, "used before the session was opened"
        return self._conn

    # --- the whole call -------------------------------------------------------------
    def run(self) -> Conversation:
        ended_by: EndedBy
        error: str | None = None
        threads: list[threading.Thread] = []
        try:
            try:
                self._connect()
                threads = self._start_threads()
                ended_by = self._loop()
            finally:
                self._shut(threads)
        except _SessionFailed as exc:
            error = str(exc)
            ended_by = "error"
            log.warning("realtime session failed: %s", error)
            self._apologise()
        except Exception as exc:  # never raise for call trouble: apologise instead
            error = f"bridge error: {exc!r}"
            ended_by = "error"
            log.exception("realtime bridge failed")
            self._apologise()
        s = self.state
        turns = tuple(sorted(s.turns, key=lambda t: t.at_ms))
        return Conversation(transcript=turns, first_audio_ms=s.first_audio_ms,
                            callee_spoke=s.callee_spoke, ended_by=ended_by, error=error,
                            tokens=s.tokens, cost_usd=s.cost_usd)

    def _connect(self) -> None:
        agent = self.agent
        # Options the SDK passes through to websockets.sync.client.connect without
        # declaring them. legacy=True: the SDK calls connect() directly, not as a context
        # manager, which websockets >= 17.1 otherwise reports with a DeprecationWarning
        # on first use of the connection.
        options = cast(SyncWebSocketConnectionOptions,
                       {"open_timeout": agent.connect_timeout_s, "close_timeout": 2.0,
                        "legacy": True})
        try:
            self._conn = agent._client.realtime.connect(
                model=agent.model, websocket_connection_options=options).enter()
            self.conn.session.update(session=agent.session_config())
            first = agent.profile.first_message.strip()
            if first:
                self.conn.response.create(response={
                    "instructions": ("Start the call now: greet the callee by saying "
                                     f"exactly this, then wait for their answer: {first}")})
                self.state.awaiting_since = self.clock()
        except Exception as exc:
            raise _SessionFailed(f"cannot open the Realtime session: {exc!r}") from exc

    def _start_threads(self) -> list[threading.Thread]:
        threads = [threading.Thread(target=self._receive, name="realtime-recv", daemon=True),
                   threading.Thread(target=self._pump, name="realtime-pump", daemon=True)]
        for t in threads:
            t.start()
        return threads

    def _shut(self, threads: list[threading.Thread]) -> None:
        self.stop.set()
        if self._conn is not None:
            try:
                self._conn.close()
            except Exception:  # already closed or broken: nothing more to do
                log.debug("closing the realtime connection failed", exc_info=True)
        for t in threads:
            t.join(5.0)

    # --- the two helper threads -------------------------------------------------------
    def _receive(self) -> None:
        """Receiver thread: post every server event; never decide anything here."""
        try:
            for event in self.conn:
                self.posts.put(event)
            self.posts.put(_Broken("the Realtime server closed the session"))
        except Exception as exc:
            self.posts.put(_Broken(f"the Realtime connection failed: {exc!r}"))

    def _pump(self) -> None:
        """Pump thread: the callee's frames, µ-law coded, to the input audio buffer."""
        try:
            while not self.stop.is_set():
                frame = self.audio.read(0.05)
                if frame is None:
                    self.posts.put(_CalleeGone())
                    return
                if frame and not self.stop.is_set():
                    payload = base64.b64encode(pcm16_to_ulaw(frame)).decode("ascii")
                    self.conn.input_audio_buffer.append(audio=payload)
        except Exception as exc:
            if not self.stop.is_set():
                self.posts.put(_Broken(f"cannot send the callee's audio: {exc!r}"))

    # --- decisions (the converse thread only) ----------------------------------------
    def _loop(self) -> EndedBy:
        s = self.state
        while True:
            now = self.clock()
            if now >= self.deadline:
                log.info("realtime call reached its time limit")
                self.audio.hangup()
                return "timeout"
            if s.hang_up_requested_at is not None and self._goodbye_heard(now):
                self.audio.hangup()
                return "agent"
            if (s.awaiting_since is not None
                    and now - s.awaiting_since > self.agent.response_timeout_s):
                raise _SessionFailed(
                    f"no response from the model within {self.agent.response_timeout_s} s")
            if self.audio.ended:
                return "callee"
            try:
                post = self.posts.get(timeout=0.02)
            except queue.Empty:
                continue
            if isinstance(post, _CalleeGone):
                return "callee"
            if isinstance(post, _Broken):
                if self.audio.ended:
                    return "callee"
                raise _SessionFailed(post.reason)
            self._on_event(post)

    def _goodbye_heard(self, now: float) -> bool:
        """After ``hang_up``: its response is done and its audio has played out (plus a
        short tail for the jitter buffer); or the wait has gone on far too long."""
        s = self.state
        assert s.hang_up_requested_at is not None
        if now - s.hang_up_requested_at > 30.0:
            return True
        if not s.hang_up_ready or self.audio.queued_ms() > 0:
            s.drained_at = None
            return False
        if s.drained_at is None:
            s.drained_at = now
        return now - s.drained_at >= self.agent.hangup_tail_s

    def _ms(self) -> int:
        return int((self.clock() - self.state.started) * 1000)

    def _on_event(self, event: RealtimeServerEvent) -> None:
        s = self.state
        if isinstance(event, ResponseAudioDeltaEvent):
            self._on_audio(event)
        elif isinstance(event, InputAudioBufferSpeechStartedEvent):
            s.callee_spoke = True
            s.callee_started.setdefault(event.item_id, self._ms())
            if s.hang_up_requested_at is None:  # a goodbye is said to its end
                self._barge_in()
        elif isinstance(event, InputAudioBufferSpeechStoppedEvent):
            # server VAD creates the response itself; it must come in time
            if s.hang_up_requested_at is None:
                s.awaiting_since = self.clock()
        elif isinstance(event, ResponseCreatedEvent):
            s.awaiting_since = None
        elif isinstance(event, ResponseAudioTranscriptDoneEvent):
            item = s.items.get(event.item_id)
            text = event.transcript.strip()
            if text:
                s.turns.append(Turn("agent", text, item.at_ms if item else self._ms()))
        elif isinstance(event, ConversationItemInputAudioTranscriptionCompletedEvent):
            text = event.transcript.strip()
            if text:
                s.callee_spoke = True
                at = s.callee_started.get(event.item_id, self._ms())
                s.turns.append(Turn("callee", text, at))
        elif isinstance(event, ResponseFunctionCallArgumentsDoneEvent):
            self._on_tool_call(event)
        elif isinstance(event, ResponseDoneEvent):
            self._on_response_done(event)
        elif isinstance(event, RealtimeErrorEvent):
            err = event.error
            raise _SessionFailed(f"server error {err.code or err.type}: {err.message}")

    def _on_audio(self, event: ResponseAudioDeltaEvent) -> None:
        s = self.state
        s.awaiting_since = None
        item = s.items.get(event.item_id)
        if item is not None and item.interrupted:
            return  # the callee talked over it: late chunks are not played
        pcm = ulaw_to_pcm16(base64.b64decode(event.delta))
        if not pcm:
            return
        if item is None:
            start = self.audio.played_ms() + self.audio.queued_ms()
            item = _AgentItem(event.item_id, event.content_index, start, self._ms())
            s.items[event.item_id] = item
            s.playing.append(item)
        self.audio.send(pcm)
        item.sent_ms += len(pcm) // _PCM_BYTES_PER_MS
        if s.first_audio_ms is None:
            s.first_audio_ms = self._ms()

    def _barge_in(self) -> None:
        """The callee started talking: stop our audio, truncate what they did not hear."""
        s = self.state
        played = self.audio.played_ms()
        unheard = [i for i in s.playing if played < i.start_ms + i.sent_ms]
        s.playing.clear()
        if not unheard:
            return
        dropped = self.audio.clear()
        played = self.audio.played_ms()
        log.debug("barge-in: dropped %d ms of agent audio", dropped)
        for item in unheard:
            item.interrupted = True
            heard = max(0, min(item.sent_ms, played - item.start_ms))
            self.conn.conversation.item.truncate(item_id=item.item_id,
                                                 content_index=item.content_index,
                                                 audio_end_ms=heard)

    def _on_tool_call(self, event: ResponseFunctionCallArgumentsDoneEvent) -> None:
        s = self.state
        if event.name == "hang_up":
            try:
                reason = json.loads(event.arguments or "{}").get("reason", "")
            except (ValueError, AttributeError):
                reason = ""
            log.info("the agent hangs up: %s", reason or "no reason given")
            s.hang_up_response = event.response_id
            s.hang_up_requested_at = self.clock()
            s.awaiting_since = None
            return
        log.warning("the model called an unknown tool %r", event.name)
        self.conn.conversation.item.create(item={
            "type": "function_call_output", "call_id": event.call_id,
            "output": json.dumps({"error": f"no tool named {event.name}"})})
        self.conn.response.create()
        s.awaiting_since = self.clock()

    def _on_response_done(self, event: ResponseDoneEvent) -> None:
        s = self.state
        response = event.response
        usage = response.usage
        if usage is not None:
            s.tokens += usage.total_tokens or 0
            s.cost_usd += ((usage.input_tokens or 0) * self.agent.usd_per_input_token
                           + (usage.output_tokens or 0) * self.agent.usd_per_output_token)
        if response.status == "failed":
            details = response.status_details
            why = (details.error.message if details and details.error else None) or "no details"
            raise _SessionFailed(f"the model's response failed: {why}")
        if s.hang_up_requested_at is not None and response.id in (s.hang_up_response, None):
            s.hang_up_ready = True

    # --- failure ----------------------------------------------------------------------
    def _apologise(self) -> None:
        """Stop whatever was playing, play the apology to its end, then hang up."""
        audio = self.audio
        if audio.ended:
            return
        try:
            audio.clear()
            audio.send(self.agent._apology)
            until = self.clock() + len(self.agent._apology) / _PCM_BYTES_PER_MS / 1000 + 3.0
            while audio.queued_ms() > 0 and self.clock() < until:
                if audio.read(0.05) is None:
                    return
            tail = self.clock() + self.agent.hangup_tail_s
            while self.clock() < tail:
                if audio.read(0.05) is None:
                    return
            audio.hangup()
        except Exception:
            log.exception("could not play the apology")
            audio.hangup()
