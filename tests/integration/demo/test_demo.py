"""``dialer demo`` end to end: local Ray, number actors, real SIP calls to the simulated
trunk, AMD, the scripted agent; the summary (last line of stdout) from the database."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.integration

ROOT = Path(__file__).parents[3]


def test_the_demo_runs_a_whole_campaign_and_reports_from_the_database(tmp_path: Path) -> None:
    env = {**os.environ, "RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER": "0",
           "RAY_USAGE_STATS_ENABLED": "0", "RAY_AUTH_MODE": "disabled",
           "PYTHONPATH": str(ROOT)}
    for name in ("OPENAI_API_KEY", "OPENAI_BASE_URL", "DATABASE_URL", "REDIS_URL"):
        env.pop(name, None)
    done = subprocess.run(
        [sys.executable, "-c", "from dialer.cli import main; main()", "demo",
         "--contacts", "10", "--numbers", "2", "--seed", "3", "--json"],
        cwd=tmp_path, env=env, capture_output=True, text=True, timeout=600, check=False)
    assert done.returncode == 0, done.stderr[-3000:]
    summary = json.loads(done.stdout.strip().splitlines()[-1])
    assert summary["contacts"] == 10
    assert summary["double_dials"] == 0
    assert summary["lost_outcomes"] == 0
    assert summary["calls"] >= 10
    assert sum(summary["by_status"].values()) == 10
    assert summary["by_status"].get("dialing", 0) == 0
    assert sum(summary["by_answer"].values()) == summary["calls"]
    assert summary["amd_judged"] >= 1
    assert summary["amd_accuracy"] is not None
    assert "goals" not in summary  # no OpenAI settings: no judging
    assert (tmp_path / "var" / "demo.sqlite3").exists()
    assert "Traceback" not in done.stderr
