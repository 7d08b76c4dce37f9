"""Errors the chat-ops service raises: one root, a few that carry what the reply needs."""

from __future__ import annotations


class ChatOpsError(Exception):
    """Root of every error ``chatops`` raises on purpose."""


class UnknownCampaign(ChatOpsError):
    """No campaign has that name or id; ``suggestions`` are the closest names."""

    def __init__(self, key: str, suggestions: tuple[str, ...] = ()) -> None:
        super().__init__(f"unknown campaign {key!r}")
        self.key = key
        self.suggestions = suggestions


class BadPhone(ChatOpsError):
    """``raw`` is not a usable phone number; ``reason`` says why."""

    def __init__(self, raw: str, reason: str) -> None:
        super().__init__(f"{raw!r}: {reason}")
        self.raw = raw
        self.reason = reason


class IllegalChange(ChatOpsError):
    """The campaign's lifecycle forbids the change."""

    def __init__(self, name: str, current: str, target: str) -> None:
        super().__init__(f"{name} cannot go from {current} to {target}")
        self.name = name
        self.current = current
        self.target = target


class BadInput(ChatOpsError):
    """Input the domain refused (a validation error); ``reason`` is safe to show."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class UnknownAgent(ChatOpsError):
    """No voice agent has that name or id; ``names`` are the agents there are."""

    def __init__(self, key: str, names: tuple[str, ...] = ()) -> None:
        super().__init__(f"unknown agent {key!r}")
        self.key = key
        self.names = names
