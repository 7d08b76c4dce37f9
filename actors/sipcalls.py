"""A number actor's real call: the campaign's request through ``sip/`` and back as the
``CallResult`` the campaign loop records.

The flow itself (AMD, agent, voicemail) is ``actors.callflow``; this module picks the
agent, the recording path and turns engine trouble into an outcome, so a call that
could not be placed is a recorded failure, never a lost one.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

from actors.callflow import FlowResult, FlowSettings, GreetingClassifier, run_call
from actors.campaign_loop import CallResult, DialRequest
from agent.base import AgentProfile, VoiceAgent
from agent.scripted import ScriptedAgent, voicemail_message
from campaigns import types as t
from campaigns.phones import mask
from sip.types import DialRequest as SipDialRequest
from sip.types import RegistrationFailed, SipError, TrunkConfig

if TYPE_CHECKING:
    from actors.runtime import RuntimeConfig

log = logging.getLogger(__name__)

DEFAULT_PROFILE = AgentProfile(name="scripted")


_REALTIME: dict[AgentProfile, VoiceAgent] = {}
_REALTIME_LOCK = threading.Lock()


def agent_for(request: DialRequest, config: RuntimeConfig) -> VoiceAgent:
    """The campaign's agent: OpenAI Realtime when a server is configured (one client per
    profile and process: building one costs 100-300 ms), else the scripted agent."""
    profile = request.agent or DEFAULT_PROFILE
    voice = config.voice
    if voice is None:
        return ScriptedAgent(profile)
    with _REALTIME_LOCK:
        agent = _REALTIME.get(profile)
        if agent is None:
            from agent.realtime import RealtimeAgent

            agent = RealtimeAgent(profile, api_key=voice.api_key or "", base_url=voice.base_url,
                                  model=profile.model or voice.model)
            _REALTIME[profile] = agent
        return agent


_TRANSCRIBERS: dict[str, Any] = {}
_warned_text_amd: list[bool] = []


def greeting_classifier(request: DialRequest, config: RuntimeConfig
                        ) -> GreetingClassifier | None:
    """Text AMD for campaigns in text mode: the greeting transcribed by the configured
    OpenAI-compatible server and classified by the keyword model (no second round trip
    while the callee waits). Without a server the ML detector decides (logged once)."""
    if request.amd_mode is not t.AmdMode.TEXT:
        return None
    server = config.judge or config.voice
    if server is None:
        if not _warned_text_amd:
            _warned_text_amd.append(True)
            log.warning("text AMD needs an OpenAI-compatible server to transcribe; "
                        "the ML detector decides")
        return None
    from agent.text_amd import classify_greeting
    from agent.transcribe import Transcriber, TranscriptionFailed

    with _REALTIME_LOCK:
        transcriber = _TRANSCRIBERS.get(server.base_url or "")
        if transcriber is None:
            transcriber = _TRANSCRIBERS[server.base_url or ""] = Transcriber(server)

    def classify(pcm: bytes) -> tuple[str, float]:
        try:
            text = transcriber.transcribe(pcm)
        except TranscriptionFailed as exc:
            log.warning("greeting not transcribed: %s", exc.reason)
            return "unknown", 0.0
        verdict = classify_greeting(text)
        return verdict.label.value, verdict.confidence

    return classify


def recording_path(config: RuntimeConfig, request: DialRequest) -> str | None:
    """``<recordings>/<campaign>/<call id>.wav`` (directories made on demand)."""
    if not config.recordings_dir:
        return None
    folder = Path(config.recordings_dir) / str(request.campaign_id)
    folder.mkdir(parents=True, exist_ok=True)
    return str(folder / f"{request.call_id}.wav")


class TrunkGate:
    """Registers a trunk with this process's engine and keeps an eye on it.

    A trunk with ``register=True`` is registered before its first call; a failed
    REGISTER (or a refresh that fails later: pjsua2 re-registers by itself) turns the
    calls into trunk failures (the circuit breaker counts them) and reports once per
    outage through ``on_failure`` (the number actor writes ``trunk.failing`` to the audit
    log, which Slack alerts on). A failed trunk is tried again after ``retry_s``.
    """

    def __init__(self, engine: Any, trunk: TrunkConfig, on_failure: Callable[[str], None],
                 *, retry_s: float = 30.0, clock: Callable[[], float] = time.monotonic
                 ) -> None:
        self.engine = engine
        self.trunk = trunk
        self.on_failure = on_failure
        self.retry_s = retry_s
        self.clock = clock
        self.lock = threading.Lock()
        self.registered = False
        self.failure: RegistrationFailed | None = None
        self.failed_at = 0.0

    def check(self) -> None:
        """Raise ``RegistrationFailed`` while the trunk will not take our calls."""
        if not self.trunk.register:
            return
        with self.lock:
            if self.registered:
                status = self.engine.registration_status(self.trunk)
                if status is not None and 200 <= status < 300:
                    return
                self.registered = False
                self._failed(RegistrationFailed(status or 408, "registration lapsed"))
            if self.failure is not None and self.clock() - self.failed_at < self.retry_s:
                raise self.failure
            try:
                self.engine.register(self.trunk)
            except RegistrationFailed as exc:
                self._failed(exc)
                raise
            self.registered = True
            self.failure = None

    def _failed(self, exc: RegistrationFailed) -> None:
        first = self.failure is None
        self.failure = exc
        self.failed_at = self.clock()
        if first:
            self.on_failure(f"REGISTER to {self.trunk.hostport} failed: {exc.status} "
                            f"{exc.reason}")


def place_sip_call(engine: Any, request: DialRequest, trunk: TrunkConfig,
                   config: RuntimeConfig, *, settings: FlowSettings | None = None,
                   gate: TrunkGate | None = None) -> CallResult:
    """Place ``request`` through ``engine`` and report it as a ``CallResult``."""
    from amd_model.api import load_beep_watch, load_detector, load_reply_watch

    started_wall = config.now()
    started = time.monotonic()
    try:
        if gate is not None:
            gate.check()
    except RegistrationFailed as exc:
        return CallResult(t.AnswerStatus.TRUNK_FAILURE, sip_status=exc.status,
                          sip_reason=f"trunk registration: {exc.reason}"[:200],
                          ended_at=config.now())
    try:
        sip_request = SipDialRequest(to=request.to, caller_id=request.caller_id,
                                     ring_timeout_s=float(request.ring_timeout_s), trunk=trunk,
                                     record_path=recording_path(config, request))
        flow = run_call(engine, sip_request, detector_factory=load_detector,
                        agent=agent_for(request, config),
                        machine_action=request.machine_action,
                        voicemail=lambda: voicemail_message(request.agent),
                        settings=settings or FlowSettings(
                            agent_max_s=config.agent_max_s,
                            reply_window_ms=config.reply_window_ms),
                        greeting_classifier=greeting_classifier(request, config),
                        late_beep=load_beep_watch, reply_watch=load_reply_watch)
    except (SipError, TimeoutError) as exc:
        # Not exc_info: the error's text may name the callee (logs mask numbers).
        log.warning("call could not be placed", extra={
            "call": request.call_id, "to": mask(request.to), "error": type(exc).__name__})
        return CallResult(t.AnswerStatus.FAILED, sip_reason=f"{type(exc).__name__}: {exc}"[:200],
                          ended_at=config.now())
    return to_result(flow, started_wall, time.monotonic() - started, config)


def to_result(flow: FlowResult, started_wall: Any, elapsed_s: float,
              config: RuntimeConfig) -> CallResult:
    """The flow's outcome in the terms of the call row."""
    outcome = flow.outcome
    answered_at = (started_wall + timedelta(seconds=flow.answered_after_s)
                   if flow.answered_after_s is not None else None)
    return CallResult(
        answer_status=flow.answer_status, sip_status=outcome.sip_status or None,
        sip_reason=outcome.sip_reason[:200] or None, answered_at=answered_at,
        ring_ms=outcome.ring_ms, talk_ms=outcome.talk_ms,
        hangup_by=outcome.hangup_by.value if outcome.hangup_by else None,
        conversation=flow.conversation, amd_label=flow.amd_label,
        amd_confidence=flow.amd_confidence, amd_decision_ms=flow.amd_decision_ms,
        beep_ms=flow.beep_ms, recording_path=outcome.recording_path,
        transcript=flow.transcript, greet_delay_ms=flow.greet_delay_ms,
        abandoned=flow.abandoned, voicemail_left=flow.voicemail_left,
        ended_at=max(config.now(), started_wall + timedelta(seconds=elapsed_s)),
        amd_correction=flow.amd_correction)
