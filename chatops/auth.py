"""Authorisation and audit identity as Bolt middleware.

Every request is classified into the ``Action`` it asks for: a slash command by its
parsed text, a button by its ``action_id`` (so a click is authorised exactly like the
command it stands for), a shared file by its ``add <campaign>`` text. Reading is open to
anyone; changing needs a user in ``DIALER_SLACK_OPERATORS`` and, when
``DIALER_SLACK_CHANNELS`` is set, one of those channels. A refused request never reaches
a listener. Allowed requests carry ``context["who"]``, the ``Who`` that the repositories
write to the audit log with every change.
"""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Callable
from concurrent.futures import Executor
from dataclasses import dataclass
from typing import Any, Final

from slack_bolt import BoltResponse
from slack_sdk import WebClient

from chatops import strings as s
from chatops import views
from chatops.commands import Action, action_of
from storage.repos import Who

log = logging.getLogger(__name__)

BUTTON_ACTIONS: Final[dict[str, Action | None]] = {
    views.ACTION_PAUSE: Action.PAUSE,
    views.ACTION_RESUME: Action.RESUME,
    views.ACTION_CANCEL_CONFIRM: Action.CANCEL,
    views.ACTION_CANCEL_KEEP: None,  # declining changes nothing
}
_MENTION: Final = re.compile(r"^\s*<@[A-Z0-9]+(?:\|[^>]*)?>\s*")


@dataclass(frozen=True, slots=True)
class Policy:
    """Who may change things, and where."""

    operators: frozenset[str]
    channels: frozenset[str] = frozenset()

    def refusal(self, user: str, channel: str, action: Action | None) -> str | None:
        """None when allowed, else the reason to show (trusted mrkdwn)."""
        if action is None or not action.changes_things:
            return None
        if user not in self.operators:
            return s.NOT_OPERATOR.format(action=f"{action.value} campaigns"
                                         if action is not Action.ADD else "add contacts")
        if self.channels and channel not in self.channels:
            return s.WRONG_CHANNEL.format(channels=", ".join(f"<#{c}>"
                                                             for c in sorted(self.channels)))
        return None


@dataclass(frozen=True, slots=True)
class Asked:
    """What one request asks for, by whom, where."""

    kind: str  # "command", "button" or "event"
    action: Action | None
    user: str
    channel: str


def import_text(text: str) -> str:
    """The command part of a message that shares a file: no leading bot mention or
    ``/dialer``."""
    text = _MENTION.sub("", text or "").strip()
    return text[len("/dialer"):].strip() if text.startswith("/dialer") else text


def is_import_message(event: dict[str, Any]) -> bool:
    """A person's message with files whose text is ``add <campaign>``."""
    if event.get("type") != "message" or not event.get("files"):
        return False
    if event.get("bot_id") or event.get("subtype") not in (None, "file_share"):
        return False
    return action_of(import_text(str(event.get("text") or ""))) is Action.IMPORT


def _dict(value: object) -> dict[str, Any]:
    """``value`` when it is a JSON object, else empty (hostile payloads have odd shapes)."""
    return value if isinstance(value, dict) else {}


def classify(body: dict[str, Any]) -> Asked | None:
    """The action a request asks for; None for requests that need no decision."""
    if "command" in body:
        return Asked("command", action_of(str(body.get("text") or "")),
                     str(body.get("user_id") or ""), str(body.get("channel_id") or ""))
    if body.get("type") == "block_actions":
        actions = body.get("actions")
        first = _dict(actions[0] if isinstance(actions, list) and actions else None)
        action_id = str(first.get("action_id") or "")
        channel = _dict(body.get("channel")).get("id") or \
            _dict(body.get("container")).get("channel_id") or ""
        return Asked("button", BUTTON_ACTIONS.get(action_id),
                     str(_dict(body.get("user")).get("id") or ""), str(channel))
    event = _dict(body.get("event"))
    if body.get("type") == "event_callback" and is_import_message(event):
        return Asked("event", Action.IMPORT, str(event.get("user") or ""),
                     str(event.get("channel") or ""))
    return None


def who_of(asked: Asked) -> Who:
    """The audit identity: ``slack:<user>`` from ``slack:<channel>``."""
    return Who(actor=f"slack:{asked.user}", source=f"slack:{asked.channel}")


def make_middleware(policy: Policy, executor: Executor) -> Callable[..., BoltResponse | None]:
    """The global middleware: decide, then pass on or answer the refusal."""

    def authorise(body: dict[str, Any], context: dict[str, Any], client: WebClient,
                  next: Callable[[], None]) -> BoltResponse | None:
        asked = classify(body)
        if asked is None:
            next()
            return None
        context["who"] = who_of(asked)
        reason = policy.refusal(asked.user, asked.channel, asked.action)
        if reason is None:
            next()
            return None
        log.warning("slack request refused", extra={
            "slack_user": asked.user, "slack_channel": asked.channel,
            "action": asked.action.value if asked.action else None})
        reply = views.text_message(reason)
        if asked.kind == "command":
            return BoltResponse(status=200, body=json.dumps({"response_type": "ephemeral",
                                                             **reply}),
                                headers={"content-type": "application/json"})
        executor.submit(_tell, client, asked, reply)
        return BoltResponse(status=200, body="")

    return authorise


def _tell(client: WebClient, asked: Asked, reply: dict[str, Any]) -> None:
    try:
        client.chat_postEphemeral(channel=asked.channel, user=asked.user, **reply)
    except Exception:  # the refusal stands even when Slack cannot show it
        log.exception("could not post the refusal")
