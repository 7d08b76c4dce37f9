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
   (a greeting that goes quiet without a beep gets the message too);
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
             clock: Callable[[], float] = time.monotonic) -> FlowResult:
    """Place ``request`` and carry it through to its outcome (see the module docstring).

    ``late_beep`` makes the watch for a beep after a human verdict (None: no watch)."""
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
    conv: Conversation | None = None
    greet_delay: int | None = None
    abandoned = False
    voicemail_left = False
    late_beep_ms: int | None = None
    if label == "human":
        ref = _first_words_end(listener.vad)
        if not callee_gone:
            agent_started_ms = int((clock() - answered_at) * 1000)
            watched = None if late_beep is None else _BeepWatchedAudio(
                audio, late_beep(), listener.vad, listener.vad.now_ms + cfg.late_beep_window_ms)
            conv = _converse(agent, watched or audio, cfg.agent_max_s)
            late_beep_ms = watched.beep_ms if watched is not None else None
            if conv.first_audio_ms is not None:
                greet_delay = agent_started_ms + conv.first_audio_ms - ref
            abandoned = is_abandoned(human=True, greet_delay_ms=greet_delay,
                                     limit_ms=cfg.greet_limit_ms)
        else:  # they hung up before we could speak: abandoned if we kept them waiting
            waited_ms = int((clock() - answered_at) * 1000) - ref
            abandoned = waited_ms > cfg.greet_limit_ms
    if late_beep_ms is not None:  # a machine after all: what was said was said to it
        log.info("late beep %d ms after the answer: a machine after all", late_beep_ms)
        label, conv, greet_delay, abandoned = "machine", None, None, False
        listener.beep_ms = late_beep_ms
        audio.clear()
    if label == "machine" and machine_action is t.MachineAction.LEAVE_VOICEMAIL \
            and not callee_gone and not audio.ended:
        voicemail_left = _drop_voicemail(audio, listener, voicemail, answered_at, cfg, clock)
    if not audio.ended:
        handle.hangup()
    outcome = handle.wait(15.0)
    status = status_of_label(label) if outcome.answer_status.connected else outcome.answer_status
    verdict = listener.verdict
    confidence: float | None
    decision_ms: int | None
    if late_beep_ms is not None:
        confidence, decision_ms = cfg.late_beep_confidence, late_beep_ms
    elif text_verdict is not None:
        confidence, decision_ms = text_verdict[1], text_verdict[2]
    else:
        confidence = None if verdict is None else float(verdict.confidence)
        decision_ms = None if verdict is None else int(verdict.decision_ms)
    return FlowResult(
        outcome, status, amd_label=label, amd_confidence=confidence,
        amd_decision_ms=decision_ms,
        beep_ms=listener.beep_ms, greet_delay_ms=greet_delay, abandoned=abandoned,
        voicemail_left=voicemail_left,
        conversation=bool(status is t.AnswerStatus.HUMAN and conv is not None
                          and conv.first_audio_ms is not None and outcome.talk_ms > 0),
        transcript=tuple(turn.as_dict() for turn in conv.transcript) if conv else (),
        answered_after_s=answered_at - dialled)


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
            deadline: float, clock: Callable[[], float]) -> bool:
    """Feed frames until ``done()`` or the deadline; True when the call ended meanwhile."""
    while not done():
        frame = audio.read(0.2)
        if frame is None:
            return True
        if frame:
            listener.feed(frame)
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


def _drop_voicemail(audio: LiveAudio, listener: _Listener, voicemail: Callable[[], bytes],
                    answered_at: float, cfg: FlowSettings, clock: Callable[[], float]) -> bool:
    """Wait for the beep (or a quiet end of the greeting), then play the message."""
    vad = listener.vad

    def ready() -> bool:
        if listener.beep_ms is not None:  # speak once the beep itself has ended
            after_beep = vad.now_ms - listener.beep_ms
            return (vad.now_ms - vad.last_voice_ms >= cfg.beep_gap_ms and after_beep >= 100
                    ) or after_beep >= cfg.beep_max_ms
        return (vad.runs > 0 and not vad.speaking
                and vad.now_ms - vad.last_voice_ms >= cfg.quiet_drop_ms)

    if _listen(audio, listener, ready, answered_at + cfg.beep_wait_s, clock):
        return False
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
