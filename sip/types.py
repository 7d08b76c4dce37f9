"""Types that cross the boundary of ``sip/``: plain data, no pjsua2.

The rest of the dialer talks to the SIP engine only through these: a ``DialRequest``
in, ``CallEvent`` values out, and a final ``CallOutcome``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum
from typing import Literal

from campaigns.types import AnswerStatus

Transport = Literal["udp", "tcp"]

FRAME_BYTES = 320
"""One audio frame: 20 ms of 8 kHz 16-bit signed little-endian mono PCM."""
FRAME_MS = 20
CLOCK_RATE = 8000


class SipError(Exception):
    """Root of the errors raised by ``sip/``."""


class EngineClosed(SipError):
    """The engine was shut down (or failed to start); no more calls."""


class TooManyCalls(SipError):
    """More calls were queued than the engine accepts (4 live per process + a backlog)."""

    def __init__(self, limit: int) -> None:
        super().__init__(f"more than {limit} calls waiting in this process")
        self.limit = limit


class BadRequest(SipError):
    """A dial request or trunk setting the SIP stack refuses (bad URI, bad file)."""


class RegistrationFailed(SipError):
    """The trunk refused or never answered our REGISTER."""

    def __init__(self, status: int, reason: str) -> None:
        super().__init__(f"registration failed: {status} {reason}")
        self.status = status
        self.reason = reason


@dataclass(frozen=True, slots=True)
class TrunkConfig:
    """Where and how to send calls.

    ``register=False`` is IP authentication: no REGISTER, but a 401/407 on the INVITE is
    still answered with ``username``/``password`` when they are set.
    """

    host: str
    port: int = 5060
    transport: Transport = "udp"
    username: str | None = None
    password: str | None = field(default=None, repr=False)
    realm: str = "*"
    register: bool = False
    outbound_proxy: str | None = None
    pai: bool = False

    def __post_init__(self) -> None:
        if not self.host or any(c in self.host for c in " <>;@"):
            raise BadRequest(f"bad trunk host {self.host!r}")
        if not 0 < self.port < 65536:
            raise BadRequest(f"bad trunk port {self.port}")
        if self.transport not in ("udp", "tcp"):
            raise BadRequest(f"unsupported transport {self.transport!r} (udp or tcp)")
        if self.register and not self.username:
            raise BadRequest("registration needs a username")

    @property
    def hostport(self) -> str:
        """``host:port`` as it appears in a SIP URI."""
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"{host}:{self.port}"

    def uri(self, user: str | None = None) -> str:
        """A SIP URI on this trunk (with ``;transport=tcp`` when needed)."""
        userpart = f"{user}@" if user else ""
        params = ";transport=tcp" if self.transport == "tcp" else ""
        return f"sip:{userpart}{self.hostport}{params}"


@dataclass(frozen=True, slots=True)
class DialRequest:
    """One outbound call.

    ``play_wav`` is played to the callee once answered; ``record_path`` records both
    directions mixed into one 8 kHz WAV. ``rtp_timeout_s`` ends an answered call whose far
    end stopped sending audio (not while it holds the call).
    """

    to: str
    caller_id: str
    ring_timeout_s: float
    trunk: TrunkConfig
    extra_headers: tuple[tuple[str, str], ...] = ()
    play_wav: str | None = None
    record_path: str | None = None
    rtp_timeout_s: float = 10.0
    no_response_timeout_s: float = 5.0

    def __post_init__(self) -> None:
        for name, value in (("number", self.to), ("caller id", self.caller_id)):
            if not value or any(c in value for c in " <>;@:\r\n"):
                raise BadRequest(f"bad {name} {value!r}")
        if self.ring_timeout_s <= 0:
            raise BadRequest("ring timeout must be positive")
        for hname, hvalue in self.extra_headers:
            if not hname or any(c in hname + hvalue for c in "\r\n") or ":" in hname:
                raise BadRequest(f"bad header {hname!r}")


class CallEventKind(StrEnum):
    """What happened on a call, in the order it can happen."""

    TRYING = "trying"
    RINGING = "ringing"
    EARLY_MEDIA = "early_media"
    ANSWERED = "answered"
    HELD = "held"
    ENDED = "ended"


class HangupBy(StrEnum):
    """Who ended the call."""

    US = "us"
    THEM = "them"
    RING_TIMEOUT = "ring_timeout"
    RTP_TIMEOUT = "rtp_timeout"
    NETWORK = "network"


@dataclass(frozen=True, slots=True)
class CallOutcome:
    """The final result of one call attempt.

    ``answer_status`` is ``UNKNOWN`` for an answered call: the engine knows the far end
    picked up but not who; the AMD verdict refines it. ``reachable`` is False when not
    a single SIP message came back from the trunk (timeout, connection refused).
    """

    answer_status: AnswerStatus
    sip_status: int
    sip_reason: str
    ring_ms: int
    talk_ms: int
    hangup_by: HangupBy | None
    recording_path: str | None = None
    reachable: bool = True


@dataclass(frozen=True, slots=True)
class CallEvent:
    """One event on one call; ``outcome`` is set on ``ENDED`` only."""

    call_id: int
    kind: CallEventKind
    sip_status: int = 0
    at_ms: int = 0
    outcome: CallOutcome | None = field(default=None)
