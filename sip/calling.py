"""One call from dial to outcome: answer, feed AMD, hang up on the verdict or a timer.

Runs on the caller's thread (never the engine's): it reads the handle's event and frame
queues, so the detector's work per frame never delays pjsua2.
"""

from __future__ import annotations

import logging
import queue
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from campaigns.types import AnswerStatus
from sip.types import CallEventKind, CallOutcome, DialRequest

log = logging.getLogger(__name__)

DEFAULT_AMD_CAP_S = 30.0
"""With a detector and no talk limit, hang up this long after the answer at the latest."""


class Detector(Protocol):
    """The streaming AMD detector as ``amd_model.api`` ships it."""

    def feed(self, frame: bytes) -> Sequence[Any]:
        """Feed one 20 ms frame; return the events it produced."""

    def finish(self) -> Sequence[Any]:
        """The call's audio ended; return any last events."""


class CallPlacer(Protocol):
    """What ``place_call`` needs from the engine."""

    def dial(self, request: DialRequest, *, want_frames: bool = True) -> Any:
        """Queue a call and return its handle."""


@dataclass(frozen=True, slots=True)
class AmdResult:
    """The detector's verdict on an answered call."""

    label: str
    confidence: float | None
    decision_ms: int | None
    beep_ms: int | None


@dataclass(frozen=True, slots=True)
class CallResult:
    """A finished attempt: the SIP outcome refined by AMD."""

    outcome: CallOutcome
    answer_status: AnswerStatus
    amd: AmdResult | None


class AmdTracker:
    """Remembers a detector's first verdict and first beep from the events it emits."""

    def __init__(self, detector: Detector) -> None:
        self.detector = detector
        self.verdict: Any = None
        self.beep_ms: int | None = None

    def take(self, events: Sequence[Any]) -> None:
        """Keep the first verdict and the first beep among ``events``."""
        for event in events:
            if event.kind == "verdict" and self.verdict is None:
                self.verdict = event
            elif event.kind == "beep" and self.beep_ms is None:
                self.beep_ms = event.beep_ms

    def result(self) -> AmdResult:
        """The verdict so far (``unknown`` without one)."""
        v = self.verdict
        if v is None:
            return AmdResult("unknown", None, None, self.beep_ms)
        return AmdResult(str(v.label), v.confidence, v.decision_ms, self.beep_ms)


def status_of_label(label: str) -> AnswerStatus:
    """The answer status of an AMD label (``unknown`` for anything not connected)."""
    try:
        status = AnswerStatus(label)
    except ValueError:
        return AnswerStatus.UNKNOWN
    return status if status.connected else AnswerStatus.UNKNOWN


def place_call(engine: CallPlacer, request: DialRequest, *,
               detector_factory: Callable[[], Detector] | None = None,
               talk_seconds: float | None = None,
               hangup_on_verdict: bool = True,
               on_frame: Callable[[bytes], None] | None = None) -> CallResult:
    """Dial, run AMD from the 200 OK, hang up on the verdict or after ``talk_seconds``.

    Without a detector and without ``talk_seconds`` the call is hung up 3 s after the
    answer. The detector is built when the call is answered (never on early media).
    """
    handle = engine.dial(request, want_frames=detector_factory is not None or
                         on_frame is not None)
    frames: queue.SimpleQueue[bytes | None] | None = handle.frames
    amd: AmdTracker | None = None
    answered_at: float | None = None
    hung_up = False
    if talk_seconds is None:
        talk_seconds = DEFAULT_AMD_CAP_S if detector_factory is not None else 3.0
    deadline = (time.monotonic() + request.ring_timeout_s + request.no_response_timeout_s
                + talk_seconds + 30.0)
    ended = False
    while not ended:
        try:
            # Frames are drained in batches every 50 ms: waking per 20 ms frame costs more
            # CPU than the AMD work itself.
            event = handle.events.get(timeout=0.05 if answered_at and frames else 0.1)
        except queue.Empty:
            event = None
        if event is not None:
            if event.kind is CallEventKind.ANSWERED and answered_at is None:
                answered_at = time.monotonic()
                if detector_factory is not None:
                    amd = AmdTracker(detector_factory())
            elif event.kind is CallEventKind.ENDED:
                ended = True
        if answered_at is not None and frames is not None:
            _drain(frames, amd, on_frame)
        now = time.monotonic()
        if hung_up:
            continue
        if answered_at is not None and (
                (amd is not None and amd.verdict is not None and hangup_on_verdict)
                or now - answered_at >= talk_seconds):
            handle.hangup()
            hung_up = True
        elif now > deadline:
            log.warning("call %s overran its deadline; hanging up", handle.id)
            handle.hangup()
            hung_up = True
    outcome: CallOutcome = handle.wait(10.0)
    if frames is not None and answered_at is not None:
        _drain(frames, amd, on_frame)
    if amd is not None and amd.verdict is None:
        amd.take(amd.detector.finish())
    answer = outcome.answer_status
    if outcome.answer_status.connected and amd is not None:
        answer = status_of_label(amd.result().label)
    return CallResult(outcome, answer, amd.result() if amd is not None else None)


def _drain(frames: queue.SimpleQueue[bytes | None], amd: AmdTracker | None,
           on_frame: Callable[[bytes], None] | None) -> None:
    while True:
        try:
            frame = frames.get_nowait()
        except queue.Empty:
            return
        if frame is None:
            return
        if on_frame is not None:
            on_frame(frame)
        if amd is not None and (amd.verdict is None or amd.beep_ms is None):
            amd.take(amd.detector.feed(frame))
