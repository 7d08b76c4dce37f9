"""Golden tests of the per-frame features on deterministic WAV fixtures."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest

from amd_model import synth
from amd_model.audio import read_wav
from amd_model.features import (
    TIMING_FEATURES,
    FrameAnalyzer,
    FrameFeatures,
    TimingTracker,
    ToneTracker,
    goertzel_power,
    is_fax_tone,
)

WavMaker = Callable[[str, np.ndarray], Path]


def _frames(samples: np.ndarray) -> list[FrameFeatures]:
    analyzer = FrameAnalyzer(2)
    out = []
    for i in range(samples.size // 160):
        frame = samples[i * 160 : (i + 1) * 160].astype("<i2")
        out.append(analyzer.analyze(frame.tobytes(), frame.astype(np.float64)))
    return out


def test_goertzel_finds_the_frequency_of_a_sine() -> None:
    x = synth.tone(1000.0, 0.1, level_dbfs=-6.0)[100:700]
    assert goertzel_power(x, 1000.0) == pytest.approx(10 ** (-6 / 10), rel=0.05)
    assert goertzel_power(x, 1300.0) < 1e-3


@pytest.mark.parametrize("freq", [425.0, 440.0, 1000.0, 1100.0, 1400.0, 2100.0])
def test_a_pure_tone_is_pure_with_its_frequency_and_level(make_wav: WavMaker,
                                                          freq: float) -> None:
    x = read_wav(make_wav("t.wav", synth.place(1.0, [(0.2, synth.tone(freq, 0.6, -12.0))])))
    feats = _frames(x)[15:35]  # 300..700 ms: inside the tone
    assert all(f.pure and not f.speech for f in feats)
    assert all(abs(f.tone_hz - freq) < 4.0 for f in feats)
    # a sine with a -12 dBFS peak has a mean power of -15 dBFS
    assert all(f.energy_db == pytest.approx(-15.0, abs=0.3) for f in feats)


def test_voice_is_speech_and_never_a_pure_tone(make_wav: WavMaker) -> None:
    x = read_wav(make_wav("v.wav", synth.place(2.0, [(0.3, synth.voice(1.4, seed=3))])))
    feats = _frames(x)
    inside = feats[20:80]
    assert sum(f.speech for f in inside) >= 0.9 * len(inside)
    assert not any(f.pure for f in inside)
    assert not any(f.speech for f in feats[:14])  # line noise before the voice


def test_noise_floor_follows_the_line_noise(make_wav: WavMaker) -> None:
    x = read_wav(make_wav("n.wav", synth.silence(1.0, level_dbfs=-50.0)))
    feats = _frames(x)
    assert feats[-1].floor_db == pytest.approx(-50.0, abs=3.0)
    assert not any(f.speech or f.pure for f in feats)


def test_tone_tracker_reports_onset_and_fax_frequency(make_wav: WavMaker) -> None:
    x = read_wav(make_wav("cng.wav", synth.place(1.5, [(0.31, synth.tone(1100.0, 0.5))])))
    tracker = ToneTracker()
    runs = [tracker.update(i, f) for i, f in enumerate(_frames(x))]
    longest = max((r for r in runs if r is not None), key=lambda r: r.frames)
    assert abs(longest.start_ms - 310) <= 10
    assert longest.duration_ms >= 460
    assert is_fax_tone(longest) and longest.clean_start


def test_a_rising_glide_is_one_run() -> None:
    n = 4000
    f = np.linspace(600, 900, n)
    x = synth.place(1.0, [(0.2, 8000 * np.sin(2 * np.pi * np.cumsum(f) / 8000))])
    tracker = ToneTracker()
    runs = [tracker.update(i, feat) for i, feat in enumerate(_frames(x))]
    assert max(r.frames for r in runs if r is not None) >= 22


def _jittered_tone(centre: float, jitter: float, seconds: float,
                   wobble_db: float = 0.0) -> np.ndarray:
    """A steady tone whose frequency reads centre +- jitter and whose level steps by
    +- wobble_db in turn, frame by frame (what a GSM round trip does to a 2 kHz beep or
    a fax's CED tone), phase-continuous."""
    frames = int(seconds * 50)
    f = np.repeat([centre + (jitter if i % 2 else -jitter) + (jitter / 2 if i % 3 == 0 else 0)
                   for i in range(frames)], 160)
    gain = np.repeat([10 ** ((wobble_db if i % 2 else 0.0) / 20) for i in range(frames)], 160)
    return 8000 * gain * np.sin(2 * np.pi * np.cumsum(f) / 8000)


@pytest.mark.parametrize("wobble_db", [0.0, 3.0])
def test_a_jittering_high_tone_out_of_a_pause_is_one_run_from_its_onset(
        wobble_db: float) -> None:
    x = synth.place(1.5, [(0.4, _jittered_tone(2040.0, 4.0, 0.5, wobble_db))])
    tracker = ToneTracker()
    runs = [tracker.update(i, feat) for i, feat in enumerate(_frames(x))]
    longest = max((r for r in runs if r is not None), key=lambda r: r.frames)
    assert abs(longest.start_ms - 400) <= 20
    assert longest.frames >= 22  # without the jitter allowance: runs of 1-3 frames


@pytest.mark.parametrize("centre", [330.0, 700.0])
def test_a_wobbling_low_tone_gets_no_jitter_allowance(centre: float) -> None:
    """Below 1 kHz (a voice's fundamental, music behind a person) the rules stay strict."""
    x = synth.place(1.5, [(0.4, _jittered_tone(centre, 4.0, 0.5, 3.0))])
    tracker = ToneTracker()
    runs = [tracker.update(i, feat) for i, feat in enumerate(_frames(x))]
    assert max((r.frames for r in runs if r is not None), default=0) <= 3


def test_timing_tracker_segments_utterances(make_wav: WavMaker) -> None:
    x = read_wav(make_wav("two.wav", synth.place(5.0, [(0.6, synth.voice(0.5, seed=1)),
                                                       (2.6, synth.voice(0.8, seed=2))])))
    timing = TimingTracker()
    for f in _frames(x):
        timing.update(f)
    utts = [(a * 20, b * 20 + 20) for a, b in timing.utterances()]
    assert len(utts) == 2
    assert abs(utts[0][0] - 600) <= 40 and abs(utts[0][1] - 1100) <= 60
    assert abs(utts[1][0] - 2600) <= 40 and abs(utts[1][1] - 3400) <= 60
    vec = dict(zip(TIMING_FEATURES, timing.vector(), strict=True))
    assert vec["n_utterances"] == 2.0 and abs(timing.onset * 20 - 600) <= 40
    assert abs(vec["first_len_ms"] - 500) <= 60 and abs(vec["first_gap_ms"] - 1500) <= 60
    assert vec["silence_now_ms"] >= 1500 and vec["voiced_ms"] >= 1100


def test_clicks_and_ringback_do_not_start_an_utterance() -> None:
    parts = [(0.0, synth.tone([440.0, 480.0], 1.0, -15.0)), (1.3, synth.click()),
             (1.6, synth.click(seed=1)), (2.0, synth.tone(425.0, 0.8, -15.0))]
    x = synth.place(3.0, parts)
    timing = TimingTracker()
    for f in _frames(x):
        timing.update(f)
    assert not timing.has_onset
