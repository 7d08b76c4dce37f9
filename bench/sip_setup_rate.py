"""Sustained call setups per second against ``sipp -sn uas``, across N engine processes.

    .venv/bin/python bench/sip_setup_rate.py [--processes 2] [--rate 40] [--seconds 60]
    .venv/bin/python bench/sip_setup_rate.py --target sim   # against dialer sim-trunk

Each worker process owns one ``SipEngine`` (pacing at ``--rate``, at most 4 live calls),
dials continuously and hangs up each call as soon as it is answered. Prints the answered
setups per second per process and in total, failures, and whether any process crashed.
No assertions: figures only.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _cpu_s(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def worker(port: int, rate: float, seconds: float, number_suffix: str) -> dict[str, Any]:
    """Dial for ``seconds`` at ``rate``; return counts (runs in its own process)."""
    sys.path.insert(0, str(ROOT))
    from sip.engine import MAX_CALLS_PER_PROCESS, EngineConfig, SipEngine
    from sip.types import CallEventKind, DialRequest, TrunkConfig

    trunk = TrunkConfig("127.0.0.1", port)
    counts = {"answered": 0, "failed": 0}
    lock = threading.Lock()
    stop_at = time.monotonic() + seconds
    with SipEngine(EngineConfig(bind_address="127.0.0.1", transports=("udp",),
                                setups_per_s=rate)) as engine:

        def slot() -> None:
            while time.monotonic() < stop_at:
                handle = engine.dial(DialRequest(f"+1202555{number_suffix}", "+12025550199",
                                                 10, trunk, rtp_timeout_s=0),
                                     want_frames=False)
                while True:
                    event = handle.events.get(timeout=40)
                    if event.kind is CallEventKind.ANSWERED:
                        handle.hangup()
                    elif event.kind is CallEventKind.ENDED:
                        break
                outcome = handle.wait(5)
                with lock:
                    counts["answered" if outcome.sip_status == 200 else "failed"] += 1

        # One more dialer than slots keeps the engine's queue non-empty.
        threads = [threading.Thread(target=slot) for _ in range(MAX_CALLS_PER_PROCESS + 2)]
        started = time.monotonic()
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        elapsed = time.monotonic() - started
    return {**counts, "elapsed_s": round(elapsed, 2)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--processes", type=int, default=2)
    parser.add_argument("--rate", type=float, default=40.0, help="setups/s per process")
    parser.add_argument("--seconds", type=float, default=60.0)
    parser.add_argument("--target", choices=("sipp", "sim"), default="sipp")
    parser.add_argument("--worker", nargs=4, metavar=("PORT", "RATE", "SECONDS", "SUFFIX"),
                        help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        port, rate, seconds, suffix = args.worker
        print(json.dumps(worker(int(port), float(rate), float(seconds), suffix)))
        return

    port = _free_port()
    if args.target == "sipp":
        exe = shutil.which("sipp")
        if exe is None:
            sys.exit("sipp is not installed (apt-get install sip-tester)")
        peer = subprocess.Popen([exe, "-sn", "uas", "-i", "127.0.0.1", "-p", str(port),
                                 "-mp", str(_free_port()), "-nostdin"],
                                stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                stderr=subprocess.DEVNULL, cwd="/tmp")
        suffix = "0100"
    else:
        peer = subprocess.Popen([sys.executable, "-c", "import dialer.sip_commands; "
                                 "from dialer.cli import main; main()", "sim-trunk",
                                 "--port", str(port)], cwd=ROOT, stdin=subprocess.DEVNULL,
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        suffix = "0102"  # busy: the sim trunk's 4-call cap makes answered calls its limit
    time.sleep(1.0)
    try:
        workers = [subprocess.Popen([sys.executable, __file__, "--worker", str(port),
                                     str(args.rate), str(args.seconds), suffix],
                                    cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                    text=True)
                   for _ in range(args.processes)]
        time.sleep(min(5.0, args.seconds / 2))
        cpu0 = [_cpu_s(w.pid) for w in workers]
        t0 = time.monotonic()
        time.sleep(max(0.0, args.seconds / 2 - 5.0) or 1.0)
        cpu1 = [_cpu_s(w.pid) for w in workers]
        window = time.monotonic() - t0
        results: list[dict[str, Any]] = []
        for w in workers:
            out, err = w.communicate(timeout=args.seconds + 120)
            if w.returncode != 0:
                results.append({"crashed": w.returncode, "stderr": err[-500:]})
            else:
                results.append(json.loads(out.strip().splitlines()[-1]))
    finally:
        peer.send_signal(signal.SIGTERM)
        try:
            peer.wait(10)
        except subprocess.TimeoutExpired:
            peer.kill()
            peer.wait()
    ok = [r for r in results if "crashed" not in r]
    key = "answered" if args.target == "sipp" else "failed"  # busy counts as "failed" here
    total = sum(r[key] for r in ok)
    elapsed = max((r["elapsed_s"] for r in ok), default=args.seconds)
    print(f"target={args.target} processes={args.processes} rate/process={args.rate:g}/s "
          f"duration={args.seconds:g}s")
    for i, r in enumerate(results):
        cpu = (cpu1[i] - cpu0[i]) / window * 100
        print(f"  process {i}: {r} cpu={cpu:.1f}% of a core")
    print(f"completed setups: {total} in {elapsed:.1f}s = {total / elapsed:.1f}/s total, "
          f"{total / elapsed / max(1, len(ok)):.1f}/s per process; "
          f"crashes: {len(results) - len(ok)}")


if __name__ == "__main__":
    main()
