"""Reading audio for AMD: any PCM WAV to 8 kHz mono int16, and int16 <-> PCM bytes.

Pure stdlib + numpy. Stereo is averaged to mono; other sample rates are resampled with a
windowed-sinc low-pass (polyphase-free linear-phase FIR + linear interpolation), which is
plenty for telephone-band detection.
"""

from __future__ import annotations

import wave
from pathlib import Path

import numpy as np
import numpy.typing as npt

from amd_model.errors import AudioError

TARGET_RATE = 8000
"""The sample rate the detector works at."""
MIN_RATE = 4000
MAX_RATE = 768_000
"""Sample rates ``read_wav`` accepts: a header outside them is corrupt or hostile (1 Hz
would make a few kilobytes resample to gigabytes)."""

# WAVE format tags the stdlib reader refuses, named so the error says what to do.
_FORMATS = {3: "32-bit float", 6: "A-law", 7: "µ-law", 0x55: "MP3",
            0xFFFE: "extensible-format (often 24-bit or multichannel)"}

Int16Array = npt.NDArray[np.int16]
FloatArray = npt.NDArray[np.float64]


def read_wav(path: str | Path) -> Int16Array:
    """The audio of a PCM WAV file as 8 kHz mono int16.

    Raises ``AudioError`` for a missing, non-WAV, compressed or empty file, and for a
    sample rate outside ``MIN_RATE``..``MAX_RATE``.
    """
    try:
        if Path(path).stat().st_size == 0:
            raise AudioError("empty file")
        with wave.open(str(path), "rb") as wav:
            channels = wav.getnchannels()
            width = wav.getsampwidth()
            rate = wav.getframerate()
            raw = wav.readframes(wav.getnframes())
    except FileNotFoundError as exc:
        raise AudioError(f"no such file: {path}") from exc
    except (wave.Error, EOFError) as exc:
        detail = _format_hint(str(exc).strip()) or "truncated header"
        raise AudioError(f"not a PCM WAV file ({detail})") from exc
    except RuntimeError as exc:  # wave's chunk reader, when a size runs past the file's end
        raise AudioError("not a PCM WAV file (a chunk is larger than the file)") from exc
    except OSError as exc:
        raise AudioError(f"cannot read: {exc}") from exc
    if channels < 1 or rate <= 0:
        raise AudioError("not a PCM WAV file: bad header")
    if not MIN_RATE <= rate <= MAX_RATE:
        raise AudioError(f"unsupported sample rate: {rate:,} Hz (expected {MIN_RATE:,} to "
                         f"{MAX_RATE:,})")
    samples = _decode(raw, width)
    if samples.size < channels:
        raise AudioError("empty audio")
    samples = samples[: samples.size - samples.size % channels]
    mono = samples.reshape(-1, channels).mean(axis=1)
    out = to_int16(resample(mono, rate, TARGET_RATE))
    if out.size == 0:
        raise AudioError(f"empty audio (shorter than one sample at {TARGET_RATE} Hz)")
    return out


def _format_hint(detail: str) -> str:
    """``unknown format: 3`` -> what format that is and how to convert it."""
    prefix = "unknown format: "
    if not detail.startswith(prefix) or not detail[len(prefix):].isdigit():
        return detail
    tag = int(detail[len(prefix):])
    name = _FORMATS.get(tag, f"format tag {tag}")
    return f"{name} audio is not supported; convert it, e.g. sox IN -e signed -b 16 OUT.wav"


def _decode(raw: bytes, width: int) -> FloatArray:
    if width in (1, 2, 3, 4):
        raw = raw[: len(raw) - len(raw) % width]  # a data chunk cut in mid-sample
    if width == 1:
        return (np.frombuffer(raw, dtype=np.uint8).astype(np.float64) - 128.0) * 256.0
    if width == 2:
        return np.frombuffer(raw, dtype="<i2").astype(np.float64)
    if width == 3:
        b = np.frombuffer(raw, dtype=np.uint8).reshape(-1, 3)
        val = (b[:, 0].astype(np.int32) | (b[:, 1].astype(np.int32) << 8)
               | (b[:, 2].astype(np.int32) << 16))
        val = np.where(val >= 1 << 23, val - (1 << 24), val)
        return val.astype(np.float64) / 256.0
    if width == 4:
        return np.frombuffer(raw, dtype="<i4").astype(np.float64) / 65536.0
    raise AudioError(f"unsupported sample width: {width} bytes")


def resample(x: FloatArray, rate: int, target: int) -> FloatArray:
    """``x`` at ``rate`` Hz resampled to ``target`` Hz (low-passed first when decimating)."""
    if rate == target or x.size == 0:
        return x.astype(np.float64)
    if target < rate:
        cutoff = 0.45 * target / rate  # cycles/sample, just below the new Nyquist
        taps = 101
        n = np.arange(taps) - (taps - 1) / 2
        h = 2 * cutoff * np.sinc(2 * cutoff * n) * np.hamming(taps)
        h /= h.sum()
        # The centre of the full convolution, as long as ``x`` ("same" would stretch a
        # clip shorter than the filter to the filter's length).
        x = np.convolve(x, h)[(taps - 1) // 2:(taps - 1) // 2 + x.size]
    n_out = round(x.size * target / rate)
    t = np.arange(n_out) * (rate / target)
    result: FloatArray = np.interp(t, np.arange(x.size), x)
    return result


def to_int16(x: FloatArray) -> Int16Array:
    """Round and clip float samples (int16 scale) to int16."""
    return np.clip(np.rint(x), -32768, 32767).astype(np.int16)


def write_wav(path: str | Path, samples: Int16Array, rate: int = TARGET_RATE) -> None:
    """Write mono int16 samples as a PCM WAV file."""
    with wave.open(str(path), "wb") as wav:
        wav.setnchannels(1)
        wav.setsampwidth(2)
        wav.setframerate(rate)
        wav.writeframes(samples.astype("<i2").tobytes())
