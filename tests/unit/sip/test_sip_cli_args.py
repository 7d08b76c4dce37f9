"""``dialer call`` argument parsing that needs no SIP stack."""

from __future__ import annotations

import pytest

from dialer.cli import BadInput
from dialer.sip_commands import parse_trunk_uri


@pytest.mark.parametrize(("uri", "expected"), [
    ("sip:127.0.0.1:5080", ("127.0.0.1", 5080, "udp")),
    ("sip:trunk.example.com", ("trunk.example.com", 5060, "udp")),
    ("sip:10.0.0.1:5060;transport=tcp", ("10.0.0.1", 5060, "tcp")),
    ("sip:[::1]:5062", ("::1", 5062, "udp")),
])
def test_trunk_uri(uri: str, expected: tuple[str, int, str]) -> None:
    assert parse_trunk_uri(uri) == expected


@pytest.mark.parametrize("uri", [
    "http://x", "sip:", "sip:host:99999", "sip:host;transport=sctp", "sips:host:5061",
    "sip:host:50 60"])
def test_bad_trunk_uri(uri: str) -> None:
    with pytest.raises(BadInput):
        parse_trunk_uri(uri)
