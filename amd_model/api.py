"""The public, stable interface of answering-machine detection (AMD).

Other packages (``sip/``, ``actors/``, ``dialer/``) code against this module only::

    from amd_model.api import load_detector

    det = load_detector()                 # loads the shipped model once; cheap to copy
    for frame in frames_after_200_ok:     # 20 ms, 8 kHz, 16-bit LE mono = 320 bytes
        for event in det.feed(frame):
            if event.kind == "verdict":
                ...                       # event.label, event.confidence, event.decision_ms
            elif event.kind == "beep":
                ...                       # event.beep_ms: drop the message now
    for event in det.finish():            # the call ended (or you stop listening)
        ...

Guarantees:

- exactly one ``verdict`` event per detector (from ``feed`` or, at the latest, ``finish``);
- ``decision_ms`` (ms of audio since answer) is never above ``max_decision_ms``;
- leading silence, ringback and clicks before the first word never decide anything
  (only ``silence_timeout_ms`` of no speech decides ``silence``);
- at most one ``beep`` event, and only after a ``machine`` verdict: a beep heard before
  the verdict (a very short greeting) is remembered and reported right after the verdict
  event, in the same ``feed`` result; the search stops at ``beep_window_ms`` since answer;
- ``beep_ms`` is the beep onset in ms since answer.

A ``StreamingDetector`` is a pure state machine: no clock reads, no I/O, no threads.
Time is the number of audio samples fed.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal

if TYPE_CHECKING:
    from amd_model.detector import BeepEngine, Engine, ReplyEngine
    from amd_model.model import Model

__all__ = [
    "FRAME_BYTES",
    "FRAME_MS",
    "LABELS",
    "SAMPLE_RATE",
    "AmdEvent",
    "BeepWatch",
    "DetectorConfig",
    "ReplyConfig",
    "ReplyWatch",
    "StreamingDetector",
    "load_beep_watch",
    "load_detector",
    "load_reply_watch",
]

SAMPLE_RATE = 8000
"""Samples per second of the audio the detector expects."""
FRAME_MS = 20
"""Duration of one frame."""
FRAME_BYTES = SAMPLE_RATE * FRAME_MS // 1000 * 2
"""Bytes in one frame of 16-bit little-endian mono PCM (320)."""

Label = Literal["human", "machine", "silence", "fax", "unknown"]
LABELS: tuple[str, ...] = ("human", "machine", "silence", "fax", "unknown")
"""Every verdict label, in a stable order."""


@dataclass(frozen=True, slots=True)
class AmdEvent:
    """One thing the detector has to say.

    ``kind == "verdict"``: ``label`` (one of ``LABELS``), ``confidence`` (0..1) and
    ``decision_ms`` are set, ``beep_ms`` is None.
    ``kind == "beep"``: ``beep_ms`` (onset, ms since answer) is set, the others are None.
    """

    kind: str
    label: str | None = None
    confidence: float | None = None
    decision_ms: int | None = None
    beep_ms: int | None = None


@dataclass(frozen=True, slots=True)
class DetectorConfig:
    """Named thresholds of the streaming detector (all times in ms of audio since answer).

    Attributes:
        max_decision_ms: the verdict is given no later than this; if the model is still
            unsure, human or machine is given by ``deadline_machine_threshold``.
        silence_timeout_ms: no speech at all for this long decides ``silence``.
        beep_window_ms: after a machine verdict, listen for the beep until this time.
        min_speech_ms: a voiced run shorter than this (a click, a breath) is not a word.
        machine_threshold: the model's P(machine) needed to decide ``machine`` early.
        human_threshold: the model's P(human) needed to decide ``human`` early.
        deadline_machine_threshold: at ``max_decision_ms``, P(machine) above this gives
            ``machine``, else ``human``.
        human_min_silence_ms: an early ``human`` needs at least this much silence after
            the last word (machines pause between sentences; people wait for an answer).
        machine_min_speech_ms: an early ``machine`` needs at least this much speech.
        beep_means_machine: a beep after the first word, heard before any verdict (a very
            short greeting), decides ``machine`` at once.
        min_observe_ms: audio after the first word before any early human/machine
            verdict may be given.
        beep_min_ms: a pure tone must last this long to count as a beep.
        beep_min_hz, beep_max_hz: the band where beeps are searched for.
        fax_min_ms: a fax tone (CNG 1100 Hz or CED 2100 Hz) must last this long.
        vad_mode: webrtcvad aggressiveness (0..3).
    """

    max_decision_ms: int = 5000
    silence_timeout_ms: int = 5000
    beep_window_ms: int = 30000
    min_speech_ms: int = 60
    machine_threshold: float = 0.9
    human_threshold: float = 0.9
    deadline_machine_threshold: float = 0.5
    human_min_silence_ms: int = 600
    machine_min_speech_ms: int = 1200
    beep_means_machine: bool = True
    min_observe_ms: int = 300
    beep_min_ms: int = 80
    beep_min_hz: float = 300.0
    beep_max_hz: float = 2500.0
    fax_min_ms: int = 400
    vad_mode: int = 2

    def __post_init__(self) -> None:
        if self.max_decision_ms < FRAME_MS or self.silence_timeout_ms < FRAME_MS:
            raise ValueError("max_decision_ms and silence_timeout_ms must be >= 20")
        if not 0.0 <= self.deadline_machine_threshold <= 1.0:
            raise ValueError("deadline_machine_threshold must be in [0, 1]")
        if self.silence_timeout_ms > self.max_decision_ms:
            raise ValueError("silence_timeout_ms must not exceed max_decision_ms")
        if not 0 <= self.vad_mode <= 3:
            raise ValueError("vad_mode must be 0..3")
        for name in ("machine_threshold", "human_threshold"):
            if not 0.0 < getattr(self, name) <= 1.0:
                raise ValueError(f"{name} must be in (0, 1]")


class StreamingDetector:
    """Feed 20 ms frames from the moment of answer; get verdict and beep events back.

    Frames of other lengths are buffered and cut into 20 ms frames; a trailing partial
    frame is used by ``finish``. Not thread-safe: one detector per call.
    """

    def __init__(self, engine: Engine) -> None:
        self._engine = engine

    def feed(self, frame: bytes) -> list[AmdEvent]:
        """Consume audio (16-bit LE mono 8 kHz PCM bytes); return the new events."""
        return self._engine.feed(frame)

    def finish(self) -> list[AmdEvent]:
        """The audio ended: return the remaining events (the verdict if none yet)."""
        return self._engine.finish()

    @property
    def verdict(self) -> AmdEvent | None:
        """The verdict event once given, else None."""
        return self._engine.verdict

    @property
    def beep_ms(self) -> int | None:
        """The beep onset (ms since answer) once reported, else None."""
        return self._engine.beep_ms

    @property
    def elapsed_ms(self) -> int:
        """Milliseconds of audio consumed so far."""
        return self._engine.elapsed_ms

    @property
    def done(self) -> bool:
        """True when nothing more can be emitted (verdict given, beep search over)."""
        return self._engine.done


class BeepWatch:
    """Listens for a voicemail beep only, for a call that already has its verdict.

    A very short machine greeting ("Hello. Leave a message.") can be called human before
    its beep sounds; a caller that keeps feeding the callee's frames here learns of the
    beep and can still drop its message. Same framing as ``StreamingDetector``.
    """

    def __init__(self, engine: BeepEngine) -> None:
        self._engine = engine

    def feed(self, frame: bytes) -> int | None:
        """Consume audio; the beep onset (ms since the first frame fed) the first time a
        beep is heard, else None."""
        return self._engine.feed(frame)

    @property
    def beep_ms(self) -> int | None:
        """The onset once heard (ms since the first frame fed)."""
        return self._engine.onset_ms


def load_beep_watch(config: DetectorConfig | None = None) -> BeepWatch:
    """A fresh beep watch with the detector's beep settings (no model needed)."""
    from amd_model.detector import BeepEngine

    return BeepWatch(BeepEngine(config or DetectorConfig()))


@dataclass(frozen=True, slots=True)
class ReplyConfig:
    """Named thresholds of ``ReplyWatch`` (ms of audio since the watch started).

    Attributes:
        quiet_ms: the callee must first be quiet this long (the greeting, or the long
            answer, has ended) ...
        min_reply_ms: ... then speak: at least this many ms of speech frames (not a
            click, a breath, or a beep a codec blurred into a few "speech" frames) ...
        max_reply_ms: ... and for at most this long, first to last speech frame:
            "Hello?", "Anyone there?" (a longer run is the greeting going on: the watch
            waits for the next pause) ...
        after_ms: ... and be quiet again this long: the reply is over, they wait for us.
        hangover_ms: a pause shorter than this does not end a run of speech.
        vad_mode: webrtcvad aggressiveness (0-3), as ``DetectorConfig.vad_mode``.
    """

    quiet_ms: int = 1000
    min_reply_ms: int = 200
    max_reply_ms: int = 1500
    after_ms: int = 500
    hangover_ms: int = 300
    vad_mode: int = 2

    def __post_init__(self) -> None:
        if not 0 < self.min_reply_ms <= self.max_reply_ms:
            raise ValueError("need 0 < min_reply_ms <= max_reply_ms")
        if min(self.quiet_ms, self.after_ms, self.hangover_ms) < FRAME_MS:
            raise ValueError("quiet_ms, after_ms and hangover_ms must be >= 20")
        if self.after_ms < self.hangover_ms:
            raise ValueError("after_ms must not be below hangover_ms")
        if not 0 <= self.vad_mode <= 3:
            raise ValueError("vad_mode must be 0..3")


class ReplyWatch:
    """Listens, after a ``machine`` verdict, for a person who was called a machine.

    A machine plays its greeting to the end, then beeps or goes quiet. A person who
    answered with a long sentence (a receptionist, someone who talks on) stops, waits,
    and then says something short: "Hello?". The watch reports that pattern: a pause of
    ``quiet_ms``, a short run of speech, then ``after_ms`` of quiet again. Pure tones
    (the beep) are not speech. The caller stops feeding it at the beep: a beep settles
    it. Same framing as ``StreamingDetector``; a pure state machine.
    """

    def __init__(self, engine: ReplyEngine) -> None:
        self._engine = engine

    def feed(self, frame: bytes) -> int | None:
        """Consume audio; the first time the reply is over, the ms (since the first frame
        fed) when it ended, else None."""
        return self._engine.feed(frame)

    @property
    def reply_end_ms(self) -> int | None:
        """When the reply's speech ended (ms since the first frame fed), once heard."""
        return self._engine.reply_end_ms


def load_reply_watch(config: ReplyConfig | None = None) -> ReplyWatch:
    """A fresh reply watch (no model needed)."""
    from amd_model.detector import ReplyEngine

    return ReplyWatch(ReplyEngine(config or ReplyConfig()))


_MODEL_CACHE: dict[str, Model] = {}


def load_detector(config: DetectorConfig | None = None) -> StreamingDetector:
    """A fresh detector for one call, using the model shipped in ``amd_model/artifacts``.

    The artifact (plain JSON, never unpickled) is read once per process and shared.
    """
    from amd_model.detector import Engine
    from amd_model.model import DEFAULT_ARTIFACT, load_model

    model = _MODEL_CACHE.get("default")
    if model is None:
        model = load_model(DEFAULT_ARTIFACT)
        _MODEL_CACHE["default"] = model
    return StreamingDetector(Engine(model, config or model.default_config()))
