"""Streaming invariants of the shipped detector on synthetic calls."""

from __future__ import annotations

import numpy as np
import pytest

from amd_model import synth
from amd_model.api import FRAME_BYTES, AmdEvent, DetectorConfig, StreamingDetector, load_detector


def _run(x: np.ndarray, chunk: int = FRAME_BYTES,
         config: DetectorConfig | None = None) -> tuple[StreamingDetector, list[AmdEvent]]:
    det = load_detector(config)
    data = synth.pcm(x)
    events: list[AmdEvent] = []
    for off in range(0, len(data), chunk):
        events += det.feed(data[off : off + chunk])
    events += det.finish()
    return det, events


def _verdicts(events: list[AmdEvent]) -> list[AmdEvent]:
    return [e for e in events if e.kind == "verdict"]


def test_line_noise_only_is_silence_at_the_timeout() -> None:
    det, events = _run(synth.silence(7.0))
    (verdict,) = _verdicts(events)
    assert verdict.label == "silence"
    assert verdict.decision_ms == DetectorConfig().silence_timeout_ms
    assert det.beep_ms is None


def test_ringback_and_clicks_before_the_answer_decide_nothing() -> None:
    x = synth.place(6.0, [(0.0, synth.tone([440.0, 480.0], 1.2, -12.0)),
                          (1.5, synth.click()), (2.2, synth.click(seed=2)),
                          (2.8, synth.tone(425.0, 1.0, -12.0))])
    det = load_detector()
    data = synth.pcm(x)
    for off in range(0, 4800 * 2 * 8, FRAME_BYTES):  # the first 4.8 s
        assert det.feed(data[off : off + FRAME_BYTES]) == []
    assert det.verdict is None
    rest = det.feed(data[4800 * 16 :]) + det.finish()
    assert [e.label for e in _verdicts(rest)] == ["silence"]


@pytest.mark.parametrize(("freq", "label"), [(1100.0, "cng"), (2100.0, "ced")])
def test_fax_tones_are_fax(freq: float, label: str) -> None:
    seconds = 0.5 if label == "cng" else 3.0
    x = synth.place(6.0, [(0.4, synth.tone(freq, seconds, -15.0))])
    _, events = _run(x)
    (verdict,) = _verdicts(events)
    assert verdict.label == "fax"
    assert verdict.decision_ms is not None and verdict.decision_ms <= 1000


def test_short_hello_then_waiting_is_human_and_quick() -> None:
    det, events = _run(synth.human_hello())
    (verdict,) = _verdicts(events)
    assert verdict.label == "human"
    assert verdict.decision_ms is not None and verdict.decision_ms <= 3000
    assert det.done and det.beep_ms is None
    assert [e.kind for e in events] == ["verdict"]


def test_a_hello_is_called_human_in_time_for_the_agent_to_greet_within_2_s() -> None:
    """The simulated trunk's "hello" (0.81 s) after 0.3 s: the agent needs about 0.3 s
    after the verdict, and the abandon rule allows 2 s after the callee's greeting."""
    from pathlib import Path

    from amd_model.audio import read_wav

    hello = read_wav(Path(__file__).parents[3] / "sip" / "audio" / "hello.wav")
    lead = np.zeros(2400, dtype=np.int16)
    _, events = _run(np.concatenate([lead, hello, np.zeros(40_000, dtype=np.int16)]))
    (verdict,) = _verdicts(events)
    assert verdict.label == "human"
    hello_end_ms = (len(lead) + len(hello)) // 8
    assert verdict.decision_ms is not None and verdict.decision_ms - hello_end_ms <= 800


def test_the_shipped_human_wait_fits_the_abandon_budget() -> None:
    from amd_model.model import load_model
    from amd_model.training.train import HUMAN_SILENCE_MAX_MS

    shipped = load_model().default_config().human_min_silence_ms
    assert shipped <= HUMAN_SILENCE_MAX_MS <= 800


def test_long_greeting_is_machine_then_the_beep_offset_is_reported() -> None:
    det, events = _run(synth.machine_greeting(beep_at_s=6.23))
    assert [e.kind for e in events] == ["verdict", "beep"]
    verdict, beep = events
    assert verdict.label == "machine"
    assert verdict.decision_ms is not None and verdict.decision_ms <= 5000
    assert beep.beep_ms is not None and abs(beep.beep_ms - 6230) <= 40
    assert det.beep_ms == beep.beep_ms


def test_no_beep_means_no_beep_event() -> None:
    _, events = _run(synth.machine_greeting(beep_at_s=None))
    assert [e.kind for e in events] == ["verdict"]


def test_odd_chunk_sizes_give_the_same_events_as_frames() -> None:
    x = synth.machine_greeting(beep_at_s=6.0, seed=4)
    _, by_frame = _run(x)
    _, by_odd = _run(x, chunk=317)
    _, whole = _run(x, chunk=10**9)
    assert by_frame == by_odd == whole


@pytest.mark.parametrize("seed", range(6))
def test_exactly_one_verdict_within_the_limit_whatever_the_audio(seed: int) -> None:
    rng = np.random.default_rng(seed)
    parts = []
    for _ in range(int(rng.integers(0, 6))):
        start = float(rng.uniform(0, 8))
        kind = int(rng.integers(0, 3))
        if kind == 0:
            parts.append((start, synth.voice(float(rng.uniform(0.1, 3)), seed=seed)))
        elif kind == 1:
            parts.append((start, synth.tone(float(rng.uniform(300, 2500)),
                                            float(rng.uniform(0.05, 1)))))
        else:
            parts.append((start, synth.click(seed=seed)))
    cfg = DetectorConfig(max_decision_ms=3000, silence_timeout_ms=2500)
    _, events = _run(synth.place(10.0, parts, seed=seed), config=cfg)
    verdicts = _verdicts(events)
    assert len(verdicts) == 1
    assert verdicts[0].decision_ms is not None and verdicts[0].decision_ms <= 3000
    assert verdicts[0].label in ("human", "machine", "silence", "fax")
    beeps = [e for e in events if e.kind == "beep"]
    assert len(beeps) <= 1 and (not beeps or verdicts[0].label == "machine")
    assert not beeps or events.index(beeps[0]) > events.index(verdicts[0])


def test_finish_before_any_audio_still_gives_one_verdict() -> None:
    det = load_detector()
    events = det.finish()
    assert [e.kind for e in events] == ["verdict"]
    assert det.finish() == [] and det.feed(b"\x00" * 640) == []


def test_config_rejects_inconsistent_limits() -> None:
    with pytest.raises(ValueError, match="silence_timeout_ms"):
        DetectorConfig(max_decision_ms=2000, silence_timeout_ms=3000)


def test_the_beep_watch_finds_a_beep_alone_and_only_once() -> None:
    from amd_model.api import load_beep_watch

    x = synth.place(2.0, [(0.5, synth.tone(1000.0, 0.4))])
    watch = load_beep_watch()
    onsets = [watch.feed(frame) for frame in _frames(synth.pcm(x))]
    found = [o for o in onsets if o is not None]
    assert len(found) == 1 and abs(found[0] - 500) <= 40
    assert watch.beep_ms == found[0]


def test_the_beep_watch_does_not_hear_speech_as_a_beep() -> None:
    from amd_model.api import load_beep_watch

    watch = load_beep_watch()
    for x in (synth.human_hello(), synth.machine_greeting(beep_at_s=None)):
        for frame in _frames(synth.pcm(x)):
            assert watch.feed(frame) is None


def _frames(data: bytes) -> list[bytes]:
    return [data[i : i + FRAME_BYTES] for i in range(0, len(data), FRAME_BYTES)]
