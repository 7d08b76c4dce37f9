"""The engine itself (in a subprocess): audio frames to a consumer, the 4-call cap, pacing,
how fast it takes a command."""

from __future__ import annotations

from typing import Any

import pytest

from tests.integration.sip.harness import run_probe

pytestmark = pytest.mark.integration


def test_answered_call_streams_20ms_frames_to_a_consumer(sipp: Any) -> None:
    uas = sipp("answer_audio")
    result = run_probe("frames", str(uas.port), "2")
    assert result["sizes"] == [320]
    assert 90 <= result["frames"] <= 115  # 2 s of 20 ms frames, from the 200 OK only
    assert result["peak"] > 1000  # the pcap's speech, not the bridge's silence
    assert uas.finish() == 0, uas.errors()


def test_more_than_four_calls_wait_for_a_slot_and_setups_are_paced(sipp: Any) -> None:
    uas = sipp("answer_silent", calls=6)
    result = run_probe("many", str(uas.port), "6", "5", "1")
    assert result["answered"] == 6
    assert result["max_live"] == 4
    # 5 setups/s with a burst of 2: the first four INVITEs span at least 0.35 s, and
    # the last two wait for a call to end (1 s of talk).
    assert result["setup_span_s"] >= 0.9
    assert uas.finish() == 0, uas.errors()


def test_pcm_stream_is_sent_to_the_far_end(sipp: Any, tmp_path: Any) -> None:
    uas = sipp("answer_silent")  # silent far end: any tone in the recording is ours
    result = run_probe("stream", str(uas.port), str(tmp_path / "rec.wav"))
    assert result["peak"] > 4000
    assert 900 <= result["tone_ms"] <= 1100  # the 1 s we queued, once, in 20 ms frames
    assert uas.finish() == 0, uas.errors()


def test_an_idle_engine_takes_commands_at_once() -> None:
    # The engine thread polls pjsua2 every 100 ms when idle; a posted command must wake
    # it (a CRLF datagram to our own UDP transport) rather than wait for the poll.
    result = run_probe("idle", "udp,tcp")
    assert result["median_ms"] < 20
    # The frame tap and source reach pjsua2's buffers directly; the portable copies cost
    # 20-300 µs a frame, which no concurrent-call budget survives.
    assert result["fast_frames"] is True


def test_an_engine_without_udp_still_takes_commands() -> None:
    result = run_probe("idle", "tcp")  # no waker: the loop polls every 20 ms
    assert result["median_ms"] < 100
