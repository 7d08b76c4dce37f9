"""Realtime bridge latency: callee speech end → first agent audio handed to the call.

One ``RealtimeAgent.converse`` over the real ``openai`` client against the local fake
Realtime server (``tests/fakes/openai_realtime.py``), which answers instantly. The callee
is an in-memory call paced at real time (one 20 ms frame every 20 ms, like a live call):
each turn it talks (a loud tone), falls silent, and the fake's VAD ends the turn after
``--vad-ms`` of silence, then replies with µ-law audio at once.

Figures per turn:

- ``overhead``: from the moment the frame that completes the VAD silence window is handed
  to the agent (``CallAudio.read`` returns it) until the first reply audio is handed to
  ``CallAudio.send``: our pump (µ-law, base64, JSON, WebSocket send), the fake's instant
  answer, our receive loop and decoding. This is the bridge's own cost (target ≤ 150 ms).
- ``speech end → audio``: from the last loud frame, i.e. the overhead plus the VAD window
  (the real service's ``silence_duration_ms`` and model time come on top in production).

On a live call the engine's audio source takes the frame at its next 20 ms tick, so the
first agent sample is on the wire 0-20 ms after ``send``.

Run: .venv/bin/python bench/agent_latency.py [--turns 30] [--vad-ms 200]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import threading
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from agent.base import AgentProfile
from agent.realtime import RealtimeAgent
from tests.fakes.openai_realtime import (
    API_KEY,
    FakeCall,
    FakeRealtimeServer,
    RealtimeScript,
    Reply,
    Step,
    silence,
    speech_frames,
)

SPEECH_FRAMES = 15  # 300 ms of callee speech per turn
REPLY_MS = 200


def queued_at_least(ms: int) -> Callable[[FakeCall], bool]:
    """A script step: wait until the agent has queued ``ms`` of audio in all."""
    return lambda call: call.sent_ms() >= ms


def percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(p / 100 * (len(ordered) - 1)))]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--turns", type=int, default=30)
    parser.add_argument("--vad-ms", type=int, default=200,
                        help="silence that ends a turn on the fake server (multiple of 20)")
    args = parser.parse_args()
    turns: int = args.turns
    vad_frames = max(1, args.vad_ms // 20)

    replies = [Reply("Hello, this is the benchmark.", REPLY_MS)]
    replies += [Reply(f"Reply {i + 1}.", REPLY_MS, hang_up=i == turns - 1)
                for i in range(turns)]
    script = RealtimeScript(replies=replies, silence_frames=vad_frames)

    steps: list[Step] = [queued_at_least(REPLY_MS), *silence(5)]
    frames_before = 5
    last_loud: list[int] = []  # 0-based index of each turn's last loud frame
    trigger: list[int] = []  # 0-based index of the frame that ends each turn
    pad = vad_frames + REPLY_MS // 20 + 5  # the reply plays out before the next turn
    for turn in range(turns):
        steps += speech_frames(SPEECH_FRAMES)
        last_loud.append(frames_before + SPEECH_FRAMES - 1)
        trigger.append(frames_before + SPEECH_FRAMES - 1 + vad_frames)
        steps += silence(pad)
        steps.append(queued_at_least(REPLY_MS * (turn + 2)))
        frames_before += SPEECH_FRAMES + pad

    print(f"{turns} turns, fake VAD window {vad_frames * 20} ms, "
          f"about {frames_before * 20 / 1000:.0f} s of real-time audio", flush=True)
    call = FakeCall(steps, realtime=True)
    with FakeRealtimeServer(script) as server:
        agent = RealtimeAgent(AgentProfile("bench"), api_key=API_KEY,
                              base_url=server.base_url)
        done = threading.Event()

        def progress() -> None:
            shown = 0
            while not done.wait(2.0):
                finished = sum(1 for t in trigger if t < len(call.frame_wall))
                if finished // 10 > shown // 10:
                    shown = finished
                    print(f"  {finished}/{turns} turns", flush=True)

        watcher = threading.Thread(target=progress, daemon=True)
        watcher.start()
        conversation = agent.converse(call, max_s=frames_before * 0.02 + 60)
        done.set()
        watcher.join()
        problems = server.last.problems

    if conversation.ended_by != "agent" or problems:
        raise SystemExit(f"the conversation went wrong: {conversation.ended_by} "
                         f"{conversation.error} {problems}")
    overhead: list[float] = []
    end_to_audio: list[float] = []
    for loud, trig in zip(last_loud, trigger, strict=True):
        t0 = call.frame_wall[trig]
        sent = next(t for t in call.send_wall if t >= t0)
        overhead.append((sent - t0) * 1000)
        end_to_audio.append((sent - call.frame_wall[loud]) * 1000)

    print(f"first message: {conversation.first_audio_ms} ms from converse() to audio")
    for name, values in (("overhead (VAD window end → send)", overhead),
                         ("speech end → send", end_to_audio)):
        print(f"{name}: p50 {percentile(values, 50):.1f} ms, "
              f"p95 {percentile(values, 95):.1f} ms, max {max(values):.1f} ms, "
              f"mean {statistics.fmean(values):.1f} ms over {len(values)} turns")
    verdict = "meets" if percentile(overhead, 95) <= 150 else "MISSES"
    print(f"target: overhead ≤ 150 ms — p95 {verdict} it")


if __name__ == "__main__":
    main()
