"""Hostile AMD input: ``read_wav`` raises only ``AudioError``, ``dialer amd classify --dir``
prints one line per WAV (an ``error`` line for each bad one) and still classifies the good.

Files are RIFF/WAVE built field by field, so headers can lie: wrong format tags, sample
widths, rates and channel counts, chunk sizes that overshoot or undershoot, truncation at
any byte; plus plain garbage (MP3 frames, text, random bytes).
"""

from __future__ import annotations

import io
import json
import struct
import wave
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner
from hypothesis import example, given
from hypothesis import strategies as st

import dialer.amd_commands  # noqa: F401  (registers the ``amd`` group on ``cli``)
from amd_model import synth
from amd_model.audio import MAX_RATE, MIN_RATE, TARGET_RATE, read_wav, to_int16
from amd_model.errors import AudioError
from dialer.cli import cli
from tests.fuzz import fuzz

KEYS = {"file", "label", "confidence", "decision_ms", "beep_ms"}
LABELS = {"human", "machine", "silence", "fax", "unknown"}
U32 = 0xFFFFFFFF


@dataclass(frozen=True)
class Riff:
    """A RIFF/WAVE file described field by field; ``None`` sizes are the honest ones."""

    frames: bytes
    tag: int = 1
    channels: int = 1
    rate: int = TARGET_RATE
    bits: int = 16
    riff_size: int | None = None
    fmt_size: int | None = None
    data_size: int | None = None
    before_data: bytes = b""
    truncate: int | None = None

    def encode(self) -> bytes:
        width = (self.bits + 7) // 8
        block = (self.channels * width) & 0xFFFF
        fmt = struct.pack("<HHIIHH", self.tag, self.channels, self.rate,
                          (self.rate * block) & U32, block, self.bits)
        body = (b"WAVE" + b"fmt " + struct.pack("<I", _size(self.fmt_size, fmt)) + fmt
                + self.before_data
                + b"data" + struct.pack("<I", _size(self.data_size, self.frames)) + self.frames)
        data = b"RIFF" + struct.pack("<I", _size(self.riff_size, body)) + body
        return data if self.truncate is None else data[:self.truncate]


def _size(declared: int | None, payload: bytes) -> int:
    return len(payload) if declared is None else declared


def _chunk(kind: bytes, payload: bytes) -> bytes:
    pad = b"\x00" if len(payload) % 2 else b""
    return kind + struct.pack("<I", len(payload)) + payload + pad


lying_size = st.one_of(st.none(), st.sampled_from([0, 1, 4, 15, 16, 17, U32, U32 - 7]),
                       st.integers(0, U32))
hostile_riffs = st.builds(
    Riff,
    frames=st.binary(max_size=3000),
    tag=st.sampled_from([1, 1, 1, 3, 6, 7, 0x55, 0xFFFE]) | st.integers(0, 0xFFFF),
    channels=st.sampled_from([1, 2, 0, 3, 8, 0xFFFF]),
    rate=st.sampled_from([8000, 16000, 44100, 48000, 0, 1, MIN_RATE - 1, MIN_RATE, MAX_RATE,
                          MAX_RATE + 1, U32]),
    bits=st.sampled_from([8, 16, 24, 32, 0, 1, 12, 40, 64, 0xFFFF]),
    riff_size=lying_size, fmt_size=st.none() | st.sampled_from([0, 4, 14, 18, 40, U32]),
    data_size=lying_size,
    before_data=st.sampled_from([b"", _chunk(b"LIST", b"INFOISFT\x03\x00\x00\x00ab\x00"),
                                 _chunk(b"fact", b"\x10\x00\x00\x00"), b"JUNK\xff\xff\xff\x7f"]),
    truncate=st.none() | st.integers(0, 80),
)
garbage = st.one_of(
    st.binary(max_size=600),
    st.binary(max_size=300).map(lambda b: b"ID3\x04\x00\x00\x00\x00\x00\x00\xff\xfb\x90\x64" + b),
    st.text(max_size=200).map(str.encode),
    st.binary(max_size=300).map(lambda b: b"RIFF" + b),
    st.binary(max_size=300).map(lambda b: b"RIFF\x24\x00\x00\x00WAVEfmt " + b),
)
hostile_wavs = st.one_of(hostile_riffs.map(Riff.encode), garbage)


def _read(path: Path) -> np.ndarray | AudioError:
    """``read_wav``, or the only exception it may raise (anything else fails the test)."""
    try:
        return read_wav(path)
    except AudioError as exc:
        return exc


def _check_error(message: str) -> None:
    assert message.strip() and "\n" not in message and len(message) <= 200, message


@fuzz(300)
@given(hostile_wavs)
@example(Riff(b"\x00" * 4000, rate=1).encode())  # used to resample to gigabytes
@example(Riff(b"\x00" * 2, rate=MAX_RATE).encode())  # shorter than one 8 kHz sample
@example(Riff(b"", data_size=U32).encode())
@example(Riff(b"\x00" * 10, tag=3, bits=32).encode())
@example(b"")
def test_read_wav_returns_audio_or_raises_audio_error(
        tmp_path_factory: pytest.TempPathFactory, data: bytes) -> None:
    path = tmp_path_factory.mktemp("wav") / "clip.wav"
    path.write_bytes(data)
    result = _read(path)
    if isinstance(result, AudioError):
        _check_error(str(result))
        return
    assert result.dtype == np.int16 and result.ndim == 1 and result.size > 0


@fuzz(120)
@given(st.builds(
    Riff,
    frames=st.binary(min_size=1, max_size=6000),
    channels=st.sampled_from([1, 2, 3]),
    rate=st.sampled_from([MIN_RATE, 8000, 11025, 16000, 44100, 48000]),
    bits=st.sampled_from([8, 16, 24, 32]),
    before_data=st.sampled_from([b"", _chunk(b"LIST", b"INFOx"), _chunk(b"fact", b"1234")]),
    data_size=st.none() | st.just(U32),  # a streamed file that never fixed its size
))
def test_a_good_pcm_wav_of_any_shape_is_read_at_its_length(
        tmp_path_factory: pytest.TempPathFactory, riff: Riff) -> None:
    width = riff.bits // 8
    frames = len(riff.frames) // (riff.channels * width)
    path = tmp_path_factory.mktemp("wav") / "clip.wav"
    path.write_bytes(riff.encode())
    result = _read(path)
    if frames == 0:
        assert isinstance(result, AudioError)
        return
    expected = round(frames * TARGET_RATE / riff.rate)
    if expected == 0:
        assert isinstance(result, AudioError)
        return
    assert not isinstance(result, AudioError), result
    assert result.size == expected


@pytest.mark.parametrize(("rate", "ok"), [(MIN_RATE - 1, False), (MIN_RATE, True),
                                          (MAX_RATE, True), (MAX_RATE + 1, False),
                                          (1, False)])
def test_sample_rates_outside_the_range_are_named(tmp_path: Path, rate: int, ok: bool) -> None:
    path = tmp_path / "r.wav"
    path.write_bytes(Riff(b"\x01\x00" * 2000, rate=rate).encode())
    result = _read(path)
    if ok:
        assert not isinstance(result, AudioError)
    else:
        assert isinstance(result, AudioError) and "sample rate" in str(result)


@pytest.mark.parametrize(("tag", "bits", "named"), [(3, 32, "float"), (7, 8, "µ-law"),
                                                    (0xFFFE, 24, "extensible")])
def test_unsupported_formats_say_what_they_are(tmp_path: Path, tag: int, bits: int,
                                               named: str) -> None:
    path = tmp_path / "f.wav"
    path.write_bytes(Riff(b"\x00" * 400, tag=tag, bits=bits).encode())
    result = _read(path)
    assert isinstance(result, AudioError)
    assert named in str(result) and "convert" in str(result)


# --- the CLI --------------------------------------------------------------------------------


def _wav(samples: np.ndarray, rate: int = TARGET_RATE, channels: int = 1) -> bytes:
    buffer = io.BytesIO()
    with wave.open(buffer, "wb") as w:
        w.setnchannels(channels)
        w.setsampwidth(2)
        w.setframerate(rate)
        w.writeframes(to_int16(samples).astype("<i2").tobytes())
    return buffer.getvalue()


SILENCE = _wav(synth.silence(1.5))
HELLO_48K_STEREO = _wav(np.repeat(synth.human_hello(), 12), rate=48_000, channels=2)


@fuzz(20)
@given(st.lists(hostile_wavs, min_size=1, max_size=4), st.booleans())
def test_classify_dir_reports_every_file_and_still_classifies_the_good_ones(
        tmp_path_factory: pytest.TempPathFactory, bad: list[bytes], upper: bool) -> None:
    directory = tmp_path_factory.mktemp("calls")
    (directory / "a_silence.wav").write_bytes(SILENCE)
    (directory / "b_hello48k.wav").write_bytes(HELLO_48K_STEREO)
    for i, data in enumerate(bad):
        (directory / (f"c_bad{i}.WAV" if upper else f"c_bad{i}.wav")).write_bytes(data)
    # Two that once crashed the whole run: a chunk larger than the file, a half sample.
    (directory / "c_junk.wav").write_bytes(Riff(b"", before_data=b"JUNK\xff\xff\xff\x7f").encode())
    (directory / "c_half.wav").write_bytes(Riff(b"\x00", data_size=U32).encode())
    (directory / "d_folder.wav").mkdir()
    (directory / "e_gone.wav").symlink_to(directory / "nowhere.wav")
    (directory / "notes.txt").write_text("not a wav\n")

    result = CliRunner().invoke(cli, ["amd", "classify", "--dir", str(directory), "--jsonl"])
    assert result.exit_code == 0, (result.output, result.exception)
    lines = [json.loads(line) for line in result.stdout.splitlines()]
    by_name = {Path(line["file"]).name: line for line in lines}
    wavs = sorted(p.name for p in directory.iterdir() if p.suffix.lower() == ".wav")
    assert [Path(line["file"]).name for line in lines] == wavs  # one line each, in order
    assert by_name["a_silence.wav"]["label"] == "silence"
    assert set(by_name["b_hello48k.wav"]) == KEYS
    for name in ("c_junk.wav", "d_folder.wav", "e_gone.wav"):
        assert set(by_name[name]) == {"file", "error"}
    for name, line in by_name.items():
        if "error" in line:
            assert set(line) == {"file", "error"}
            _check_error(line["error"])
            assert isinstance(_read(directory / name), AudioError)
        else:
            assert set(line) == KEYS and line["label"] in LABELS
            assert 0 <= line["confidence"] <= 1


@pytest.mark.parametrize("data", [
    Riff(b"\x00" * 4000, rate=1).encode(),
    Riff(b"\x00" * 4000).encode()[:30],
    Riff(b"", data_size=0).encode(),
    Riff(b"\x00" * 400, tag=3, bits=32).encode(),
    b"ID3\x04\x00\x00\x00\x00\x00\x00\xff\xfb\x90\x64" + b"\x00" * 400,
], ids=["rate-1hz", "truncated", "no-samples", "float", "mp3"])
def test_classify_one_bad_file_exits_2_with_a_json_error(tmp_path: Path, data: bytes) -> None:
    path = tmp_path / "bad.wav"
    path.write_bytes(data)
    result = CliRunner().invoke(cli, ["amd", "classify", str(path), "--json"])
    assert result.exit_code == 2, (result.output, result.exception)
    assert set(json.loads(result.stdout)) == {"file", "error"}
    assert "Traceback" not in result.output
