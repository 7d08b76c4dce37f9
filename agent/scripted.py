"""The scripted agent: the offline voice agent (no OpenAI needed).

It says the agent's first message at once, listens for the callee's reply (and stops
talking when the callee talks over it), says a short closing line and hangs up. Speech
is espeak-ng (``agent.tts``); what the callee said is not transcribed offline, so their
turns are stored as timed speech markers. The call recording (made by ``sip/``) keeps
both sides.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

from agent.base import AgentProfile, CallAudio, Conversation, EndedBy, Turn
from agent.tts import duration_ms, say
from agent.vad import EnergyVad

CLOSING = "Thank you for your time. Goodbye."


@dataclass(frozen=True, slots=True)
class ScriptSettings:
    """Turn-taking of the scripted agent."""

    reply_wait_s: float = 6.0
    """How long to wait for a reply after the first message has played."""
    reply_end_ms: int = 800
    """Silence after the callee's speech that ends their turn."""
    max_reply_s: float = 20.0
    """A callee who talks on is let finish up to this long."""


class ScriptedAgent:
    """``VoiceAgent`` that plays prompts and listens (offline, deterministic)."""

    def __init__(self, profile: AgentProfile, *, settings: ScriptSettings | None = None,
                 speak: Callable[[str, str], bytes] = say,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.profile = profile
        self.settings = settings or ScriptSettings()
        self._speak = speak
        self._clock = clock

    def converse(self, audio: CallAudio, *, max_s: float) -> Conversation:
        """Greet, listen for one reply, close and hang up (see the module docstring)."""
        started = self._clock()

        def at_ms() -> int:
            return int((self._clock() - started) * 1000)

        turns: list[Turn] = []
        greeting = self._speak(self.profile.first_message, "greeting")
        audio.send(greeting)
        first_audio_ms = at_ms()
        turns.append(Turn("agent", self.profile.first_message, first_audio_ms))
        vad = EnergyVad(hangover_ms=self.settings.reply_end_ms)
        callee_spoke = False
        reply_started: int | None = None
        listen_until = (started + duration_ms(greeting) / 1000 + self.settings.reply_wait_s)
        deadline = started + max_s
        ended_by: EndedBy = "agent"
        while True:
            frame = audio.read(0.1)
            if frame is None:
                ended_by = "callee"
                break
            now = self._clock()
            if frame:
                was_speaking = vad.speaking
                speaking = vad.feed(frame)
                if speaking and not was_speaking:
                    callee_spoke = True
                    reply_started = at_ms()
                    if audio.queued_ms() > 0:
                        audio.clear()  # barge-in: stop talking when they talk
                if was_speaking and not speaking and reply_started is not None:
                    turns.append(Turn("callee", f"(speech, {vad.speech_ms / 1000:.1f} s; "
                                      "not transcribed offline)", reply_started))
                    break
                if speaking and reply_started is not None and (
                        at_ms() - reply_started > self.settings.max_reply_s * 1000):
                    break
            if now >= deadline:
                ended_by = "timeout"
                break
            if not vad.speaking and now >= listen_until and audio.queued_ms() == 0:
                break
        if ended_by != "callee" and not audio.ended:
            closing = self._speak(CLOSING, "goodbye")
            audio.send(closing)
            turns.append(Turn("agent", CLOSING, at_ms()))
            self._drain(audio, deadline + 5.0)
            audio.hangup()
        return Conversation(transcript=tuple(turns), first_audio_ms=first_audio_ms,
                            callee_spoke=callee_spoke, ended_by=ended_by)

    def _drain(self, audio: CallAudio, until: float) -> None:
        """Wait (reading the callee's frames) until our audio has played out."""
        while audio.queued_ms() > 0 and self._clock() < until:
            if audio.read(0.05) is None:
                return
        if not audio.ended:
            audio.read(0.2)  # the last frames leave the jitter buffer


def voicemail_message(profile: AgentProfile | None) -> bytes:
    """The PCM of the voicemail to drop after the beep (the agent's text, or generic)."""
    text = profile.voicemail_message if profile is not None else ""
    return say(text, "voicemail") if text.strip() else say(
        "Hello, this is an automated message. We will try to reach you again later. "
        "Goodbye.", "voicemail")
