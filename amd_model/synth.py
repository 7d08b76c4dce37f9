"""Deterministic synthetic telephone signals for tests, benchmarks and golden fixtures.

numpy only (no speech engine): "speech" is a harmonic voice with a moving pitch and
syllable envelopes, which webrtcvad accepts as speech; tones are exact sines. All
functions return int16-scale float arrays at 8 kHz; ``pcm`` turns them into bytes.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

RATE = 8000
FloatArray = npt.NDArray[np.float64]


def silence(seconds: float, level_dbfs: float = -65.0, seed: int = 0) -> FloatArray:
    """Line noise (white) at ``level_dbfs`` RMS."""
    rng = np.random.default_rng(seed)
    return rng.standard_normal(int(seconds * RATE)) * 32768 * 10 ** (level_dbfs / 20)


def tone(freq_hz: float | list[float], seconds: float, level_dbfs: float = -12.0) -> FloatArray:
    """A sine (or sum of sines) with a peak of ``level_dbfs``, 5 ms fades."""
    freqs = [freq_hz] if isinstance(freq_hz, (int, float)) else freq_hz
    t = np.arange(int(seconds * RATE)) / RATE
    x = sum((np.sin(2 * np.pi * f * t) for f in freqs), start=np.zeros(t.size))
    x *= 32768 * 10 ** (level_dbfs / 20) / len(freqs)
    k = min(40, x.size // 2)
    if k:
        x[:k] *= np.linspace(0, 1, k)
        x[-k:] *= np.linspace(1, 0, k)
    return x


def voice(seconds: float, level_dbfs: float = -12.0, f0: float = 140.0, seed: int = 0,
          syllable_s: float = 0.22) -> FloatArray:
    """Continuous voiced "speech": harmonics of a wandering pitch, syllable envelopes."""
    rng = np.random.default_rng(seed)
    n = int(seconds * RATE)
    t = np.arange(n) / RATE
    pitch = f0 * (1 + 0.08 * np.sin(2 * np.pi * 3.1 * t + rng.uniform(0, 6))
                  + 0.03 * np.sin(2 * np.pi * 7.3 * t))
    phase = 2 * np.pi * np.cumsum(pitch) / RATE
    x = np.zeros(n)
    for h in range(1, 25):
        formant = np.exp(-((h * f0 - 700) / 500) ** 2) + 0.5 * np.exp(-((h * f0 - 1500) / 400) ** 2)
        x += (formant + 0.05) * np.sin(h * phase + rng.uniform(0, 6))
    env = 0.55 + 0.45 * np.sin(2 * np.pi * t / syllable_s) ** 2
    x *= env
    x += rng.standard_normal(n) * 0.02 * np.max(np.abs(x))
    peak = float(np.max(np.abs(x))) or 1.0
    return x * (32768 * 10 ** (level_dbfs / 20) / peak)


def click(level_dbfs: float = -6.0, seed: int = 0) -> FloatArray:
    """A 3 ms broadband click."""
    rng = np.random.default_rng(seed)
    return rng.standard_normal(24) * 32768 * 10 ** (level_dbfs / 20) / 2


def place(total_s: float, parts: list[tuple[float, FloatArray]], noise_dbfs: float = -65.0,
          seed: int = 0) -> FloatArray:
    """Mix ``(start_s, signal)`` parts over line noise lasting ``total_s``."""
    x = silence(total_s, noise_dbfs, seed)
    for start_s, part in parts:
        a = int(start_s * RATE)
        b = min(a + part.size, x.size)
        x[a:b] += part[: b - a]
    return x


def pcm(x: FloatArray) -> bytes:
    """16-bit little-endian PCM bytes of int16-scale floats (clipped)."""
    return np.clip(np.rint(x), -32768, 32767).astype("<i2").tobytes()


def human_hello(seed: int = 0) -> FloatArray:
    """0.6 s of lead noise, a 0.5 s "hello?", then 6 s of waiting."""
    return place(7.0, [(0.6, voice(0.5, seed=seed))], seed=seed)


def machine_greeting(beep_at_s: float | None = 6.0, seed: int = 0) -> FloatArray:
    """0.5 s lead, 5 s of continuous greeting (short word gaps), optional 1 kHz beep."""
    parts: list[tuple[float, FloatArray]] = []
    pos = 0.5
    rng = np.random.default_rng(seed)
    while pos < 5.3:
        length = float(rng.uniform(0.5, 1.1))
        parts.append((pos, voice(length, f0=float(rng.uniform(120, 200)),
                                 seed=int(rng.integers(1 << 30)))))
        pos += length + float(rng.uniform(0.08, 0.2))
    if beep_at_s is not None:
        parts.append((beep_at_s, tone(1000.0, 0.4, -10.0)))
    return place(9.0, parts, seed=seed)
