"""Shared checks for the atheris harnesses (kept free of atheris so they import anywhere)."""

from __future__ import annotations

MAX_REASON_CHARS = 500


def check_reason(reason: str) -> None:
    """An error reason a person can read: present, one line, not a wall of text."""
    if not reason.strip() or "\n" in reason or "\r" in reason:
        raise AssertionError(f"unclear reason: {reason[:200]!r}")
    if len(reason) > MAX_REASON_CHARS:
        raise AssertionError(f"reason of {len(reason)} characters: {reason[:200]!r}")
