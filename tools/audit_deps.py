"""Audit the installed dependencies for known vulnerabilities (pip-audit, OSV database).

    .venv/bin/python tools/audit_deps.py          # as ./dev test runs it
    DIALER_AUDIT_REQUIRED=1 .venv/bin/python tools/audit_deps.py

Exit 1 when a dependency has a known vulnerability (each is listed with its fix). When
the vulnerability service cannot be reached (as on a machine without internet) the audit
is skipped with a warning and exit 0, unless ``DIALER_AUDIT_REQUIRED=1``: a skipped audit
never reads as a pass. PyPI's own source is not used: from a machine that reaches PyPI
only through its project pages it skips every package and reports nothing.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
from pathlib import Path

SERVICE = "api.osv.dev"
VENV = Path(sys.executable).parent


def reachable(host: str, port: int = 443, timeout_s: float = 3.0) -> bool:
    """A TCP connection to ``host`` opens within ``timeout_s``."""
    try:
        with socket.create_connection((host, port), timeout=timeout_s):
            return True
    except OSError:
        return False


def skipped(why: str) -> int:
    print(f"dependency audit SKIPPED: {why}", file=sys.stderr)
    return 1 if os.environ.get("DIALER_AUDIT_REQUIRED") == "1" else 0


def main() -> int:
    if not reachable(SERVICE):
        return skipped(f"{SERVICE} cannot be reached from here; run it where it can be")
    run = subprocess.run(
        [str(VENV / "pip-audit"), "--strict", "--vulnerability-service", "osv",
         "--format", "json", "--progress-spinner", "off", "--skip-editable"],
        capture_output=True, text=True, timeout=600, check=False)
    try:
        report = json.loads(run.stdout)
    except json.JSONDecodeError:
        return skipped(f"pip-audit gave no report: {run.stderr.strip()[-300:]}")
    found = [(d["name"], d["version"], v) for d in report.get("dependencies", [])
             for v in d.get("vulns", [])]
    for name, version, vuln in found:
        fixes = ", ".join(vuln.get("fix_versions") or []) or "no fix yet"
        print(f"{name} {version}: {vuln['id']} (fixed in {fixes})")
    deps = report.get("dependencies", [])
    unchecked = [d["name"] for d in deps if d.get("skip_reason")]
    if found:
        return 1
    if not deps or len(unchecked) == len(deps):
        return skipped("no package could be checked")
    print(f"dependency audit: {len(deps) - len(unchecked)} packages checked, no known "
          f"vulnerabilities; not checked: {', '.join(unchecked) or 'none'}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
