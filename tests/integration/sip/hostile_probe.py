"""One engine against a hostile far end, then a normal call on the same engine; JSON out.

Run by ``test_sip_hostile.py`` (never imported by pytest: pjsua2 must not live there):
    python hostile_probe.py OPTIONS_JSON

Options: ``hostile`` (the hostile trunk's port, 0 for none), ``normal`` (a well-behaved
trunk's port), ``ring``/``rtp``/``no_response``/``talk`` (seconds), ``user``/``password``
(trunk credentials), ``junk`` (spray junk datagrams at our SIP port before and during the
calls), ``settle`` (how long the engine may take to free the hostile call's slot).
"""

from __future__ import annotations

import json
import os
import socket
import sys
import threading
import time
from dataclasses import asdict
from typing import Any

from sip.calling import place_call
from sip.engine import EngineConfig, SipEngine
from sip.types import DialRequest, TrunkConfig


def junk_datagrams() -> list[bytes]:
    """Datagrams no SIP stack should act on: noise, truncations, lies, oversize."""
    rnd = os.urandom(4096)
    return [
        b"\x00", rnd[:1], rnd[:200], rnd, b"\xff" * 1400, b"\x00" * 60000,
        b"SIP/2.0 200 OK\r\n\r\n",
        b"SIP/2.0 200 OK\r\nVia: SIP/2.0/UDP 127.0.0.1:9;branch=z9hG4bKnone\r\n"
        b"Call-ID: nobody\r\nCSeq: 1 INVITE\r\nContent-Length: 0\r\n\r\n",
        b"SIP/2.0 999999999999 Huh\r\n\r\n",
        b"INVITE sip:x SIP/2.0\r\nContent-Length: 99999\r\n\r\nv=0",
        b"INVITE \xff\xfe SIP/2.0\r\nVia: \x00\x01\r\n\r\n",
        b"BYE sip:nobody@127.0.0.1 SIP/2.0\r\n" + b"X: " + b"A" * 3000 + b"\r\n\r\n",
        b"\r\n\r\n\r\n\r\n",
        b"OPTIONS sip:a SIP/2.0\r\n" * 200,
        ("REGISTER sip:\u00e9\u00e8 SIP/2.0\r\n\r\n").encode(),
    ]


def spray(port: int, rounds: int, pause_s: float) -> int:
    """Send every junk datagram ``rounds`` times to 127.0.0.1:``port``; how many went."""
    sent = 0
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        for _ in range(rounds):
            for data in junk_datagrams():
                try:
                    sock.sendto(data, ("127.0.0.1", port))
                    sent += 1
                except OSError:  # oversize for this host's loopback MTU: fine
                    pass
            time.sleep(pause_s)
    return sent


def result_of(call: Any, started: float) -> dict[str, Any]:
    out = asdict(call.outcome)
    out["answer_status"] = str(call.answer_status)
    out["hangup_by"] = str(out["hangup_by"]) if out["hangup_by"] is not None else None
    out["elapsed_s"] = round(time.monotonic() - started, 3)
    return out


def free_within(engine: SipEngine, timeout_s: float) -> float | None:
    """Seconds until the engine holds no call, ``None`` if it still does after the wait."""
    started = time.monotonic()
    while engine.active_calls():
        if time.monotonic() - started > timeout_s:
            return None
        time.sleep(0.05)
    return round(time.monotonic() - started, 3)


def main(opts: dict[str, Any]) -> dict[str, Any]:
    result: dict[str, Any] = {}
    creds = {"username": opts["user"], "password": opts["password"]} if opts.get("user") else {}
    with SipEngine(EngineConfig(bind_address="127.0.0.1")) as engine:
        sprayer: threading.Thread | None = None
        if opts.get("junk"):
            result["junk_sent"] = spray(engine.local_port, 3, 0.01)
            sprayer = threading.Thread(target=spray, args=(engine.local_port, 20, 0.05))
            sprayer.start()
        if opts.get("hostile"):
            request = DialRequest(
                "+12025550101", "+12025550199", opts.get("ring", 1.0),
                TrunkConfig("127.0.0.1", opts["hostile"], **creds),
                rtp_timeout_s=opts.get("rtp", 1.0),
                no_response_timeout_s=opts.get("no_response", 1.0))
            started = time.monotonic()
            result["hostile"] = result_of(
                place_call(engine, request, talk_seconds=opts.get("talk", 1.0)), started)
            result["freed_s"] = free_within(engine, opts.get("settle", 3.0))
        normal = DialRequest("+12025550102", "+12025550199", 5.0,
                             TrunkConfig("127.0.0.1", opts["normal"]), rtp_timeout_s=2.0)
        started = time.monotonic()
        result["normal"] = result_of(place_call(engine, normal, talk_seconds=0.3), started)
        if sprayer is not None:
            sprayer.join()
        result["normal_freed_s"] = free_within(engine, 3.0)
        result["peak_live"] = engine.peak_live_calls()
    result["threads"] = threading.active_count()
    return result


if __name__ == "__main__":
    print(json.dumps(main(json.loads(sys.argv[1]))))
