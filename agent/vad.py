"""A small energy voice-activity tracker for 20 ms frames of 8 kHz 16-bit PCM.

Enough to know when a callee starts and stops talking on a clean line (the scripted
agent's turn taking, the greet delay behind the abandon rate); the answering-machine
decision itself is ``amd_model``'s job.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

FRAME_MS = 20
SPEECH_RMS = 400.0
"""RMS (of int16 samples) above which a frame counts as speech: about -38 dBFS."""


@dataclass
class EnergyVad:
    """Tracks speech runs; times are ms of audio fed (the call's audio clock)."""

    hangover_ms: int = 300
    """Silence that ends a run of speech."""
    min_speech_ms: int = 100
    """Shorter bursts (clicks) are not speech."""
    threshold: float = SPEECH_RMS

    def __post_init__(self) -> None:
        self.now_ms = 0
        self.speaking = False
        self.run_start_ms: int | None = None
        self.last_voice_ms = 0
        self.first_words_end_ms: int | None = None
        """End of the callee's first run of speech (set once it has ended)."""
        self.runs = 0
        self.speech_ms = 0

    def feed(self, frame: bytes) -> bool:
        """Feed one frame; True while the speaker is talking (a run is open)."""
        samples = np.frombuffer(frame, dtype="<i2").astype(np.float32)
        loud = bool(samples.size) and float(np.sqrt(np.mean(samples * samples))) > self.threshold
        self.now_ms += FRAME_MS
        if loud:
            if self.run_start_ms is None:
                self.run_start_ms = self.now_ms - FRAME_MS
            self.last_voice_ms = self.now_ms
            if not self.speaking and self.now_ms - self.run_start_ms >= self.min_speech_ms:
                self.speaking = True
            if self.speaking:
                self.speech_ms += FRAME_MS
        elif self.run_start_ms is not None and self.now_ms - self.last_voice_ms >= self.hangover_ms:
            if self.speaking:
                self.runs += 1
                if self.first_words_end_ms is None:
                    self.first_words_end_ms = self.last_voice_ms
            self.speaking = False
            self.run_start_ms = None
        return self.speaking

    @property
    def ended_runs(self) -> int:
        """Runs of speech that have ended."""
        return self.runs
