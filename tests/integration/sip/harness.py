"""Helpers for SIP tests: SIPp and our own pjsua2 processes, never pjsua2 in pytest.

pjsua2 aborts its process on misuse (FACTS.md), so every engine runs in a subprocess.
Each test gets fresh loopback ports; every process started here is stopped at teardown.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

HERE = Path(__file__).parent
SCENARIOS = HERE / "scenarios"
ROOT = HERE.parents[2]
# Works before and after dialer/cli.py imports dialer.sip_commands itself.
DIALER = [sys.executable, "-c",
          "import dialer.sip_commands; from dialer.cli import main; main()"]


def free_port() -> int:
    """A loopback port free for both UDP and TCP (SIP listens on both)."""
    for _ in range(50):
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as udp:
            udp.bind(("127.0.0.1", 0))
            port = int(udp.getsockname()[1])
            if port > 65000:
                continue
            with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as tcp:
                try:
                    tcp.bind(("127.0.0.1", port))
                except OSError:
                    continue
                return port
    raise RuntimeError("no free port")


def stop(proc: subprocess.Popen[Any], grace: float = 5.0) -> None:
    """SIGTERM, then SIGKILL after ``grace`` seconds; always reaped."""
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(grace)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(5)


@dataclass
class Sipp:
    """A running SIPp UAS."""

    proc: subprocess.Popen[bytes]
    port: int
    workdir: Path

    def trunk(self, transport: str = "udp") -> str:
        suffix = ";transport=tcp" if transport == "tcp" else ""
        return f"sip:127.0.0.1:{self.port}{suffix}"

    def finish(self, timeout: float = 15.0) -> int:
        """Wait for SIPp to end its calls; its exit code (0: every call went as scripted)."""
        try:
            return self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            stop(self.proc)
            pytest.fail(f"sipp did not finish in {timeout} s; {self.errors()}")

    def errors(self) -> str:
        logs = sorted(self.workdir.glob("*_errors.log"))
        return "\n".join(p.read_text(errors="replace")[-2000:] for p in logs)


def sipp_starter(tmp_path: Path) -> Iterator[Any]:
    """Start SIPp as a UAS on a scenario: ``sipp("reject_486", "-m", "1")``."""
    exe = shutil.which("sipp")
    if exe is None:
        pytest.fail("sipp is not installed (apt-get install sip-tester)")
    started: list[Sipp] = []

    def start(scenario: str, *args: str, calls: int = 1, transport: str = "udp") -> Sipp:
        port, media = free_port(), free_port()
        cmd = [exe, "-sf", str(SCENARIOS / f"{scenario}.xml"), "-i", "127.0.0.1",
               "-p", str(port), "-mp", str(media), "-m", str(calls), "-nostdin",
               "-timeout", "40s", "-trace_err", "-t", "t1" if transport == "tcp" else "u1",
               *args]
        proc = subprocess.Popen(cmd, cwd=tmp_path, stdin=subprocess.DEVNULL,
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        runner = Sipp(proc, port, tmp_path)
        started.append(runner)
        _wait_listening(port, transport, proc)
        return runner

    yield start
    for runner in started:
        stop(runner.proc)


def _port_bound(port: int, transport: str) -> bool:
    """Whether something listens on 127.0.0.1:``port`` (read from /proc, no probing)."""
    table = Path("/proc/net/tcp" if transport == "tcp" else "/proc/net/udp")
    wanted = f"0100007F:{port:04X}"
    for line in table.read_text().splitlines()[1:]:
        fields = line.split()
        if fields[1] == wanted and (transport != "tcp" or fields[3] == "0A"):  # 0A: LISTEN
            return True
    return False


def _wait_listening(port: int, transport: str, proc: subprocess.Popen[Any],
                    timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            pytest.fail(f"{proc.args[0]} exited at start with {proc.returncode}")
        if _port_bound(port, transport):
            return
        time.sleep(0.05)
    pytest.fail(f"nothing listens on 127.0.0.1:{port}/{transport} after {timeout} s")


@dataclass(frozen=True)
class Run:
    """A finished ``dialer`` process."""

    rc: int
    out: dict[str, Any] | None
    stderr: str
    elapsed: float


def run_dialer(args: Sequence[str], timeout: float = 60.0) -> Run:
    """Run ``dialer ARGS`` in a subprocess; parse the last stdout line as JSON."""
    start = time.monotonic()
    env = {**os.environ, "PYTHONWARNINGS": "ignore::DeprecationWarning"}
    proc = subprocess.Popen([*DIALER, *args], cwd=ROOT, env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, stdin=subprocess.DEVNULL, text=True)
    try:
        out, err = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        stop(proc)
        out, err = proc.communicate()
        pytest.fail(f"dialer {' '.join(args)} did not finish in {timeout} s:\n{err[-3000:]}")
    lines = [line for line in out.splitlines() if line.strip()]
    parsed = json.loads(lines[-1]) if lines and proc.returncode == 0 else None
    if proc.returncode == 0:
        assert len(lines) == 1, f"stdout must be one JSON value, got {out!r}"
    assert proc.returncode >= 0, f"dialer killed by signal {-proc.returncode}:\n{err[-3000:]}"
    return Run(proc.returncode, parsed, err, time.monotonic() - start)


def call(trunk: str, *args: str, number: str = "+12025550101", timeout: float = 60.0) -> Run:
    """``dialer call NUMBER --trunk TRUNK ARGS --json``."""
    return run_dialer(["call", number, "--trunk", trunk, *args, "--json"], timeout)


def run_probe(*args: str, timeout: float = 60.0) -> dict[str, Any]:
    """Run ``engine_probe.py ARGS`` in a subprocess and return its JSON."""
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    proc = subprocess.run([sys.executable, str(HERE / "engine_probe.py"), *args], cwd=ROOT,
                          env=env, capture_output=True, text=True, timeout=timeout,
                          check=False)
    assert proc.returncode == 0, proc.stderr[-3000:]
    result: dict[str, Any] = json.loads(proc.stdout.strip().splitlines()[-1])
    return result


@dataclass
class SimTrunkProc:
    """A running ``dialer sim-trunk``."""

    proc: subprocess.Popen[str]
    port: int
    truth: Path

    @property
    def uri(self) -> str:
        return f"sip:127.0.0.1:{self.port}"

    def truth_lines(self) -> list[dict[str, Any]]:
        if not self.truth.exists():
            return []
        return [json.loads(line) for line in self.truth.read_text().splitlines() if line]


def sim_trunk_starter(tmp_path: Path, *args: str) -> Iterator[SimTrunkProc]:
    """Start ``dialer sim-trunk`` on a free port; stop it (SIGTERM) afterwards."""
    port = free_port()
    truth = tmp_path / "truth.jsonl"
    proc = subprocess.Popen([*DIALER, "sim-trunk", "--port", str(port), "--truth", str(truth),
                             *args], cwd=ROOT, stdin=subprocess.DEVNULL,
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    try:
        _wait_listening(port, "udp", proc)
        yield SimTrunkProc(proc, port, truth)
    finally:
        stop(proc)
        if proc.stderr is not None:
            err = proc.stderr.read()
            proc.stderr.close()
            assert "Traceback" not in err and "Assertion" not in err, err[-3000:]
        assert proc.returncode in (0, -15), f"sim-trunk exited {proc.returncode}"
