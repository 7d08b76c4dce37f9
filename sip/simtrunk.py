"""A simulated SIP trunk: a UAS that answers by the dialled number's scenario.

Scenarios are plain data (``SCENARIOS``: steps with timings); ``scenario_for`` picks one
from the dialled number (a mapping of exact numbers or suffixes, longest match first,
then the default by last digit). Each finished call appends one ground-truth line
(JSON) so the demo and tests can score AMD and outcomes.

The trunk runs its own ``SipEngine`` (one Endpoint per process, so the trunk is its own
process) and drives each call from a small thread; pjsua2 caps a process at 4 live calls,
so a 5th concurrent call gets 486 from the stack.
"""

from __future__ import annotations

import json
import logging
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final, TextIO

from sip.types import CallOutcome

if TYPE_CHECKING:
    from sip.engine import CallHandle

log = logging.getLogger(__name__)

AUDIO_DIR: Final = Path(__file__).parent / "audio"


@dataclass(frozen=True, slots=True)
class Step:
    """One action: ``ring`` (180), ``early`` (183 + audio), ``answer``, ``play`` a WAV
    (``loop`` to repeat), ``wait`` seconds, ``reject`` with a code, ``hangup``."""

    action: str
    arg: str = ""
    seconds: float = 0.0
    code: int = 0
    loop: bool = False


@dataclass(frozen=True, slots=True)
class Scenario:
    """What the simulated callee does, and the truth a classifier should find."""

    name: str
    truth: str
    steps: tuple[Step, ...]


def _s(name: str, truth: str, *steps: Step) -> Scenario:
    return Scenario(name, truth, steps)


RING = Step("ring")
ANSWER = Step("answer")


def _wait(seconds: float) -> Step:
    return Step("wait", seconds=seconds)


def _play(wav: str, loop: bool = False) -> Step:
    return Step("play", arg=wav, loop=loop)


SCENARIOS: Final[Mapping[str, Scenario]] = {s.name: s for s in (
    _s("human", "human", RING, _wait(1.0), ANSWER, _wait(0.3), _play("hello.wav"),
       _wait(30.0)),
    _s("human_twice", "human", RING, _wait(1.0), ANSWER, _wait(0.3), _play("hello.wav"),
       _wait(2.5), _play("hello.wav"), _wait(30.0)),
    _s("voicemail", "machine", RING, _wait(2.0), ANSWER, _wait(0.2), _play("greeting.wav"),
       _wait(7.3), _play("beep.wav"), _wait(30.0)),
    _s("busy", "busy", _wait(0.2), Step("reject", code=486)),
    _s("decline", "rejected", RING, _wait(1.5), Step("reject", code=603)),
    _s("no_answer", "no_answer", RING, _wait(65.0), Step("reject", code=480)),
    _s("silence", "silence", RING, _wait(1.0), ANSWER, _wait(30.0)),
    _s("fax", "fax", RING, _wait(0.5), ANSWER, _play("cng.wav", loop=True), _wait(30.0)),
    _s("early_media", "human", Step("early"), _play("please_hold.wav"), _wait(2.5), ANSWER,
       _wait(0.3), _play("hello.wav"), _wait(30.0)),
    _s("hangup_greeting", "machine", RING, _wait(1.0), ANSWER, _wait(0.2),
       _play("greeting.wav"), _wait(1.5), Step("hangup")),
    # "Hello", then the beep 1.2 s after the word ends: after the human verdict (800 ms
    # of silence), so the call flow's late-beep watch is what finds the machine.
    _s("short_greeting", "machine", RING, _wait(1.0), ANSWER, _wait(0.3), _play("hello.wav"),
       _wait(2.0), _play("beep.wav"), _wait(30.0)),
    _s("long_answer", "human", RING, _wait(1.0), ANSWER, _wait(0.3), _play("long_hello.wav"),
       _wait(6.6), _play("hello.wav"), _wait(30.0)),
    _s("invalid", "invalid_number", _wait(0.1), Step("reject", code=404)),
)}

DEFAULT_BY_LAST_DIGIT: Final[Mapping[str, str]] = {
    "0": "human", "1": "voicemail", "2": "busy", "3": "decline", "4": "no_answer",
    "5": "silence", "6": "fax", "7": "early_media", "8": "hangup_greeting",
    "9": "human_twice",
}
"""The scenario of a number by its last digit when no mapping entry matches."""


def load_scenarios(path: str | None) -> dict[str, str]:
    """Read a ``{"number or suffix": "scenario"}`` JSON file (``None``: empty mapping)."""
    if path is None:
        return {}
    data = json.loads(Path(path).read_text(encoding="utf-8"))
    if not isinstance(data, dict):
        raise ValueError("must be a JSON object of number (or suffix) to scenario name")
    for key, name in data.items():
        if name not in SCENARIOS:
            raise ValueError(f"{key}: unknown scenario {name!r} "
                             f"(one of {', '.join(sorted(SCENARIOS))})")
    return {str(k).lstrip("+"): str(v) for k, v in data.items()}


def scenario_for(number: str, mapping: Mapping[str, str]) -> Scenario:
    """The scenario for a dialled user part: exact, longest suffix, else last digit."""
    digits = number.lstrip("+")
    for size in range(len(digits), 0, -1):
        name = mapping.get(digits[-size:])
        if name is not None:
            return SCENARIOS[name]
    last = digits[-1:] if digits[-1:].isdigit() else "0"
    return SCENARIOS[DEFAULT_BY_LAST_DIGIT[last]]


def truth_record(number: str, scenario: Scenario, outcome: CallOutcome,
                 started: float) -> dict[str, Any]:
    """The ground-truth line for one finished call."""
    return {
        "ts": round(started, 3), "number": number, "scenario": scenario.name,
        "truth": scenario.truth, "answered": outcome.talk_ms > 0 or outcome.sip_status == 200,
        "sip_status": outcome.sip_status, "talk_ms": outcome.talk_ms,
        "ended_by": _ENDED_BY.get(outcome.hangup_by.value if outcome.hangup_by else "",
                                  "network"),
    }


# The trunk's engine sees itself as "us": the simulated callee.
_ENDED_BY: Final[Mapping[str, str]] = {"us": "callee", "them": "caller"}


class SimTrunk:
    """The simulated trunk on ``bind:port`` (UDP and TCP)."""

    def __init__(self, *, port: int, bind: str = "127.0.0.1",
                 scenarios: Mapping[str, str] | None = None,
                 truth: TextIO | None = None, reject_all: int | None = None) -> None:
        self.mapping = dict(scenarios or {})
        # A failing trunk (``--reject 503``): every INVITE gets this final response.
        self.failing = None if reject_all is None else Scenario(
            f"reject_{reject_all}", "trunk_failure", (Step("reject", code=reject_all),))
        self._truth = truth
        self._lock = threading.Lock()
        self._threads: list[threading.Thread] = []
        self.finished = 0
        from sip.engine import EngineConfig, SipEngine  # pjsua2 only when a trunk runs

        # A caller that dies mid-call sends no BYE: 5 s without its RTP frees the slot.
        self.engine = SipEngine(EngineConfig(bind_address=bind, sip_port=port,
                                             accept_incoming=True, user_agent="sim-trunk",
                                             incoming_rtp_timeout_s=5.0))

    def serve(self, max_calls: int | None = None) -> None:
        """Answer calls until interrupted (or ``max_calls`` have ended)."""
        while max_calls is None or self.finished < max_calls:
            self._threads = [t for t in self._threads if t.is_alive()]
            try:
                handle = self.engine.incoming.get(timeout=0.2)
            except Exception:  # queue.Empty: poll the stop condition again
                continue
            thread = threading.Thread(target=self._run, args=(handle,), daemon=True,
                                      name=f"sim-call-{handle.id}")
            self._threads.append(thread)
            thread.start()
        for thread in self._threads:
            thread.join(timeout=5)

    def close(self) -> None:
        """Hang up what is still up and stop the engine."""
        self.engine.shutdown()

    def _run(self, handle: CallHandle) -> None:
        number = handle.remote_user
        scenario = self.failing or scenario_for(number, self.mapping)
        started = time.time()
        log.info("call to %s: scenario %s", number[-4:], scenario.name)
        try:
            run_steps(handle, scenario)
            outcome = handle.wait(150.0)
        except Exception:
            log.exception("scenario %s failed", scenario.name)
            handle.hangup()
            return
        record = truth_record(number, scenario, outcome, started)
        with self._lock:
            self.finished += 1
            if self._truth is not None:
                self._truth.write(json.dumps(record) + "\n")
                self._truth.flush()


def run_steps(handle: CallHandle, scenario: Scenario) -> None:
    """Drive one incoming call through ``scenario``; stop early when the caller hangs up."""
    for step in scenario.steps:
        if handle.outcome is not None:
            return
        if step.action == "ring":
            handle.ring(180)
        elif step.action == "early":
            handle.ring(183)
        elif step.action == "answer":
            handle.answer()
        elif step.action == "play":
            handle.play(str(AUDIO_DIR / step.arg), loop=step.loop)
        elif step.action == "wait":
            try:
                handle.wait(step.seconds)
                return
            except TimeoutError:
                continue
        elif step.action == "reject":
            handle.reject(step.code)
        elif step.action == "hangup":
            handle.hangup()
        else:
            raise ValueError(f"unknown step {step.action!r}")
    if handle.outcome is None:
        handle.hangup()
