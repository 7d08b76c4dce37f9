"""``dialer call`` against ``dialer sim-trunk``: scenarios by number, ground truth logged."""

from __future__ import annotations

from typing import Any

import pytest

from tests.integration.sip.harness import call

pytestmark = pytest.mark.integration


@pytest.mark.parametrize(("number", "scenario", "status", "code"), [
    ("+12025550102", "busy", "busy", 486),
    ("+12025550103", "decline", "rejected", 603),  # after 1.5 s of ringing
    ("+12025550104", "no_answer", "no_answer", 487),
])
def test_unanswered_scenarios(sim_trunk: Any, number: str, scenario: str, status: str,
                              code: int) -> None:
    run = call(sim_trunk.uri, "--ring-timeout", "2.5", number=number)
    assert run.rc == 0, run.stderr
    assert run.out is not None
    assert (run.out["answer_status"], run.out["sip_status"]) == (status, code)
    truth = _wait_truth(sim_trunk, 1)
    assert (truth[-1]["number"], truth[-1]["scenario"]) == (number, scenario)
    assert truth[-1]["sip_status"] == code


def test_answered_scenario_records_audio_and_logs_truth(sim_trunk: Any, tmp_path: Any) -> None:
    run = call(sim_trunk.uri, "--no-amd", "--talk-seconds", "2", "--record", str(tmp_path),
               number="+12025550100")
    assert run.rc == 0, run.stderr
    assert run.out is not None
    assert (run.out["answer_status"], run.out["sip_status"]) == ("unknown", 200)
    assert run.out["ring_ms"] >= 900  # the human scenario rings 1 s
    truth = _wait_truth(sim_trunk, 1)
    assert truth[-1]["scenario"] == "human"
    assert truth[-1]["truth"] == "human"
    assert truth[-1]["answered"] is True


def test_voicemail_scenario_runs_amd(sim_trunk: Any) -> None:
    run = call(sim_trunk.uri, "--talk-seconds", "6", number="+12025550101")
    assert run.rc == 0, run.stderr
    assert run.out is not None
    assert run.out["sip_status"] == 200
    if run.out["amd"] is not None:  # the model ships with amd_model; null before it lands
        assert run.out["answer_status"] == run.out["amd"]["label"]
    assert _wait_truth(sim_trunk, 1)[-1]["truth"] == "machine"


def test_scenarios_file_overrides_the_default(sim_trunk_mapped: Any) -> None:
    run = call(sim_trunk_mapped.uri, number="+12025550111")  # default would be voicemail
    assert run.rc == 0, run.stderr
    assert run.out is not None
    assert run.out["answer_status"] == "busy"
    assert _wait_truth(sim_trunk_mapped, 1)[-1]["scenario"] == "busy"


def _wait_truth(trunk: Any, count: int) -> list[dict[str, Any]]:
    import time

    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        lines: list[dict[str, Any]] = trunk.truth_lines()
        if len(lines) >= count:
            return lines
        time.sleep(0.1)
    raise AssertionError("sim-trunk logged no ground truth")


def test_a_failing_trunk_rejects_every_call_with_its_code(tmp_path: Any) -> None:
    from tests.integration.sip.harness import sim_trunk_starter

    for trunk in sim_trunk_starter(tmp_path, "--reject", "503"):
        for number in ("+12025550100", "+12025550101"):  # a human, a voicemail
            run = call(trunk.uri, number=number)
            assert run.rc == 0, run.stderr
            assert run.out is not None
            assert (run.out["answer_status"], run.out["sip_status"]) == ("trunk_failure", 503)
        assert [t["truth"] for t in _wait_truth(trunk, 2)] == ["trunk_failure"] * 2
