"""The OpenAI Realtime bridge through the real ``openai`` client against a local fake.

Each test runs ``RealtimeAgent.converse`` on an in-memory call (``FakeCall``: a virtual
clock of 20 ms per frame read) against ``FakeRealtimeServer`` (GA WebSocket protocol on
127.0.0.1). Call timing is virtual and scripted, so no assertion depends on wall time.
"""

from __future__ import annotations

import socket
import threading
import warnings
from collections.abc import Callable, Iterator
from pathlib import Path

import numpy as np
import pytest

import agent.realtime as realtime
from agent.base import AgentProfile, Conversation
from agent.g711 import pcm16_to_ulaw, ulaw_to_pcm16
from agent.realtime import RealtimeAgent, apology_pcm, fallback_tone
from tests.fakes.openai_realtime import (
    API_KEY,
    FakeCall,
    FakeRealtimeServer,
    RealtimeScript,
    Reply,
    silence,
    speech_frames,
)

PROFILE = AgentProfile("dana", instructions="You are Dana from Acme Dental.",
                       voice="marin", first_message="Hi, this is Dana from Acme Dental.")
APOLOGY = apology_pcm()


@pytest.fixture(autouse=True)
def no_leaked_threads() -> Iterator[None]:
    """``converse`` must not leave its pump or receiver running once it returns."""
    yield
    leaked = [t.name for t in threading.enumerate() if t.name.startswith("realtime-")]
    assert leaked == []


@pytest.fixture
def fake() -> Iterator[FakeRealtimeServer]:
    with FakeRealtimeServer() as server:
        yield server


def converse(server: FakeRealtimeServer, call: FakeCall, *, max_s: float = 30.0,
             **options: object) -> Conversation:
    agent = RealtimeAgent(PROFILE, api_key=API_KEY, base_url=server.base_url,
                          model="gpt-realtime", usd_per_input_token=1e-6,
                          usd_per_output_token=2e-6, **options)  # type: ignore[arg-type]
    return agent.converse(call, max_s=max_s)


def first_message_played(ms: int) -> Callable[[FakeCall], bool]:
    """Wait (without time passing on the call) until the first message is all queued."""
    return lambda call: call.sent_ms() >= ms


def ends_with_apology(call: FakeCall) -> bool:
    return call.sent_pcm().endswith(APOLOGY)


# --- codec ---------------------------------------------------------------------------
def test_ulaw_is_bit_exact_with_the_reference_codec() -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        import audioop  # the stdlib's G.711 reference (deprecated, gone in 3.13)
    every_sample = np.arange(-32768, 32768, dtype="<i2").tobytes()
    assert pcm16_to_ulaw(every_sample) == audioop.lin2ulaw(every_sample, 2)
    every_code = bytes(range(256))
    assert ulaw_to_pcm16(every_code) == audioop.ulaw2lin(every_code, 2)


def test_ulaw_round_trip_keeps_speech_within_g711_error_and_length() -> None:
    rng = np.random.default_rng(7)
    pcm = (rng.standard_normal(8000) * 6000).clip(-32768, 32767).astype("<i2")
    ulaw = pcm16_to_ulaw(pcm.tobytes())
    assert len(ulaw) == 8000  # one byte per sample: 8 kHz in, 8 kHz out, no resampling
    back = np.frombuffer(ulaw_to_pcm16(ulaw), dtype="<i2").astype(np.int32)
    err = np.abs(back - pcm.astype(np.int32))
    # µ-law quantises to within half a step of its segment: at most 1/16 of the value
    assert np.all(err <= np.abs(pcm.astype(np.int32)) // 16 + 8)
    assert ulaw_to_pcm16(pcm16_to_ulaw(ulaw_to_pcm16(ulaw))) == ulaw_to_pcm16(ulaw)
    with pytest.raises(ValueError, match="whole number"):
        pcm16_to_ulaw(b"\x00\x01\x02")


# --- session and first message -----------------------------------------------------------
def test_session_is_ulaw_server_vad_with_transcription_and_the_first_message_plays(
        fake: FakeRealtimeServer) -> None:
    fake.script = RealtimeScript(replies=[Reply("Hi, this is Dana from Acme Dental.", 800,
                                                hang_up=True)])
    call = FakeCall([first_message_played(800)])

    conv = converse(fake, call)

    s = fake.last
    assert s.problems == []
    assert s.path == "/v1/realtime" and s.query["model"] == ["gpt-realtime"]
    assert s.authorization == f"Bearer {API_KEY}"
    session = s.session
    assert session is not None
    assert session["audio"]["input"]["format"] == {"type": "audio/pcmu"}
    assert session["audio"]["output"]["format"] == {"type": "audio/pcmu"}
    assert session["audio"]["output"]["voice"] == "marin"
    assert session["audio"]["input"]["turn_detection"]["type"] == "server_vad"
    assert session["audio"]["input"]["transcription"]["model"]
    assert "Acme Dental" in session["instructions"]
    assert [t["name"] for t in session["tools"]] == ["hang_up"]
    # the first message is asked for at once, before any of the callee's audio
    assert s.types()[:2] == ["session.update", "response.create"]
    assert PROFILE.first_message in s.events[1]["response"]["instructions"]
    # it reached the call as the fake's 440 Hz tone, µ-law decoded at 8 kHz
    assert call.sent_ms() == 800
    assert call.sent_pcm() == ulaw_to_pcm16(pcm16_to_ulaw(call.sent_pcm()))
    assert conv.first_audio_ms is not None
    assert conv.ended_by == "agent" and conv.error is None
    assert [(t.role, t.text) for t in conv.transcript] == [
        ("agent", "Hi, this is Dana from Acme Dental.")]
    assert conv.tokens == 200
    assert conv.cost_usd == pytest.approx(120e-6 + 80 * 2e-6)


def test_callee_hanging_up_ends_the_conversation_quietly(fake: FakeRealtimeServer) -> None:
    fake.script = RealtimeScript(replies=[Reply("Hi, this is Dana.", 600)])
    call = FakeCall([first_message_played(600), *silence(5)], after="hangup")

    conv = converse(fake, call)

    assert conv.ended_by == "callee" and conv.error is None
    assert not call.hung_up  # nothing left for us to do
    assert call.sent_ms() == 600  # the greeting only: no apology
    assert fake.last.problems == []


def test_callee_audio_reaches_the_server_as_ulaw(fake: FakeRealtimeServer) -> None:
    fake.script = RealtimeScript(replies=[Reply("Hello.", 200)])
    frames = speech_frames(30)
    call = FakeCall([first_message_played(200), *frames,
                     lambda c: fake.last.appends >= 30], after="hangup")

    converse(fake, call)

    s = fake.last
    assert s.problems == []
    assert bytes(s.audio_in) == pcm16_to_ulaw(b"".join(frames))  # every frame, in order
    assert len(s.speech_started) == 1


# --- barge-in -------------------------------------------------------------------------------
def test_barge_in_clears_playback_and_truncates_at_what_was_heard(
        fake: FakeRealtimeServer) -> None:
    fake.script = RealtimeScript(
        replies=[Reply("Hi, this is Dana from Acme Dental, calling about", 1000),
                 Reply("Sure, bye for now.", 600, hang_up=True)],
        callee_transcripts=["Sorry, who?"])
    loud = speech_frames(12)
    call = FakeCall([first_message_played(1000), *silence(10), loud[0],
                     lambda c: len(c.clears) == 1, *loud[1:], *silence(12)])

    conv = converse(fake, call)

    s = fake.last
    assert s.problems == []
    # 10 quiet frames + the first loud one: the callee heard 220 ms of the greeting
    assert call.clears == [780]
    assert len(s.truncates) == 1
    truncate = s.truncates[0]
    assert truncate["item_id"] == s.replies_sent[0]
    assert truncate["content_index"] == 0
    assert truncate["audio_end_ms"] == 220
    assert conv.callee_spoke
    assert [(t.role, t.text) for t in conv.transcript] == [
        ("agent", "Hi, this is Dana from Acme Dental, calling about"),
        ("callee", "Sorry, who?"),
        ("agent", "Sure, bye for now.")]


def test_callee_talking_after_the_agent_finished_truncates_nothing(
        fake: FakeRealtimeServer) -> None:
    fake.script = RealtimeScript(replies=[Reply("Hi there.", 200),
                                          Reply("Great, goodbye.", 200, hang_up=True)])
    call = FakeCall([first_message_played(200), *silence(20), *speech_frames(10),
                     *silence(12)])

    conv = converse(fake, call)

    assert fake.last.truncates == []
    assert call.clears == []
    assert conv.ended_by == "agent"


# --- hang_up tool -------------------------------------------------------------------------
def test_hang_up_tool_ends_the_call_after_the_goodbye_has_played(
        fake: FakeRealtimeServer) -> None:
    fake.script = RealtimeScript(
        replies=[Reply("Hi, this is Dana.", 400),
                 Reply("No problem, goodbye!", 1200, hang_up=True)],
        callee_transcripts=["Not interested, thanks."])
    call = FakeCall([first_message_played(400), *silence(25), *speech_frames(15),
                     *silence(12)])

    conv = converse(fake, call)

    assert conv.ended_by == "agent" and conv.error is None
    assert call.hung_up
    assert call.sent_at_hangup == 1600
    assert call.played_at_hangup == 1600  # every ms of the goodbye was heard
    assert call.queued_at_hangup == 0
    assert [(t.role, t.text) for t in conv.transcript] == [
        ("agent", "Hi, this is Dana."), ("callee", "Not interested, thanks."),
        ("agent", "No problem, goodbye!")]
    ats = [t.at_ms for t in conv.transcript]
    assert ats == sorted(ats)
    assert conv.tokens == 400


def test_talking_over_the_goodbye_does_not_cut_it(fake: FakeRealtimeServer) -> None:
    fake.script = RealtimeScript(replies=[Reply("Hi, this is Dana.", 400),
                                          Reply("Okay, goodbye!", 1000, hang_up=True)])
    call = FakeCall([first_message_played(400), *silence(25), *speech_frames(15),
                     *silence(12), lambda c: c.sent_ms() >= 1400, *speech_frames(5)])

    conv = converse(fake, call)

    assert len(fake.last.speech_started) == 2
    assert call.clears == []
    assert conv.ended_by == "agent"
    assert call.played_at_hangup == 1400 and call.queued_at_hangup == 0


def test_an_unknown_tool_gets_an_error_output_and_the_call_goes_on(
        fake: FakeRealtimeServer) -> None:
    fake.script = RealtimeScript(
        replies=[Reply("Let me check.", 200, tool="book_meeting"),
                 Reply("I cannot book that, goodbye.", 200, hang_up=True)])
    call = FakeCall([first_message_played(400)])

    conv = converse(fake, call)

    s = fake.last
    outputs = [e for e in s.events if e["type"] == "conversation.item.create"]
    assert len(outputs) == 1 and outputs[0]["item"]["type"] == "function_call_output"
    assert "book_meeting" in outputs[0]["item"]["output"]
    assert s.types().count("response.create") == 2
    assert conv.ended_by == "agent"


# --- ends and failures -----------------------------------------------------------------------
def test_time_limit_hangs_up(fake: FakeRealtimeServer) -> None:
    fake.script = RealtimeScript(replies=[Reply("Hi.", 100)])
    call = FakeCall([first_message_played(100)])

    conv = converse(fake, call, max_s=0.3)

    assert conv.ended_by == "timeout" and conv.error is None
    assert call.hung_up


def test_server_error_event_plays_the_apology_then_hangs_up(
        fake: FakeRealtimeServer) -> None:
    fake.script = RealtimeScript(replies=[Reply("Hi, this is Dana.", 2000)],
                                 error_after_appends=5)
    call = FakeCall([first_message_played(2000), *silence(5), lambda c: bool(c.clears)])

    conv = converse(fake, call)

    assert conv.ended_by == "error"
    assert conv.error is not None and "scripted" in conv.error
    assert call.clears  # the greeting stops where it was...
    assert ends_with_apology(call)  # ...and the apology follows
    assert call.hung_up
    assert call.played_at_hangup is not None
    heard_of_greeting = call.played_at_hangup - len(APOLOGY) // 16
    assert heard_of_greeting == 100  # five frames, then the error
    assert call.sent_at_hangup == 2000 + len(APOLOGY) // 16
    assert call.queued_at_hangup == 0  # the whole apology was heard before the hang-up


def test_dropped_connection_plays_the_apology_then_hangs_up(
        fake: FakeRealtimeServer) -> None:
    fake.script = RealtimeScript(replies=[Reply("Hi, this is Dana.", 300)],
                                 close_after_appends=3)
    call = FakeCall([first_message_played(300)])

    conv = converse(fake, call)

    assert conv.ended_by == "error" and conv.error
    assert ends_with_apology(call) and call.hung_up
    assert call.queued_at_hangup == 0


def test_unreachable_server_plays_the_apology_then_hangs_up() -> None:
    with socket.socket() as sock:  # a port nobody listens on
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    call = FakeCall()
    agent = RealtimeAgent(PROFILE, api_key=API_KEY, base_url=f"http://127.0.0.1:{port}/v1")

    conv = agent.converse(call, max_s=30)

    assert conv.ended_by == "error"
    assert conv.error is not None and "cannot open" in conv.error
    assert conv.first_audio_ms is None
    assert call.sent_pcm() == APOLOGY
    assert call.hung_up and call.played_at_hangup == len(APOLOGY) // 16


def test_refused_handshake_plays_the_apology(fake: FakeRealtimeServer) -> None:
    fake.script = RealtimeScript(reject_status=401)
    call = FakeCall()

    conv = converse(fake, call)

    assert conv.ended_by == "error" and conv.error and "401" in conv.error
    assert call.sent_pcm() == APOLOGY and call.hung_up


def test_no_response_in_time_is_a_failure(fake: FakeRealtimeServer) -> None:
    fake.script = RealtimeScript(ignore_responses=True)
    call = FakeCall()

    conv = converse(fake, call, response_timeout_s=0.3)

    assert conv.ended_by == "error" and conv.error and "no response" in conv.error
    assert call.sent_pcm() == APOLOGY and call.hung_up


def test_failed_response_is_a_failure(fake: FakeRealtimeServer) -> None:
    fake.script = RealtimeScript(replies=[Reply("unused")], failed_response=True)
    call = FakeCall()

    conv = converse(fake, call)

    assert conv.ended_by == "error" and conv.error and "overloaded" in conv.error
    assert call.sent_pcm() == APOLOGY and call.hung_up


def test_callee_hanging_up_mid_apology_stops_there(fake: FakeRealtimeServer) -> None:
    fake.script = RealtimeScript(error_after_appends=2)
    # two frames, then (once the apology is queued) 200 ms more, then the callee is gone
    call = FakeCall([*silence(2), lambda c: c.sent_ms() > 0, *silence(10)], after="hangup")

    conv = converse(fake, call)

    assert conv.ended_by == "error"
    assert call.sent_pcm() == APOLOGY
    assert call.played_ms() == 200  # the callee hung up 200 ms into the apology...
    assert not call.hung_up  # ...so there was nobody left to hang up on


def test_missing_apology_file_falls_back_to_a_tone(tmp_path: Path,
                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(realtime, "APOLOGY_WAV", tmp_path / "missing.wav")
    assert apology_pcm() == fallback_tone()
    assert len(fallback_tone()) // 16 >= 500  # long enough to be noticed
    assert len(APOLOGY) // 16 >= 1000  # the shipped apology: a spoken sentence
