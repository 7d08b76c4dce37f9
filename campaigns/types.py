"""Value types of the campaign domain (SPEC.md): enums and frozen dataclasses.

Every type here is plain data. Validation happens in the constructors
(``__post_init__``) so an instance that exists is a legal one.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Final
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from campaigns.errors import ValidationError


class CampaignStatus(StrEnum):
    """Lifecycle of a campaign (SPEC: Campaigns)."""

    ACTIVE = "active"
    PAUSED = "paused"
    COMPLETED = "completed"
    CANCELLED = "cancelled"


class ContactStatus(StrEnum):
    """Lifecycle of a contact inside one campaign (SPEC: Contacts)."""

    PENDING = "pending"
    DIALING = "dialing"
    CALLED = "called"
    RETRY = "retry"
    COMPLETED = "completed"
    FAILED = "failed"
    NO_CONVERSATION = "no_conversation"


class Priority(StrEnum):
    """Contact priority; ``rank`` orders the queue (lower dials first)."""

    HIGH = "high"
    NORMAL = "normal"
    LOW = "low"

    @property
    def rank(self) -> int:
        return _PRIORITY_RANK[self]


_PRIORITY_RANK: Final = {Priority.HIGH: 0, Priority.NORMAL: 1, Priority.LOW: 2}


class NumberStatus(StrEnum):
    """Whether a phone number may dial: only ``ACTIVE`` numbers do."""

    ACTIVE = "active"
    DISABLED = "disabled"
    EXCLUDED = "excluded"


class RotationStrategy(StrEnum):
    """How a campaign with two or more numbers picks the caller ID."""

    ROUND_ROBIN = "round_robin"
    LOWEST_SPAM = "lowest_spam"
    LEAST_USED_TODAY = "least_used_today"
    WEIGHTED = "weighted"
    LOCAL_PRESENCE = "local_presence"


class AmdMode(StrEnum):
    """Answering-machine detection mode of a campaign."""

    ML = "ml"
    TEXT = "text"


class MachineAction(StrEnum):
    """What to do when a machine answers."""

    HANG_UP = "hang_up"
    LEAVE_VOICEMAIL = "leave_voicemail"


class AnswerStatus(StrEnum):
    """How a call attempt ended, as the dashboard and retry policy see it.

    The first four are the SPEC's answer statuses; the rest are the finer outcomes
    that the SIP mapping and the AMD detector produce.
    """

    HUMAN = "human"
    MACHINE = "machine"
    NO_ANSWER = "no_answer"
    REJECTED = "rejected"
    BUSY = "busy"
    SILENCE = "silence"
    FAX = "fax"
    UNKNOWN = "unknown"
    INVALID_NUMBER = "invalid_number"
    TRUNK_FAILURE = "trunk_failure"
    FAILED = "failed"

    @property
    def connected(self) -> bool:
        """True when the far end answered (200 OK) whatever AMD said."""
        return self in _CONNECTED


_CONNECTED: Final = frozenset(
    {AnswerStatus.HUMAN, AnswerStatus.MACHINE, AnswerStatus.SILENCE, AnswerStatus.FAX,
     AnswerStatus.UNKNOWN}
)


class GoalResult(StrEnum):
    """The verdict on one goal for one contact over all its conversations."""

    ACHIEVED = "achieved"
    PARTIALLY_ACHIEVED = "partially_achieved"
    NOT_ACHIEVED = "not_achieved"
    UNKNOWN = "unknown"


class AnalysisKind(StrEnum):
    """Question types asked of every conversation."""

    YES_NO = "yes_no"
    SINGLE_CHOICE = "single_choice"
    MULTIPLE_CHOICE = "multiple_choice"
    OPEN = "open"
    RATING = "rating"
    DATA_POINT = "data_point"


class DataPointType(StrEnum):
    """The type of a value extracted by a Data Point analysis."""

    TEXT = "text"
    NUMBER = "number"
    DATE = "date"
    BOOLEAN = "boolean"
    EMAIL = "email"
    PHONE = "phone"


class ExportFormat(StrEnum):
    """Contact export file formats."""

    CSV = "csv"
    CSV_SEMICOLON = "csv-semicolon"
    XLSX = "xlsx"
    JSON = "json"


# --- allowed setting values (SPEC: Call settings) -------------------------------------

CALL_INTERVALS_S: Final = (5, 10, 20, 30, 60, 120, 300, 600, 1200, 1800)
RING_TIMEOUTS_S: Final = (10, 15, 20, 25, 30, 45, 60)
MAX_RETRIES_RANGE: Final = range(0, 11)
SPAM_THRESHOLD_RANGE: Final = range(1, 10)
DAILY_CAP_RANGE: Final = range(1, 1001)
SPAM_SCORE_RANGE: Final = range(0, 10)

_DURATION_RE: Final = re.compile(
    r"^\s*(\d+)\s*(s|sec|secs|second|seconds|m|min|mins|minute|minutes|h|hr|hrs|hour|hours|"
    r"d|day|days)?\s*$", re.IGNORECASE)
_UNIT_SECONDS: Final = {"s": 1, "m": 60, "h": 3600, "d": 86400}


def parse_duration(text: str, *, default_unit: str = "m") -> timedelta:
    """Parse ``"30m"``, ``"2h"``, ``"3 days"``, ``"45"`` (in ``default_unit``) to a timedelta.

    Raises ``ValidationError`` on anything else.
    """
    match = _DURATION_RE.match(text)
    if match is None:
        raise ValidationError("duration", f"{text!r} is not a duration like 30m, 2h or 1d")
    amount = int(match.group(1))
    unit = (match.group(2) or default_unit).lower()[0]
    return timedelta(seconds=amount * _UNIT_SECONDS[unit])


def format_duration(value: timedelta) -> str:
    """The shortest exact ``NNd``/``NNh``/``NNm``/``NNs`` form of a duration."""
    seconds = int(value.total_seconds())
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds and seconds % size == 0:
            return f"{seconds // size}{unit}"
    return f"{seconds}s"


def parse_call_interval(text: str) -> int:
    """Parse a call interval (``"5s"``, ``"1m"``, ``"30 min"``) into one of the allowed seconds."""
    seconds = int(parse_duration(text, default_unit="s").total_seconds())
    if seconds not in CALL_INTERVALS_S:
        raise ValidationError("call_interval", _allowed(text, CALL_INTERVALS_S, "s"))
    return seconds


def _allowed(value: object, allowed: tuple[int, ...], unit: str) -> str:
    return f"{value} is not one of {', '.join(f'{a}{unit}' for a in allowed)}"


def check_timezone(name: str) -> str:
    """Return ``name`` when it is an IANA timezone, else raise ``ValidationError``."""
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise ValidationError("timezone", f"{name!r} is not an IANA timezone") from exc
    return name


# --- text lengths: what the database keeps (storage.models) ---------------------------

MAX_NAME_CHARS: Final = 200
"""Names of campaigns, agents, schedules, goals and analyses; a number's friendly name."""
MAX_CONTACT_NAME_CHARS: Final = 300
"""A contact's name (the importer's ``MAX_NAME_CHARS`` is the same column)."""
MAX_VOICE_CHARS: Final = 64
"""An agent's voice name."""
MAX_MODEL_CHARS: Final = 100
"""An agent's model name."""


def check_length(name: str, value: str, limit: int) -> str:
    """Return ``value`` when it has at most ``limit`` characters, else raise ``ValidationError``.

    The limits are the database's column lengths, checked here so that every entry point
    gets the same clear error (PostgreSQL would refuse the row, SQLite keep it whole).
    """
    if len(value) > limit:
        raise ValidationError(name, f"{name} is {len(value):,} characters; "
                                    f"the limit is {limit:,}")
    return value


def check_region(region: str) -> str:
    """Return ``region`` when it is two capital letters (ISO 3166), else raise."""
    if len(region) != 2 or not (region.isascii() and region.isalpha() and region.isupper()):
        raise ValidationError("region", f"{region[:40]!r} is not a two-letter country code "
                                        "like US")
    return region


def _check_range(name: str, value: int, allowed: range) -> None:
    if value not in allowed:
        raise ValidationError(name, f"{value} is outside {allowed.start}..{allowed.stop - 1}")


@dataclass(frozen=True, slots=True)
class CallSettings:
    """Per-campaign call settings (SPEC: Call settings)."""

    call_interval_s: int = 30
    ring_timeout_s: int = 30
    amd_mode: AmdMode = AmdMode.ML
    machine_action: MachineAction = MachineAction.HANG_UP
    max_retries: int = 2
    retry_interval: timedelta = timedelta(hours=4)
    completion_timeout: timedelta = timedelta(hours=24)
    max_concurrent_calls: int = 4

    def __post_init__(self) -> None:
        if self.call_interval_s not in CALL_INTERVALS_S:
            raise ValidationError(
                "call_interval", _allowed(self.call_interval_s, CALL_INTERVALS_S, "s"))
        if self.ring_timeout_s not in RING_TIMEOUTS_S:
            raise ValidationError(
                "ring_timeout", _allowed(self.ring_timeout_s, RING_TIMEOUTS_S, "s"))
        _check_range("max_retries", self.max_retries, MAX_RETRIES_RANGE)
        if self.retry_interval < timedelta(minutes=1):
            raise ValidationError("retry_interval", "must be at least 1 minute")
        if self.completion_timeout < timedelta(0):
            raise ValidationError("completion_timeout", "must not be negative")
        _check_range("max_concurrent_calls", self.max_concurrent_calls, range(1, 1001))


@dataclass(frozen=True, slots=True)
class RotationSettings:
    """How numbers are rotated and protected (SPEC: Phone numbers and rotation)."""

    strategy: RotationStrategy = RotationStrategy.ROUND_ROBIN
    spam_threshold: int = 7
    max_calls_per_number_per_day: int = 100
    fallback: RotationStrategy = RotationStrategy.LEAST_USED_TODAY

    def __post_init__(self) -> None:
        _check_range("spam_threshold", self.spam_threshold, SPAM_THRESHOLD_RANGE)
        _check_range("max_calls_per_number_per_day", self.max_calls_per_number_per_day,
                     DAILY_CAP_RANGE)
        if self.fallback is RotationStrategy.LOCAL_PRESENCE:
            raise ValidationError("fallback", "local presence cannot be its own fallback")


@dataclass(frozen=True, slots=True)
class Campaign:
    """A campaign as the domain sees it."""

    id: int
    name: str
    status: CampaignStatus = CampaignStatus.PAUSED
    timezone: str = "UTC"
    agent_id: int | None = None
    schedule_id: int | None = None
    start_at: datetime | None = None
    notes: str = ""
    region: str = "US"
    settings: CallSettings = field(default_factory=CallSettings)
    rotation: RotationSettings = field(default_factory=RotationSettings)

    def __post_init__(self) -> None:
        if not self.name.strip():
            raise ValidationError("name", "must not be empty")
        check_length("name", self.name, MAX_NAME_CHARS)
        check_region(self.region)
        check_timezone(self.timezone)
        if self.start_at is not None and self.start_at.tzinfo is None:
            raise ValidationError("start_at", "must carry a timezone")


@dataclass(frozen=True, slots=True)
class PhoneNumber:
    """A caller-ID number owned by the operator."""

    id: int
    e164: str
    friendly_name: str = ""
    status: NumberStatus = NumberStatus.ACTIVE
    calls_today: int = 0
    calls_total: int = 0
    spam_score: int = 0
    weight: int = 1

    def __post_init__(self) -> None:
        check_length("friendly_name", self.friendly_name, MAX_NAME_CHARS)
        _check_range("spam_score", self.spam_score, SPAM_SCORE_RANGE)
        if self.weight < 0:
            raise ValidationError("weight", "must not be negative")


@dataclass(frozen=True, slots=True)
class Contact:
    """A person to call: the contact itself, shared across campaigns."""

    id: int
    phone: str
    name: str = ""
    country: str | None = None
    timezone: str | None = None
    tags: tuple[str, ...] = ()
    attributes: tuple[tuple[str, str], ...] = ()


@dataclass(frozen=True, slots=True)
class CampaignContact:
    """A contact's progress inside one campaign."""

    id: int
    campaign_id: int
    contact_id: int
    phone: str
    status: ContactStatus = ContactStatus.PENDING
    priority: Priority = Priority.NORMAL
    attempts: int = 0
    created_at: datetime | None = None
    next_attempt_at: datetime | None = None
    last_called_at: datetime | None = None
    timezone: str | None = None


@dataclass(frozen=True, slots=True)
class Goal:
    """A campaign goal; exactly one is primary."""

    id: int
    name: str
    description: str = ""
    primary: bool = False
    archived: bool = False

    def __post_init__(self) -> None:
        if not self.name.strip():
            raise ValidationError("name", "must not be empty")
        check_length("name", self.name, MAX_NAME_CHARS)


@dataclass(frozen=True, slots=True)
class Analysis:
    """A question asked of every conversation."""

    id: int
    name: str
    question: str
    kind: AnalysisKind
    options: tuple[str, ...] = ()
    scale_min: int = 1
    scale_max: int = 5
    data_type: DataPointType = DataPointType.TEXT
    active: bool = True
    archived: bool = False

    def __post_init__(self) -> None:
        check_length("name", self.name, MAX_NAME_CHARS)
        if self.kind in (AnalysisKind.SINGLE_CHOICE, AnalysisKind.MULTIPLE_CHOICE):
            if len(self.options) < 2:
                raise ValidationError("options", f"{self.kind} needs at least two options")
            if len(set(self.options)) != len(self.options):
                raise ValidationError("options", "options must be distinct")
        if self.kind is AnalysisKind.RATING and self.scale_min >= self.scale_max:
            raise ValidationError("scale", "scale_min must be below scale_max")
