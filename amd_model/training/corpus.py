"""Synthetic telephone corpus for AMD: ``generate_corpus(out, n, seed, split)``.

Output: ``out/wav/<id>.wav`` (8 kHz mono 16-bit PCM) and ``out/labels.csv`` with the
columns of the real-voice set (``file,label,beep_ms,greeting_end_ms,voice,snr_db,notes``);
``notes`` holds ``key=value;`` pairs (``scenario``, ``level_db``, ``noise``, ``codec``,
``lead_ms``, ``beep_hz``, ``beep_kind`` …). Each clip depends only on ``(seed, index)``
(its own RNG), so generation is parallel (``workers`` processes, default 2) and
reproducible whatever the worker count. Progress goes to stderr.

Choices, and why:

- **Classes and scenarios** (weights in ``SCENARIOS``): humans answer short ("hello?",
  ``h_short``), twice with a 1–3 s pause (``h_double``), with TV/chatter or music behind
  them (``h_background``, bed 15–30 dB below the talker's peak), as receptionists
  (``h_receptionist``: 1.5–4 s of greeting then silence), or talk on and on
  (``h_longtalk``); machines play personal greetings
  (``m_personal``), business greetings and IVR menus (``m_business``), carrier greetings
  with spoken digits (``m_carrier``), very short greetings then a beep (``m_short``), and
  greetings with music under them (``m_music``). ``silence`` is line noise with optional
  clicks and ringback tail; ``fax`` is CNG (1100 Hz, 0.5 s on / 3 s off) or CED
  (2100 Hz, 2.6–4 s, then V.21 1650/1850 Hz FSK flags).
- **Voices**: espeak-ng with many languages of English and voice variants, speed
  120–210 wpm, pitch 25–75, word gap 0–8; flite (kal16, rms, slt, awb; duration
  stretch 0.8–1.35, mean F0 shifted −20 to +30 %) and festival
  (kal_diphone) when installed. ``split="train"`` and ``split="heldout"`` use disjoint
  voice sets and disjoint template sets (``scripts.split_templates``), so a held-out
  corpus hears voices and sentences training never saw. ``split="all"`` uses everything.
- **Scripts**: templates with names, companies, carriers, days, opening hours, extensions
  and spoken phone numbers (``scripts.py``): several hundred distinct sentences.
- **Levels**: speech peak −30 to −6 dBFS. **Noise**: white, pink, brown, mains hum with
  hiss, babble, crackle; SNR 10–40 dB relative to active speech. **Reverb** (30 %):
  exponentially decaying noise impulse response, RT60 0.1–0.5 s. **Band-pass** 300–3400 Hz
  (FFT brick wall with soft edges) on every clip. **Codec**: none / G.711 µ-law / A-law
  round trip (numpy implementations of the companding curves) / GSM 06.10 full rate
  (sox, when installed: mobile legs smear tones and speech alike).
- **Leading audio**: 0.1–2.5 s of line noise before the first word; 25 % with a ringback
  tail (440+480, 400+450 or 425 Hz, 0.2–1.2 s), 20 % with 1–3 clicks.
- **Beeps** (80 % of greeting machines, always after ``m_short``): single tones
  400–2100 Hz 80–1000 ms, double and triple short tones, rising glides (up to
  1.8 kHz/s) and three-note rising steps; 0.15–2.0 s after the greeting; level −8..+6 dB
  relative to the speech peak. ``beep_ms`` is its first sample.
- **Lengths**: humans 6–10 s; machines run to the end of the greeting plus the beep and
  1–3 s, at least 6 s and at most 28 s (the beep window is 30 s).
"""

from __future__ import annotations

import csv
import os
import random
import shutil
import subprocess
import sys
import tempfile
import time
import wave
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import numpy.typing as npt

from amd_model.audio import resample, to_int16, write_wav
from amd_model.training import scripts as S

RATE = 8000
FloatArray = npt.NDArray[np.float64]

SCENARIOS: tuple[tuple[str, str, float], ...] = (
    ("human", "h_short", 0.20),
    ("human", "h_double", 0.12),
    ("human", "h_background", 0.05),
    ("human", "h_receptionist", 0.05),
    ("human", "h_longtalk", 0.05),
    ("machine", "m_personal", 0.16),
    ("machine", "m_business", 0.09),
    ("machine", "m_carrier", 0.09),
    ("machine", "m_short", 0.05),
    ("machine", "m_music", 0.05),
    ("silence", "s_silence", 0.07),
    ("fax", "f_fax", 0.07),
)
"""(label, scenario, weight) of every kind of clip."""

ESPEAK_LANGS_TRAIN = ("en-us", "en", "en-gb-x-gbclan", "en-gb-x-gbcwmd")
ESPEAK_LANGS_HELDOUT = ("en-gb-scotland", "en-029", "en-gb-x-rp")
ESPEAK_VARIANTS_TRAIN = ("m1", "m2", "m3", "m5", "m7", "f1", "f2", "f4", "klatt", "klatt3",
                         "david", "linda", "steph", "john", "robert", "annie", "Andy",
                         "grandma", "paul", "quincy", "zac", "")
ESPEAK_VARIANTS_HELDOUT = ("m4", "m6", "m8", "f3", "f5", "klatt2", "klatt4", "edward",
                           "belinda", "aunty", "max", "travis", "victor", "shelby",
                           "benjamin", "Alicia", "Lee", "Michael")
FLITE_TRAIN = ("kal16", "rms")
FLITE_HELDOUT = ("slt", "awb")


@dataclass(frozen=True)
class Voice:
    """One TTS voice setting."""

    engine: str
    name: str
    speed: int = 160
    pitch: int = 50
    gap: int = 0

    @property
    def label(self) -> str:
        """A short description for labels.csv."""
        if self.engine in ("espeak", "flite"):
            return f"{self.engine}:{self.name}:s{self.speed}:p{self.pitch}"
        return f"{self.engine}:{self.name}"


def available_engines() -> set[str]:
    """Which speech engines are installed."""
    found = set()
    if shutil.which("espeak-ng"):
        found.add("espeak")
    if shutil.which("flite"):
        found.add("flite")
    if shutil.which("text2wave"):
        found.add("festival")
    return found


def pick_voice(rng: random.Random, split: str, engines: set[str]) -> Voice:
    """A random voice of ``split`` among the installed engines."""
    choices: list[str] = []
    if "espeak" in engines:
        choices += ["espeak"] * 6
    if "flite" in engines:
        choices += ["flite"] * 2
    if "festival" in engines and split != "train":
        choices += ["festival"]
    if not choices:
        raise RuntimeError("no speech engine installed: apt-get install espeak-ng")
    engine = rng.choice(choices)
    if engine == "flite":
        pool = {"train": FLITE_TRAIN, "heldout": FLITE_HELDOUT}.get(
            split, FLITE_TRAIN + FLITE_HELDOUT)
        # speed: duration stretch in percent; pitch: mean F0 in Hz (the voice's own
        # range, shifted), so one flite voice gives many speakers
        name = rng.choice(pool)
        f0 = {"slt": 170, "awb": 110, "kal16": 105, "rms": 100}.get(name, 110)
        return Voice("flite", name, rng.randint(80, 135), int(f0 * rng.uniform(0.8, 1.3)))
    if engine == "festival":
        return Voice("festival", "kal_diphone")
    langs = {"train": ESPEAK_LANGS_TRAIN, "heldout": ESPEAK_LANGS_HELDOUT}.get(
        split, ESPEAK_LANGS_TRAIN + ESPEAK_LANGS_HELDOUT)
    variants = {"train": ESPEAK_VARIANTS_TRAIN, "heldout": ESPEAK_VARIANTS_HELDOUT}.get(
        split, ESPEAK_VARIANTS_TRAIN + ESPEAK_VARIANTS_HELDOUT)
    var = rng.choice(variants)
    name = rng.choice(langs) + (f"+{var}" if var else "")
    return Voice("espeak", name, rng.randint(120, 210), rng.randint(25, 75),
                 rng.choice([0, 0, 0, 2, 5, 8]))


def _parse_wav_bytes(data: bytes) -> FloatArray:
    """Samples of a (possibly streamed, size-less) 16-bit PCM WAV, resampled to 8 kHz."""
    if data[:4] != b"RIFF":
        raise RuntimeError("TTS produced no WAV")
    pos = 12
    rate = 22050
    while pos + 8 <= len(data):
        cid = data[pos : pos + 4]
        size = int.from_bytes(data[pos + 4 : pos + 8], "little")
        if cid == b"fmt ":
            rate = int.from_bytes(data[pos + 12 : pos + 16], "little")
        if cid == b"data":
            body = data[pos + 8 :]
            body = body[: len(body) - len(body) % 2]
            x = np.frombuffer(body, dtype="<i2").astype(np.float64)
            return resample(x, rate, RATE)
        pos += 8 + size
    raise RuntimeError("TTS WAV has no data chunk")


def render(text: str, voice: Voice) -> FloatArray:
    """Speak ``text`` with ``voice``; 8 kHz float samples, leading/trailing silence cut."""
    if voice.engine == "espeak":
        cmd = ["espeak-ng", "-v", voice.name, "-s", str(voice.speed), "-p", str(voice.pitch),
               "-g", str(voice.gap), "--stdout", text]
        data = subprocess.run(cmd, capture_output=True, check=True, timeout=60).stdout
        x = _parse_wav_bytes(data)
    else:
        with tempfile.TemporaryDirectory() as tmp:
            out = os.path.join(tmp, "o.wav")
            if voice.engine == "flite":
                subprocess.run(["flite", "-voice", voice.name,
                                "--setf", f"duration_stretch={voice.speed / 100:.2f}",
                                "--setf", f"int_f0_target_mean={voice.pitch}",
                                "-t", text, "-o", out],
                               capture_output=True, check=True, timeout=60)
            else:
                subprocess.run(["text2wave", "-o", out], input=text.encode(),
                               capture_output=True, check=True, timeout=60)
            with open(out, "rb") as fh:
                x = _parse_wav_bytes(fh.read())
    return trim(x)


def trim(x: FloatArray, rel_db: float = -40.0) -> FloatArray:
    """Cut leading and trailing audio quieter than ``rel_db`` below the peak."""
    if x.size == 0:
        return x
    thr = np.max(np.abs(x)) * 10 ** (rel_db / 20)
    idx = np.flatnonzero(np.abs(x) > thr)
    if idx.size == 0:
        return x[:0]
    return x[max(idx[0] - 40, 0) : idx[-1] + 40]


# --- signal building blocks ----------------------------------------------------------

def tone(freqs: list[float], dur_s: float, amp: float, fade_ms: float = 5.0) -> FloatArray:
    """A sum of sines (equal amplitudes summing to ``amp``) with short fades."""
    n = int(dur_s * RATE)
    t = np.arange(n) / RATE
    x = sum((np.sin(2 * np.pi * f * t) for f in freqs), start=np.zeros(n)) * (
        amp / max(len(freqs), 1))
    return _fade(x, fade_ms)


def glide(f0: float, f1: float, dur_s: float, amp: float) -> FloatArray:
    """A linear frequency sweep (a rising beep)."""
    n = int(dur_s * RATE)
    f = np.linspace(f0, f1, n)
    phase = 2 * np.pi * np.cumsum(f) / RATE
    return _fade(amp * np.sin(phase), 5.0)


def _fade(x: FloatArray, ms: float) -> FloatArray:
    k = min(int(ms * RATE / 1000), x.size // 2)
    if k > 0:
        ramp = np.linspace(0.0, 1.0, k)
        x = x.copy()
        x[:k] *= ramp
        x[-k:] *= ramp[::-1]
    return x


def make_beep(rng: random.Random, amp: float) -> tuple[FloatArray, dict[str, str]]:
    """A voicemail beep of a random kind; returns the audio and its description."""
    kind = rng.choices(["single", "double", "triple", "rising", "steps"],
                       [0.6, 0.14, 0.06, 0.1, 0.1])[0]
    f = rng.choice([400, 425, 440, 480, 600, 622, 700, 800, 850, 950, 1000, 1000, 1000,
                    1200, 1400, 1500, 1800, 2000, 2100]) * rng.uniform(0.98, 1.02)
    if kind == "single":
        x = tone([f], rng.uniform(0.08, 1.0), amp)
    elif kind in ("double", "triple"):
        parts = []
        for _ in range(2 if kind == "double" else 3):
            parts += [tone([f], rng.uniform(0.1, 0.25), amp),
                      np.zeros(int(rng.uniform(0.05, 0.2) * RATE))]
        x = np.concatenate(parts[:-1])
    elif kind == "rising":
        f0 = rng.uniform(400, 900)
        x = glide(f0, f0 * rng.uniform(1.2, 1.6), rng.uniform(0.3, 0.8), amp)
    elif kind == "steps":
        f0 = rng.uniform(400, 800)
        x = np.concatenate([tone([f0 * r], 0.12, amp, 2) for r in (1.0, 1.25, 1.5)])
    return x, {"beep_kind": kind, "beep_hz": f"{f:.0f}", "beep_dur_ms": f"{x.size / 8:.0f}"}


def music(rng: random.Random, n: int) -> FloatArray:
    """Hold music: chords of harmonic tones with a walking bass, unit peak."""
    out = np.zeros(n)
    pos = 0
    base = rng.uniform(110, 220)
    while pos < n:
        dur = int(rng.uniform(0.3, 0.9) * RATE)
        root = base * 2 ** (rng.choice([0, 2, 4, 5, 7, 9]) / 12)
        seg = np.zeros(dur)
        t = np.arange(dur) / RATE
        for ratio in (1.0, 1.26, 1.5, 2.0):
            for h in (1, 2, 3):
                seg += np.sin(2 * np.pi * root * ratio * h * t) / (h * 1.5)
        seg *= np.exp(-t * rng.uniform(0.5, 3.0))
        end = min(pos + dur, n)
        out[pos:end] += seg[: end - pos]
        pos = end
    result: FloatArray = out / (np.max(np.abs(out)) + 1e-9)
    return result


def noise(rng: np.random.Generator, kind: str, n: int) -> FloatArray:
    """Unit-RMS line noise of a kind: white, pink, brown, hum, crackle."""
    if kind == "white":
        x = rng.standard_normal(n)
    elif kind in ("pink", "brown"):
        spec = np.fft.rfft(rng.standard_normal(n))
        f = np.arange(spec.size) + 1.0
        spec /= np.sqrt(f) if kind == "pink" else f
        x = np.fft.irfft(spec, n)
    elif kind == "hum":
        t = np.arange(n) / RATE
        mains = rng.choice([50.0, 60.0])
        x = sum((np.sin(2 * np.pi * mains * h * t) / h for h in range(1, 8)),
                start=np.zeros(n)) + 0.3 * rng.standard_normal(n)
    else:  # crackle: sparse impulses on hiss
        x = 0.3 * rng.standard_normal(n)
        hits = rng.integers(0, max(n, 1), size=max(n // 800, 1))
        x[hits] += rng.standard_normal(hits.size) * 8
    rms = float(np.sqrt(np.mean(x**2))) + 1e-12
    out: FloatArray = x / rms
    return out


def bandpass(x: FloatArray, lo: float = 300.0, hi: float = 3400.0) -> FloatArray:
    """Telephone band-pass: FFT mask with 100 Hz raised-cosine edges."""
    n = x.size
    spec = np.fft.rfft(x)
    f = np.fft.rfftfreq(n, 1 / RATE)
    mask = np.clip((f - (lo - 100)) / 100, 0, 1) * np.clip(((hi + 100) - f) / 100, 0, 1)
    mask = 0.5 - 0.5 * np.cos(np.pi * mask)
    return np.fft.irfft(spec * mask, n)


def reverb(rng: random.Random, x: FloatArray) -> FloatArray:
    """Convolve with an exponentially decaying noise impulse response."""
    rt60 = rng.uniform(0.1, 0.5)
    n = int(rt60 * RATE)
    t = np.arange(n) / RATE
    ir = np.random.default_rng(rng.randint(0, 2**31)).standard_normal(n) * np.exp(
        -6.9 * t / rt60)
    ir[0] = 1.0 / rng.uniform(0.3, 0.8)
    ir /= np.sqrt(np.sum(ir**2))
    y = np.convolve(x, ir)[: x.size]
    result: FloatArray = y * (np.max(np.abs(x)) / (np.max(np.abs(y)) + 1e-9))
    return result


def mulaw_roundtrip(x: FloatArray) -> FloatArray:
    """G.711 µ-law compand, 8-bit quantise, expand (int16 scale in and out)."""
    y = np.clip(x / 32768.0, -1, 1)
    c = np.sign(y) * np.log1p(255 * np.abs(y)) / np.log1p(255)
    q = np.round(c * 127) / 127
    result: FloatArray = np.sign(q) * (np.expm1(np.abs(q) * np.log1p(255)) / 255) * 32768.0
    return result


def alaw_roundtrip(x: FloatArray) -> FloatArray:
    """G.711 A-law compand, 8-bit quantise, expand (int16 scale in and out)."""
    a = 87.6
    y = np.clip(x / 32768.0, -1, 1)
    ay = np.abs(y)
    c = np.where(ay < 1 / a, a * ay / (1 + np.log(a)),
                 (1 + np.log(np.maximum(a * ay, 1e-12))) / (1 + np.log(a)))
    q = np.round(c * 127) / 127
    e = np.where(q < 1 / (1 + np.log(a)), q * (1 + np.log(a)) / a,
                 np.exp(q * (1 + np.log(a)) - 1) / a)
    result: FloatArray = np.sign(y) * e * 32768.0
    return result


def gsm_roundtrip(x: FloatArray) -> FloatArray:
    """GSM 06.10 full-rate encode and decode with sox (mobile legs of a call)."""
    raw = ["-t", "raw", "-r", str(RATE), "-e", "signed", "-b", "16", "-c", "1"]
    pcm = np.clip(np.rint(x), -32768, 32767).astype("<i2").tobytes()
    gsm = subprocess.run(["sox", *raw, "-", "-t", "gsm", "-"], input=pcm,
                         capture_output=True, check=True, timeout=60).stdout
    back = subprocess.run(["sox", "-t", "gsm", "-r", str(RATE), "-", *raw, "-"], input=gsm,
                          capture_output=True, check=True, timeout=60).stdout
    y = np.frombuffer(back[: len(back) - len(back) % 2], dtype="<i2").astype(np.float64)
    out = np.zeros(x.size)
    out[: min(y.size, x.size)] = y[: x.size]
    return out


def db_to_amp(dbfs: float) -> float:
    """Peak amplitude (int16 scale) of a level in dBFS."""
    return 32768.0 * 10 ** (dbfs / 20)


# --- clip assembly --------------------------------------------------------------------

@dataclass
class Clip:
    """A clip being assembled: foreground speech and tones, placed on a timeline."""

    rng: random.Random
    parts: list[tuple[int, FloatArray]] = field(default_factory=list)
    speech_spans: list[tuple[int, int]] = field(default_factory=list)
    beds: list[tuple[int, FloatArray]] = field(default_factory=list)

    def put(self, start: int, x: FloatArray, speech: bool = True) -> int:
        """Place ``x`` at sample ``start``; returns its end sample."""
        self.parts.append((start, x))
        if speech:
            self.speech_spans.append((start, start + x.size))
        return start + x.size

    def mix(self, n: int, tones: bool | None = None) -> FloatArray:
        """The foreground mixed to ``n`` samples (``tones``: only tones / only the rest)."""
        out = np.zeros(n)
        spans = {s for s, _ in self.speech_spans}
        chosen = [(s, x) for s, x in self.parts
                  if tones is None or (s not in spans) == tones]
        if not tones:
            chosen += self.beds
        for start, x in chosen:
            if start < 0:
                x, start = x[-start:], 0
            end = min(start + x.size, n)
            if end > start:
                out[start:end] += x[: end - start]
        return out


@dataclass(frozen=True)
class ClipResult:
    """One generated clip: its samples and its labels.csv row."""

    file: str
    label: str
    beep_ms: int | None
    greeting_end_ms: int | None
    voice: str
    snr_db: float
    notes: dict[str, str]
    samples: npt.NDArray[np.int16]


def _speak(rng: random.Random, voice: Voice, text: str, amp: float) -> FloatArray:
    x = render(text, voice)
    if x.size == 0:
        x = np.zeros(int(0.2 * RATE))
    result: FloatArray = x * (amp / (np.max(np.abs(x)) + 1e-9))
    return result


def _choose(rng: random.Random, templates: list[str], split: str) -> str:
    return S.fill(rng.choice(S.split_templates(templates, split)), rng)


def make_clip(index: int, seed: int, split: str, engines: set[str]) -> ClipResult:
    """Clip number ``index`` of the corpus ``(seed, split)`` (deterministic)."""
    rng = random.Random(f"{seed}:{index}")
    nrng = np.random.default_rng([seed, index])
    label, scenario, _ = rng.choices(SCENARIOS, [w for *_, w in SCENARIOS])[0]
    voice = pick_voice(rng, split, engines)
    level_db = rng.uniform(-30, -6)
    amp = db_to_amp(level_db)
    lead = int(rng.uniform(0.1, 2.5) * RATE)
    clip = Clip(rng)
    notes: dict[str, str] = {"scenario": scenario, "level_db": f"{level_db:.1f}"}
    beep_at: int | None = None
    greeting_end: int | None = None
    total: int

    if label == "human":
        if scenario == "h_longtalk":
            lead = int(rng.uniform(0.1, 0.8) * RATE)
            text = _choose(rng, S.LONG_TALK, split)
        elif scenario == "h_receptionist":
            text = _choose(rng, S.RECEPTIONIST, split)
        else:
            text = _choose(rng, S.HUMAN_SHORT, split)
        end = clip.put(lead, _speak(rng, voice, text, amp))
        second = scenario == "h_double" or (scenario == "h_short" and rng.random() < 0.25)
        if second:
            gap = int(rng.uniform(1.0, 3.0) * RATE)
            text2 = _choose(rng, S.HUMAN_SECOND, split)
            end = clip.put(end + gap, _speak(rng, voice, text2, amp * rng.uniform(0.8, 1.2)))
            notes["gap_ms"] = str(gap // 8)
        total = max(end + int(rng.uniform(1.5, 3.0) * RATE), int(rng.uniform(6, 10) * RATE))
        if scenario == "h_background":
            bed_kind = rng.choice(["tv", "chatter", "music"])
            notes["background"] = bed_kind
            bed_amp = amp * 10 ** (-rng.uniform(15, 30) / 20)
            if bed_kind == "music":
                bed = music(rng, total) * bed_amp
            else:
                bed = _babble(rng, split, engines, total, 1 if bed_kind == "tv" else 3)
                bed *= bed_amp / (np.max(np.abs(bed)) + 1e-9)
            clip.beds.append((0, bed))
    elif label == "machine":
        if scenario == "m_short":
            text = _choose(rng, S.MACHINE_SHORT, split)
        elif scenario == "m_business":
            text = _choose(rng, S.MACHINE_BUSINESS, split)
        elif scenario == "m_carrier":
            text = _choose(rng, S.MACHINE_CARRIER, split)
        else:
            text = _choose(rng, S.MACHINE_PERSONAL + S.MACHINE_BUSINESS
                           if scenario == "m_music" else S.MACHINE_PERSONAL, split)
        # long greetings: sometimes two prompts with a short pause (carrier style)
        speech = _speak(rng, voice, text, amp)
        if scenario == "m_carrier" and rng.random() < 0.5:
            pause = np.zeros(int(rng.uniform(0.08, 0.4) * RATE))
            more = _speak(rng, voice, S.fill("Please leave your message after the tone.",
                                              rng), amp)
            speech = np.concatenate([speech, pause, more])
        end = clip.put(lead, speech)
        greeting_end = end
        wants_beep = scenario == "m_short" or rng.random() < 0.8
        if wants_beep:
            beep_amp = amp * 10 ** (rng.uniform(-8, 6) / 20)
            beep, info = make_beep(rng, min(beep_amp, 30000.0))
            beep_at = end + int(rng.uniform(0.15, 2.0) * RATE)
            end = clip.put(beep_at, beep, speech=False)
            notes.update(info)
        total = min(max(end + int(rng.uniform(1.0, 3.0) * RATE), 6 * RATE), 28 * RATE)
        if scenario == "m_music":
            bed = music(rng, greeting_end - lead + int(0.3 * RATE)) * amp * 10 ** (
                -rng.uniform(6, 18) / 20)
            clip.beds.append((lead - int(0.3 * RATE), bed))
    elif label == "silence":
        total = int(rng.uniform(6, 10) * RATE)
    else:
        total = int(rng.uniform(6, 10) * RATE)
        if rng.random() < 0.5:
            notes["fax"] = "cng"
            pos = lead
            while pos < total:
                pos = clip.put(pos, tone([1100.0], 0.5, amp, 3), speech=False)
                pos += 3 * RATE
        else:
            notes["fax"] = "ced"
            ced = tone([2100.0], rng.uniform(2.6, 4.0), amp, 3)
            pos = clip.put(lead, ced, speech=False) + int(0.075 * RATE)
            bits = nrng.integers(0, 2, size=int((total - pos) / RATE * 300) + 1)
            f = np.repeat(np.where(bits == 1, 1650.0, 1850.0), RATE // 300)
            fsk = amp * 0.7 * np.sin(2 * np.pi * np.cumsum(f) / RATE)
            clip.put(pos, fsk, speech=False)

    notes["lead_ms"] = str(lead // 8)
    x = clip.mix(total, tones=False)
    if label in ("human", "machine") and rng.random() < 0.3:
        x = reverb(rng, x)  # the room colours the voice, never the system's beep
        notes["reverb"] = "1"
    x = x + clip.mix(total, tones=True)
    # leading ringback tail and clicks
    rb_room = (lead - int(0.1 * RATE)) / RATE
    if rb_room >= 0.2 and rng.random() < 0.3:
        freqs = rng.choice([[440.0, 480.0], [400.0, 450.0], [425.0]])
        rb = tone(freqs, rng.uniform(0.2, min(1.2, rb_room)), amp * rng.uniform(0.3, 1.0))
        x[: rb.size] += rb
        notes["ringback"] = "+".join(f"{f:.0f}" for f in freqs)
    if rng.random() < 0.2:
        for _ in range(rng.randint(1, 3)):
            pos = rng.randint(0, max(lead - 80, 1))
            click = nrng.standard_normal(rng.randint(8, 60)) * amp * rng.uniform(0.3, 1.5)
            x[pos : pos + click.size] += click[: x.size - pos]
        notes["clicks"] = "1"
    # line noise at an SNR relative to active speech (or to the nominal level)
    snr = rng.uniform(10, 40)
    kind = rng.choice(["white", "pink", "brown", "hum", "crackle", "white", "pink"])
    ref_rms = _active_rms(x, clip.speech_spans) or amp / 4
    noise_rms = max(ref_rms / 10 ** (snr / 20), db_to_amp(-72))
    x = x + noise(nrng, kind, total) * noise_rms
    x = bandpass(x)
    codecs = ["pcm", "ulaw", "ulaw", "alaw"] + (["gsm"] if shutil.which("sox") else [])
    codec = rng.choice(codecs)
    if codec == "ulaw":
        x = mulaw_roundtrip(x)
    elif codec == "alaw":
        x = alaw_roundtrip(x)
    elif codec == "gsm":
        x = gsm_roundtrip(x)
    notes.update(noise=kind, snr_db=f"{snr:.1f}", codec=codec)
    return ClipResult(
        file=f"{split[:2]}{seed}_{index:05d}.wav",
        label=label,
        beep_ms=None if beep_at is None else beep_at // 8,
        greeting_end_ms=None if greeting_end is None else greeting_end // 8,
        voice=voice.label,
        snr_db=round(snr, 1),
        notes=notes,
        samples=to_int16(x),
    )


def _active_rms(x: FloatArray, spans: list[tuple[int, int]]) -> float:
    if not spans:
        return 0.0
    seg = np.concatenate([x[a:b] for a, b in spans])
    if seg.size == 0:
        return 0.0
    frames = seg[: seg.size - seg.size % 160].reshape(-1, 160)
    if frames.size == 0:
        return 0.0
    p = np.mean(frames**2, axis=1)
    active = p[p > np.max(p) * 10 ** (-3.5)]
    return float(np.sqrt(np.mean(active)))


def _babble(rng: random.Random, split: str, engines: set[str], n: int,
            talkers: int) -> FloatArray:
    out = np.zeros(n)
    pool = S.LONG_TALK + S.MACHINE_PERSONAL + S.MACHINE_BUSINESS
    for _ in range(talkers):
        pos = rng.randint(0, RATE)
        while pos < n:
            x = render(S.fill(rng.choice(pool), rng), pick_voice(rng, split, engines))
            end = min(pos + x.size, n)
            out[pos:end] += x[: end - pos] / (np.max(np.abs(x)) + 1e-9)
            pos = end + int(rng.uniform(0.05, 0.4) * RATE)
    return out


# --- the corpus -----------------------------------------------------------------------

COLUMNS = ("file", "label", "beep_ms", "greeting_end_ms", "voice", "snr_db", "notes")


def _work(args: tuple[int, int, str, str, tuple[str, ...]]) -> dict[str, str]:
    index, seed, split, out, engines = args
    clip = make_clip(index, seed, split, set(engines))
    write_wav(Path(out) / "wav" / clip.file, clip.samples)
    return {
        "file": clip.file,
        "label": clip.label,
        "beep_ms": "" if clip.beep_ms is None else str(clip.beep_ms),
        "greeting_end_ms": "" if clip.greeting_end_ms is None else str(clip.greeting_end_ms),
        "voice": clip.voice,
        "snr_db": f"{clip.snr_db:.1f}",
        "notes": "".join(f"{k}={v};" for k, v in clip.notes.items()),
    }


def generate_corpus(out: str | Path, n: int, seed: int, split: str = "all",
                    workers: int = 2,
                    progress: Callable[[int, int], None] | None = None) -> Path:
    """Write ``n`` clips and ``labels.csv`` under ``out``; returns the labels path."""
    if split not in ("train", "heldout", "all"):
        raise ValueError("split must be train, heldout or all")
    engines = available_engines()
    if "espeak" not in engines:
        raise RuntimeError("espeak-ng is not installed (apt-get install espeak-ng)")
    out_dir = Path(out)
    (out_dir / "wav").mkdir(parents=True, exist_ok=True)
    jobs = [(i, seed, split, str(out_dir), tuple(sorted(engines))) for i in range(n)]
    rows: list[dict[str, str]] = []
    report = progress or _stderr_progress
    started = time.monotonic()
    if workers <= 1:
        for j in jobs:
            rows.append(_work(j))
            report(len(rows), n)
    else:
        with ProcessPoolExecutor(max_workers=workers) as pool:
            for row in pool.map(_work, jobs, chunksize=4):
                rows.append(row)
                report(len(rows), n)
    labels = out_dir / "labels.csv"
    with labels.open("w", newline="", encoding="utf-8") as fh:
        writer = csv.DictWriter(fh, fieldnames=list(COLUMNS))
        writer.writeheader()
        writer.writerows(rows)
    if progress is None:
        print(f"corpus: {n} clips in {time.monotonic() - started:.0f} s -> {labels}",
              file=sys.stderr, flush=True)
    return labels


def _stderr_progress(done: int, total: int) -> None:
    if done == total or done % 50 == 0:
        print(f"corpus: {done}/{total}", file=sys.stderr, flush=True)


def read_wav_duration_ms(path: Path) -> int:
    """Length of a WAV in ms (for reports)."""
    with wave.open(str(path), "rb") as w:
        return int(w.getnframes() * 1000 / w.getframerate())


__all__ = ["SCENARIOS", "generate_corpus", "make_clip"]

