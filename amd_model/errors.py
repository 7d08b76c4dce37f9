"""Errors of the AMD package."""

from __future__ import annotations


class AmdError(Exception):
    """Root of every error raised by ``amd_model``."""


class AudioError(AmdError):
    """Audio that cannot be read (missing, not a PCM WAV, empty)."""


class ModelError(AmdError):
    """A model artifact that cannot be loaded (missing, wrong version, malformed)."""
