"""One real call, from the INVITE to the outcome: SIP, AMD on the answer, then the agent
on a human or the voicemail drop on a machine.

Runs on a number actor's call thread; the SIP engine's thread only queues events and
frames. The flow:

1. dial and wait for the answer (ring timeout, busy, reject ... end here);
2. from the 200 OK, feed every 20 ms frame to the streaming AMD detector (and to an
   energy VAD that notes when the callee's first words ended); in text mode the first
   words are also transcribed and classified (``greeting_classifier``), and the ML
   verdict is the fallback when the text says nothing either way;
3. ``human``: the voice agent talks at once; the greet delay (end of the callee's first
   words → our first audio) decides whether the call was abandoned. For
   ``late_beep_window_ms`` after the verdict the callee's audio is also watched for a
   voicemail beep (a very short greeting called human): on one, the agent stops and the
   call goes on as a machine's (the message after the beep, or a hang-up);
   ``machine``: hang up, or listen on for the beep and drop the voicemail right after it
   (a greeting that goes quiet without a beep gets the message too). Until the beep
   (or the message, or ``reply_window_ms`` on a hang-up) the callee is also listened to
   for a person called a machine: a pause, then a short "Hello?" (``reply_watch``). On
   one the call becomes a human's and the agent talks;
   ``silence``, ``fax``, ``unknown``: hang up;
4. wait for the final outcome and report it.

No pjsua2 here: the engine is reached through ``sip``'s own types only.
"""

from __future__ import annotations

import logging
import queue
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol

from agent.base import CallAudio, Conversation, VoiceAgent
from agent.vad import EnergyVad
from campaigns import types as t
from campaigns.health import GREET_LIMIT_MS, is_abandoned
from sip.calling import AmdTracker, CallPlacer, Detector, status_of_label
from sip.live import LiveAudio
from sip.types import CallEventKind, CallOutcome, DialRequest

log = logging.getLogger(__name__)


class BeepWatch(Protocol):
    """``amd_model.api.BeepWatch``: the beep onset (ms since its first frame), once."""

    def feed(self, frame: bytes) -> int | None: ...


class ReplyWatch(Protocol):
    """``amd_model.api.ReplyWatch``: when a short reply after a pause ended, once."""

    def feed(self, frame: bytes) -> int | None: ...


GreetingClassifier = Callable[[bytes], tuple[str, float]]
"""Text AMD: the PCM of the callee's first words → (``human``/``machine``/``unknown``,
confidence). It may block for a network round trip; it must not raise."""


@dataclass(frozen=True, slots=True)
class FlowSettings:
    """Timers of the flow (the detector has its own decision limit)."""

    amd_wait_s: float = 8.0
    """Give up on a verdict this long after the answer (no audio flowing)."""
    beep_wait_s: float = 30.0
    """Listen for a voicemail beep up to this long after the answer."""
    quiet_drop_ms: int = 2500
    """A machine's greeting that has been quiet this long gets the message without a beep."""
    beep_gap_ms: int = 100
    """Quiet after the beep's onset that marks its end: the message starts then."""
    beep_max_ms: int = 3000
    """A tone that goes on this long after its onset gets the message anyway."""
    agent_max_s: float = 180.0
    greet_limit_ms: int = GREET_LIMIT_MS
    greeting_end_ms: int = 700
    """Text AMD: silence after speech that ends the greeting to transcribe."""
    greeting_max_ms: int = 4000
    """Text AMD: speech this long is transcribed as it is (a long greeting)."""
    late_beep_window_ms: int = 6000
    """After a human verdict, a beep this long after it still makes the call a machine's."""
    late_beep_confidence: float = 0.9
    """The AMD confidence recorded for a machine known by its late beep."""
    reply_window_ms: int = 8000
    """After a machine verdict on a hang-up campaign, hold the line this long for the beep
    (then hang up) or a person's reply (then talk); 0 hangs up at once."""
    reply_confidence: float = 0.8
    """The AMD confidence recorded for a human known by their reply."""


@dataclass(frozen=True, slots=True)
class FlowResult:
    """How the call went, in the terms the call row keeps."""

    outcome: CallOutcome
    answer_status: t.AnswerStatus
    amd_label: str | None = None
    amd_confidence: float | None = None
    amd_decision_ms: int | None = None
    beep_ms: int | None = None
    greet_delay_ms: int | None = None
    abandoned: bool = False
    voicemail_left: bool = False
    conversation: bool = False
    transcript: tuple[dict[str, Any], ...] = ()
    answered_after_s: float | None = None
    """Seconds from dialling to the 200 OK (None: never answered)."""
    amd_correction: str | None = None
    """``reply``: a machine verdict turned human by the callee's reply; ``late_beep``: a
    human verdict turned machine by a beep; None: the verdict stood."""


class _Listener(AmdTracker):
    """Feeds frames to the detector and the VAD; remembers the verdict and the beep."""

    def __init__(self, detector: Detector) -> None:
        super().__init__(detector)
        self.vad = EnergyVad()

    def feed(self, frame: bytes) -> None:
        self.vad.feed(frame)
        if self.verdict is None or self.beep_ms is None:
            self.take(self.detector.feed(frame))

    @property
    def label(self) -> str | None:
        return None if self.verdict is None else str(self.verdict.label)


def run_call(engine: CallPlacer, request: DialRequest, *,
             detector_factory: Callable[[], Detector],
             agent: VoiceAgent,
             machine_action: t.MachineAction,
             voicemail: Callable[[], bytes],
             settings: FlowSettings | None = None,
             greeting_classifier: GreetingClassifier | None = None,
             late_beep: Callable[[], BeepWatch] | None = None,
             reply_watch: Callable[[], ReplyWatch] | None = None,
             clock: Callable[[], float] = time.monotonic) -> FlowResult:
    """Place ``request`` and carry it through to its outcome (see the module docstring).

    ``late_beep`` makes the watch for a beep after a human verdict, ``reply_watch`` the
    watch for a person's reply after a machine verdict (None: no watch)."""
    cfg = settings or FlowSettings()
    dialled = clock()
    handle = engine.dial(request, want_frames=True)
    ring_deadline = dialled + request.ring_timeout_s + request.no_response_timeout_s + 15.0
    answered = _wait_for_answer(handle, ring_deadline, clock)
    if not answered:
        outcome = handle.wait(15.0)
        return FlowResult(outcome, outcome.answer_status)
    answered_at = clock()
    audio = LiveAudio(handle, clock=clock)
    listener = _Listener(detector_factory())
    text_verdict: tuple[str, float, int] | None = None
    callee_gone = False
    if greeting_classifier is not None:
        callee_gone, text_verdict = _classify_greeting(audio, listener, greeting_classifier,
                                                       answered_at + cfg.amd_wait_s, cfg,
                                                       clock)
    if text_verdict is None and not callee_gone:
        callee_gone = _listen(audio, listener, lambda: listener.verdict is not None,
                              answered_at + cfg.amd_wait_s, clock)
    if listener.verdict is None and text_verdict is None:
        listener.take(listener.detector.finish())
    label = text_verdict[0] if text_verdict else (listener.label or "unknown")
    leave_voicemail = machine_action is t.MachineAction.LEAVE_VOICEMAIL
    reply_ms: int | None = None
    ready_for_message = False
    if (label == "machine" and reply_watch is not None and not callee_gone
            and not audio.ended and (leave_voicemail or cfg.reply_window_ms > 0)):
        callee_gone, ready_for_message, reply_ms = _await_machine_end(
            audio, listener, reply_watch(), leave_voicemail, answered_at, cfg, clock)
        if reply_ms is not None:
            log.info("a reply %d ms after the answer: a person after all", reply_ms)
            label = "human"
    talk = _Talk()
    if label == "human":
        talk = _talk(audio, listener, agent, late_beep, callee_gone, answered_at, cfg, clock)
    if talk.late_beep_ms is not None:  # a machine after all: what was said was said to it
        log.info("late beep %d ms after the answer: a machine after all", talk.late_beep_ms)
        label, reply_ms, talk = "machine", None, _Talk(late_beep_ms=talk.late_beep_ms)
        listener.beep_ms = talk.late_beep_ms
        audio.clear()
    voicemail_left = False
    if label == "machine" and leave_voicemail and not callee_gone and not audio.ended:
        # Wait for the beep (or a quiet end of the greeting) unless that is known already.
        gone = not ready_for_message and _listen(
            audio, listener, lambda: _message_due(listener, cfg),
            answered_at + cfg.beep_wait_s, clock)
        voicemail_left = not gone and _play_message(audio, voicemail, clock)
    if not audio.ended:
        handle.hangup()
    outcome = handle.wait(15.0)
    status = status_of_label(label) if outcome.answer_status.connected else outcome.answer_status
    verdict = listener.verdict
    confidence: float | None
    decision_ms: int | None
    correction: str | None = None
    if talk.late_beep_ms is not None:
        confidence, decision_ms = cfg.late_beep_confidence, talk.late_beep_ms
        correction = "late_beep"
    elif reply_ms is not None:
        confidence, decision_ms = cfg.reply_confidence, reply_ms
        correction = "reply"
    elif text_verdict is not None:
        confidence, decision_ms = text_verdict[1], text_verdict[2]
    else:
        confidence = None if verdict is None else float(verdict.confidence)
        decision_ms = None if verdict is None else int(verdict.decision_ms)
    conv = talk.conv
    return FlowResult(
        outcome, status, amd_label=label, amd_confidence=confidence,
        amd_decision_ms=decision_ms,
        beep_ms=listener.beep_ms, greet_delay_ms=talk.greet_delay, abandoned=talk.abandoned,
        voicemail_left=voicemail_left,
        conversation=bool(status is t.AnswerStatus.HUMAN and conv is not None
                          and conv.first_audio_ms is not None and outcome.talk_ms > 0),
        transcript=tuple(turn.as_dict() for turn in conv.transcript) if conv else (),
        answered_after_s=answered_at - dialled, amd_correction=correction)


@dataclass(frozen=True, slots=True)
class _Talk:
    """How the human part of a call went."""

    conv: Conversation | None = None
    greet_delay: int | None = None
    abandoned: bool = False
    late_beep_ms: int | None = None
    """A beep heard while the agent talked (ms since the answer): a machine after all."""


def _talk(audio: LiveAudio, listener: _Listener, agent: VoiceAgent,
          late_beep: Callable[[], BeepWatch] | None, callee_gone: bool, answered_at: float,
          cfg: FlowSettings, clock: Callable[[], float]) -> _Talk:
    """The voice agent talks to a human; the greet delay runs from the end of their
    first words (a person first called a machine waited longer, and that counts)."""
    ref = _first_words_end(listener.vad)
    if callee_gone:  # they hung up before we could speak: abandoned if we kept them waiting
        waited_ms = int((clock() - answered_at) * 1000) - ref
        return _Talk(abandoned=waited_ms > cfg.greet_limit_ms)
    agent_started_ms = int((clock() - answered_at) * 1000)
    watched = None if late_beep is None else _BeepWatchedAudio(
        audio, late_beep(), listener.vad, listener.vad.now_ms + cfg.late_beep_window_ms)
    conv = _converse(agent, watched or audio, cfg.agent_max_s)
    greet_delay: int | None = None
    if conv.first_audio_ms is not None:
        greet_delay = agent_started_ms + conv.first_audio_ms - ref
    return _Talk(conv, greet_delay,
                 is_abandoned(human=True, greet_delay_ms=greet_delay,
                              limit_ms=cfg.greet_limit_ms),
                 watched.beep_ms if watched is not None else None)


def _await_machine_end(audio: LiveAudio, listener: _Listener, watch: ReplyWatch,
                       leave_voicemail: bool, answered_at: float, cfg: FlowSettings,
                       clock: Callable[[], float]) -> tuple[bool, bool, int | None]:
    """After a machine verdict: listen until the message is due (a voicemail campaign),
    the beep or ``reply_window_ms`` (a hang-up campaign), or a person's reply.

    Returns (callee gone, message due, the reply's end in ms since the answer or None).
    The watch hears the callee from the verdict until the beep only: a beep settles it."""
    vad = listener.vad
    start_ms = vad.now_ms
    reply: list[int] = []

    def done() -> bool:
        if reply:
            return True
        if leave_voicemail:
            return _message_due(listener, cfg)
        return listener.beep_ms is not None or vad.now_ms - start_ms >= cfg.reply_window_ms

    def hear(frame: bytes) -> None:
        listener.feed(frame)
        if listener.beep_ms is None:
            ended = watch.feed(frame)
            if ended is not None:
                reply.append(start_ms + ended)

    # Audio time decides (``done``); the clock is the backstop when audio stops flowing.
    deadline = (answered_at + cfg.beep_wait_s if leave_voicemail
                else clock() + cfg.reply_window_ms / 1000 + 1.0)
    gone = _listen(audio, listener, done, deadline, clock, hear=hear)
    if reply:
        return gone, False, reply[0]
    return gone, leave_voicemail and not gone and _message_due(listener, cfg), None


class _BeepWatchedAudio:
    """The call's audio as the agent gets it, while the callee's side is watched for a
    voicemail beep until ``until_ms`` (since the answer). On a beep the agent is told the
    call ended (``read`` gives None), so it stops; ``beep_ms`` is then the onset since
    the answer. The listener's VAD keeps hearing every frame, for the voicemail drop."""

    def __init__(self, audio: LiveAudio, watch: BeepWatch, vad: EnergyVad,
                 until_ms: int) -> None:
        self._audio = audio
        self._watch = watch
        self._vad = vad
        self._start_ms = vad.now_ms
        self._until_ms = until_ms
        self.beep_ms: int | None = None

    def read(self, timeout_s: float) -> bytes | None:
        if self.beep_ms is not None:
            return None
        frame = self._audio.read(timeout_s)
        if frame:
            self._vad.feed(frame)
            if self._vad.now_ms <= self._until_ms:
                onset = self._watch.feed(frame)
                if onset is not None:
                    self.beep_ms = self._start_ms + onset
                    return None
        return frame

    def send(self, pcm: bytes) -> None:
        self._audio.send(pcm)

    def clear(self) -> int:
        return self._audio.clear()

    def played_ms(self) -> int:
        return self._audio.played_ms()

    def queued_ms(self) -> int:
        return self._audio.queued_ms()

    def hangup(self) -> None:
        self._audio.hangup()

    @property
    def ended(self) -> bool:
        return self.beep_ms is not None or self._audio.ended


def _wait_for_answer(handle: Any, deadline: float, clock: Callable[[], float]) -> bool:
    """True at the 200 OK; False when the call ended first (or never got anywhere)."""
    hung_up = False
    while True:
        try:
            event = handle.events.get(timeout=0.25)
        except queue.Empty:
            event = None
        if event is not None:
            if event.kind is CallEventKind.ANSWERED:
                return True
            if event.kind is CallEventKind.ENDED:
                return False
        if not hung_up and clock() > deadline:
            log.warning("call %s overran its ring deadline; hanging up", handle.id)
            handle.hangup()
            hung_up = True


def _listen(audio: LiveAudio, listener: _Listener, done: Callable[[], bool],
            deadline: float, clock: Callable[[], float],
            hear: Callable[[bytes], None] | None = None) -> bool:
    """Feed frames (to ``hear``, else the listener) until ``done()`` or the deadline;
    True when the call ended meanwhile."""
    feed = hear or listener.feed
    while not done():
        frame = audio.read(0.2)
        if frame is None:
            return True
        if frame:
            feed(frame)
        if clock() > deadline:
            return False
    return False


def _classify_greeting(audio: LiveAudio, listener: _Listener, classify: GreetingClassifier,
                       deadline: float, cfg: FlowSettings, clock: Callable[[], float]
                       ) -> tuple[bool, tuple[str, float, int] | None]:
    """Text AMD: gather the callee's first words (until a pause, or a long greeting),
    classify their transcript. Returns (callee gone, (label, confidence, decision ms) or
    None when the text decided nothing: the ML verdict decides then)."""
    vad = listener.vad
    pcm = bytearray()

    def greeting_over() -> bool:
        if listener.verdict is not None and listener.verdict.label in ("silence", "fax"):
            return True  # nothing to transcribe: ML's silence or fax stands
        started = vad.run_start_ms if vad.speaking else None
        long_speech = started is not None and vad.now_ms - started >= cfg.greeting_max_ms
        pause = vad.runs > 0 and not vad.speaking and (
            vad.now_ms - vad.last_voice_ms >= cfg.greeting_end_ms)
        return long_speech or pause

    gone = False
    while not greeting_over():
        frame = audio.read(0.2)
        if frame is None:
            gone = True
            break
        if frame:
            pcm += frame
            listener.feed(frame)
        if clock() > deadline:
            break
    if listener.verdict is not None and listener.verdict.label in ("silence", "fax"):
        return gone, None
    if vad.runs == 0 and not vad.speaking:
        return gone, None  # no words at all
    label, confidence = classify(bytes(pcm))
    if label not in ("human", "machine"):
        return gone, None
    return gone, (label, confidence, vad.now_ms)


def _first_words_end(vad: EnergyVad) -> int:
    """Ms since the answer when the callee's first words ended (now, if still talking;
    the answer itself when they never spoke)."""
    if vad.first_words_end_ms is not None:
        return vad.first_words_end_ms
    return vad.now_ms if vad.speaking else 0


def _converse(agent: VoiceAgent, audio: CallAudio, max_s: float) -> Conversation:
    try:
        conv = agent.converse(audio, max_s=max_s)
    except Exception as exc:  # an agent bug must not lose the call's outcome
        log.exception("voice agent failed")
        return Conversation(ended_by="error", error=f"{type(exc).__name__}: {exc}"[:300])
    if conv.error:
        log.warning("voice agent ended the call: %s", conv.error)
    return conv


def _message_due(listener: _Listener, cfg: FlowSettings) -> bool:
    """The voicemail message may start: the beep itself has ended (or went on too long),
    or the greeting has been quiet for ``quiet_drop_ms`` without a beep."""
    vad = listener.vad
    if listener.beep_ms is not None:
        after_beep = vad.now_ms - listener.beep_ms
        return (vad.now_ms - vad.last_voice_ms >= cfg.beep_gap_ms and after_beep >= 100
                ) or after_beep >= cfg.beep_max_ms
    return vad.runs > 0 and not vad.speaking and vad.now_ms - vad.last_voice_ms >= cfg.quiet_drop_ms


def _play_message(audio: LiveAudio, voicemail: Callable[[], bytes],
                  clock: Callable[[], float]) -> bool:
    """Play the voicemail message to its end; True when it was all sent."""
    try:
        message = voicemail()
    except Exception:  # no speech and no shipped prompt: hang up rather than dead air
        log.exception("no voicemail audio")
        return False
    audio.send(message)
    until = clock() + len(message) / 16000 + 5.0
    while audio.queued_ms() > 0 and clock() < until:
        if audio.read(0.1) is None:
            return False
    audio.read(0.3)  # let the last frames leave
    return not audio.ended
