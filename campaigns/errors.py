"""Errors of the campaign domain: one root, a few subclasses that carry data."""

from __future__ import annotations


class DomainError(Exception):
    """Root of every error raised by ``campaigns``."""


class ValidationError(DomainError, ValueError):
    """A value is outside what the domain allows (``field`` names it)."""

    def __init__(self, field: str, reason: str) -> None:
        super().__init__(f"{field}: {reason}")
        self.field = field
        self.reason = reason


class InvalidPhoneNumber(ValidationError):
    """Text that is not a dialable phone number."""

    def __init__(self, raw: str, reason: str) -> None:
        super().__init__("phone", reason)
        self.raw = raw


class IllegalTransition(DomainError):
    """A status change that the state machine forbids."""

    def __init__(self, kind: str, current: str, target: str) -> None:
        super().__init__(f"{kind} cannot go from {current} to {target}")
        self.kind = kind
        self.current = current
        self.target = target


class NoNumberAvailable(DomainError):
    """Rotation found no phone number that may dial now; ``reason`` says why."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason
