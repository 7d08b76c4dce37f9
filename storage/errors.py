"""Errors raised by ``storage``: one root and a few that carry data."""

from __future__ import annotations


class StorageError(Exception):
    """Root of every storage error; adapters chain the library exception as the cause."""


class NotFound(StorageError):
    """A named or numbered entity does not exist; ``suggestions`` lists close names."""

    def __init__(self, kind: str, key: str, suggestions: tuple[str, ...] = ()) -> None:
        hint = f" (did you mean {', '.join(repr(s) for s in suggestions)}?)" if suggestions else ""
        super().__init__(f"unknown {kind} {key!r}{hint}")
        self.kind = kind
        self.key = key
        self.suggestions = suggestions


class AlreadyExists(StorageError):
    """A unique name or number is taken."""

    def __init__(self, kind: str, key: str) -> None:
        super().__init__(f"{kind} {key!r} already exists")
        self.kind = kind
        self.key = key


class StaleClaim(StorageError):
    """A fenced write came with a token that is no longer current: someone else owns it."""

    def __init__(self, campaign_contact_id: int, token: int) -> None:
        super().__init__(f"claim {token} on campaign contact {campaign_contact_id} is stale")
        self.campaign_contact_id = campaign_contact_id
        self.token = token
