"""``/dialer`` text parsed into typed commands (pure: no Slack, no database).

Slack hands slash-command text with ``&``, ``<`` and ``>`` escaped and may wrap what
looks like a phone number or a link in ``<tel:…|label>``/``<https://…|label>``; both are
undone here so a command reads as the person typed it. Names with spaces go in quotes
(straight or the curly ones Slack clients like to produce). ``add``'s phone number may
contain spaces: the longest run of phone-like words after the campaign is the number,
the rest is the contact's name.
"""

from __future__ import annotations

import html
import re
from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum
from typing import ClassVar, Final

from chatops import strings as s

MAX_TEXT: Final = 2000
_LINK = re.compile(r"<(?:tel:|mailto:|https?://)[^|>]*\|([^>]*)>|<((?:tel:|https?://)[^|>]*)>")
_PHONE_WORD = re.compile(r"^[+(]?[\d().\-]*\d[\d().\-]*$")
_QUOTES = {"\u201c": '"', "\u201d": '"', "\u2018": "'", "\u2019": "'"}


class Action(StrEnum):
    """What a command or a button does; authorisation is decided on this."""

    HELP = "help"
    LIST = "list"
    STATUS = "status"
    PAUSE = "pause"
    RESUME = "resume"
    CANCEL = "cancel"
    ADD = "add"
    IMPORT = "import"
    DASHBOARD = "dashboard"
    NUMBERS = "numbers"
    AGENT = "agent"

    @property
    def changes_things(self) -> bool:
        """True for actions only operators may take."""
        return self in _CHANGES


_CHANGES: Final = frozenset({Action.PAUSE, Action.RESUME, Action.CANCEL, Action.ADD,
                             Action.IMPORT, Action.AGENT})


@dataclass(frozen=True, slots=True)
class Help:
    """``help`` (also the empty command)."""

    action: ClassVar[Action] = Action.HELP


@dataclass(frozen=True, slots=True)
class ListCampaigns:
    """``list``."""

    action: ClassVar[Action] = Action.LIST


@dataclass(frozen=True, slots=True)
class Status:
    """``status [campaign]``: one campaign, or an overview when ``campaign`` is None."""

    campaign: str | None = None
    action: ClassVar[Action] = Action.STATUS


@dataclass(frozen=True, slots=True)
class Pause:
    """``pause <campaign>``."""

    campaign: str
    action: ClassVar[Action] = Action.PAUSE


@dataclass(frozen=True, slots=True)
class Resume:
    """``resume <campaign>``."""

    campaign: str
    action: ClassVar[Action] = Action.RESUME


@dataclass(frozen=True, slots=True)
class Cancel:
    """``cancel <campaign>``; ``confirmed`` only from the confirmation button."""

    campaign: str
    confirmed: bool = False
    action: ClassVar[Action] = Action.CANCEL


@dataclass(frozen=True, slots=True)
class Add:
    """``add <campaign> <phone> [name]`` (phone as typed, normalised by the service)."""

    campaign: str
    phone: str
    name: str = ""
    action: ClassVar[Action] = Action.ADD


@dataclass(frozen=True, slots=True)
class ImportFile:
    """``add <campaign>`` with no phone: the text that goes with a shared CSV file."""

    campaign: str
    action: ClassVar[Action] = Action.IMPORT


@dataclass(frozen=True, slots=True)
class Dashboard:
    """``dashboard <campaign>``."""

    campaign: str
    action: ClassVar[Action] = Action.DASHBOARD


@dataclass(frozen=True, slots=True)
class Numbers:
    """``numbers <campaign>``."""

    campaign: str
    action: ClassVar[Action] = Action.NUMBERS


@dataclass(frozen=True, slots=True)
class SetAgent:
    """``agent <campaign> <agent>``: the voice agent that talks on the campaign's calls."""

    campaign: str
    agent: str
    action: ClassVar[Action] = Action.AGENT


Command = (Help | ListCampaigns | Status | Pause | Resume | Cancel | Add | ImportFile
           | Dashboard | Numbers | SetAgent)


class CommandError(ValueError):
    """Text that is not a command; ``message`` is the reply for the user (trusted mrkdwn
    with the offending word escaped)."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


def clean(text: str) -> str:
    """Undo Slack's escaping and auto-links; straighten curly quotes."""
    text = _LINK.sub(lambda m: m.group(1) if m.group(1) is not None else m.group(2), text)
    text = html.unescape(text)
    for curly, straight in _QUOTES.items():
        text = text.replace(curly, straight)
    text = re.sub(r"^tel:", "", text)
    return text.replace("\u00a0", " ").strip()


def split_words(text: str) -> list[str]:
    """Split on whitespace; "double" or 'single' quotes keep a name with spaces together."""
    words: list[str] = []
    i, n = 0, len(text)
    while i < n:
        if text[i].isspace():
            i += 1
            continue
        if text[i] in "\"'":
            end = text.find(text[i], i + 1)
            if end < 0:
                raise CommandError(s.UNBALANCED_QUOTE)
            words.append(text[i + 1:end])
            i = end + 1
            continue
        j = i
        while j < n and not text[j].isspace():
            j += 1
        words.append(text[i:j])
        i = j
    return words


def _code(word: str) -> str:
    # inside backticks an escaped word cannot break out or mention anyone
    safe = word.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    return safe.replace("`", "'")[:80]


_ONE_CAMPAIGN: Final[dict[str, Callable[[str], Command]]] = {
    "pause": Pause, "resume": Resume, "cancel": Cancel, "dashboard": Dashboard,
    "numbers": Numbers}


def parse(text: str) -> Command:
    """Parse the text after ``/dialer``; raises ``CommandError`` with a reply to show."""
    if len(text) > MAX_TEXT:
        raise CommandError(s.TOO_LONG)
    words = split_words(clean(text))
    if not words:
        return Help()
    head, rest = words[0].lower(), words[1:]
    if head in ("help", "?", "-h", "--help"):
        return Help()
    if head in ("list", "ls"):
        return ListCampaigns()
    if head == "status":
        return Status(" ".join(rest) or None)
    if head in _ONE_CAMPAIGN:
        if not rest:
            raise CommandError(s.NEEDS_CAMPAIGN.format(word=head))
        return _ONE_CAMPAIGN[head](" ".join(rest))
    if head == "add":
        return _parse_add(rest)
    if head == "agent":
        if len(rest) < 2:
            raise CommandError(s.NEEDS_AGENT)
        return SetAgent(rest[0], " ".join(rest[1:]))
    raise CommandError(s.UNKNOWN_SUBCOMMAND.format(word=_code(words[0])))


def _parse_add(rest: list[str]) -> Add | ImportFile:
    if not rest:
        raise CommandError(s.NEEDS_PHONE)
    campaign, after = rest[0], rest[1:]
    if not after:
        return ImportFile(campaign)
    phone_words: list[str] = []
    for word in after:
        if not _PHONE_WORD.match(word):
            break
        phone_words.append(word)
    if not phone_words:  # not phone-like at all: the service says why it is no number
        phone_words = after[:1]
    name = " ".join(after[len(phone_words):])
    return Add(campaign, " ".join(phone_words), name)


def action_of(text: str) -> Action | None:
    """The action a command text asks for, or None when it does not parse."""
    try:
        return parse(text).action
    except CommandError:
        return None
