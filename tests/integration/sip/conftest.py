"""Fixtures for SIP tests: SIPp and our own pjsua2 processes, never pjsua2 in pytest."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.integration.sip.harness import sim_trunk_starter, sipp_starter


@pytest.fixture
def sipp(tmp_path: Path) -> Iterator[Any]:
    """Start SIPp as a UAS on a scenario: ``sipp("reject_486", calls=1)``."""
    yield from sipp_starter(tmp_path)


@pytest.fixture
def sim_trunk(tmp_path: Path) -> Iterator[Any]:
    """A ``dialer sim-trunk`` process with the default scenario mapping."""
    yield from sim_trunk_starter(tmp_path)


@pytest.fixture
def sim_trunk_mapped(tmp_path: Path) -> Iterator[Any]:
    """A ``dialer sim-trunk`` with ``--scenarios``: 5550111 is busy, 0112 is fax."""
    mapping = tmp_path / "scenarios.json"
    mapping.write_text('{"+12025550111": "busy", "0112": "fax"}')
    yield from sim_trunk_starter(tmp_path, "--scenarios", str(mapping))
