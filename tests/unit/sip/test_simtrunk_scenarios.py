"""Scenario choice of the simulated trunk (pure: no pjsua2 is started)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from sip.simtrunk import AUDIO_DIR, DEFAULT_BY_LAST_DIGIT, SCENARIOS, load_scenarios, scenario_for


@pytest.mark.parametrize(("number", "name"), [
    ("+12025550100", "human"), ("+12025550101", "voicemail"), ("+12025550102", "busy"),
    ("+12025550103", "decline"), ("+12025550104", "no_answer"), ("+12025550105", "silence"),
    ("+12025550106", "fax"), ("+12025550107", "early_media"),
    ("+12025550108", "hangup_greeting"), ("+12025550109", "human_twice"),
])
def test_default_scenario_by_last_digit(number: str, name: str) -> None:
    assert scenario_for(number, {}).name == name


def test_longest_suffix_wins_then_exact() -> None:
    mapping = {"1": "busy", "0111": "fax", "12025550111": "silence"}
    assert scenario_for("+12025550111", mapping).name == "silence"
    assert scenario_for("+12025560111", mapping).name == "fax"
    assert scenario_for("+12025560121", mapping).name == "busy"


def test_scenarios_file_is_validated(tmp_path: Path) -> None:
    good = tmp_path / "good.json"
    good.write_text(json.dumps({"+12025550111": "busy"}))
    assert load_scenarios(str(good)) == {"12025550111": "busy"}
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps({"1": "dancing"}))
    with pytest.raises(ValueError, match="unknown scenario"):
        load_scenarios(str(bad))
    good.write_text("[1, 2]")
    with pytest.raises(ValueError, match="JSON object"):
        load_scenarios(str(good))


def test_scenarios_do_not_load_the_sip_stack() -> None:
    import sys

    assert "sip.engine" not in sys.modules  # pjsua2 stays out of the test process


def test_every_default_scenario_exists_and_its_audio_ships() -> None:
    assert set(DEFAULT_BY_LAST_DIGIT.values()) <= set(SCENARIOS)
    for scenario in SCENARIOS.values():
        for step in scenario.steps:
            if step.action == "play":
                assert (AUDIO_DIR / step.arg).is_file(), step.arg
