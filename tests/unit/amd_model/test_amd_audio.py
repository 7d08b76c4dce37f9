"""Reading WAVs: other rates, stereo and sample widths are converted; bad files raise."""

from __future__ import annotations

import wave
from pathlib import Path

import numpy as np
import pytest

from amd_model.audio import read_wav
from amd_model.errors import AudioError
from amd_model.features import goertzel_power


def _write(path: Path, data: bytes, rate: int, channels: int, width: int) -> None:
    with wave.open(str(path), "wb") as w:
        w.setnchannels(channels)
        w.setsampwidth(width)
        w.setframerate(rate)
        w.writeframes(data)


def test_stereo_16k_becomes_8k_mono_and_keeps_the_tone(tmp_path: Path) -> None:
    t = np.arange(16000) / 16000
    left = (8000 * np.sin(2 * np.pi * 1000 * t)).astype("<i2")
    stereo = np.stack([left, left], axis=1).ravel()
    path = tmp_path / "s.wav"
    _write(path, stereo.tobytes(), 16000, 2, 2)
    x = read_wav(path)
    assert x.dtype == np.int16 and x.size == 8000
    mid = x[1000:7000].astype(np.float64)
    assert goertzel_power(mid, 1000.0) > 20 * goertzel_power(mid, 1500.0)


def test_a_tone_above_the_new_nyquist_is_filtered_out(tmp_path: Path) -> None:
    t = np.arange(44100) / 44100
    x = (10000 * np.sin(2 * np.pi * 6000 * t)).astype("<i2")
    path = tmp_path / "hi.wav"
    _write(path, x.tobytes(), 44100, 1, 2)
    out = read_wav(path).astype(np.float64)
    assert np.sqrt(np.mean(out[200:-200] ** 2)) < 300  # was 7000 RMS before filtering


def test_8_bit_wav_is_read(tmp_path: Path) -> None:
    path = tmp_path / "u8.wav"
    _write(path, bytes([128, 200, 56, 128] * 400), 8000, 1, 1)
    x = read_wav(path)
    assert x.size == 1600 and int(x.max()) == (200 - 128) * 256


@pytest.mark.parametrize(("content", "reason"), [
    (b"", "empty file"),
    (b"this is not audio at all", "not a PCM WAV file"),
])
def test_bad_files_raise_audio_error(tmp_path: Path, content: bytes, reason: str) -> None:
    path = tmp_path / "bad.wav"
    path.write_bytes(content)
    with pytest.raises(AudioError, match=reason):
        read_wav(path)


def test_header_without_samples_is_empty_audio(tmp_path: Path) -> None:
    path = tmp_path / "hdr.wav"
    _write(path, b"", 8000, 1, 2)
    with pytest.raises(AudioError, match="empty audio"):
        read_wav(path)


def test_missing_file_raises_audio_error(tmp_path: Path) -> None:
    with pytest.raises(AudioError, match="no such file"):
        read_wav(tmp_path / "nope.wav")
