"""The streaming AMD state machine behind ``amd_model.api.StreamingDetector``.

States: LISTENING (no verdict) -> DECIDED (verdict given; for machines, BEEP_SEARCH until
a beep or ``beep_window_ms``) -> DONE. Per 20 ms frame:

1. ``FrameAnalyzer`` gives energy, VAD, tone; ``ToneTracker`` follows pure tones;
   ``TimingTracker`` follows utterances.
2. A fax tone (CNG 1100 Hz / CED 2100 Hz) held ``fax_min_ms`` with (almost) no speech
   before it decides ``fax``; ``silence_timeout_ms`` of no speech decides ``silence``.
   Nothing else can decide before the first word, so leading silence, ringback and
   clicks never do.
3. After the first utterance starts, every ``CHECK_EVERY`` frames (and at least
   ``min_observe_ms`` after the onset) the model scores the timing features; P(machine)
   >= ``machine_threshold`` with at least ``machine_min_speech_ms`` of speech decides
   machine, P(human) >= ``human_threshold`` with at least ``human_min_silence_ms`` of
   silence since the last word decides human. At ``max_decision_ms``, P(machine) >
   ``deadline_machine_threshold`` gives machine, else human.
4. A pure tone of ``beep_min_ms`` that starts after the first utterance is a beep
   candidate (onset = its first frame; a steady or linearly gliding frequency, a flat
   level, and out of a pause unless it lasts 200 ms). Heard before any verdict, it
   decides machine (``beep_means_machine``). It is reported once, after a machine verdict,
   if it started before ``beep_window_ms``.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import TypeGuard

import numpy as np

from amd_model.api import FRAME_BYTES, AmdEvent, DetectorConfig, ReplyConfig
from amd_model.features import (
    FRAME_MS,
    TIMING_FEATURES,
    FloatArray,
    FrameAnalyzer,
    TimingTracker,
    ToneRun,
    ToneTracker,
    is_fax_tone,
)
from amd_model.model import Model

_VOICED = TIMING_FEATURES.index("voiced_ms")
_SILENCE_NOW = TIMING_FEATURES.index("silence_now_ms")
CHECK_EVERY = 5
"""Frames between two model evaluations (100 ms)."""
LONG_TONE_FRAMES = 10
"""A pure tone this long (200 ms) is a beep even if it did not start out of a pause
(music or noise under the end of a greeting)."""
SILENCE_CONFIDENCE = 0.95
BEEP_CONFIDENCE = 0.9
FAX_MAX_SPEECH_MS = 600
"""A fax tone decides ``fax`` only while at most this much speech was heard (clicks and
crackle before the tone may look like a word; a 1100 Hz beep after a greeting is not
a fax)."""
FAX_CONFIDENCE = 0.95


def _is_beep(run: ToneRun | None, min_frames: int) -> TypeGuard[ToneRun]:
    """A tone run long enough to be a beep: out of a pause, or long enough anyway."""
    return (run is not None and run.frames >= min_frames
            and (run.clean_start or run.frames >= LONG_TONE_FRAMES))


class Engine:
    """One call's detector state. Use through ``StreamingDetector``."""

    def __init__(self, model: Model | None, config: DetectorConfig) -> None:
        self.model = model
        self.trace: list[tuple[int, list[float]]] = []
        """Without a model (training): (elapsed_ms, features) at every checkpoint."""
        self.beep_ready_ms: int | None = None
        """Without a model (training): when ``beep_means_machine`` would have decided."""
        self.config = config
        self._analyzer = FrameAnalyzer(config.vad_mode)
        self._tones = ToneTracker(config.beep_min_hz, config.beep_max_hz)
        self.timing = TimingTracker(config.min_speech_ms)
        self._buf = b""
        self._frame = -1
        self._verdict: AmdEvent | None = None
        self._beep_onset_ms = -1
        self._beep_fax_like = False
        self._beep_reported: int | None = None
        self._beep_frames = max(1, config.beep_min_ms // FRAME_MS)
        self._fax_frames = max(1, config.fax_min_ms // FRAME_MS)
        self._done = False
        self.last_p_machine = 0.5

    # --- public ------------------------------------------------------------------------

    @property
    def verdict(self) -> AmdEvent | None:
        """The verdict event once given."""
        return self._verdict

    @property
    def beep_ms(self) -> int | None:
        """The reported beep onset."""
        return self._beep_reported

    @property
    def elapsed_ms(self) -> int:
        """Audio consumed, in ms."""
        return (self._frame + 1) * FRAME_MS

    @property
    def done(self) -> bool:
        """Nothing more can be emitted."""
        return self._done

    def feed(self, data: bytes) -> list[AmdEvent]:
        """Consume PCM bytes; process every complete 20 ms frame."""
        if self._buf:
            data = self._buf + data
            self._buf = b""
        events: list[AmdEvent] = []
        n = len(data) - len(data) % FRAME_BYTES
        if n < len(data):
            self._buf = data[n:]
        if self._done or n == 0:
            return events
        for off in range(0, n, FRAME_BYTES):
            self._step(data[off : off + FRAME_BYTES], events)
            if self._done:
                break
        return events

    def finish(self) -> list[AmdEvent]:
        """End of audio: flush a partial frame (zero-padded), then force the verdict."""
        events: list[AmdEvent] = []
        if self._buf and not self._done:
            pad = self._buf + b"\x00" * (FRAME_BYTES - len(self._buf))
            self._buf = b""
            self._step(pad, events)
        if self._verdict is None:
            self._decide_final(events, at_end=True)
        self._done = True
        return events

    # --- internals ---------------------------------------------------------------------

    def _step(self, pcm: bytes, events: list[AmdEvent]) -> None:
        self._frame += 1
        t = self._frame
        samples = np.frombuffer(pcm, dtype="<i2").astype(np.float64)
        feats = self._analyzer.analyze(pcm, samples)
        run = self._tones.update(t, feats)
        if self._verdict is None:
            self.timing.update(feats, run.frames if run is not None else 0)
        if (_is_beep(run, self._beep_frames)
                and self._beep_onset_ms < 0
                and self.timing.has_onset and run.start_frame > self.timing.onset):
            self._beep_onset_ms = run.start_ms
            self._beep_fax_like = is_fax_tone(run)
        cfg = self.config
        elapsed = (t + 1) * FRAME_MS
        if self._verdict is None:
            little_speech = self.timing.voiced_frames * FRAME_MS < FAX_MAX_SPEECH_MS
            if (run is not None and run.frames >= self._fax_frames and is_fax_tone(run)
                    and little_speech):
                self._give("fax", FAX_CONFIDENCE, events)
            elif not self.timing.has_onset:
                if elapsed >= cfg.silence_timeout_ms:
                    self._give("silence", SILENCE_CONFIDENCE, events)
            elif (cfg.beep_means_machine and self._beep_onset_ms >= 0
                  and not (self._beep_fax_like and little_speech)):
                if self.model is None:  # training: note when the beep would decide
                    if self.beep_ready_ms is None:
                        self.beep_ready_ms = elapsed
                else:
                    self._give("machine", max(self.last_p_machine, BEEP_CONFIDENCE), events)
            else:
                since_onset = elapsed - self.timing.onset * FRAME_MS
                if since_onset >= cfg.min_observe_ms and t % CHECK_EVERY == 0:
                    if self.model is None:
                        self.trace.append((elapsed, self.timing.vector()))
                        return
                    vec = self.timing.vector()
                    p = self.model.predict(vec)
                    self.last_p_machine = p
                    if p >= cfg.machine_threshold and vec[_VOICED] >= cfg.machine_min_speech_ms:
                        self._give("machine", p, events)
                    elif (1.0 - p >= cfg.human_threshold
                          and vec[_SILENCE_NOW] >= cfg.human_min_silence_ms):
                        self._give("human", 1.0 - p, events)
            if self._verdict is None and elapsed >= cfg.max_decision_ms:
                self._decide_final(events, at_end=False)
        self._maybe_beep(events, elapsed)

    def _decide_final(self, events: list[AmdEvent], at_end: bool) -> None:
        if not self.timing.has_onset:
            self._give("silence", SILENCE_CONFIDENCE if not at_end else 0.6, events)
            return
        if self.model is None:
            self._give("unknown", 0.5, events)
            return
        p = self.model.predict(self.timing.vector())
        self.last_p_machine = p
        if at_end and max(p, 1.0 - p) < 0.6:
            self._give("unknown", max(p, 1.0 - p), events)
        elif p > self.config.deadline_machine_threshold:
            self._give("machine", p, events)
        else:
            self._give("human", 1.0 - p, events)

    def _give(self, label: str, confidence: float, events: list[AmdEvent]) -> None:
        decision_ms = min(self.elapsed_ms, self.config.max_decision_ms)
        self._verdict = AmdEvent(kind="verdict", label=label,
                                 confidence=round(float(confidence), 4),
                                 decision_ms=decision_ms)
        events.append(self._verdict)
        if label != "machine":
            self._done = True

    def _maybe_beep(self, events: list[AmdEvent], elapsed: int) -> None:
        if self._verdict is None or self._verdict.label != "machine" or self._done:
            return
        if self._beep_onset_ms >= 0:
            onset = self._beep_onset_ms
            if onset < self.config.beep_window_ms:
                self._beep_reported = onset
                events.append(AmdEvent(kind="beep", beep_ms=onset))
            self._done = True
        elif elapsed >= self.config.beep_window_ms:
            self._done = True


class _Framed:
    """Cuts the bytes fed to a watch into 20 ms frames, keeping a partial one for later."""

    def __init__(self) -> None:
        self._buf = b""

    def _frames(self, data: bytes) -> Iterator[tuple[bytes, FloatArray]]:
        data = self._buf + data
        n = len(data) - len(data) % FRAME_BYTES
        self._buf = data[n:]
        for off in range(0, n, FRAME_BYTES):
            pcm = data[off : off + FRAME_BYTES]
            yield pcm, np.frombuffer(pcm, dtype="<i2").astype(np.float64)


class BeepEngine(_Framed):
    """A voicemail-beep search alone, without a verdict: behind ``api.BeepWatch``.

    The same beep rule as ``Engine`` (a pure tone of ``beep_min_ms`` in the beep band,
    out of a pause unless it lasts ``LONG_TONE_FRAMES``), reported once.
    """

    def __init__(self, config: DetectorConfig) -> None:
        super().__init__()
        self._analyzer = FrameAnalyzer(config.vad_mode)
        self._tones = ToneTracker(config.beep_min_hz, config.beep_max_hz)
        self._beep_frames = max(1, config.beep_min_ms // FRAME_MS)
        self._frame = -1
        self.onset_ms: int | None = None

    def feed(self, data: bytes) -> int | None:
        """Consume PCM bytes; the beep onset (ms since the first byte fed) the first time
        one is heard, else None."""
        if self.onset_ms is not None:
            return None
        for pcm, samples in self._frames(data):
            self._frame += 1
            run = self._tones.update(self._frame, self._analyzer.analyze(pcm, samples))
            if _is_beep(run, self._beep_frames):
                self.onset_ms = max(0, run.start_ms)
                return self.onset_ms
        return None


class ReplyEngine(_Framed):
    """Behind ``api.ReplyWatch``: a pause, a short run of speech, a pause again.

    Speech frames are ``FrameAnalyzer``'s (webrtcvad, above the noise floor, not a pure
    tone); a run of them ends after ``hangover_ms`` without one. The state: the last
    speech frame, the open run (its first frame, whether it came out of a long enough
    pause, its speech frames) and a finished short run waiting for ``after_ms``.
    """

    def __init__(self, config: ReplyConfig) -> None:
        super().__init__()
        self.config = config
        self._analyzer = FrameAnalyzer(config.vad_mode)
        self._frame = -1
        self._last_speech = -1
        """The last speech frame (-1: none since the watch started)."""
        self._run: tuple[int, bool] | None = None
        """The open run: (first frame, came out of a pause of ``quiet_ms``)."""
        self._voiced = 0
        """Speech frames in the open run."""
        self._candidate: int | None = None
        """The last frame of a short run out of a pause, waiting for ``after_ms``."""
        self.reply_end_ms: int | None = None
        """Set once the reply is over: then nothing more is reported."""

    def feed(self, data: bytes) -> int | None:
        """Consume PCM bytes; the ms when the reply was over, the first time."""
        if self.reply_end_ms is not None:
            return None
        for pcm, samples in self._frames(data):
            if self._step(self._analyzer.analyze(pcm, samples).speech):
                return (self._frame + 1) * FRAME_MS
        return None

    def _step(self, speech: bool) -> bool:
        self._frame += 1
        t = self._frame
        cfg = self.config
        hang = cfg.hangover_ms // FRAME_MS
        if speech:
            self._candidate = None
            if self._run is None:
                # The watch starts mid-greeting: before any speech frame, the quiet so far
                # counts from the start (a greeting already over has been quiet longer).
                quiet = t if self._last_speech < 0 else t - self._last_speech - 1
                self._run = (t, quiet * FRAME_MS >= cfg.quiet_ms)
                self._voiced = 0
            self._voiced += 1
            self._last_speech = t
            return False
        if self._run is not None and t - self._last_speech >= hang:
            start, out_of_pause = self._run
            self._run = None
            length = (self._last_speech - start + 1) * FRAME_MS
            if (out_of_pause and self._voiced * FRAME_MS >= cfg.min_reply_ms
                    and length <= cfg.max_reply_ms):
                self._candidate = self._last_speech
        if (self._candidate is not None
                and (t - self._candidate) * FRAME_MS >= cfg.after_ms):
            self.reply_end_ms = (self._candidate + 1) * FRAME_MS
            return True
        return False
