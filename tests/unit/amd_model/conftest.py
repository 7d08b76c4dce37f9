"""Fixtures for the AMD tests: deterministic WAV files written from ``amd_model.synth``."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest

from amd_model.audio import to_int16, write_wav
from amd_model.synth import FloatArray

WavMaker = Callable[[str, FloatArray], Path]


@pytest.fixture
def make_wav(tmp_path: Path) -> WavMaker:
    """Write int16-scale float samples as an 8 kHz mono WAV in a temp dir."""

    def make(name: str, samples: FloatArray) -> Path:
        path = tmp_path / name
        write_wav(path, to_int16(np.asarray(samples, dtype=np.float64)))
        return path

    return make
