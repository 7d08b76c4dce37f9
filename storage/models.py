"""SQLAlchemy 2.0 models: typed ``Mapped[...]`` columns, one naming convention.

Enum-valued columns hold the ``campaigns.types`` enum values as short strings; the
repositories convert. Every timestamp is stored in UTC and comes back timezone-aware on
every dialect. Relationships are ``lazy="raise"``: queries say what they load.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any, ClassVar

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    DateTime,
    Dialect,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Text,
    UniqueConstraint,
    false,
    text,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship
from sqlalchemy.types import TypeDecorator

NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class UTCDateTime(TypeDecorator[datetime]):
    """A timestamp stored in UTC that always comes back timezone-aware."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to a UTC column")
        value = value.astimezone(UTC)
        if dialect.name == "sqlite":
            return value.replace(tzinfo=None)
        return value

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value.astimezone(UTC)


class Base(DeclarativeBase):
    """Declarative base with the naming convention from day one."""

    metadata = MetaData(naming_convention=NAMING_CONVENTION)
    type_annotation_map: ClassVar[dict[Any, Any]] = {
        datetime: UTCDateTime(),
        dict[str, Any]: JSON(),
        list[Any]: JSON(),
    }


class Agent(Base):
    """A voice agent: instructions, voice, first and voicemail messages."""

    __tablename__ = "agents"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(200), unique=True)
    instructions: Mapped[str] = mapped_column(Text, default="")
    voice: Mapped[str] = mapped_column(String(64), default="alloy")
    first_message: Mapped[str] = mapped_column(Text, default="")
    voicemail_message: Mapped[str] = mapped_column(Text, default="")
    model: Mapped[str] = mapped_column(String(100), default="gpt-realtime")
    created_at: Mapped[datetime]


class Schedule(Base):
    """Business hours: weekly windows plus dated exceptions, as JSON."""

    __tablename__ = "schedules"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(200), unique=True)
    timezone: Mapped[str] = mapped_column(String(64))
    definition: Mapped[dict[str, Any]]
    created_at: Mapped[datetime]


class Campaign(Base):
    """A campaign and its call and rotation settings."""

    __tablename__ = "campaigns"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(200), unique=True)
    status: Mapped[str] = mapped_column(String(16), index=True)
    timezone: Mapped[str] = mapped_column(String(64))
    region: Mapped[str] = mapped_column(String(2), default="US")
    agent_id: Mapped[int | None] = mapped_column(ForeignKey("agents.id", ondelete="SET NULL"))
    schedule_id: Mapped[int | None] = mapped_column(
        ForeignKey("schedules.id", ondelete="SET NULL"))
    start_at: Mapped[datetime | None]
    notes: Mapped[str] = mapped_column(Text, default="")
    call_interval_s: Mapped[int]
    ring_timeout_s: Mapped[int]
    amd_mode: Mapped[str] = mapped_column(String(8))
    machine_action: Mapped[str] = mapped_column(String(16))
    max_retries: Mapped[int]
    retry_interval_s: Mapped[int]
    completion_timeout_s: Mapped[int]
    max_concurrent_calls: Mapped[int]
    rotation_strategy: Mapped[str] = mapped_column(String(24))
    rotation_fallback: Mapped[str] = mapped_column(String(24))
    spam_threshold: Mapped[int]
    max_calls_per_number_per_day: Mapped[int]
    rotation_state: Mapped[dict[str, Any]] = mapped_column(default=dict)
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]

    agent: Mapped[Agent | None] = relationship(lazy="raise")
    schedule: Mapped[Schedule | None] = relationship(lazy="raise")


class PhoneNumber(Base):
    """A caller-ID number; ``calls_today`` counts within ``calls_today_day``."""

    __tablename__ = "phone_numbers"

    id: Mapped[int] = mapped_column(primary_key=True)
    e164: Mapped[str] = mapped_column(String(20), unique=True)
    friendly_name: Mapped[str] = mapped_column(String(200), default="")
    status: Mapped[str] = mapped_column(String(16))
    spam_score: Mapped[int] = mapped_column(default=0)
    calls_total: Mapped[int] = mapped_column(default=0)
    calls_today: Mapped[int] = mapped_column(default=0)
    calls_today_day: Mapped[str | None] = mapped_column(String(10))
    excluded_reason: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime]


class CampaignNumber(Base):
    """A number assigned to a campaign, with its rotation weight."""

    __tablename__ = "campaign_numbers"

    campaign_id: Mapped[int] = mapped_column(
        ForeignKey("campaigns.id", ondelete="CASCADE"), primary_key=True)
    number_id: Mapped[int] = mapped_column(
        ForeignKey("phone_numbers.id", ondelete="CASCADE"), primary_key=True)
    weight: Mapped[int] = mapped_column(default=1)

    number: Mapped[PhoneNumber] = relationship(lazy="raise")


class Contact(Base):
    """A person, shared across campaigns, unique by E.164 phone."""

    __tablename__ = "contacts"

    id: Mapped[int] = mapped_column(primary_key=True)
    phone: Mapped[str] = mapped_column(String(20), unique=True)
    name: Mapped[str] = mapped_column(String(300), default="")
    country: Mapped[str | None] = mapped_column(String(2))
    timezone: Mapped[str | None] = mapped_column(String(64))
    tags: Mapped[list[Any]] = mapped_column(default=list)
    attributes: Mapped[dict[str, Any]] = mapped_column(default=dict)
    created_at: Mapped[datetime]


class CampaignContact(Base):
    """A contact's progress in one campaign, with the claim lease and fencing token.

    ``due_at`` is when the contact may be dialled: its creation time while pending,
    the retry time while in retry. The claim query orders by
    ``priority_rank, pending_after_retry, due_at, id`` (campaigns.queue.queue_key).
    """

    __tablename__ = "campaign_contacts"
    __table_args__ = (
        UniqueConstraint("campaign_id", "contact_id"),
        Index("ix_campaign_contacts_queue", "campaign_id", "status", "priority_rank", "due_at",
              "id"),
        # Partial indexes: a fresh contact (no goal result, not dialing) costs no entry,
        # which keeps a 75,000-row import cheap.
        Index("ix_campaign_contacts_goal", "campaign_id", "goal_result",
              postgresql_where=text("goal_result IS NOT NULL"),
              sqlite_where=text("goal_result IS NOT NULL")),
        Index("ix_campaign_contacts_lease", "lease_expires_at",
              postgresql_where=text("status = 'dialing'"),
              sqlite_where=text("status = 'dialing'")),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    campaign_id: Mapped[int] = mapped_column(ForeignKey("campaigns.id", ondelete="CASCADE"))
    contact_id: Mapped[int] = mapped_column(ForeignKey("contacts.id", ondelete="CASCADE"),
                                            index=True)
    status: Mapped[str] = mapped_column(String(16))
    priority: Mapped[str] = mapped_column(String(8))
    priority_rank: Mapped[int]
    attempts: Mapped[int] = mapped_column(default=0)
    trunk_failures: Mapped[int] = mapped_column(default=0)
    due_at: Mapped[datetime]
    created_at: Mapped[datetime]
    last_called_at: Mapped[datetime | None]
    completion_due_at: Mapped[datetime | None]
    lease_owner: Mapped[str | None] = mapped_column(String(128))
    lease_expires_at: Mapped[datetime | None]
    claimed_from: Mapped[str | None] = mapped_column(String(16))
    fencing_token: Mapped[int] = mapped_column(BigInteger, default=0)
    final_reason: Mapped[str | None] = mapped_column(Text)
    goal_result: Mapped[str | None] = mapped_column(String(24))
    goal_score: Mapped[int | None]
    conversation_count: Mapped[int] = mapped_column(default=0)
    total_duration_s: Mapped[float] = mapped_column(default=0.0)
    last_answer_status: Mapped[str | None] = mapped_column(String(16))
    import_id: Mapped[int | None] = mapped_column(ForeignKey("imports.id", ondelete="SET NULL"))

    contact: Mapped[Contact] = relationship(lazy="raise")


class CampaignStatusCount(Base):
    """How many contacts of a campaign are in each status, kept by database triggers.

    Migration 0002 installs the triggers (statement-level with transition tables on
    PostgreSQL, row-level on SQLite), so every write path keeps the counts exact. On
    PostgreSQL each backend adds to its own ``shard`` row, so concurrent claimers never
    queue on one counter; readers sum the shards. The dashboard reads this instead of
    scanning a million contacts.
    """

    __tablename__ = "campaign_status_counts"

    campaign_id: Mapped[int] = mapped_column(primary_key=True, autoincrement=False)
    status: Mapped[str] = mapped_column(String(16), primary_key=True)
    shard: Mapped[int] = mapped_column(primary_key=True, autoincrement=False)
    n: Mapped[int] = mapped_column(BigInteger, default=0)


class Call(Base):
    """One call attempt. Written before the INVITE leaves, finished with the outcome.

    ``(campaign_contact_id, fencing_token)`` is unique: one claim places at most one call.
    """

    __tablename__ = "calls"
    __table_args__ = (
        UniqueConstraint("campaign_contact_id", "fencing_token"),
        Index("ix_calls_campaign_started", "campaign_id", "started_at"),
    )

    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"),
                                    primary_key=True)
    campaign_id: Mapped[int] = mapped_column(ForeignKey("campaigns.id", ondelete="CASCADE"))
    campaign_contact_id: Mapped[int] = mapped_column(
        ForeignKey("campaign_contacts.id", ondelete="CASCADE"), index=True)
    fencing_token: Mapped[int] = mapped_column(BigInteger)
    attempt_no: Mapped[int]
    number_id: Mapped[int | None] = mapped_column(
        ForeignKey("phone_numbers.id", ondelete="SET NULL"))
    from_number: Mapped[str] = mapped_column(String(20))
    to_number: Mapped[str] = mapped_column(String(20))
    state: Mapped[str] = mapped_column(String(16), default="placing")
    answer_status: Mapped[str | None] = mapped_column(String(16))
    sip_status: Mapped[int | None]
    sip_reason: Mapped[str | None] = mapped_column(String(200))
    started_at: Mapped[datetime]
    answered_at: Mapped[datetime | None]
    ended_at: Mapped[datetime | None]
    ring_ms: Mapped[int | None]
    talk_ms: Mapped[int | None]
    hangup_by: Mapped[str | None] = mapped_column(String(16))
    conversation: Mapped[bool] = mapped_column(Boolean, default=False)
    amd_label: Mapped[str | None] = mapped_column(String(16))
    amd_confidence: Mapped[float | None]
    amd_decision_ms: Mapped[int | None]
    beep_ms: Mapped[int | None]
    recording_path: Mapped[str | None] = mapped_column(Text)
    transcript: Mapped[list[Any]] = mapped_column(default=list)
    llm_tokens: Mapped[int] = mapped_column(default=0)
    llm_cost_usd: Mapped[float] = mapped_column(default=0.0)
    greet_delay_ms: Mapped[int | None]
    """Callee's first words ended → our first audio (humans only)."""
    abandoned: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    """A live answer not greeted in time (the abandon rate counts these)."""
    voicemail_left: Mapped[bool] = mapped_column(Boolean, default=False,
                                                 server_default=false())


class CallRollup(Base):
    """Calls per campaign, 15-minute UTC bucket and answer status, kept as calls end.

    The dashboard reads this instead of scanning millions of call rows.
    """

    __tablename__ = "call_rollups"

    campaign_id: Mapped[int] = mapped_column(
        ForeignKey("campaigns.id", ondelete="CASCADE"), primary_key=True)
    bucket: Mapped[datetime] = mapped_column(primary_key=True)
    answer_status: Mapped[str] = mapped_column(String(16), primary_key=True)
    calls: Mapped[int] = mapped_column(default=0)
    conversations: Mapped[int] = mapped_column(default=0)
    talk_s: Mapped[float] = mapped_column(default=0.0)


class Goal(Base):
    """A campaign goal; exactly one active primary per campaign."""

    __tablename__ = "goals"
    __table_args__ = (UniqueConstraint("campaign_id", "name"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    campaign_id: Mapped[int] = mapped_column(ForeignKey("campaigns.id", ondelete="CASCADE"))
    name: Mapped[str] = mapped_column(String(200))
    description: Mapped[str] = mapped_column(Text, default="")
    is_primary: Mapped[bool] = mapped_column(Boolean, default=False)
    archived: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[datetime]


class GoalResultRow(Base):
    """A goal's verdict for one campaign contact over all its conversations."""

    __tablename__ = "goal_results"
    __table_args__ = (UniqueConstraint("goal_id", "campaign_contact_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    goal_id: Mapped[int] = mapped_column(ForeignKey("goals.id", ondelete="CASCADE"))
    campaign_contact_id: Mapped[int] = mapped_column(
        ForeignKey("campaign_contacts.id", ondelete="CASCADE"), index=True)
    result: Mapped[str] = mapped_column(String(24))
    rationale: Mapped[str] = mapped_column(Text, default="")
    evidence: Mapped[str] = mapped_column(Text, default="")
    judged_at: Mapped[datetime]


class Analysis(Base):
    """A question asked of every conversation of a campaign."""

    __tablename__ = "analyses"
    __table_args__ = (UniqueConstraint("campaign_id", "name"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    campaign_id: Mapped[int] = mapped_column(ForeignKey("campaigns.id", ondelete="CASCADE"))
    name: Mapped[str] = mapped_column(String(200))
    question: Mapped[str] = mapped_column(Text)
    kind: Mapped[str] = mapped_column(String(24))
    options: Mapped[list[Any]] = mapped_column(default=list)
    scale_min: Mapped[int] = mapped_column(default=1)
    scale_max: Mapped[int] = mapped_column(default=5)
    data_type: Mapped[str] = mapped_column(String(16), default="text")
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    archived: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[datetime]


class AnalysisResult(Base):
    """The validated answer to one analysis for one call (or Unknown with a reason)."""

    __tablename__ = "analysis_results"
    __table_args__ = (UniqueConstraint("analysis_id", "call_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    analysis_id: Mapped[int] = mapped_column(ForeignKey("analyses.id", ondelete="CASCADE"))
    call_id: Mapped[int] = mapped_column(ForeignKey("calls.id", ondelete="CASCADE"), index=True)
    ok: Mapped[bool] = mapped_column(Boolean)
    value: Mapped[dict[str, Any]] = mapped_column(default=dict)
    reason: Mapped[str] = mapped_column(Text, default="")
    judged_at: Mapped[datetime]


class Import(Base):
    """A CSV import: progress while it runs, the error report when it is done."""

    __tablename__ = "imports"

    id: Mapped[int] = mapped_column(primary_key=True)
    campaign_id: Mapped[int] = mapped_column(ForeignKey("campaigns.id", ondelete="CASCADE"),
                                             index=True)
    filename: Mapped[str] = mapped_column(Text)
    status: Mapped[str] = mapped_column(String(16))
    size_bytes: Mapped[int] = mapped_column(default=0)
    total_records: Mapped[int] = mapped_column(default=0)
    processed: Mapped[int] = mapped_column(default=0)
    inserted: Mapped[int] = mapped_column(default=0)
    duplicates: Mapped[int] = mapped_column(default=0)
    errors: Mapped[list[Any]] = mapped_column(default=list)
    failure: Mapped[str | None] = mapped_column(Text)
    created_by: Mapped[str] = mapped_column(String(200), default="")
    created_at: Mapped[datetime]
    finished_at: Mapped[datetime | None]


class Export(Base):
    """One export of a campaign's contacts: the history operators asked for."""

    __tablename__ = "exports"

    id: Mapped[int] = mapped_column(primary_key=True)
    campaign_id: Mapped[int] = mapped_column(ForeignKey("campaigns.id", ondelete="CASCADE"),
                                             index=True)
    format: Mapped[str] = mapped_column(String(16))
    path: Mapped[str] = mapped_column(Text)
    rows: Mapped[int]
    created_by: Mapped[str] = mapped_column(String(200), default="")
    created_at: Mapped[datetime]


class DncEntry(Base):
    """A number that must never be called."""

    __tablename__ = "dnc"

    id: Mapped[int] = mapped_column(primary_key=True)
    phone: Mapped[str] = mapped_column(String(20), unique=True)
    reason: Mapped[str] = mapped_column(Text, default="")
    source: Mapped[str] = mapped_column(String(200), default="")
    created_at: Mapped[datetime]


class AuditEntry(Base):
    """Who changed what, when, and from where."""

    __tablename__ = "audit_log"

    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"),
                                    primary_key=True)
    at: Mapped[datetime] = mapped_column(index=True)
    actor: Mapped[str] = mapped_column(String(200))
    source: Mapped[str] = mapped_column(String(200))
    action: Mapped[str] = mapped_column(String(64))
    entity: Mapped[str] = mapped_column(String(64))
    entity_id: Mapped[str] = mapped_column(String(64))
    details: Mapped[dict[str, Any]] = mapped_column(default=dict)
