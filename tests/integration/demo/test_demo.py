"""``dialer demo`` end to end: local Ray, number actors, real SIP calls to the simulated
trunk, AMD, the scripted agent; the summary (last line of stdout) from the database."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import create_engine, text

from tests.fakes.openai_http import API_KEY, FakeOpenAI

pytestmark = pytest.mark.integration

ROOT = Path(__file__).parents[3]


def _demo(cwd: Path, *args: str, **extra_env: str) -> tuple[dict[str, Any], str]:
    env = {**os.environ, "RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER": "0",
           "RAY_USAGE_STATS_ENABLED": "0", "RAY_AUTH_MODE": "disabled",
           "PYTHONPATH": str(ROOT)}
    for name in ("OPENAI_API_KEY", "OPENAI_BASE_URL", "DATABASE_URL", "REDIS_URL",
                 "DIALER_VOICE_AGENT"):
        env.pop(name, None)
    env.update(extra_env)
    done = subprocess.run(
        [sys.executable, "-c", "from dialer.cli import main; main()", "demo", *args,
         "--json"], cwd=cwd, env=env, capture_output=True, text=True, timeout=600,
        check=False)
    assert done.returncode == 0, done.stderr[-3000:]
    assert "Traceback" not in done.stderr
    return json.loads(done.stdout.strip().splitlines()[-1]), done.stderr


def test_the_demo_runs_a_whole_campaign_and_reports_from_the_database(tmp_path: Path) -> None:
    summary, _ = _demo(tmp_path, "--contacts", "10", "--numbers", "2", "--seed", "3")
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


def test_with_an_llm_the_demo_judges_its_conversations(tmp_path: Path) -> None:
    """OPENAI_* set (a local fake that checks strict schemas), the scripted agent kept:
    the summary adds the primary goal's verdicts, one per contact who talked."""
    with FakeOpenAI() as fake:
        summary, _ = _demo(tmp_path, "--contacts", "6", "--numbers", "2", "--seed", "4",
                           OPENAI_BASE_URL=fake.base_url, OPENAI_API_KEY=API_KEY,
                           DIALER_VOICE_AGENT="scripted")
        assert fake.schema_errors == []
        assert fake.requests, "the judge never asked the LLM"
    engine = create_engine(f"sqlite:///{tmp_path / 'var' / 'demo.sqlite3'}")
    with engine.connect() as db:
        talked = db.scalar(text("SELECT count(*) FROM campaign_contacts "
                                "WHERE conversation_count > 0"))
        judged = db.scalar(text("SELECT count(*) FROM goal_results"))
    engine.dispose()
    assert talked >= 1  # seed 4: four of the six callees are humans
    assert set(summary["goals"]) == {"achieved", "partially_achieved", "not_achieved",
                                     "unknown"}
    assert sum(summary["goals"].values()) == talked
    assert judged == 2 * talked  # a primary and a secondary goal per contact
