"""tools/audit_deps.py: a vulnerability fails, a skipped audit never reads as a pass."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[3] / "tools"))
import audit_deps


def _report(monkeypatch: pytest.MonkeyPatch, deps: list[dict[str, Any]], rc: int) -> None:
    monkeypatch.setattr(audit_deps, "reachable", lambda host: True)
    monkeypatch.setattr(audit_deps.subprocess, "run", lambda *a, **k: subprocess.CompletedProcess(
        a, rc, stdout=json.dumps({"dependencies": deps}), stderr=""))


def test_a_known_vulnerability_fails_and_names_the_fix(
        monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    _report(monkeypatch, [{"name": "ok", "version": "1", "vulns": []},
                          {"name": "bad", "version": "2.0", "vulns": [
                              {"id": "GHSA-x", "fix_versions": ["2.1"]}]}], rc=1)
    assert audit_deps.main() == 1
    assert capsys.readouterr().out == "bad 2.0: GHSA-x (fixed in 2.1)\n"


def test_a_clean_audit_passes(monkeypatch: pytest.MonkeyPatch,
                              capsys: pytest.CaptureFixture[str]) -> None:
    _report(monkeypatch, [{"name": "ok", "version": "1", "vulns": []},
                          {"name": "mine", "version": "0", "skip_reason": "not on PyPI"}], 0)
    assert audit_deps.main() == 0
    assert "1 packages checked, no known vulnerabilities; not checked: mine" in (
        capsys.readouterr().err)


@pytest.mark.parametrize("required", ["", "1"])
def test_an_audit_that_could_not_run_is_skipped_loudly(
        monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str],
        required: str) -> None:
    monkeypatch.setenv("DIALER_AUDIT_REQUIRED", required)
    _report(monkeypatch, [{"name": "a", "version": "1", "skip_reason": "lookup failed"}], 1)
    assert audit_deps.main() == (1 if required else 0)
    assert "dependency audit SKIPPED: no package could be checked" in capsys.readouterr().err
    monkeypatch.setattr(audit_deps, "reachable", lambda host: False)
    assert audit_deps.main() == (1 if required else 0)
