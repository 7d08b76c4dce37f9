"""The scripted agent against an in-memory call on a simulated audio clock."""

from __future__ import annotations

import numpy as np
import pytest

from agent.base import AgentProfile
from agent.scripted import CLOSING, ScriptedAgent, ScriptSettings
from agent.tts import duration_ms, wav_to_pcm8k
from agent.vad import EnergyVad

FRAME = 320


def tone(ms: int, amp: int = 6000) -> bytes:
    n = ms * 8
    t = np.arange(n) / 8000
    return bytes((amp * np.sin(2 * np.pi * 300 * t)).astype("<i2").tobytes())


def silence(ms: int) -> bytes:
    return b"\0" * (ms * 16)


class FakeCall:
    """A call whose callee plays ``script`` (PCM) from the agent's start; 20 ms per read."""

    def __init__(self, script: bytes, *, hangs_up_at_ms: int | None = None) -> None:
        self.script = script
        self.t_ms = 0
        self.sent: list[tuple[int, int]] = []  # (at ms, ms of audio)
        self.queue_until = 0
        self.cleared_at: int | None = None
        self.hung_up_at: int | None = None
        self.hangs_up_at_ms = hangs_up_at_ms

    def clock(self) -> float:
        return self.t_ms / 1000

    def read(self, timeout_s: float) -> bytes | None:
        if self.ended:
            return None
        start = self.t_ms * 16
        self.t_ms += 20
        return self.script[start:start + FRAME].ljust(FRAME, b"\0")

    def send(self, pcm: bytes) -> None:
        ms = duration_ms(pcm)
        self.sent.append((self.t_ms, ms))
        self.queue_until = max(self.queue_until, self.t_ms) + ms

    def clear(self) -> int:
        dropped = max(0, self.queue_until - self.t_ms)
        self.queue_until = self.t_ms
        self.cleared_at = self.t_ms
        return dropped

    def played_ms(self) -> int:
        return 0

    def queued_ms(self) -> int:
        return max(0, self.queue_until - self.t_ms)

    def hangup(self) -> None:
        self.hung_up_at = self.t_ms

    @property
    def ended(self) -> bool:
        return self.hung_up_at is not None or (
            self.hangs_up_at_ms is not None and self.t_ms >= self.hangs_up_at_ms)


PROFILE = AgentProfile("Ava", first_message="Hi, this is Ava from Acme.")


def fake_speak(text: str, kind: str) -> bytes:
    return tone(1000 if text != CLOSING else 500, amp=1)  # 1 s greeting, 0.5 s closing


def agent_for(call: FakeCall, **kw: float) -> ScriptedAgent:
    return ScriptedAgent(PROFILE, settings=ScriptSettings(**kw), speak=fake_speak,
                         clock=call.clock)


def test_greets_at_once_listens_to_the_reply_then_closes_and_hangs_up() -> None:
    call = FakeCall(silence(1500) + tone(1200) + silence(3000))
    conv = agent_for(call).converse(call, max_s=30)
    assert conv.first_audio_ms == 0
    assert call.sent[0] == (0, 1000)
    assert conv.callee_spoke
    roles = [turn.role for turn in conv.transcript]
    assert roles == ["agent", "callee", "agent"]
    assert conv.transcript[1].at_ms >= 1500
    assert "1.2 s" in conv.transcript[1].text or "1.1 s" in conv.transcript[1].text
    assert conv.transcript[2].text == CLOSING
    assert call.hung_up_at is not None
    assert call.hung_up_at >= call.sent[1][0] + 500  # the closing played out first
    assert conv.ended_by == "agent"


def test_talking_over_the_agent_stops_its_audio() -> None:
    call = FakeCall(silence(300) + tone(1000) + silence(3000))
    agent_for(call).converse(call, max_s=30)
    assert call.cleared_at is not None
    assert 300 <= call.cleared_at <= 500


def test_a_silent_callee_gets_the_closing_after_the_reply_wait() -> None:
    call = FakeCall(silence(20_000))
    conv = agent_for(call, reply_wait_s=2.0).converse(call, max_s=30)
    assert not conv.callee_spoke
    assert [turn.role for turn in conv.transcript] == ["agent", "agent"]
    closing_at = call.sent[1][0]
    assert 3000 <= closing_at <= 3200  # 1 s greeting + 2 s wait


def test_a_callee_who_hangs_up_ends_the_conversation_without_a_closing() -> None:
    call = FakeCall(silence(20_000), hangs_up_at_ms=700)
    conv = agent_for(call).converse(call, max_s=30)
    assert conv.ended_by == "callee"
    assert len(call.sent) == 1
    assert call.hung_up_at is None


def test_max_s_bounds_a_callee_who_talks_on() -> None:
    call = FakeCall(silence(200) + tone(60_000))
    conv = agent_for(call, max_reply_s=100.0).converse(call, max_s=5)
    assert conv.ended_by == "timeout"
    assert call.hung_up_at is not None
    assert call.hung_up_at < 7000


def test_energy_vad_marks_the_end_of_the_first_words_and_ignores_clicks() -> None:
    vad = EnergyVad()
    audio = silence(200) + tone(40) + silence(400) + tone(600) + silence(600)
    for i in range(0, len(audio), FRAME):
        vad.feed(audio[i:i + FRAME])
    assert vad.first_words_end_ms == 200 + 40 + 400 + 600
    assert vad.runs == 1


def test_wav_conversion_makes_8k_mono(tmp_path: object) -> None:
    import io
    import wave

    buf = io.BytesIO()
    with wave.open(buf, "wb") as w:
        w.setnchannels(2)
        w.setsampwidth(2)
        w.setframerate(16000)
        w.writeframes(b"\1\0\1\0" * 16000)  # 1 s stereo
    pcm = wav_to_pcm8k(buf.getvalue())
    assert duration_ms(pcm) == 1000


def test_espeak_renders_8k_speech_and_a_missing_espeak_falls_back(
        monkeypatch: pytest.MonkeyPatch) -> None:
    from agent import tts

    pcm = tts.speak("Hello there, this is a test.")
    assert 800 < duration_ms(pcm) < 5000
    assert np.abs(np.frombuffer(pcm, dtype="<i2")).max() > 10_000  # normalised to -3 dBFS
    monkeypatch.setattr(tts.shutil, "which", lambda _: None)
    tts.speak.cache_clear()
    assert tts.say("Something new", "goodbye") == tts.fallback("goodbye")
