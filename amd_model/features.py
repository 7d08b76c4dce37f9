"""Pure, causal per-frame features for AMD (numpy + webrtcvad).

Everything here sees one 20 ms frame (160 samples at 8 kHz) at a time and keeps only
small running state, so the detector can run on a live call.

- ``FrameAnalyzer``: energy (dBFS), an adaptive noise floor, webrtcvad, the power
  spectrum (Hann window, 256-point FFT, 31.25 Hz bins) with its spectral centroid, and
  the strongest pure-tone candidate in 300–2500 Hz (frequency by parabolic interpolation,
  tonality = energy within ±3 bins of the peak / energy in 250–3500 Hz); a frame is a
  pure tone when that peak leaves almost nothing above the noise floor.
- ``ToneTracker``: runs of tonal frames whose frequency stays put (or glides slowly,
  for rising beeps); reports beeps and fax tones (CNG 1100 Hz, CED 2100 Hz).
- ``TimingTracker``: speech/silence runs and utterances (the classic AMD cue: a human
  says a short "hello?" then waits; a machine talks on), summarised at any moment as a
  fixed-length feature vector (``TIMING_FEATURES``).
- ``goertzel_power``: single-frequency power, for tests and offline checks.
"""

from __future__ import annotations

import itertools
import math
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
import webrtcvad

SAMPLE_RATE = 8000
FRAME_SAMPLES = 160
FRAME_MS = 20
NFFT = 256
BIN_HZ = SAMPLE_RATE / NFFT

FloatArray = npt.NDArray[np.float64]

_WINDOW = np.hanning(FRAME_SAMPLES)
_WINDOW_POWER = float(np.sum(_WINDOW**2))
_BAND_LO = int(250 / BIN_HZ)
_BAND_HI = int(3500 / BIN_HZ) + 1
_TONE_LO = int(300 / BIN_HZ)
_TONE_HI = int(2500 / BIN_HZ) + 1
_FREQS = np.arange(NFFT // 2 + 1) * BIN_HZ
_BAND_FREQS = _FREQS[_BAND_LO:_BAND_HI]
_EPS = 1e-12
_FULL_SCALE_POWER = 32768.0**2

TONAL_MIN = 0.8
"""Tonality a pure tone must reach (in-band share of the peak)."""
PURE_REST = 0.03
"""A tone whose peak leaves at most this share of the frame's energy elsewhere is pure."""
SPEECH_MARGIN_DB = 5.0
"""A speech frame must be this far above the noise floor."""
SPEECH_MIN_DBFS = -62.0
"""A speech frame must be at least this loud."""


def goertzel_power(samples: FloatArray, freq_hz: float, rate: int = SAMPLE_RATE) -> float:
    """Normalised power of ``freq_hz`` in ``samples`` (1.0 for a full-scale sine)."""
    n = samples.size
    if n == 0:
        return 0.0
    coeff = 2.0 * math.cos(2.0 * math.pi * freq_hz / rate)
    s1 = s2 = 0.0
    for x in samples.tolist():
        s0 = x + coeff * s1 - s2
        s2, s1 = s1, s0
    power = s1 * s1 + s2 * s2 - coeff * s1 * s2
    return float(power / (n * n / 4.0) / _FULL_SCALE_POWER)


@dataclass(frozen=True, slots=True)
class FrameFeatures:
    """What one 20 ms frame looks like."""

    energy_db: float
    """Mean power in dBFS (a full-scale sine is about -3 dBFS)."""
    floor_db: float
    """The running noise-floor estimate in dBFS."""
    vad: bool
    """webrtcvad's decision for the frame."""
    speech: bool
    """vad, loud enough above the floor and not a pure tone: a speech frame."""
    tone_hz: float
    """Frequency of the strongest spectral peak in 300–2500 Hz."""
    tonality: float
    """Share of in-band energy within ±3 bins of that peak (1.0 = pure tone)."""
    centroid_hz: float
    """In-band spectral centroid."""
    pure: bool
    """A pure tone: tonal, and what is left outside the peak is (almost) only the noise
    floor or at least 15 dB below the peak. Voiced speech with one strong harmonic is
    tonal but leaves its other harmonics well above the floor."""


class FrameAnalyzer:
    """Computes ``FrameFeatures`` for consecutive 20 ms frames (keeps the noise floor)."""

    def __init__(self, vad_mode: int = 2) -> None:
        self._vad = webrtcvad.Vad(vad_mode)
        self._floor: float | None = None

    def analyze(self, pcm: bytes, samples: FloatArray) -> FrameFeatures:
        """Features of one frame: ``pcm`` is its 320 bytes, ``samples`` the same as floats."""
        power = float(np.dot(samples, samples)) / FRAME_SAMPLES
        energy_db = 10.0 * math.log10(power / _FULL_SCALE_POWER + _EPS)
        floor = self._update_floor(energy_db)
        vad = self._vad.is_speech(pcm, SAMPLE_RATE)
        spec = np.fft.rfft(samples * _WINDOW, NFFT)
        p = (spec * spec.conj()).real
        band = p[_BAND_LO:_BAND_HI]
        total = float(band.sum()) + _EPS
        seg = p[_TONE_LO:_TONE_HI]
        k = int(seg.argmax()) + _TONE_LO
        peak = float(p[k - 3 : k + 4].sum())
        tonality = peak / total
        rest = max(1.0 - peak / (float(p.sum()) + _EPS), 1e-6)
        resid_db = energy_db + 10.0 * math.log10(rest)
        pure = tonality >= TONAL_MIN and (rest <= PURE_REST or resid_db < floor + 8.0)
        a, b, c = p[k - 1] + _EPS, p[k] + _EPS, p[k + 1] + _EPS
        la, lb, lc = math.log(a), math.log(b), math.log(c)
        den = la - 2 * lb + lc
        delta = 0.5 * (la - lc) / den if den < 0 else 0.0
        tone_hz = (k + delta) * BIN_HZ
        centroid = float(np.dot(band, _BAND_FREQS)) / total
        speech = (
            vad
            and not pure
            and energy_db > floor + SPEECH_MARGIN_DB
            and energy_db > SPEECH_MIN_DBFS
        )
        return FrameFeatures(energy_db, floor, vad, speech, tone_hz, tonality, centroid, pure)

    def _update_floor(self, energy_db: float) -> float:
        # Minimum tracking: falls at once, creeps up 1.5 dB/s, so a long greeting does not
        # become the floor but a change of line noise is learned within seconds.
        if self._floor is None or energy_db < self._floor:
            self._floor = energy_db
        else:
            self._floor += 0.03
        return self._floor


@dataclass(frozen=True, slots=True)
class ToneRun:
    """A run of pure-tone frames at a steady (or smoothly gliding) frequency."""

    start_frame: int
    frames: int
    hz: float
    """Mean frequency over the run."""
    clean_start: bool
    """No speech frame in the ``PRE_SILENCE_FRAMES`` frames before the run (the frame
    just before is skipped: it may hold the tone's first milliseconds): a beep comes out
    of a pause, a tonal vowel comes out of a word."""
    lead_in_ms: float = 0.0
    """How much of the frame before the run the tone already filled (from its energy)."""

    @property
    def start_ms(self) -> int:
        """Onset in ms since the first frame (refined into the previous frame)."""
        return round(self.start_frame * FRAME_MS - self.lead_in_ms)

    @property
    def duration_ms(self) -> int:
        """Length in ms."""
        return self.frames * FRAME_MS


CNG_HZ = 1100.0
CED_HZ = 2100.0
FAX_TOLERANCE_HZ = 40.0
MAX_STEP_HZ = 40.0
"""Largest frequency change between two frames of one tone (rising beeps glide)."""
MAX_BEND_HZ = 6.0
"""Largest change of that step between frames: beeps are steady or glide linearly;
a voice's harmonic wobbles."""
JITTER_HZ = 12.0
"""Frame-to-frame frequency steps this small are a steady tone whatever their bend, in a
run that came out of a pause: a GSM round trip makes a 2 kHz beep read 2085, 2097,
2090 Hz ... in turn, which broke the run every other frame and found the beep hundreds
of ms late, or not at all. (Out of speech, a flat synthetic vowel would pass too.)"""
JITTER_LEVEL_DB = 4.0
"""... and its level may step this much: the codec makes it wobble too (a fax's CED tone
through GSM steps 2-4 dB between frames)."""
JITTER_MIN_HZ = 1000.0
"""... and only at or above this frequency, where GSM's wobble is: below it sit a voice's
fundamental (which a band-limited line can leave almost alone) and the notes of music
behind a person, which glide and fade a few Hz and dB per frame."""
PRE_SILENCE_FRAMES = 4
MAX_LEVEL_STEP_DB = 1.5
"""Largest level change between two frames of one tone (after its first frame, which
may be partial): a beep is flat, a vowel swells and fades."""


class ToneTracker:
    """Follows the current pure-tone run; answers "is there a beep / fax tone now?"."""

    def __init__(self, min_hz: float = 300.0, max_hz: float = 2500.0) -> None:
        self._min_hz = min_hz
        self._max_hz = max_hz
        self._start = -1
        self._frames = 0
        self._last_hz = 0.0
        self._last_step: float | None = None
        self._sum_hz = 0.0
        self._clean = False
        self._lead_in = 0.0
        self._recent_speech = [False] * (PRE_SILENCE_FRAMES + 1)
        self._prev_db = -120.0
        self._prev_floor = -120.0

    def update(self, frame_index: int, feats: FrameFeatures) -> ToneRun | None:
        """Feed one frame; return the current run (None when no tone is sounding)."""
        tonal = (feats.pure and self._min_hz <= feats.tone_hz <= self._max_hz
                 and feats.energy_db > feats.floor_db + 10.0)
        recent = self._recent_speech
        recent.pop(0)
        recent.append(feats.speech)
        prev_db, prev_floor = self._prev_db, self._prev_floor
        self._prev_db, self._prev_floor = feats.energy_db, feats.floor_db
        if not tonal:
            self._frames = 0
            return None
        step = feats.tone_hz - self._last_hz
        steady = (self._clean and feats.tone_hz >= JITTER_MIN_HZ and abs(step) <= JITTER_HZ
                  and (self._last_step is None or abs(self._last_step) <= JITTER_HZ))
        level_step = abs(feats.energy_db - prev_db)
        level_ok = (self._frames == 1 or level_step <= MAX_LEVEL_STEP_DB
                    or (steady and level_step <= JITTER_LEVEL_DB))
        smooth = (self._frames > 0 and abs(step) <= MAX_STEP_HZ and level_ok
                  and (self._last_step is None or steady
                       or abs(step - self._last_step) <= MAX_BEND_HZ))
        if smooth:
            self._frames += 1
            self._sum_hz += feats.tone_hz
            self._last_step = step
        else:
            self._start = frame_index
            self._frames = 1
            self._sum_hz = feats.tone_hz
            self._last_step = None
            self._clean = not any(recent[:-2])
            # share of the previous frame the tone already filled, from its energy
            share = 10 ** ((prev_db - feats.energy_db) / 10) if prev_db > prev_floor + 6 else 0
            self._lead_in = FRAME_MS * min(share, 1.0)
        self._last_hz = feats.tone_hz
        return ToneRun(self._start, self._frames, self._sum_hz / self._frames, self._clean,
                       self._lead_in)


def is_fax_tone(run: ToneRun) -> bool:
    """True when the run sits on the CNG (1100 Hz) or CED (2100 Hz) frequency."""
    return (abs(run.hz - CNG_HZ) <= FAX_TOLERANCE_HZ
            or abs(run.hz - CED_HZ) <= FAX_TOLERANCE_HZ)


RECENT_FRAMES = 50
"""Frames in the "recent" window (1 s) of ``recent_voiced_ratio``."""

TIMING_FEATURES: tuple[str, ...] = (
    "since_onset_ms",
    "n_utterances",
    "first_len_ms",
    "first_done",
    "silence_now_ms",
    "last_len_ms",
    "voiced_ms",
    "voiced_ratio",
    "longest_ms",
    "max_gap_ms",
    "n_words",
    "energy_std_db",
    "tone_seen",
    "active_nonspeech_ratio",
    "vad_nonspeech_ratio",
    "recent_voiced_ratio",
    "first_gap_ms",
)
"""Names of the columns of ``TimingTracker.vector`` (the model's input), in order."""


class TimingTracker:
    """Speech/silence runs since answer, summarised causally at any frame.

    A speech frame starts or extends an utterance; a silence longer than
    ``merge_gap_ms`` ends it. An utterance without ``min_speech_ms`` of consecutive speech
    frames (clicks, crackle, a breath, a ringback blip) is forgotten. A "word" is a run of speech
    frames broken by at least 60 ms of silence.
    """

    def __init__(self, min_speech_ms: int = 60, merge_gap_ms: int = 300) -> None:
        self._min_frames = max(1, min_speech_ms // FRAME_MS)
        self._merge_frames = max(1, merge_gap_ms // FRAME_MS)
        self.t = -1
        self.onset = -1  # first frame of the first valid utterance
        self._utts: list[list[int]] = []  # finished valid [start, end, voiced, best run]
        self._run = 0  # consecutive speech frames up to now
        self._cur: list[int] | None = None
        self._last_speech = -1  # last speech frame inside a valid utterance
        self._voiced = 0
        self._words = 0
        self._prev_speech_frame = -10
        self._e_sum = 0.0
        self._e_sq = 0.0
        self._n_speech = 0
        self._n_active_ns = 0
        self._n_vad_ns = 0
        self._n_after = 0
        self._recent = [0] * RECENT_FRAMES  # speech flags of the last second, a ring
        self._recent_sum = 0
        self.tone_seen = False

    @property
    def voiced_frames(self) -> int:
        """Speech frames counted since the first utterance began."""
        return self._voiced

    @property
    def has_onset(self) -> bool:
        """True once the first real utterance has started."""
        return self.onset >= 0

    def update(self, feats: FrameFeatures, tone_frames: int = 0) -> None:
        """Feed one frame's features (``tone_frames``: length of the running tone)."""
        self.t += 1
        t = self.t
        self._run = self._run + 1 if feats.speech else 0
        if feats.speech:
            cur = self._cur
            if cur is None or t - cur[1] > self._merge_frames:
                if cur is not None and cur[3] >= self._min_frames:
                    self._utts.append(cur)
                cur = self._cur = [t, t, 1, 1]
            else:
                cur[1] = t
                cur[2] += 1
                cur[3] = max(cur[3], self._run)
            if cur[3] >= self._min_frames:
                if self.onset < 0:
                    self.onset = cur[0]
                    # count the speech frames of this utterance retroactively
                    self._voiced += cur[2] - 1
                    self._words += 1
                    self._n_speech += cur[2] - 1
                if t - self._prev_speech_frame >= 4:
                    self._words += 1
                self._last_speech = t
                self._voiced += 1
            self._prev_speech_frame = t
        elif self._cur is not None and t - self._cur[1] > self._merge_frames:
            if self._cur[3] >= self._min_frames:
                self._utts.append(self._cur)
            self._cur = None
        if self.onset >= 0:
            slot = self._n_after % RECENT_FRAMES
            flag = 1 if feats.speech else 0
            self._recent_sum += flag - self._recent[slot]
            self._recent[slot] = flag
            self._n_after += 1
            if feats.speech:
                self._n_speech += 1
                self._e_sum += feats.energy_db
                self._e_sq += feats.energy_db * feats.energy_db
            else:
                if feats.energy_db > feats.floor_db + 6.0:
                    self._n_active_ns += 1
                if feats.vad:
                    self._n_vad_ns += 1
            if tone_frames >= 5:
                self.tone_seen = True

    def utterances(self) -> list[tuple[int, int]]:
        """Valid utterances so far as (start_frame, end_frame), the open one included."""
        out = [(u[0], u[1]) for u in self._utts]
        if self._cur is not None and self._cur[3] >= self._min_frames:
            out.append((self._cur[0], self._cur[1]))
        return out

    def vector(self) -> list[float]:
        """The ``TIMING_FEATURES`` at the current frame (zeros before the onset)."""
        if self.onset < 0:
            return [0.0] * len(TIMING_FEATURES)
        t = self.t
        utts = self.utterances()
        since = (t - self.onset + 1) * FRAME_MS
        first = utts[0]
        first_len = (first[1] - first[0] + 1) * FRAME_MS
        first_done = 1.0 if (len(utts) > 1 or t - first[1] > self._merge_frames) else 0.0
        last = utts[-1]
        gaps = [(b[0] - a[1] - 1) * FRAME_MS for a, b in itertools.pairwise(utts)]
        silence_now = (t - self._last_speech) * FRAME_MS
        n = max(self._n_speech, 1)
        e_mean = self._e_sum / n
        e_var = max(self._e_sq / n - e_mean * e_mean, 0.0)
        nonspeech = max(self._n_after - self._n_speech, 1)
        first_gap = gaps[0] if gaps else silence_now
        return [
            float(since),
            float(len(utts)),
            float(first_len),
            first_done,
            float(silence_now),
            float((last[1] - last[0] + 1) * FRAME_MS),
            float(self._voiced * FRAME_MS),
            self._voiced * FRAME_MS / since,
            float(max((u[1] - u[0] + 1) * FRAME_MS for u in utts)),
            float(max(gaps) if gaps else 0.0),
            float(self._words),
            math.sqrt(e_var),
            1.0 if self.tone_seen else 0.0,
            self._n_active_ns / nonspeech,
            self._n_vad_ns / nonspeech,
            self._recent_sum / max(min(self._n_after, RECENT_FRAMES), 1),
            float(first_gap),
        ]
