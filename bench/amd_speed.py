"""Streaming AMD speed: seconds of audio per CPU second on one core (target >= 500x).

Feeds clips frame by frame (20 ms, 320 bytes) to fresh detectors, as a live call would,
and measures process CPU time. Two figures:

- ``as deployed``: the detector stops working once it has nothing more to say (human,
  silence and fax verdicts end it; machines end at the beep or the beep window);
- ``every frame``: the per-frame feature pipeline (VAD, FFT, tone and timing trackers)
  on all audio, the worst case of a machine that never beeps.

Run: .venv/bin/python bench/amd_speed.py [--dir CORPUS] [--clips N]
Without --dir, synthetic clips (noise, tones, speech-like bursts) are generated in memory.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from amd_model.api import FRAME_BYTES, DetectorConfig, load_detector
from amd_model.audio import read_wav


def synthetic_clips(n: int, seed: int = 1) -> list[bytes]:
    """Clips of 8-15 s: noise with voiced bursts (like words) and sometimes a beep."""
    rng = np.random.default_rng(seed)
    out = []
    for _ in range(n):
        dur = rng.uniform(8, 15)
        total = int(dur * 8000)
        x = rng.standard_normal(total) * 30
        pos = int(rng.uniform(0.2, 1.5) * 8000)
        for _ in range(int(rng.integers(1, 8))):
            length = int(rng.uniform(0.2, 1.5) * 8000)
            t = np.arange(length) / 8000
            f0 = rng.uniform(100, 220)
            burst = sum(np.sin(2 * np.pi * f0 * h * t) / h for h in range(1, 12))
            end = min(pos + length, total)
            x[pos:end] += (3000 * burst * np.hanning(length))[: end - pos]
            pos = end + int(rng.uniform(0.1, 1.0) * 8000)
            if pos >= total:
                break
        if rng.random() < 0.5 and pos + 4000 < total:
            t = np.arange(4000) / 8000
            x[pos : pos + 4000] += 8000 * np.sin(2 * np.pi * 1000 * t)
        out.append(np.clip(x, -32768, 32767).astype("<i2").tobytes())
    return out


def run(clips: list[bytes], every_frame: bool) -> tuple[float, float]:
    """(audio seconds, CPU seconds) of streaming every clip."""
    # every_frame: never decide, so every frame goes through features, trackers and model
    cfg = DetectorConfig(max_decision_ms=10**9, silence_timeout_ms=10**9,
                         machine_threshold=1.0, human_threshold=1.0) if every_frame else None
    audio = 0.0
    cpu0 = time.process_time()
    for pcm in clips:
        det = load_detector(cfg)
        for off in range(0, len(pcm) - FRAME_BYTES + 1, FRAME_BYTES):
            det.feed(pcm[off : off + FRAME_BYTES])
        det.finish()
        audio += len(pcm) / 16000
    return audio, time.process_time() - cpu0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--dir", type=Path, default=None, help="corpus with wav/ (or WAVs)")
    parser.add_argument("--clips", type=int, default=60)
    args = parser.parse_args()
    if args.dir is not None:
        wavs = sorted((args.dir / "wav").glob("*.wav")) or sorted(args.dir.glob("*.wav"))
        clips = [read_wav(p).astype("<i2").tobytes() for p in wavs[: args.clips]]
        source = str(args.dir)
    else:
        clips = synthetic_clips(args.clips)
        source = "synthetic"
    load_detector()  # load the artifact outside the timing
    for label, every in (("as deployed", False), ("every frame", True)):
        audio, cpu = run(clips, every)
        print(f"amd_speed [{source}, {len(clips)} clips, {audio:.0f} s audio] {label}: "
              f"{audio / cpu:.0f}x real time on one core ({cpu * 1e6 / (audio * 50):.0f} "
              f"us per 20 ms frame)", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
