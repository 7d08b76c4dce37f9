"""The call flow on a fake SIP call fed with the simulated trunk's real audio.

Time is audio time: the fake clock advances 20 ms per frame the flow reads, so a
10-second voicemail runs in milliseconds and every timing is exact.
"""

from __future__ import annotations

import queue
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from actors.callflow import FlowSettings, run_call
from agent.base import AgentProfile
from agent.scripted import ScriptedAgent, ScriptSettings
from agent.tts import wav_to_pcm8k
from amd_model.api import load_detector
from campaigns import types as t
from sip.types import (
    CallEvent,
    CallEventKind,
    CallOutcome,
    DialRequest,
    HangupBy,
    TrunkConfig,
)

AUDIO = Path(__file__).parents[3] / "sip" / "audio"
FRAME = 320


def pcm(name: str) -> bytes:
    return wav_to_pcm8k((AUDIO / name).read_bytes())


def silence(ms: int) -> bytes:
    return b"\0" * (ms * 16)


class FakeCall:
    """One call as the engine hands it out: events, callee frames, our audio queue."""

    def __init__(self, callee: bytes, *, answer: bool = True, final: int = 200,
                 callee_hangs_up_ms: int | None = None) -> None:
        self.id = 1
        self.callee = callee
        self.t_ms = 0
        self.events: queue.Queue[CallEvent] = queue.Queue()
        self.frames = self
        self.out: queue.SimpleQueue[bytes] = queue.SimpleQueue()
        self.sent_frames: list[int] = []  # audio time of each frame we sent
        self.outcome: CallOutcome | None = None
        self.callee_hangs_up_ms = callee_hangs_up_ms
        self.hung_up_by: str | None = None
        if answer:
            self.events.put(CallEvent(1, CallEventKind.ANSWERED, 200))
        else:
            self._end(final, HangupBy.THEM, answered=False)

    def clock(self) -> float:
        return self.t_ms / 1000

    # --- the engine side ---------------------------------------------------------------
    def get(self, timeout: float | None = None) -> bytes | None:  # the frame queue
        if self.outcome is not None:
            return None
        if self.callee_hangs_up_ms is not None and self.t_ms >= self.callee_hangs_up_ms:
            self._end(200, HangupBy.THEM)
            return None
        start = self.t_ms * 16
        self.t_ms += 20
        try:  # what we send plays out at the same pace
            self.out.get_nowait()
            self.sent_frames.append(self.t_ms)
        except queue.Empty:
            pass
        return self.callee[start:start + FRAME].ljust(FRAME, b"\0")

    def stream_audio(self) -> queue.SimpleQueue[bytes]:
        return self.out

    def hangup(self) -> None:
        if self.outcome is None:
            self._end(200, HangupBy.US)

    def wait(self, timeout: float | None = None) -> CallOutcome:
        assert self.outcome is not None
        return self.outcome

    def _end(self, status: int, by: HangupBy, *, answered: bool = True) -> None:
        self.hung_up_by = by.value
        answer = t.AnswerStatus.UNKNOWN if answered else {
            486: t.AnswerStatus.BUSY, 603: t.AnswerStatus.REJECTED}[status]
        self.outcome = CallOutcome(answer, status, "", 1000, self.t_ms if answered else 0, by)
        self.events.put(CallEvent(1, CallEventKind.ENDED, status, outcome=self.outcome))


class FakeEngine:
    def __init__(self, call: FakeCall) -> None:
        self.call = call
        self.requests: list[DialRequest] = []

    def dial(self, request: DialRequest, *, want_frames: bool = True) -> FakeCall:
        self.requests.append(request)
        return self.call


REQUEST = DialRequest(to="+12025550100", caller_id="+14155550100", ring_timeout_s=25,
                      trunk=TrunkConfig(host="127.0.0.1", port=5099))
PROFILE = AgentProfile("Ava", first_message="Hi, this is Ava from Acme. Is now a good time?")
VOICEMAIL = np.full(8000 * 2, 3000, dtype="<i2").tobytes()  # 2 s of "message"


def flow(call: FakeCall, action: t.MachineAction = t.MachineAction.HANG_UP, *,
         late_beep: bool = False, reply: bool = False,
         settings: FlowSettings | None = None) -> Any:
    """The call through ``run_call``, with the beep watch after a human verdict and the
    reply watch after a machine verdict when asked for."""
    from amd_model.api import load_beep_watch, load_reply_watch
    agent = ScriptedAgent(PROFILE, settings=ScriptSettings(reply_wait_s=2.0),
                          clock=call.clock)
    return run_call(FakeEngine(call), REQUEST, detector_factory=load_detector, agent=agent,
                    machine_action=action, voicemail=lambda: VOICEMAIL,
                    settings=settings or FlowSettings(),
                    late_beep=load_beep_watch if late_beep else None,
                    reply_watch=load_reply_watch if reply else None, clock=call.clock)


def watched_flow(call: FakeCall, action: t.MachineAction) -> Any:
    return flow(call, action, late_beep=True)


def replied_flow(call: FakeCall, action: t.MachineAction,
                 settings: FlowSettings | None = None) -> Any:
    return flow(call, action, late_beep=True, reply=True, settings=settings)


def test_a_human_is_greeted_by_the_agent_right_after_the_verdict() -> None:
    call = FakeCall(silence(300) + pcm("hello.wav") + silence(40_000))
    result = flow(call)
    assert result.answer_status is t.AnswerStatus.HUMAN
    assert result.amd_label == "human"
    assert result.amd_decision_ms is not None
    assert result.conversation
    assert result.transcript[0]["role"] == "agent"
    assert call.sent_frames, "the agent's greeting never reached the call"
    first_sent = call.sent_frames[0]
    assert first_sent <= result.amd_decision_ms + 100
    # greet delay = our first audio - end of "hello?" (its last loud sample)
    hello = np.frombuffer(pcm("hello.wav"), dtype="<i2")
    hello_end = 300 + int(np.nonzero(np.abs(hello) > 1000)[0][-1]) // 8
    assert result.greet_delay_ms is not None
    assert abs(result.greet_delay_ms - (first_sent - 20 - hello_end)) <= 200
    assert result.abandoned == (result.greet_delay_ms > 2000)
    assert call.hung_up_by == "us"


@pytest.mark.parametrize("reply", [False, True], ids=["", "with-reply-watch"])
def test_a_voicemail_gets_the_message_right_after_the_beep(reply: bool) -> None:
    greeting = pcm("greeting.wav")
    beep_at = 200 + len(greeting) // 16 + 300
    call = FakeCall(silence(200) + greeting + silence(300) + pcm("beep.wav") + silence(30_000))
    result = flow(call, t.MachineAction.LEAVE_VOICEMAIL, late_beep=reply, reply=reply)
    assert result.answer_status is t.AnswerStatus.MACHINE
    assert result.amd_correction is None
    assert result.beep_ms is not None
    assert abs(result.beep_ms - beep_at) <= 200
    assert result.voicemail_left
    assert call.sent_frames[0] >= beep_at + 500  # after the beep (0.5 s long) ended...
    assert call.sent_frames[0] <= beep_at + 800  # ...and right after it
    assert len(call.sent_frames) >= 100  # the whole 2 s message played
    assert not result.conversation
    assert not result.abandoned


def test_a_voicemail_is_hung_up_on_when_the_campaign_leaves_no_message() -> None:
    call = FakeCall(silence(200) + pcm("greeting.wav") + silence(30_000))
    result = flow(call, t.MachineAction.HANG_UP)
    assert result.answer_status is t.AnswerStatus.MACHINE
    assert not call.sent_frames
    assert not result.voicemail_left
    assert call.t_ms <= (result.amd_decision_ms or 0) + 400  # hung up at the verdict


def test_silence_is_hung_up_on() -> None:
    call = FakeCall(silence(60_000))
    result = flow(call)
    assert result.answer_status is t.AnswerStatus.SILENCE
    assert call.hung_up_by == "us"
    assert not call.sent_frames


@pytest.mark.parametrize(("code", "status"), [(486, t.AnswerStatus.BUSY),
                                              (603, t.AnswerStatus.REJECTED)])
def test_unanswered_calls_end_with_the_sip_outcome(code: int, status: t.AnswerStatus) -> None:
    result = flow(FakeCall(b"", answer=False, final=code))
    assert result.answer_status is status
    assert result.amd_label is None
    assert result.answered_after_s is None


def test_a_human_who_hangs_up_during_amd_is_kept_as_human_and_nothing_is_sent() -> None:
    call = FakeCall(silence(300) + pcm("hello.wav") + silence(10_000), callee_hangs_up_ms=900)
    result = flow(call)
    assert call.hung_up_by == "them"
    assert not call.sent_frames
    assert result.outcome.hangup_by is HangupBy.THEM
    assert not result.conversation


@pytest.mark.parametrize("reply", [False, True], ids=["", "with-reply-watch"])
def test_a_greeting_that_goes_quiet_without_a_beep_still_gets_the_message(reply: bool) -> None:
    greeting = pcm("greeting.wav")
    end = 200 + len(greeting) // 16
    call = FakeCall(silence(200) + greeting + silence(30_000))
    result = flow(call, t.MachineAction.LEAVE_VOICEMAIL, late_beep=reply, reply=reply)
    assert result.answer_status is t.AnswerStatus.MACHINE
    assert result.beep_ms is None
    assert result.voicemail_left
    assert end + 1500 <= call.sent_frames[0] <= end + 3200


# --- text-based AMD ----------------------------------------------------------------------

class Transcripts:
    """A stand-in speech-to-text + text AMD: long audio reads as a voicemail greeting."""

    def __init__(self) -> None:
        self.heard_ms: list[int] = []

    def __call__(self, pcm: bytes) -> tuple[str, float]:
        self.heard_ms.append(len(pcm) // 16)
        return ("machine", 0.9) if len(pcm) // 16 > 2500 else ("human", 0.8)


def text_flow(call: FakeCall, classifier: Any) -> Any:
    agent = ScriptedAgent(PROFILE, settings=ScriptSettings(reply_wait_s=2.0),
                          clock=call.clock)
    return run_call(FakeEngine(call), REQUEST, detector_factory=load_detector, agent=agent,
                    machine_action=t.MachineAction.HANG_UP, voicemail=lambda: VOICEMAIL,
                    settings=FlowSettings(), greeting_classifier=classifier,
                    clock=call.clock)


def test_text_amd_decides_on_the_first_words_after_a_pause() -> None:
    hello = pcm("hello.wav")
    transcripts = Transcripts()
    call = FakeCall(silence(300) + hello + silence(40_000))
    result = text_flow(call, transcripts)
    assert result.answer_status is t.AnswerStatus.HUMAN
    assert (result.amd_label, result.amd_confidence) == ("human", 0.8)
    [heard] = transcripts.heard_ms
    assert 300 + len(hello) // 16 <= heard <= 300 + len(hello) // 16 + 900  # + the pause
    assert result.amd_decision_ms == heard
    assert call.sent_frames  # the agent greeted them


def test_text_amd_calls_a_long_greeting_a_machine() -> None:
    call = FakeCall(silence(200) + pcm("greeting.wav") + silence(30_000))
    result = text_flow(call, Transcripts())
    assert result.answer_status is t.AnswerStatus.MACHINE
    assert result.amd_confidence == 0.9
    assert not call.sent_frames


def test_when_the_text_says_nothing_the_ml_verdict_stands() -> None:
    call = FakeCall(silence(300) + pcm("hello.wav") + silence(40_000))
    result = text_flow(call, lambda pcm: ("unknown", 0.0))
    assert result.answer_status is t.AnswerStatus.HUMAN
    assert result.amd_label == "human"
    assert result.amd_confidence != 0.0  # the ML detector's confidence


def test_text_amd_never_transcribes_silence() -> None:
    asked: list[bytes] = []
    call = FakeCall(silence(60_000))
    result = text_flow(call, lambda pcm: asked.append(pcm) or ("human", 1.0))
    assert result.answer_status is t.AnswerStatus.SILENCE
    assert asked == []


# --- a beep after a human verdict --------------------------------------------------------


def _short_greeting_then_beep() -> tuple[bytes, int]:
    """ "Hello" (a greeting so short it is called human), 1.2 s, then the beep."""
    beep_at = 300 + len(pcm("hello.wav")) // 16 + 1200
    return (silence(300) + pcm("hello.wav") + silence(1200) + pcm("beep.wav")
            + silence(30_000)), beep_at


def test_a_beep_after_a_human_verdict_stops_the_agent_and_leaves_the_message() -> None:
    callee, beep_at = _short_greeting_then_beep()
    call = FakeCall(callee)
    result = watched_flow(call, t.MachineAction.LEAVE_VOICEMAIL)
    assert result.answer_status is t.AnswerStatus.MACHINE
    assert result.amd_label == "machine" and result.amd_decision_ms == result.beep_ms
    assert result.amd_correction == "late_beep"
    assert result.beep_ms is not None and abs(result.beep_ms - beep_at) <= 100
    assert call.sent_frames[0] < beep_at  # the agent had begun to greet "them"...
    heard = beep_at + 150  # the beep is known 80-100 ms after its onset: the agent stops
    assert [f for f in call.sent_frames if beep_at < f < beep_at + 500] == [
        f for f in call.sent_frames if beep_at < f <= heard]
    message = [f for f in call.sent_frames if f > heard]
    assert message and message[0] >= beep_at + 500  # the message waited for the beep's end
    assert len(message) >= 100  # and all of it (2 s) played
    assert result.voicemail_left
    assert not result.conversation and not result.abandoned
    assert result.greet_delay_ms is None and result.transcript == ()


def test_a_late_beep_is_hung_up_on_when_the_campaign_leaves_no_message() -> None:
    callee, beep_at = _short_greeting_then_beep()
    call = FakeCall(callee)
    result = watched_flow(call, t.MachineAction.HANG_UP)
    assert result.answer_status is t.AnswerStatus.MACHINE
    assert not result.voicemail_left
    assert call.hung_up_by == "us" and call.t_ms <= beep_at + 400


def test_without_the_watch_the_same_call_stays_a_human_talked_to() -> None:
    callee, _ = _short_greeting_then_beep()
    result = flow(FakeCall(callee), t.MachineAction.LEAVE_VOICEMAIL)
    assert result.answer_status is t.AnswerStatus.HUMAN  # what the watch is there to fix


@pytest.mark.parametrize("callee", [
    silence(300) + pcm("hello.wav") + silence(40_000),
    silence(300) + pcm("hello.wav") + silence(2500) + pcm("hello.wav") + silence(40_000),
])
def test_a_person_is_not_taken_for_a_late_beep(callee: bytes) -> None:
    result = watched_flow(FakeCall(callee), t.MachineAction.LEAVE_VOICEMAIL)
    assert result.answer_status is t.AnswerStatus.HUMAN
    assert result.beep_ms is None and result.conversation and not result.voicemail_left


# --- a person's reply after a machine verdict ---------------------------------------------


def _long_answer_then_hello() -> tuple[bytes, int]:
    """A receptionist's 5 s answer (the detector calls it a machine), 1.5 s of waiting,
    then "Hello?". Returns the audio and when the "Hello?" ends (ms since the answer)."""
    hello = pcm("hello.wav")
    loud = np.nonzero(np.abs(np.frombuffer(hello, dtype="<i2")) > 1000)[0]
    start = 300 + len(pcm("long_hello.wav")) // 16 + 1500
    return (silence(300) + pcm("long_hello.wav") + silence(1500) + hello
            + silence(40_000)), start + int(loud[-1]) // 8


def test_the_long_answer_is_a_machine_to_the_detector_alone() -> None:
    callee, _ = _long_answer_then_hello()
    result = flow(FakeCall(callee), t.MachineAction.LEAVE_VOICEMAIL)
    assert result.answer_status is t.AnswerStatus.MACHINE  # what the reply watch fixes
    assert result.voicemail_left


@pytest.mark.parametrize("action", [t.MachineAction.LEAVE_VOICEMAIL, t.MachineAction.HANG_UP])
def test_a_person_who_says_hello_again_after_a_machine_verdict_gets_the_agent(
        action: t.MachineAction) -> None:
    callee, hello_end = _long_answer_then_hello()
    call = FakeCall(callee)
    result = replied_flow(call, action)
    assert result.answer_status is t.AnswerStatus.HUMAN
    assert result.amd_label == "human" and result.amd_confidence == 0.8
    assert result.amd_correction == "reply"
    assert result.amd_decision_ms is not None
    assert hello_end < result.amd_decision_ms <= hello_end + 900  # their pause, then us
    assert not result.voicemail_left and result.beep_ms is None
    assert result.conversation and result.transcript[0]["role"] == "agent"
    assert call.sent_frames and call.sent_frames[0] >= result.amd_decision_ms
    assert call.sent_frames[0] <= hello_end + 1500  # "Hello?" is answered at once
    # They waited for us after their first words: the call counts as abandoned.
    assert result.greet_delay_ms is not None and result.greet_delay_ms > 2000
    assert result.abandoned


def test_a_hang_up_campaign_hangs_up_at_the_beep_while_waiting_for_a_reply() -> None:
    greeting = pcm("greeting.wav")
    beep_at = 200 + len(greeting) // 16 + 300
    call = FakeCall(silence(200) + greeting + silence(300) + pcm("beep.wav") + silence(30_000))
    result = replied_flow(call, t.MachineAction.HANG_UP)
    assert result.answer_status is t.AnswerStatus.MACHINE
    assert not call.sent_frames and not result.voicemail_left
    assert call.hung_up_by == "us" and beep_at < call.t_ms <= beep_at + 400


def test_a_hang_up_campaign_holds_a_quiet_machine_for_the_reply_window_only() -> None:
    call = FakeCall(silence(200) + pcm("greeting.wav") + silence(30_000))
    result = replied_flow(call, t.MachineAction.HANG_UP, FlowSettings(reply_window_ms=3000))
    assert result.answer_status is t.AnswerStatus.MACHINE
    assert not call.sent_frames
    decided = result.amd_decision_ms or 0
    assert decided + 3000 <= call.t_ms <= decided + 3400


def test_a_zero_reply_window_hangs_up_at_the_verdict_as_before() -> None:
    callee, _ = _long_answer_then_hello()
    call = FakeCall(callee)
    result = replied_flow(call, t.MachineAction.HANG_UP, FlowSettings(reply_window_ms=0))
    assert result.answer_status is t.AnswerStatus.MACHINE
    assert call.t_ms <= (result.amd_decision_ms or 0) + 400
