"""atheris harness: reading hostile WAV files for AMD (see fuzz/README.md).

    .venv/bin/python fuzz/fuzz_wav.py -atheris_runs=100000
"""

from __future__ import annotations

import atexit
import os
import shutil
import struct
import sys
import tempfile
from pathlib import Path

import atheris
from _common import check_reason

with atheris.instrument_imports(include=["amd_model", "wave"]):
    import numpy as np

    from amd_model.audio import read_wav
    from amd_model.errors import AudioError

_DIR = Path(tempfile.mkdtemp(prefix="fuzz-wav-", dir="/dev/shm" if os.path.isdir("/dev/shm")
                             else None))
atexit.register(shutil.rmtree, _DIR, True)
PATH = _DIR / "clip.wav"
TAGS = [1, 1, 1, 3, 6, 7, 0x55, 0xFFFE]
RATES = [8000, 16000, 44100, 48000, 0, 1, 3999, 4000, 768000, 768001, 0xFFFFFFFF]
CHUNKS = [b"", b"LIST\x04\x00\x00\x00INFO", b"fact\x04\x00\x00\x00\x10\x00\x00\x00",
          b"JUNK\xff\xff\xff\x7f", b"odd \x01\x00\x00\x00x\x00"]


def _size(fdp: atheris.FuzzedDataProvider, honest: int) -> int:
    """The honest size most of the time; otherwise a lie."""
    if fdp.ConsumeIntInRange(0, 3):
        return honest
    return fdp.ConsumeIntInRange(0, 0xFFFFFFFF)


def _riff(fdp: atheris.FuzzedDataProvider) -> bytes:
    tag = fdp.PickValueInList(TAGS) if fdp.ConsumeBool() else fdp.ConsumeIntInRange(0, 0xFFFF)
    channels = fdp.ConsumeIntInRange(0, 4) if fdp.ConsumeBool() else fdp.ConsumeIntInRange(
        0, 0xFFFF)
    rate = fdp.PickValueInList(RATES)
    bits = fdp.PickValueInList([8, 16, 24, 32, 0, 12, 40])
    block = channels * ((bits + 7) // 8) & 0xFFFF
    fmt = struct.pack("<HHIIHH", tag, channels, rate, rate * block & 0xFFFFFFFF, block, bits)
    extra = fdp.PickValueInList(CHUNKS)
    frames = fdp.ConsumeBytes(fdp.ConsumeIntInRange(0, 4096))
    body = (b"WAVEfmt " + struct.pack("<I", _size(fdp, len(fmt))) + fmt + extra
            + b"data" + struct.pack("<I", _size(fdp, len(frames))) + frames)
    data = b"RIFF" + struct.pack("<I", _size(fdp, len(body))) + body
    return data[:fdp.ConsumeIntInRange(0, len(data))] if fdp.ConsumeIntInRange(0, 7) == 0 \
        else data


def test_one_input(data: bytes) -> None:
    """One file: int16 audio, or an ``AudioError`` with a clear message; nothing else."""
    fdp = atheris.FuzzedDataProvider(data)
    content = _riff(fdp) if fdp.ConsumeIntInRange(0, 3) else fdp.ConsumeBytes(len(data))
    PATH.write_bytes(content)
    try:
        samples = read_wav(PATH)
    except AudioError as exc:
        check_reason(str(exc))
        return
    if samples.dtype != np.int16 or samples.ndim != 1 or samples.size == 0:
        raise AssertionError(f"bad audio: {samples.dtype} {samples.shape}")


def main() -> None:
    """Run libFuzzer with the command-line flags."""
    atheris.Setup(sys.argv, test_one_input)
    atheris.Fuzz()


if __name__ == "__main__":
    main()
