"""Drive ``SipEngine`` directly in its own process and print what happened as JSON.

Run by the integration tests (never imported by pytest: pjsua2 must not live there):
    python engine_probe.py frames TRUNK_PORT TALK_S
    python engine_probe.py stream TRUNK_PORT RECORD_PATH
    python engine_probe.py many TRUNK_PORT CALLS SETUPS_PER_S TALK_S
    python engine_probe.py idle TRANSPORTS
"""

from __future__ import annotations

import array
import itertools
import json
import queue
import statistics
import sys
import threading
import time
from typing import Any

from sip.engine import EngineConfig, SipEngine
from sip.types import CallEventKind, DialRequest, TrunkConfig


def frames(port: int, talk_s: float) -> dict[str, Any]:
    """One call; a consumer thread reads the frame queue like AMD would."""
    trunk = TrunkConfig("127.0.0.1", port)
    sizes: set[int] = set()
    count, peak = 0, 0
    with SipEngine(EngineConfig(bind_address="127.0.0.1")) as engine:
        handle = engine.dial(DialRequest("+12025550101", "+12025550199", 5, trunk))
        assert handle.frames is not None
        answered_at: list[float] = []

        def consume() -> None:
            nonlocal count, peak
            assert handle.frames is not None
            while (frame := handle.frames.get()) is not None:
                sizes.add(len(frame))
                count += 1
                peak = max(peak, max(abs(s) for s in array.array("h", frame)))

        consumer = threading.Thread(target=consume)
        consumer.start()
        while True:
            event = handle.events.get(timeout=20)
            if event.kind is CallEventKind.ANSWERED:
                answered_at.append(time.monotonic())
                threading.Timer(talk_s, handle.hangup).start()
            if event.kind is CallEventKind.ENDED:
                break
        consumer.join(5)
        outcome = handle.wait(1)
    return {"frames": count, "sizes": sorted(sizes), "peak": peak,
            "talk_ms": outcome.talk_ms, "hangup_by": outcome.hangup_by}


def stream(port: int, record_path: str) -> dict[str, Any]:
    """One call; stream 1 s of a 1 kHz tone to the far end; the recording must hold it."""
    import math
    import wave

    trunk = TrunkConfig("127.0.0.1", port)
    tone = array.array("h", (int(8000 * math.sin(2 * math.pi * 1000 * n / 8000))
                             for n in range(8000))).tobytes()
    with SipEngine(EngineConfig(bind_address="127.0.0.1")) as engine:
        handle = engine.dial(DialRequest("+12025550101", "+12025550199", 5, trunk,
                                         record_path=record_path, rtp_timeout_s=0),
                             want_frames=False)
        out = handle.stream_audio()
        while handle.events.get(timeout=20).kind is not CallEventKind.ANSWERED:
            pass
        for i in range(0, len(tone), 320):
            out.put(tone[i:i + 320])
        time.sleep(2.0)
        handle.hangup()
        outcome = handle.wait(10)
    with wave.open(record_path) as w:
        samples = array.array("h", w.readframes(w.getnframes()))
    loud_frames = sum(1 for i in range(0, len(samples), 160)
                      if max(map(abs, samples[i:i + 160]), default=0) > 4000)
    return {"talk_ms": outcome.talk_ms, "peak": max(map(abs, samples), default=0),
            "tone_ms": loud_frames * 20}


def many(port: int, calls: int, rate: float, talk_s: float) -> dict[str, Any]:
    """``calls`` calls queued at once; report pacing and the most live at a time."""
    trunk = TrunkConfig("127.0.0.1", port)
    events: queue.Queue[tuple[float, int, CallEventKind]] = queue.Queue()
    with SipEngine(EngineConfig(bind_address="127.0.0.1", setups_per_s=rate)) as engine:
        handles = [engine.dial(DialRequest(f"+1202555{i:04d}", "+12025550199", 10, trunk,
                                           rtp_timeout_s=0), want_frames=False)
                   for i in range(calls)]

        def watch(h: Any) -> None:
            while True:
                ev = h.events.get(timeout=30)
                events.put((time.monotonic(), h.id, ev.kind))
                if ev.kind is CallEventKind.ANSWERED:
                    threading.Timer(talk_s, h.hangup).start()
                if ev.kind is CallEventKind.ENDED:
                    return

        watchers = [threading.Thread(target=watch, args=(h,)) for h in handles]
        for w in watchers:
            w.start()
        for w in watchers:
            w.join(60)
        outcomes = [h.wait(1) for h in handles]
        # The engine's own count: receipt times in six watcher threads can be out of
        # order on a busy machine (a call's ENDED seen after the next call's TRYING).
        max_live = engine.peak_live_calls()
    timeline = sorted(events.queue)
    tries = [t for t, _, kind in timeline if kind is CallEventKind.TRYING]
    gaps = [b - a for a, b in itertools.pairwise(tries)]
    return {"answered": sum(o.sip_status == 200 for o in outcomes), "max_live": max_live,
            "statuses": [(o.sip_status, o.sip_reason) for o in outcomes],
            "min_gap_s": min(gaps) if gaps else None,
            "setup_span_s": tries[-1] - tries[0] if tries else 0.0}


def idle(transports: str) -> dict[str, Any]:
    """An idle engine: how long a command waits for the engine thread to take it."""
    from sip import engine as sip_engine

    kinds: Any = tuple(transports.split(","))
    waits: list[float] = []
    with SipEngine(EngineConfig(bind_address="127.0.0.1", transports=kinds)) as engine:
        time.sleep(0.3)
        for _ in range(25):
            started = time.monotonic()
            engine.active_calls()
            waits.append(time.monotonic() - started)
            time.sleep(0.013)  # land at different points of the engine's poll
    return {"median_ms": statistics.median(waits) * 1000,
            "fast_frames": sip_engine._FAST_FRAMES}


def main(argv: list[str]) -> None:
    if argv[0] == "frames":
        result = frames(int(argv[1]), float(argv[2]))
    elif argv[0] == "stream":
        result = stream(int(argv[1]), argv[2])
    elif argv[0] == "idle":
        result = idle(argv[1])
    else:
        result = many(int(argv[1]), int(argv[2]), float(argv[3]), float(argv[4]))
    print(json.dumps(result, default=str))


if __name__ == "__main__":
    main(sys.argv[1:])
