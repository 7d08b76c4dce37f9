"""What a voice agent sees of a live call, and what it reports when the call is over.

The call itself lives in ``sip/``; an agent only gets a ``CallAudio``: 20 ms frames of
8 kHz 16-bit mono PCM from the callee, a way to send audio back, to stop what is still
queued (barge-in) and to hang up. ``sip.live.LiveAudio`` adapts an engine call handle to
it; tests use in-memory fakes. Agents never import ``sip/`` or pjsua2.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal, Protocol

FRAME_BYTES = 320
"""One frame: 20 ms of 8 kHz 16-bit little-endian mono PCM."""
FRAME_MS = 20

EndedBy = Literal["agent", "callee", "timeout", "error"]
DEFAULT_FIRST_MESSAGE = "Hello, this is an automated call. Do you have a moment?"


class CallAudio(Protocol):
    """The audio of one answered call, from the agent's side."""

    def read(self, timeout_s: float) -> bytes | None:
        """The callee's next 320-byte frame; ``b""`` when none came within ``timeout_s``;
        ``None`` once the call has ended."""
        ...

    def send(self, pcm: bytes) -> None:
        """Queue PCM (any whole number of samples) to play to the callee, in order."""
        ...

    def clear(self) -> int:
        """Drop the audio queued but not yet played; return the ms dropped."""
        ...

    def played_ms(self) -> int:
        """Ms of our audio the callee has been sent so far (for truncating on barge-in)."""
        ...

    def queued_ms(self) -> int:
        """Ms of our audio still waiting to be played."""
        ...

    def hangup(self) -> None:
        """End the call."""
        ...

    @property
    def ended(self) -> bool:
        """True once the call is over (either side)."""
        ...


@dataclass(frozen=True, slots=True)
class AgentProfile:
    """An agent as data: what it says and how (stored by ``storage``, set per campaign)."""

    name: str
    instructions: str = ""
    voice: str = "alloy"
    first_message: str = DEFAULT_FIRST_MESSAGE
    model: str = "gpt-realtime"
    voicemail_message: str = ""


@dataclass(frozen=True, slots=True)
class Turn:
    """One line of a transcript: who spoke, what, and when (ms since the agent started)."""

    role: Literal["agent", "callee"]
    text: str
    at_ms: int

    def as_dict(self) -> dict[str, object]:
        """The JSON shape stored on the call row."""
        return {"role": self.role, "text": self.text, "at_ms": self.at_ms}


@dataclass(frozen=True, slots=True)
class Conversation:
    """What an agent reports when its call is over."""

    transcript: tuple[Turn, ...] = ()
    first_audio_ms: int | None = None
    """Ms from the agent's start to its first audio queued to the callee (None: never)."""
    callee_spoke: bool = False
    ended_by: EndedBy = "callee"
    error: str | None = None
    tokens: int = 0
    cost_usd: float = 0.0
    recording: str | None = field(default=None)


class VoiceAgent(Protocol):
    """Talks to a human on an answered call until either side ends it."""

    def converse(self, audio: CallAudio, *, max_s: float) -> Conversation:
        """Run the conversation (blocking) and report it; never raises for call trouble."""
        ...
