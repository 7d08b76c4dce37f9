"""``dialer call`` against SIPp: one scenario per outcome row, audio, auth, hold, RTP loss."""

from __future__ import annotations

import array
import wave
from pathlib import Path
from typing import Any

import pytest

from tests.integration.sip.harness import call, free_port, run_dialer

pytestmark = pytest.mark.integration

NO_AMD = "--no-amd"


@pytest.mark.parametrize(("code", "status"), [
    (486, "busy"),
    (600, "busy"),
    (603, "rejected"),
    (480, "no_answer"),
    (408, "no_answer"),
    (404, "invalid_number"),
    (484, "invalid_number"),
    (410, "invalid_number"),
    (604, "invalid_number"),
    (403, "trunk_failure"),
    (503, "trunk_failure"),
    (500, "trunk_failure"),
])
def test_final_response_is_an_outcome(sipp: Any, code: int, status: str) -> None:
    uas = sipp(f"reject_{code}")
    run = call(uas.trunk())
    assert run.rc == 0, run.stderr
    assert run.out is not None
    assert run.out["answer_status"] == status
    assert run.out["sip_status"] == code
    assert run.out["talk_ms"] == 0
    assert run.out["amd"] is None
    assert run.out["recording"] is None
    assert uas.finish() == 0, uas.errors()


def test_caller_id_pai_extra_headers_and_pcmu_reach_the_trunk(sipp: Any) -> None:
    uas = sipp("headers_busy")  # SIPp fails the call if any of them is missing
    run = call(uas.trunk(), "--from", "+12025550199", "--pai", "--header", "X-Campaign: 42")
    assert run.rc == 0, run.stderr
    assert run.out is not None
    assert run.out["answer_status"] == "busy"
    assert uas.finish() == 0, uas.errors()


def test_outbound_proxy_gets_the_invite(sipp: Any) -> None:
    proxy = sipp("reject_486")
    nowhere = free_port()  # the trunk itself is silent: only the proxy can answer
    run = call(f"sip:127.0.0.1:{nowhere}", "--outbound-proxy", f"sip:127.0.0.1:{proxy.port}",
               "--no-response-timeout", "2")
    assert run.rc == 0, run.stderr
    assert run.out is not None
    assert (run.out["answer_status"], run.out["sip_status"]) == ("busy", 486)
    assert proxy.finish() == 0, proxy.errors()


def test_ring_timeout_cancels_and_is_no_answer(sipp: Any) -> None:
    uas = sipp("ring_no_answer")
    run = call(uas.trunk(), "--ring-timeout", "1")
    assert run.rc == 0, run.stderr
    assert run.out is not None
    assert (run.out["answer_status"], run.out["sip_status"]) == ("no_answer", 487)
    assert 950 <= run.out["ring_ms"] < 3000
    assert uas.finish() == 0, uas.errors()  # SIPp got our CANCEL and ACKed 487


def test_early_media_keeps_the_ring_timer_running(sipp: Any) -> None:
    uas = sipp("early_media_no_answer")
    run = call(uas.trunk(), "--ring-timeout", "1.5")
    assert run.rc == 0, run.stderr
    assert run.out is not None
    assert (run.out["answer_status"], run.out["sip_status"]) == ("no_answer", 487)
    assert run.out["amd"] is None  # never ran: no 200 OK
    assert 1450 <= run.out["ring_ms"] < 3500
    assert uas.finish() == 0, uas.errors()


def _wav_stats(path: str) -> tuple[float, int]:
    with wave.open(path) as w:
        assert (w.getframerate(), w.getsampwidth(), w.getnchannels()) == (8000, 2, 1)
        samples = array.array("h", w.readframes(w.getnframes()))
    return len(samples) / 8000, max((abs(s) for s in samples), default=0)


def test_early_media_is_not_recorded_and_talk_starts_at_200(sipp: Any,
                                                             tmp_path: Path) -> None:
    uas = sipp("early_media_then_answer")
    run = call(uas.trunk(), NO_AMD, "--talk-seconds", "1", "--record", str(tmp_path / "rec"))
    assert run.rc == 0, run.stderr
    assert run.out is not None
    assert run.out["answer_status"] == "unknown"
    assert run.out["sip_status"] == 200
    assert run.out["ring_ms"] >= 1400  # 1.5 s of early media counted as ringing
    assert 950 <= run.out["talk_ms"] < 2000
    seconds, peak = _wav_stats(run.out["recording"])
    assert seconds < 1.4  # the 1.5 s of early media are not in it
    assert peak > 100
    assert uas.finish() == 0, uas.errors()


@pytest.mark.parametrize(("scenario", "audible"), [("answer_audio", True),
                                                   ("answer_silent", False)])
def test_answered_call_records_the_far_end(sipp: Any, tmp_path: Path, scenario: str,
                                           audible: bool) -> None:
    uas = sipp(scenario)
    run = call(uas.trunk(), NO_AMD, "--talk-seconds", "1.5", "--record", str(tmp_path))
    assert run.rc == 0, run.stderr
    assert run.out is not None
    assert run.out["answer_status"] == "unknown"
    assert run.out["sip_status"] == 200
    assert 1450 <= run.out["talk_ms"] < 2500
    assert run.out["hangup_by"] == "us"
    seconds, peak = _wav_stats(run.out["recording"])
    assert 1.2 <= seconds <= 2.0
    assert (peak > 100) is audible
    assert uas.finish() == 0, uas.errors()  # it got our BYE


def test_answered_call_runs_amd_when_the_model_is_there(sipp: Any) -> None:
    uas = sipp("answer_audio")
    run = call(uas.trunk(), "--talk-seconds", "6")
    assert run.rc == 0, run.stderr
    assert run.out is not None
    amd = run.out["amd"]
    if amd is None:  # amd_model not importable or no model artifact yet
        assert run.out["answer_status"] == "unknown"
        assert run.out["talk_ms"] >= 5900
    else:
        assert amd["label"] in {"human", "machine", "silence", "fax", "unknown"}
        assert run.out["answer_status"] == amd["label"]
        if amd["decision_ms"] is not None:
            assert run.out["talk_ms"] <= amd["decision_ms"] + 1500  # hung up on verdict
    assert uas.finish() == 0, uas.errors()


def test_callee_bye_during_talk(sipp: Any) -> None:
    uas = sipp("callee_bye")
    run = call(uas.trunk(), NO_AMD, "--talk-seconds", "10")
    assert run.rc == 0, run.stderr
    assert run.out is not None
    assert run.out["sip_status"] == 200
    assert run.out["hangup_by"] == "them"
    assert 900 <= run.out["talk_ms"] < 3000
    assert uas.finish() == 0, uas.errors()


def test_callee_bye_while_amd_listens(sipp: Any) -> None:
    uas = sipp("callee_bye")
    run = call(uas.trunk(), "--talk-seconds", "10")
    assert run.rc == 0, run.stderr
    assert run.out is not None
    assert run.out["sip_status"] == 200
    assert run.out["talk_ms"] < 3000
    assert uas.finish() == 0, uas.errors()


def test_407_challenge_is_answered_with_trunk_credentials(sipp: Any) -> None:
    uas = sipp("auth_407")
    run = call(uas.trunk(), NO_AMD, "--trunk-user", "trunkuser", "--trunk-password", "s3cret",
               "--talk-seconds", "0.5")
    assert run.rc == 0, run.stderr
    assert run.out is not None
    assert (run.out["answer_status"], run.out["sip_status"]) == ("unknown", 200)
    assert uas.finish() == 0, uas.errors()


@pytest.mark.parametrize(("password", "status", "code"), [
    ("s3cret", "unknown", 200), ("wrong", "trunk_failure", 403)])
def test_401_challenge_checks_the_password(sipp: Any, password: str, status: str,
                                           code: int) -> None:
    uas = sipp("auth_401")
    run = call(uas.trunk(), NO_AMD, "--trunk-user", "trunkuser", "--trunk-password", password,
               "--talk-seconds", "0.5")
    assert run.rc == 0, run.stderr
    assert run.out is not None
    assert (run.out["answer_status"], run.out["sip_status"]) == (status, code)
    assert uas.finish() == 0, uas.errors()


def test_register_with_digest_auth_then_call(sipp: Any) -> None:
    uas = sipp("registrar", calls=2)  # the REGISTER dialog and the INVITE dialog
    run = call(uas.trunk(), NO_AMD, "--register", "--trunk-user", "trunkuser",
               "--trunk-password", "s3cret", "--talk-seconds", "0.5")
    assert run.rc == 0, run.stderr
    assert run.out is not None
    assert (run.out["answer_status"], run.out["sip_status"]) == ("unknown", 200)
    assert uas.finish() == 0, uas.errors()  # also got the un-REGISTER at shutdown


def test_failed_registration_is_surfaced(sipp: Any) -> None:
    uas = sipp("registrar")
    run = call(uas.trunk(), NO_AMD, "--register", "--trunk-user", "trunkuser",
               "--trunk-password", "bad")
    assert run.rc == 3
    assert "403" in run.stderr
    assert uas.finish() == 0, uas.errors()


def test_hold_from_far_end_does_not_trip_the_rtp_timeout(sipp: Any) -> None:
    uas = sipp("hold_reinvite")
    run = call(uas.trunk(), NO_AMD, "--rtp-timeout", "1", "--talk-seconds", "3")
    assert run.rc == 0, run.stderr
    assert run.out is not None
    assert run.out["hangup_by"] == "us"
    assert run.out["talk_ms"] >= 2900
    assert uas.finish() == 0, uas.errors()  # our 200 to the re-INVITE, then our BYE


def test_silent_far_end_ends_on_the_rtp_timeout(sipp: Any) -> None:
    uas = sipp("answer_silent")
    run = call(uas.trunk(), NO_AMD, "--rtp-timeout", "1", "--talk-seconds", "10")
    assert run.rc == 0, run.stderr
    assert run.out is not None
    assert run.out["hangup_by"] == "rtp_timeout"
    assert 900 <= run.out["talk_ms"] < 3000
    assert uas.finish() == 0, uas.errors()


def test_rtp_that_stops_ends_the_call(sipp: Any) -> None:
    uas = sipp("rtp_stops")  # about 7 s of audio, then nothing, and no BYE
    run = call(uas.trunk(), NO_AMD, "--rtp-timeout", "1", "--talk-seconds", "30")
    assert run.rc == 0, run.stderr
    assert run.out is not None
    assert run.out["hangup_by"] == "rtp_timeout"
    assert 5000 <= run.out["talk_ms"] < 12000
    assert uas.finish() == 0, uas.errors()


def test_tcp_transport(sipp: Any) -> None:
    uas = sipp("answer_audio_tcp", transport="tcp")
    run = call(uas.trunk("tcp"), NO_AMD, "--talk-seconds", "0.5")
    assert run.rc == 0, run.stderr
    assert run.out is not None
    assert (run.out["answer_status"], run.out["sip_status"]) == ("unknown", 200)
    assert uas.finish() == 0, uas.errors()


def test_silent_udp_trunk_is_unreachable() -> None:
    port = free_port()  # nothing listens there
    run = call(f"sip:127.0.0.1:{port}", "--no-response-timeout", "1.5")
    assert run.rc == 3
    assert run.out is None
    assert "unavailable" in run.stderr
    assert run.elapsed < 15


def test_refused_tcp_trunk_is_unreachable() -> None:
    port = free_port()
    run = call(f"sip:127.0.0.1:{port};transport=tcp")
    assert run.rc == 3
    assert "unavailable" in run.stderr


@pytest.mark.parametrize("args", [
    ["call", "12ab", "--trunk", "sip:127.0.0.1:5060", "--json"],
    ["call", "+12025550101", "--trunk", "http://example", "--json"],
    ["call", "+12025550101", "--trunk", "sip:127.0.0.1:5060;transport=sctp", "--json"],
    ["call", "+12025550101", "--trunk", "sip:127.0.0.1:5060", "--trunk-user", "u", "--json"],
    ["call", "+12025550101", "--trunk", "sip:127.0.0.1:5060", "--header", "NoColon",
     "--json"],
])
def test_bad_arguments_exit_2(args: list[str]) -> None:
    run = run_dialer(args, timeout=30)
    assert run.rc == 2
    assert run.stderr.strip().splitlines()[-1].startswith("dialer: error:")
    assert "Traceback" not in run.stderr


def test_sigterm_mid_call_hangs_up_with_a_bye(sipp: Any) -> None:
    import signal
    import subprocess
    import time

    from tests.integration.sip.harness import DIALER, ROOT

    uas = sipp("answer_silent")  # fails unless it receives our BYE
    proc = subprocess.Popen([*DIALER, "call", "+12025550101", "--trunk", uas.trunk(),
                             "--no-amd", "--talk-seconds", "60", "--rtp-timeout", "0",
                             "--json"], cwd=ROOT, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
    try:
        time.sleep(3.0)  # started and answered (SIPp answers at once)
        proc.send_signal(signal.SIGTERM)
        _, err = proc.communicate(timeout=20)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()
    # click turns the KeyboardInterrupt into "aborted" (1); what matters is that the
    # process was not killed by the signal and hung up first.
    assert proc.returncode in (1, 130), err[-2000:]
    assert "Traceback" not in err
    assert uas.finish() == 0, uas.errors()
