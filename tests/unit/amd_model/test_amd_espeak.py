"""Two real TTS clips (espeak-ng, installed in CI) through the channel and the detector."""

from __future__ import annotations

import shutil

import numpy as np

from amd_model import synth
from amd_model.api import load_detector
from amd_model.evaluation import classify_pcm
from amd_model.training.corpus import Voice, bandpass, mulaw_roundtrip, render


def _call(text: str, lead_s: float, tail_s: float, beep_at_s: float | None = None) -> bytes:
    assert shutil.which("espeak-ng"), "espeak-ng is required: apt-get install espeak-ng"
    speech = render(text, Voice("espeak", "en-us+f2", speed=165, pitch=55))
    speech *= 32768 * 10 ** (-12 / 20) / np.max(np.abs(speech))
    total = lead_s + speech.size / 8000 + tail_s
    parts = [(lead_s, speech)]
    if beep_at_s is not None:
        parts.append((beep_at_s, synth.tone(1000.0, 0.5, -12.0)))
    x = mulaw_roundtrip(bandpass(synth.place(total, parts, noise_dbfs=-55.0)))
    return synth.pcm(x)


def test_espeak_hello_is_human() -> None:
    result = classify_pcm(load_detector(), _call("Hello?", 0.5, 6.0))
    assert result["label"] == "human" and result["beep_ms"] is None


def test_espeak_greeting_is_machine_with_its_beep() -> None:
    text = ("Hi, you have reached Sarah Miller. I can't come to the phone right now. "
            "Please leave your name and number after the tone.")
    speech_s = render(text, Voice("espeak", "en-us+f2", speed=165, pitch=55)).size / 8000
    beep_at = 0.5 + speech_s + 0.6
    result = classify_pcm(load_detector(), _call(text, 0.5, 3.0, beep_at_s=beep_at))
    assert result["label"] == "machine"
    assert result["beep_ms"] is not None and abs(result["beep_ms"] - beep_at * 1000) <= 200
