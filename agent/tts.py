"""Speech for the scripted agent: espeak-ng rendered to 8 kHz 16-bit mono PCM.

Offline and free: the scripted agent (and voicemail drops without OpenAI) says the
agent's text with espeak-ng (Debian package ``espeak-ng``). Renders are cached per
process. Without espeak-ng the shipped generic prompts in ``agent/audio`` are used, and
the reason is logged once.
"""

from __future__ import annotations

import functools
import io
import logging
import shutil
import subprocess
import wave
from pathlib import Path
from typing import Final

import numpy as np
from scipy.signal import resample_poly

log = logging.getLogger(__name__)

AUDIO_DIR: Final = Path(__file__).parent / "audio"
FALLBACK: Final = {"greeting": "greeting.wav", "goodbye": "goodbye.wav",
                   "voicemail": "voicemail.wav"}
"""What plays when espeak-ng is missing (made by ``audio/make_audio.sh``)."""
MAX_CHARS = 1000


class SpeechError(Exception):
    """The text could not be turned into audio."""


def wav_to_pcm8k(data: bytes) -> bytes:
    """Any PCM WAV (mono or stereo, any rate, 8/16-bit) as 8 kHz 16-bit mono PCM."""
    with wave.open(io.BytesIO(data)) as w:
        rate, channels, width = w.getframerate(), w.getnchannels(), w.getsampwidth()
        raw = w.readframes(w.getnframes())
    if width == 2:
        x = np.frombuffer(raw, dtype="<i2").astype(np.float32)
    elif width == 1:
        x = (np.frombuffer(raw, dtype=np.uint8).astype(np.float32) - 128.0) * 256.0
    else:
        raise SpeechError(f"unsupported sample width {width}")
    if channels > 1:
        x = x.reshape(-1, channels).mean(axis=1)
    if rate != 8000:
        g = np.gcd(rate, 8000)
        x = resample_poly(x, 8000 // g, rate // g)
    return bytes(np.clip(x, -32768, 32767).astype("<i2").tobytes())


def _normalise(pcm: bytes, peak_dbfs: float = -3.0) -> bytes:
    x = np.frombuffer(pcm, dtype="<i2").astype(np.float32)
    peak = float(np.max(np.abs(x))) if x.size else 0.0
    if peak < 1.0:
        return pcm
    gain = (32767.0 * 10 ** (peak_dbfs / 20)) / peak
    return bytes(np.clip(x * gain, -32768, 32767).astype("<i2").tobytes())


@functools.lru_cache(maxsize=64)
def speak(text: str, voice: str = "en-us", speed_wpm: int = 165) -> bytes:
    """``text`` as 8 kHz 16-bit mono PCM (cached); raises ``SpeechError``."""
    text = " ".join(text.split())[:MAX_CHARS]
    if not text:
        return b""
    exe = shutil.which("espeak-ng")
    if exe is None:
        raise SpeechError("espeak-ng is not installed")
    try:
        done = subprocess.run([exe, "-v", voice, "-s", str(speed_wpm), "--stdout", "--", text],
                              capture_output=True, timeout=20, check=True)
    except (OSError, subprocess.SubprocessError) as exc:
        raise SpeechError(f"espeak-ng failed: {exc}") from exc
    return _normalise(wav_to_pcm8k(done.stdout))


def fallback(kind: str) -> bytes:
    """The shipped generic prompt of ``kind`` (greeting, goodbye, voicemail)."""
    return wav_to_pcm8k((AUDIO_DIR / FALLBACK[kind]).read_bytes())


_warned: set[str] = set()


def say(text: str, kind: str) -> bytes:
    """``speak(text)``, or the shipped ``kind`` prompt when speech cannot be made."""
    try:
        return speak(text)
    except SpeechError as exc:
        if kind not in _warned:
            _warned.add(kind)
            log.warning("using the shipped %s prompt: %s", kind, exc)
        return fallback(kind)


def duration_ms(pcm: bytes) -> int:
    """Length of 8 kHz 16-bit mono PCM in ms."""
    return len(pcm) // 16
