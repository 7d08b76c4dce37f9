"""Concurrent answered calls with audio streaming to a consumer, and CPU per call.

    .venv/bin/python bench/sip_concurrent_audio.py [--calls 100] [--seconds 30]
        [--no-frames] [--consumer poll|block]

SIPp answers every call and streams µ-law speech (``rtp_stream``, looped) to us. Each
worker process owns one ``SipEngine`` with 4 calls (the library's cap) and one consumer
thread per call reading its 20 ms frame queue: ``poll`` (the default) drains it every
50 ms, as ``sip.calling.place_call`` does for AMD; ``block`` waits on each frame, as
``sip.live.LiveAudio.read`` (the actors' call flow) does. ``--no-frames`` measures the
same calls without the Python frame tap (C-side media only). Prints figures; no
assertions.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import queue
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]

SCENARIO = """<?xml version="1.0" encoding="ISO-8859-1" ?>
<scenario name="answer and stream audio until BYE">
  <recv request="INVITE"/>
  <send retrans="500"><![CDATA[
SIP/2.0 200 OK
[last_Via:]
[last_From:]
[last_To:];tag=[pid]SIPpTag01[call_number]
[last_Call-ID:]
[last_CSeq:]
Contact: <sip:[local_ip]:[local_port];transport=[transport]>
Content-Type: application/sdp
Content-Length: [len]

v=0
o=sipp 1 1 IN IP[local_ip_type] [local_ip]
s=-
c=IN IP[media_ip_type] [media_ip]
t=0 0
m=audio [auto_media_port] RTP/AVP 0
a=rtpmap:0 PCMU/8000
]]></send>
  <recv request="ACK"/>
  <nop><action><exec rtp_stream="WAVFILE,-1,0"/></action></nop>
  <recv request="BYE"/>
  <send><![CDATA[
SIP/2.0 200 OK
[last_Via:]
[last_From:]
[last_To:]
[last_Call-ID:]
[last_CSeq:]
Content-Length: 0

]]></send>
</scenario>
"""


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _cpu_s(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def worker(port: int, calls: int, seconds: float, frames_on: bool,
           consumer: str = "poll") -> dict[str, Any]:
    """Hold ``calls`` answered calls for ``seconds``, consuming frames; return counts."""
    sys.path.insert(0, str(ROOT))
    from sip.engine import EngineConfig, SipEngine
    from sip.types import CallEventKind, DialRequest, TrunkConfig

    trunk = TrunkConfig("127.0.0.1", port)
    frames = [0] * calls
    with SipEngine(EngineConfig(bind_address="127.0.0.1", transports=("udp",),
                                setups_per_s=20)) as engine:
        handles = [engine.dial(DialRequest(f"+120255501{i:02d}", "+12025550199", 10, trunk,
                                           rtp_timeout_s=0), want_frames=frames_on)
                   for i in range(calls)]

        def consume_blocking(i: int, q: Any) -> None:
            # Wait on each frame, as LiveAudio.read does.
            while q.get() is not None:
                frames[i] += 1

        def consume(i: int, q: Any) -> None:
            # Drain every 50 ms, as sip.calling.place_call does for AMD.
            while True:
                time.sleep(0.05)
                while True:
                    try:
                        item = q.get_nowait()
                    except queue.Empty:
                        break
                    if item is None:
                        return
                    frames[i] += 1

        target = consume_blocking if consumer == "block" else consume
        consumers = [threading.Thread(target=target, args=(i, h.frames), daemon=True)
                     for i, h in enumerate(handles) if h.frames is not None]
        for c in consumers:
            c.start()
        answered = 0
        for h in handles:
            while True:
                ev = h.events.get(timeout=30)
                if ev.kind is CallEventKind.ANSWERED:
                    answered += 1
                    break
                if ev.kind is CallEventKind.ENDED:
                    break
        print("ready", flush=True)
        time.sleep(seconds)
        for h in handles:
            h.hangup()
        outcomes = [h.wait(10) for h in handles]
        for c in consumers:
            c.join(5)
    return {"answered": answered, "frames": frames,
            "ended_by_us": sum(o.hangup_by is not None and o.hangup_by.value == "us"
                               for o in outcomes)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--calls", type=int, default=100)
    parser.add_argument("--seconds", type=float, default=30.0)
    parser.add_argument("--no-frames", action="store_true")
    parser.add_argument("--consumer", choices=("poll", "block"), default="poll")
    parser.add_argument("--worker", nargs=5, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        port, calls, seconds, frames_on, consumer = args.worker
        print(json.dumps(worker(int(port), int(calls), float(seconds), frames_on == "1",
                                consumer)))
        return
    exe, sox = shutil.which("sipp"), shutil.which("sox")
    if exe is None or sox is None:
        sys.exit("needs sipp (sip-tester) and sox")
    with tempfile.TemporaryDirectory() as tmp:
        wav = Path(tmp) / "speech_ulaw.wav"
        subprocess.run([sox, str(ROOT / "sip/audio/greeting.wav"), "-e", "u-law", str(wav)],
                       check=True)
        scenario = Path(tmp) / "uas_stream.xml"
        scenario.write_text(SCENARIO.replace("WAVFILE", str(wav)))
        port = _free_port()
        sipp = subprocess.Popen([exe, "-sf", str(scenario), "-i", "127.0.0.1", "-p", str(port),
                                 "-nostdin", "-max_socket", "2000"], cwd=tmp,
                                stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                stderr=subprocess.DEVNULL)
        time.sleep(1.0)
        nproc = math.ceil(args.calls / 4)
        per = [min(4, args.calls - 4 * i) for i in range(nproc)]
        hold = args.seconds + 10.0
        workers: list[subprocess.Popen[str]] = []
        try:
            for n in per:
                workers.append(subprocess.Popen(
                    [sys.executable, __file__, "--worker", str(port), str(n), str(hold),
                     "0" if args.no_frames else "1", args.consumer], cwd=ROOT,
                    stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True))
            for w in workers:  # wait until every worker has its calls answered
                assert w.stdout is not None
                w.stdout.readline()
            time.sleep(3.0)
            pids = [w.pid for w in workers]
            cpu0, sipp0, t0 = [_cpu_s(p) for p in pids], _cpu_s(sipp.pid), time.monotonic()
            time.sleep(args.seconds)
            cpu1, sipp1, window = ([_cpu_s(p) for p in pids], _cpu_s(sipp.pid),
                                   time.monotonic() - t0)
            results = []
            for w in workers:
                out, _ = w.communicate(timeout=hold + 60)
                results.append(json.loads(out.strip().splitlines()[-1])
                               if w.returncode == 0 else {"crashed": w.returncode})
        finally:
            for w in workers:
                if w.poll() is None:
                    w.kill()
                    w.wait()
            sipp.send_signal(signal.SIGTERM)
            try:
                sipp.wait(10)
            except subprocess.TimeoutExpired:
                sipp.kill()
                sipp.wait()
    ok = [r for r in results if "crashed" not in r]
    answered = sum(r["answered"] for r in ok)
    ours = sum(b - a for a, b in zip(cpu0, cpu1, strict=True)) / window * 100
    frames = [f for r in ok for f in r["frames"]]
    print(f"calls requested={args.calls} answered={answered} processes={nproc} "
          f"crashes={len(results) - len(ok)} frame tap={'off' if args.no_frames else 'on'} "
          f"consumer={args.consumer}")
    print(f"our CPU: {ours:.1f}% of a core for {answered} calls = "
          f"{ours / max(1, answered):.2f}% per call (window {window:.0f}s); "
          f"SIPp (the far end) {(sipp1 - sipp0) / window * 100:.1f}%")
    if frames:
        print(f"frames per call over the whole hold: min={min(frames)} max={max(frames)} "
              f"(expected ~{int(hold * 50)} at 50/s)")


if __name__ == "__main__":
    main()
