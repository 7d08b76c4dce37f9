"""SIP commands: ``dialer call`` (one real call) and ``dialer sim-trunk``.

pjsua2 is imported only inside the commands (through ``sip.engine``), so the rest of the
CLI starts fast.
"""

from __future__ import annotations

import logging
import re
import signal
import sys
import time
from pathlib import Path
from types import FrameType
from typing import Any

import click

from dialer.cli import EXIT_UNAVAILABLE, BadInput, cli, emit, json_option

log = logging.getLogger(__name__)

_TRUNK_RE = re.compile(
    r"^sips?:(?:(?P<user>[^@;]+)@)?(?P<host>\[[0-9a-fA-F:.]+\]|[A-Za-z0-9.\-]+)"
    r"(?::(?P<port>\d{1,5}))?(?P<params>(?:;[A-Za-z0-9_\-]+=[A-Za-z0-9_\-]+)*)$")
_NUMBER_RE = re.compile(r"^\+?[0-9*#]{1,32}$")
_LOOPBACK = ("127.", "localhost", "[::1]")


def parse_trunk_uri(uri: str) -> tuple[str, int, str]:
    """``sip:HOST[:PORT][;transport=tcp]`` → (host, port, transport)."""
    match = _TRUNK_RE.match(uri.strip())
    if match is None or uri.startswith("sips:"):
        raise BadInput(f"--trunk {uri!r} is not like sip:HOST:PORT")
    host = match.group("host").strip("[]")
    port = int(match.group("port") or 5060)
    if not 0 < port < 65536:
        raise BadInput(f"--trunk port {port} is out of range")
    params = dict(p.split("=", 1) for p in match.group("params").split(";") if p)
    transport = params.get("transport", "udp").lower()
    if transport not in ("udp", "tcp"):
        raise BadInput(f"--trunk transport {transport!r} is not udp or tcp")
    return host, port, transport


def _bind_for(host: str, bind: str | None) -> str | None:
    if bind:
        return bind
    return "127.0.0.1" if host.startswith(_LOOPBACK) or host == "::1" else None


def _terminate_gracefully() -> None:
    """SIGTERM raises KeyboardInterrupt so the engine hangs up (BYE) before exit."""

    def handler(signum: int, frame: FrameType | None) -> None:
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, handler)


def _detector_factory() -> Any:
    try:
        from amd_model.api import load_detector
    except (ImportError, AttributeError):
        return None
    try:
        load_detector()  # load the model now, not at the 200 OK
    except Exception as exc:  # a broken model must not lose the call
        log.warning("AMD unavailable: %s", exc)
        return None
    return load_detector


@cli.command("call")
@click.argument("number")
@click.option("--trunk", "trunk_uri", required=True, help="sip:HOST:PORT[;transport=tcp]")
@click.option("--from", "caller_id", default="dialer", show_default=True,
              help="Caller ID (E.164) put in From.")
@click.option("--trunk-user", help="Digest user name for 401/407 challenges.")
@click.option("--trunk-password", help="Digest password.")
@click.option("--trunk-realm", default="*", show_default=True, help="Digest realm.")
@click.option("--register", is_flag=True, help="REGISTER with the trunk before calling.")
@click.option("--outbound-proxy", help="Send every request through this SIP URI.")
@click.option("--pai", is_flag=True, help="Add P-Asserted-Identity with the caller ID.")
@click.option("--header", "headers", multiple=True, help="Extra header 'Name: value'.")
@click.option("--ring-timeout", type=click.FloatRange(min=0.5, max=300), default=30.0,
              show_default=True, help="Seconds of ringing before we CANCEL.")
@click.option("--talk-seconds", type=click.FloatRange(min=0.1, max=3600),
              help="Hang up this long after the answer (default: at the AMD verdict).")
@click.option("--record", "record_dir", type=click.Path(file_okay=False, path_type=Path),
              help="Record both directions to a WAV in this directory.")
@click.option("--play", "play_wav", type=click.Path(dir_okay=False, exists=True),
              help="Play this 8 kHz WAV to the callee once answered.")
@click.option("--rtp-timeout", type=click.FloatRange(min=0), default=10.0, show_default=True,
              help="End an answered call after this long without RTP (0: never).")
@click.option("--no-response-timeout", type=click.FloatRange(min=0.5, max=32), default=5.0,
              show_default=True, help="Trunk unreachable when nothing answers this long.")
@click.option("--bind", help="Local IP for SIP and RTP (default: 127.0.0.1 for a "
              "loopback trunk, else the default interface).")
@click.option("--amd/--no-amd", "use_amd", default=True, show_default=True,
              help="Run answering-machine detection from the 200 OK.")
@json_option
def call_cmd(number: str, trunk_uri: str, caller_id: str, trunk_user: str | None,
             trunk_password: str | None, trunk_realm: str, register: bool,
             outbound_proxy: str | None, pai: bool, headers: tuple[str, ...],
             ring_timeout: float, talk_seconds: float | None, record_dir: Path | None,
             play_wav: str | None, rtp_timeout: float, no_response_timeout: float,
             bind: str | None, use_amd: bool, as_json: bool) -> None:
    """Place one call through a SIP trunk, run AMD when answered, print the outcome."""
    from sip.types import DialRequest, SipError, TrunkConfig

    if not _NUMBER_RE.match(number):
        raise BadInput(f"{number!r} is not a phone number (digits, optional leading +)")
    if caller_id != "dialer" and not _NUMBER_RE.match(caller_id):
        raise BadInput(f"--from {caller_id!r} is not a phone number")
    if bool(trunk_user) != (trunk_password is not None):
        raise BadInput("--trunk-user and --trunk-password go together")
    host, port, transport = parse_trunk_uri(trunk_uri)
    extra: list[tuple[str, str]] = []
    for header in headers:
        name, sep, value = header.partition(":")
        if not sep or not name.strip():
            raise BadInput(f"--header {header!r} is not 'Name: value'")
        extra.append((name.strip(), value.strip()))
    recording: str | None = None
    if record_dir is not None:
        record_dir.mkdir(parents=True, exist_ok=True)
        stamp = time.strftime("%Y%m%dT%H%M%S", time.gmtime())
        recording = str(record_dir.resolve() / f"call-{stamp}-{number.lstrip('+')}.wav")
    try:
        trunk = TrunkConfig(host=host, port=port, transport=transport,  # type: ignore[arg-type]
                            username=trunk_user, password=trunk_password, realm=trunk_realm,
                            register=register, outbound_proxy=outbound_proxy, pai=pai)
        request = DialRequest(to=number, caller_id=caller_id, ring_timeout_s=ring_timeout,
                              trunk=trunk, extra_headers=tuple(extra), play_wav=play_wav,
                              record_path=recording, rtp_timeout_s=rtp_timeout,
                              no_response_timeout_s=no_response_timeout)
    except SipError as exc:
        raise BadInput(str(exc)) from exc
    detector = _detector_factory() if use_amd else None
    _terminate_gracefully()
    result = _run_call(request, trunk, _bind_for(host, bind), detector, talk_seconds)
    if result is None:
        # Not click.exceptions.Exit: dialer.cli.main drops the code click returns for it
        # in standalone_mode=False.
        sys.exit(EXIT_UNAVAILABLE)
    out = _result_json(result)
    if as_json:
        emit(out)
    else:
        click.echo(" ".join(f"{k}={v}" for k, v in out.items()))


def _unavailable(reason: str) -> None:
    click.echo(f"dialer: error: trunk unavailable: {reason}", err=True)


def _run_call(request: Any, trunk: Any, bind: str | None, detector: Any,
              talk_seconds: float | None) -> Any:
    from sip.calling import place_call
    from sip.engine import EngineConfig, SipEngine
    from sip.types import RegistrationFailed, SipError

    try:
        engine = SipEngine(EngineConfig(bind_address=bind, transports=(trunk.transport,)))
    except SipError as exc:
        raise BadInput(str(exc)) from exc
    try:
        if trunk.register:
            try:
                engine.register(trunk)
            except RegistrationFailed as exc:
                _unavailable(str(exc))
                return None
        result = place_call(engine, request, detector_factory=detector,
                            talk_seconds=talk_seconds)
        if not result.outcome.reachable:
            _unavailable(f"{result.outcome.sip_status} {result.outcome.sip_reason}")
            return None
        return result
    finally:
        engine.shutdown()


def _result_json(result: Any) -> dict[str, Any]:
    outcome = result.outcome
    amd = result.amd
    return {
        "answer_status": result.answer_status.value,
        "sip_status": outcome.sip_status,
        "ring_ms": outcome.ring_ms,
        "talk_ms": outcome.talk_ms,
        "amd": None if amd is None else {
            "label": amd.label, "confidence": amd.confidence,
            "decision_ms": amd.decision_ms, "beep_ms": amd.beep_ms},
        "recording": outcome.recording_path,
        "sip_reason": outcome.sip_reason,
        "hangup_by": outcome.hangup_by.value if outcome.hangup_by else None,
    }


@cli.command("sim-trunk")
@click.option("--port", type=click.IntRange(1, 65535), required=True,
              help="UDP and TCP port to listen on.")
@click.option("--scenarios", "scenarios_file", type=click.Path(dir_okay=False, exists=True),
              help="JSON mapping of dialled numbers (or suffixes) to scenario names.")
@click.option("--bind", default="127.0.0.1", show_default=True, help="Local IP to listen on.")
@click.option("--truth", "truth_file", type=click.Path(dir_okay=False),
              help="Append ground truth (JSONL) here; default: stdout.")
@click.option("--max-calls", type=click.IntRange(min=1),
              help="Exit after this many calls ended.")
@click.option("--reject", "reject_all", type=click.IntRange(400, 699),
              help="Answer every INVITE with this code (a failing trunk, e.g. 503).")
def sim_trunk_cmd(port: int, scenarios_file: str | None, bind: str, truth_file: str | None,
                  max_calls: int | None, reject_all: int | None) -> None:
    """Run a simulated trunk: answers by the dialled number's scenario, logs ground truth."""
    from sip.simtrunk import SimTrunk, load_scenarios
    from sip.types import SipError

    try:
        mapping = load_scenarios(scenarios_file)
    except (OSError, ValueError) as exc:
        raise BadInput(f"--scenarios: {exc}") from exc
    _terminate_gracefully()
    out = open(truth_file, "a", encoding="utf-8") if truth_file else sys.stdout  # noqa: SIM115
    try:
        trunk = SimTrunk(port=port, bind=bind, scenarios=mapping, truth=out,
                         reject_all=reject_all)
    except SipError as exc:
        raise BadInput(str(exc)) from exc
    try:
        click.echo(f"sim-trunk listening on {bind}:{port} (udp, tcp)", err=True)
        trunk.serve(max_calls=max_calls)
    except KeyboardInterrupt:
        pass
    finally:
        trunk.close()
        if out is not sys.stdout:
            out.close()
