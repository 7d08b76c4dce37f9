"""A real call through the Realtime bridge: simulated trunk ⇄ pjsua2 ⇄ agent ⇄ fake server.

``dialer sim-trunk`` answers as a human who says "Hello?"; a child process (this file run
as a script: pjsua2 never lives in the pytest process) places the call with ``SipEngine``,
wraps it in ``LiveAudio`` and runs ``RealtimeAgent.converse`` against the fake Realtime
server, which runs here in pytest. The fake greets with a 1 kHz tone, hears "Hello?",
answers with a 1 kHz goodbye and calls ``hang_up``. The call's recording (both directions,
mixed) must hold our tone; the fake must have received the callee's greeting as µ-law.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import wave
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from tests.fakes.openai_realtime import API_KEY, FakeRealtimeServer, RealtimeScript, Reply
from tests.integration.sip.harness import ROOT, SimTrunkProc, sim_trunk_starter

pytestmark = pytest.mark.integration

NUMBER = "+12025550140"
TONE_HZ = 1000.0
GREETING_MS = 1500
GOODBYE_MS = 1000


@pytest.fixture
def sim_trunk(tmp_path: Path) -> Iterator[SimTrunkProc]:
    """A simulated trunk on which ``NUMBER`` answers as a human ("Hello?")."""
    mapping = tmp_path / "scenarios.json"
    mapping.write_text(json.dumps({NUMBER: "human"}))
    for trunk in sim_trunk_starter(tmp_path, "--scenarios", str(mapping)):
        wait_ready(trunk)
        yield trunk


def wait_ready(trunk: SimTrunkProc, timeout: float = 60.0) -> None:
    """Wait for the trunk's "listening" line: its engine is up, not just its port bound
    (on a loaded box the port can be bound seconds before the trunk answers calls)."""
    stderr = trunk.proc.stderr
    assert stderr is not None
    seen: list[str] = []

    def scan() -> None:
        for line in stderr:
            seen.append(line)
            if "sim-trunk listening" in line:
                return

    reader = threading.Thread(target=scan, daemon=True)
    reader.start()
    reader.join(timeout)
    if reader.is_alive() or not any("sim-trunk listening" in line for line in seen):
        pytest.fail(f"the sim trunk did not come up: {''.join(seen)[-2000:]}")


def run_probe(trunk_port: int, base_url: str, record: Path) -> dict[str, Any]:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    proc = subprocess.run([sys.executable, __file__, str(trunk_port), base_url, str(record)],
                          cwd=ROOT, env=env, capture_output=True, text=True, timeout=120,
                          check=False)
    assert proc.returncode == 0, proc.stderr[-3000:]
    result: dict[str, Any] = json.loads(proc.stdout.strip().splitlines()[-1])
    return result


def tone_ms(path: Path, hz: float) -> int:
    """ms of 20 ms frames of ``path`` that are loud and almost all at ``hz``."""
    with wave.open(str(path)) as w:
        assert (w.getframerate(), w.getnchannels(), w.getsampwidth()) == (8000, 1, 2)
        x = np.frombuffer(w.readframes(w.getnframes()), dtype="<i2").astype(np.float64)
    n = 160
    probe = np.exp(-2j * np.pi * hz * np.arange(n) / 8000)
    count = 0
    for i in range(0, len(x) - n + 1, n):
        frame = x[i:i + n]
        energy = float(np.dot(frame, frame))
        if energy / n < 1000.0**2:  # quieter than an RMS of 1000
            continue
        if 2 * abs(np.dot(frame, probe)) ** 2 / (n * energy) > 0.8:
            count += 1
    return count * 20


def test_a_real_call_carries_audio_through_the_bridge(sim_trunk: SimTrunkProc,
                                                      tmp_path: Path) -> None:
    script = RealtimeScript(
        replies=[Reply("Hi, this is Dana from Acme Dental.", GREETING_MS, tone_hz=TONE_HZ),
                 Reply("Sorry to bother you, goodbye!", GOODBYE_MS, tone_hz=TONE_HZ,
                       hang_up=True)],
        callee_transcripts=["Hello?"])
    record = tmp_path / "call.wav"
    with FakeRealtimeServer(script) as fake:
        result = run_probe(sim_trunk.port, fake.base_url, record)
        session = fake.last

    assert session.problems == []
    # the callee's "Hello?" crossed the bridge as µ-law and woke the VAD
    heard = np.frombuffer(session.audio_pcm(), dtype="<i2")
    assert len(heard) >= 8000 // 2  # at least half a second of 8 kHz samples
    assert int(np.abs(heard.astype(np.int32)).max()) > 3000
    assert len(session.speech_started) >= 1

    conv = result["conversation"]
    assert conv["ended_by"] == "agent", conv
    assert conv["first_audio_ms"] is not None
    assert ("callee", "Hello?") in [(t["role"], t["text"]) for t in conv["transcript"]]
    # the agent's audio reached the call: the goodbye played out before the hang-up;
    # the greeting was cut short when the callee said "Hello?" over it (barge-in)
    played = tone_ms(record, TONE_HZ)
    assert GOODBYE_MS * 0.8 <= played < GREETING_MS + GOODBYE_MS * 0.5, played
    assert len(session.truncates) == 1
    cut_at = session.truncates[0]["audio_end_ms"]
    assert 0 < cut_at < GREETING_MS
    # what the recording holds matches what we told the model the callee heard
    assert abs(played - (cut_at + GOODBYE_MS)) <= 200, (played, cut_at)
    assert result["hangup_by"] == "us"


# --- the child process ---------------------------------------------------------------------
def _probe(trunk_port: int, base_url: str, record: str) -> dict[str, Any]:
    """Place one call on the trunk and let the Realtime agent talk on it."""
    from agent.base import AgentProfile
    from agent.realtime import RealtimeAgent
    from sip.engine import EngineConfig, SipEngine
    from sip.live import LiveAudio
    from sip.types import CallEventKind, DialRequest, TrunkConfig

    agent = RealtimeAgent(AgentProfile("dana", first_message="Hi, this is Dana."),
                          api_key=API_KEY, base_url=base_url, vad_silence_ms=200)
    trunk = TrunkConfig("127.0.0.1", trunk_port)
    with SipEngine(EngineConfig(bind_address="127.0.0.1")) as engine:
        # generous SIP timers: on a loaded box the trunk process can be slow to answer
        handle = engine.dial(DialRequest(NUMBER, "+12025550199", 30, trunk,
                                         record_path=record, no_response_timeout_s=30))
        while (event := handle.events.get(timeout=30)).kind is not CallEventKind.ANSWERED:
            if event.kind is CallEventKind.ENDED:
                raise SystemExit(f"the call was not answered: {event}")
        conversation = agent.converse(LiveAudio(handle), max_s=30)
        handle.hangup()
        outcome = handle.wait(15)
    return {"conversation": {"ended_by": conversation.ended_by,
                             "error": conversation.error,
                             "first_audio_ms": conversation.first_audio_ms,
                             "transcript": [t.as_dict() for t in conversation.transcript]},
            "talk_ms": outcome.talk_ms,
            "hangup_by": outcome.hangup_by.value if outcome.hangup_by else None}


if __name__ == "__main__":
    print(json.dumps(_probe(int(sys.argv[1]), sys.argv[2], sys.argv[3])))
