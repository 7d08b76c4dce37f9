"""Campaigns, numbers, schedules, agents, DNC and the audit log."""

from __future__ import annotations

import builtins
import difflib
from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import case, func, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from campaigns import types as t
from campaigns.lifecycle import campaign_transition
from campaigns.spam import NumberTraffic
from storage import models as m
from storage.errors import AlreadyExists, NotFound


@dataclass(frozen=True, slots=True)
class Who:
    """Who makes a change and from where, for the audit log."""

    actor: str
    source: str = "cli"


class AuditRepo:
    """Writes and reads the audit log."""

    def __init__(self, session: Session) -> None:
        self.session = session

    def record(self, who: Who, action: str, entity: str, entity_id: object, now: datetime,
               details: dict[str, Any] | None = None) -> None:
        """Append one audit entry in the caller's transaction."""
        self.session.add(m.AuditEntry(at=now, actor=who.actor, source=who.source,
                                      action=action, entity=entity,
                                      entity_id=str(entity_id), details=details or {}))

    def since(self, after_id: int, limit: int = 500) -> list[m.AuditEntry]:
        """Entries after ``after_id``, oldest first (for readers that must not skip any)."""
        return list(self.session.scalars(select(m.AuditEntry).where(m.AuditEntry.id > after_id)
                                         .order_by(m.AuditEntry.id).limit(limit)))

    def last_status_change(self, entity: str, entity_id: object, to: str) -> datetime | None:
        """When ``entity`` ``entity_id`` last had its status set to ``to`` (None: never,
        as far as its last 100 status changes go)."""
        rows = self.session.scalars(
            select(m.AuditEntry).where(m.AuditEntry.action == f"{entity}.status",
                                       m.AuditEntry.entity == entity,
                                       m.AuditEntry.entity_id == str(entity_id))
            .order_by(m.AuditEntry.id.desc()).limit(100))
        for row in rows:
            if (row.details or {}).get("to") == to:
                return row.at
        return None

    def recent(self, limit: int = 50, entity: str | None = None) -> list[m.AuditEntry]:
        """The newest entries first."""
        query = select(m.AuditEntry).order_by(m.AuditEntry.id.desc()).limit(limit)
        if entity is not None:
            query = query.where(m.AuditEntry.entity == entity)
        return list(self.session.scalars(query))


def to_campaign(row: m.Campaign) -> t.Campaign:
    """Map a campaign row to the domain type."""
    return t.Campaign(
        id=row.id, name=row.name, status=t.CampaignStatus(row.status), timezone=row.timezone,
        agent_id=row.agent_id, schedule_id=row.schedule_id, start_at=row.start_at,
        notes=row.notes, region=row.region,
        settings=t.CallSettings(
            call_interval_s=row.call_interval_s, ring_timeout_s=row.ring_timeout_s,
            amd_mode=t.AmdMode(row.amd_mode), machine_action=t.MachineAction(row.machine_action),
            max_retries=row.max_retries, retry_interval=timedelta(seconds=row.retry_interval_s),
            completion_timeout=timedelta(seconds=row.completion_timeout_s),
            max_concurrent_calls=row.max_concurrent_calls),
        rotation=t.RotationSettings(
            strategy=t.RotationStrategy(row.rotation_strategy),
            spam_threshold=row.spam_threshold,
            max_calls_per_number_per_day=row.max_calls_per_number_per_day,
            fallback=t.RotationStrategy(row.rotation_fallback)),
    )


def _apply_settings(row: m.Campaign, settings: t.CallSettings,
                    rotation: t.RotationSettings) -> None:
    row.call_interval_s = settings.call_interval_s
    row.ring_timeout_s = settings.ring_timeout_s
    row.amd_mode = settings.amd_mode.value
    row.machine_action = settings.machine_action.value
    row.max_retries = settings.max_retries
    row.retry_interval_s = int(settings.retry_interval.total_seconds())
    row.completion_timeout_s = int(settings.completion_timeout.total_seconds())
    row.max_concurrent_calls = settings.max_concurrent_calls
    row.rotation_strategy = rotation.strategy.value
    row.rotation_fallback = rotation.fallback.value
    row.spam_threshold = rotation.spam_threshold
    row.max_calls_per_number_per_day = rotation.max_calls_per_number_per_day


@dataclass(frozen=True, slots=True)
class CampaignSummary:
    """A campaign with the counts the list view shows."""

    campaign: t.Campaign
    contacts: int
    numbers: int
    created_at: datetime


class CampaignRepo:
    """Campaign rows: create, find by name or id, settings, status with audit."""

    def __init__(self, session: Session) -> None:
        self.session = session
        self.audit = AuditRepo(session)

    def create(self, name: str, who: Who, now: datetime, *, timezone: str = "UTC",
               region: str = "US", notes: str = "", start_at: datetime | None = None,
               settings: t.CallSettings | None = None,
               rotation: t.RotationSettings | None = None) -> t.Campaign:
        """Create a paused campaign; validation happens in the domain type first."""
        domain = t.Campaign(id=0, name=name.strip(), timezone=timezone, region=region.upper(),
                            notes=notes, start_at=start_at,
                            settings=settings or t.CallSettings(),
                            rotation=rotation or t.RotationSettings())
        if self.session.scalar(select(m.Campaign.id).where(m.Campaign.name == domain.name)):
            raise AlreadyExists("campaign", domain.name)
        row = m.Campaign(name=domain.name, status=domain.status.value, timezone=timezone,
                         region=domain.region, notes=notes, start_at=start_at,
                         rotation_state={}, created_at=now, updated_at=now)
        _apply_settings(row, domain.settings, domain.rotation)
        self.session.add(row)
        try:
            self.session.flush()
        except IntegrityError as exc:
            raise AlreadyExists("campaign", domain.name) from exc
        self.audit.record(who, "campaign.create", "campaign", row.id, now, {"name": row.name})
        return to_campaign(row)

    def row(self, key: str | int) -> m.Campaign:
        """The campaign row by id or exact name; NotFound suggests close names."""
        row: m.Campaign | None = None
        text = str(key).strip()
        if text.isdigit():
            row = self.session.get(m.Campaign, int(text))
        if row is None:
            row = self.session.scalar(select(m.Campaign).where(m.Campaign.name == text))
        if row is None:
            row = self.session.scalar(
                select(m.Campaign).where(func.lower(m.Campaign.name) == text.lower()))
        if row is None:
            names = list(self.session.scalars(select(m.Campaign.name)))
            close = difflib.get_close_matches(text, names, n=3, cutoff=0.5)
            raise NotFound("campaign", text, tuple(close))
        return row

    def get(self, key: str | int) -> t.Campaign:
        """The campaign by id or name."""
        return to_campaign(self.row(key))

    def list(self, *, search: str = "", sort: str = "name",
             statuses: Sequence[t.CampaignStatus] = ()) -> list[CampaignSummary]:
        """Campaigns with contact and number counts; sort by name, status or date."""
        contacts = (select(m.CampaignContact.campaign_id, func.count().label("n"))
                    .group_by(m.CampaignContact.campaign_id).subquery())
        numbers = (select(m.CampaignNumber.campaign_id, func.count().label("n"))
                   .group_by(m.CampaignNumber.campaign_id).subquery())
        query = (select(m.Campaign, func.coalesce(contacts.c.n, 0),
                        func.coalesce(numbers.c.n, 0))
                 .outerjoin(contacts, contacts.c.campaign_id == m.Campaign.id)
                 .outerjoin(numbers, numbers.c.campaign_id == m.Campaign.id))
        if search:
            query = query.where(m.Campaign.name.ilike(f"%{_escape_like(search)}%", escape="\\"))
        if statuses:
            query = query.where(m.Campaign.status.in_([s.value for s in statuses]))
        order = {"name": (m.Campaign.name,), "status": (m.Campaign.status, m.Campaign.name),
                 "date": (m.Campaign.created_at.desc(), m.Campaign.id.desc())}
        if sort not in order:
            raise ValueError(f"sort must be one of {', '.join(order)}")
        query = query.order_by(*order[sort])
        return [CampaignSummary(to_campaign(row), int(nc), int(nn), row.created_at)
                for row, nc, nn in self.session.execute(query)]

    def set_status(self, key: str | int, target: t.CampaignStatus, who: Who,
                   now: datetime, *, reason: str | None = None
                   ) -> tuple[t.CampaignStatus, t.CampaignStatus]:
        """Move a campaign to ``target`` if the transition is legal; audited (with
        ``reason`` when the dialer itself decided, e.g. an auto-pause).

        Returns ``(before, after)``; a same-status request is a no-op and not audited.
        """
        row = self.row(key)
        before = t.CampaignStatus(row.status)
        after = campaign_transition(before, target)
        if after is before:
            return before, after
        row.status = after.value
        row.updated_at = now
        details = {"from": before.value, "to": after.value}
        if reason:
            details["reason"] = reason
        self.audit.record(who, "campaign.status", "campaign", row.id, now, details)
        return before, after

    def update(self, key: str | int, who: Who, now: datetime, **changes: Any) -> t.Campaign:
        """Change fields and settings; the domain types validate the result; audited."""
        row = self.row(key)
        current = to_campaign(row)
        settings_fields = set(t.CallSettings.__dataclass_fields__)
        rotation_fields = set(t.RotationSettings.__dataclass_fields__)
        campaign_fields = {"name", "timezone", "region", "notes", "start_at", "agent_id",
                           "schedule_id"}
        unknown = set(changes) - settings_fields - rotation_fields - campaign_fields
        if unknown:
            raise ValueError(f"unknown campaign fields: {', '.join(sorted(unknown))}")
        settings = _replace(current.settings, {k: v for k, v in changes.items()
                                               if k in settings_fields})
        rotation = _replace(current.rotation, {k: v for k, v in changes.items()
                                               if k in rotation_fields})
        plain = {k: v for k, v in changes.items() if k in campaign_fields}
        _replace(current, {**plain, "settings": settings, "rotation": rotation})  # validates
        for key_, value in plain.items():
            setattr(row, key_, value.strip() if key_ == "name" else value)
        _apply_settings(row, settings, rotation)
        row.updated_at = now
        try:
            self.session.flush()
        except IntegrityError as exc:
            raise AlreadyExists("campaign", str(changes.get("name"))) from exc
        self.audit.record(who, "campaign.update", "campaign", row.id, now,
                          {k: _jsonable(v) for k, v in changes.items()})
        return to_campaign(row)

    def save_rotation_state(self, campaign_id: int, state: dict[str, Any]) -> None:
        """Persist what the rotation strategy remembers between picks."""
        self.session.execute(update(m.Campaign).where(m.Campaign.id == campaign_id)
                             .values(rotation_state=state))


def _replace(obj: Any, changes: dict[str, Any]) -> Any:
    return replace(obj, **changes) if changes else obj


def _jsonable(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, timedelta):
        return value.total_seconds()
    if isinstance(value, (str, int, float, bool)) or value is None:
        return value
    return str(value)


def _escape_like(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


@dataclass(frozen=True, slots=True)
class AssignedNumber:
    """A number as a campaign sees it: the domain number plus its weight."""

    number: t.PhoneNumber
    weight: int


def to_number(row: m.PhoneNumber, *, weight: int = 1, today: str | None = None) -> t.PhoneNumber:
    """Map a number row; ``calls_today`` reads 0 when the stored day is not ``today``."""
    calls_today = row.calls_today if today is None or row.calls_today_day == today else 0
    return t.PhoneNumber(id=row.id, e164=row.e164, friendly_name=row.friendly_name,
                         status=t.NumberStatus(row.status), calls_today=calls_today,
                         calls_total=row.calls_total, spam_score=row.spam_score, weight=weight)


SHORT_CALL_MS = 10_000
"""An answered call shorter than this counts as a short call (people hanging up fast)."""


class NumberRepo:
    """Caller-ID numbers and their campaign assignments."""

    def __init__(self, session: Session) -> None:
        self.session = session
        self.audit = AuditRepo(session)

    def add(self, e164: str, who: Who, now: datetime, *, friendly_name: str = "") -> t.PhoneNumber:
        """Register a number (already normalised to E.164)."""
        t.PhoneNumber(id=0, e164=e164, friendly_name=friendly_name)  # validates
        if self.session.scalar(select(m.PhoneNumber.id).where(m.PhoneNumber.e164 == e164)):
            raise AlreadyExists("number", e164)
        row = m.PhoneNumber(e164=e164, friendly_name=friendly_name,
                            status=t.NumberStatus.ACTIVE.value, created_at=now)
        self.session.add(row)
        self.session.flush()
        self.audit.record(who, "number.add", "number", row.id, now, {"e164": e164})
        return to_number(row)

    def row(self, e164: str) -> m.PhoneNumber:
        """The number row or NotFound."""
        row = self.session.scalar(select(m.PhoneNumber).where(m.PhoneNumber.e164 == e164))
        if row is None:
            raise NotFound("number", e164)
        return row

    def list(self, *, today: str | None = None) -> list[t.PhoneNumber]:
        """Every number, by E.164."""
        rows = self.session.scalars(select(m.PhoneNumber).order_by(m.PhoneNumber.e164))
        return [to_number(r, today=today) for r in rows]

    def set_status(self, e164: str, status: t.NumberStatus, who: Who, now: datetime,
                   reason: str | None = None) -> t.PhoneNumber:
        """Enable, disable or exclude a number; audited."""
        row = self.row(e164)
        before = row.status
        row.status = status.value
        row.excluded_reason = reason if status is t.NumberStatus.EXCLUDED else None
        self.audit.record(who, "number.status", "number", row.id, now,
                          {"from": before, "to": status.value, "reason": reason})
        return to_number(row)

    def assign(self, campaign_id: int, e164: str, who: Who, now: datetime,
               weight: int = 1) -> None:
        """Assign a number to a campaign (or change its weight); audited."""
        if weight < 0:
            raise ValueError("weight must not be negative")
        number = self.row(e164)
        link = self.session.get(m.CampaignNumber, (campaign_id, number.id))
        if link is None:
            self.session.add(m.CampaignNumber(campaign_id=campaign_id, number_id=number.id,
                                              weight=weight))
        else:
            link.weight = weight
        self.audit.record(who, "campaign.add_number", "campaign", campaign_id, now,
                          {"e164": e164, "weight": weight})

    def unassign(self, campaign_id: int, e164: str, who: Who, now: datetime) -> None:
        """Remove a number from a campaign; audited."""
        number = self.row(e164)
        link = self.session.get(m.CampaignNumber, (campaign_id, number.id))
        if link is None:
            raise NotFound("campaign number", e164)
        self.session.delete(link)
        self.audit.record(who, "campaign.remove_number", "campaign", campaign_id, now,
                          {"e164": e164})

    def for_campaign(self, campaign_id: int, *,
                     today: str | None = None) -> builtins.list[AssignedNumber]:
        """The campaign's numbers with weights, by id (rotation wants a stable order)."""
        query = (select(m.PhoneNumber, m.CampaignNumber.weight)
                 .join(m.CampaignNumber, m.CampaignNumber.number_id == m.PhoneNumber.id)
                 .where(m.CampaignNumber.campaign_id == campaign_id)
                 .order_by(m.PhoneNumber.id))
        return [AssignedNumber(to_number(row, weight=weight, today=today), weight)
                for row, weight in self.session.execute(query)]

    def count_call(self, number_id: int, day: str, cap: int) -> bool:
        """Count one call against the number's daily cap in one statement.

        Returns False (and counts nothing) when the cap for ``day`` is reached. The
        day rolls over inside the same UPDATE, so concurrent dialers cannot overshoot.
        """
        is_today = m.PhoneNumber.calls_today_day == day
        result = self.session.execute(
            update(m.PhoneNumber)
            .where(m.PhoneNumber.id == number_id)
            .where((~is_today) | m.PhoneNumber.calls_today_day.is_(None)
                   | (m.PhoneNumber.calls_today < cap))
            .values(calls_today=case((is_today, m.PhoneNumber.calls_today + 1), else_=1),
                    calls_today_day=day,
                    calls_total=m.PhoneNumber.calls_total + 1)
            .execution_options(synchronize_session=False))
        return bool(getattr(result, "rowcount", 0))

    def traffic(self, number_id: int, since: datetime, until: datetime) -> NumberTraffic:
        """The number's own calls between ``since`` and ``until``, for the spam estimator."""
        rows = self.session.execute(
            select(m.Call.started_at, m.Call.answer_status, m.Call.talk_ms)
            .where(m.Call.number_id == number_id)
            .where(m.Call.started_at >= since).where(m.Call.started_at < until)).all()
        per_day: dict[str, int] = {}
        answered = short = rejected = no_answer = 0
        for started, status, talk_ms in rows:
            day = started.date().isoformat()
            per_day[day] = per_day.get(day, 0) + 1
            answer = t.AnswerStatus(status) if status else None
            if answer is not None and answer.connected:
                answered += 1
                short += int((talk_ms or 0) < SHORT_CALL_MS)
            elif answer is t.AnswerStatus.REJECTED:
                rejected += 1
            elif answer is t.AnswerStatus.NO_ANSWER:
                no_answer += 1
        days = max(1, (until - since).days)
        return NumberTraffic(days=days, calls=len(rows), answered=answered, short_calls=short,
                             rejected=rejected, no_answer=no_answer,
                             max_calls_in_a_day=max(per_day.values(), default=0))

    def set_spam_score(self, number_id: int, score: int) -> None:
        """Store a recomputed spam score."""
        self.session.execute(update(m.PhoneNumber).where(m.PhoneNumber.id == number_id)
                             .values(spam_score=score))


class ScheduleRepo:
    """Business-hours schedules stored as JSON definitions."""

    def __init__(self, session: Session) -> None:
        self.session = session
        self.audit = AuditRepo(session)

    def create(self, name: str, timezone: str, definition: dict[str, Any], who: Who,
               now: datetime) -> int:
        """Store a schedule definition (already validated by campaigns.schedule)."""
        t.check_length("name", name, t.MAX_NAME_CHARS)
        if self.session.scalar(select(m.Schedule.id).where(m.Schedule.name == name)):
            raise AlreadyExists("schedule", name)
        row = m.Schedule(name=name, timezone=timezone, definition=definition, created_at=now)
        self.session.add(row)
        self.session.flush()
        self.audit.record(who, "schedule.create", "schedule", row.id, now, {"name": name})
        return row.id

    def row(self, key: str | int) -> m.Schedule:
        """By id or name."""
        text = str(key)
        row = self.session.get(m.Schedule, int(text)) if text.isdigit() else None
        row = row or self.session.scalar(select(m.Schedule).where(m.Schedule.name == text))
        if row is None:
            raise NotFound("schedule", text)
        return row

    def list(self) -> list[m.Schedule]:
        """All schedules by name."""
        return list(self.session.scalars(select(m.Schedule).order_by(m.Schedule.name)))


class AgentRepo:
    """Voice agents as data."""

    def __init__(self, session: Session) -> None:
        self.session = session
        self.audit = AuditRepo(session)

    def create(self, name: str, who: Who, now: datetime, **fields: str) -> int:
        """Create an agent; fields are the model's text columns."""
        t.check_length("name", name, t.MAX_NAME_CHARS)
        t.check_length("voice", fields.get("voice", ""), t.MAX_VOICE_CHARS)
        t.check_length("model", fields.get("model", ""), t.MAX_MODEL_CHARS)
        if self.session.scalar(select(m.Agent.id).where(m.Agent.name == name)):
            raise AlreadyExists("agent", name)
        row = m.Agent(name=name, created_at=now, **fields)
        self.session.add(row)
        self.session.flush()
        self.audit.record(who, "agent.create", "agent", row.id, now, {"name": name})
        return row.id

    def row(self, key: str | int) -> m.Agent:
        """By id or name."""
        text = str(key)
        row = self.session.get(m.Agent, int(text)) if text.isdigit() else None
        row = row or self.session.scalar(select(m.Agent).where(m.Agent.name == text))
        if row is None:
            raise NotFound("agent", text)
        return row

    def list(self) -> list[m.Agent]:
        """All agents by name."""
        return list(self.session.scalars(select(m.Agent).order_by(m.Agent.name)))


class DncRepo:
    """The do-not-call list."""

    def __init__(self, session: Session) -> None:
        self.session = session
        self.audit = AuditRepo(session)

    def add(self, phones: Sequence[str], who: Who, now: datetime, *, reason: str = "",
            source: str = "") -> int:
        """Add E.164 numbers; already listed ones are skipped. Returns how many were new."""
        wanted = list(dict.fromkeys(phones))
        existing = set(self.session.scalars(select(m.DncEntry.phone)
                                            .where(m.DncEntry.phone.in_(wanted))))
        new = [p for p in wanted if p not in existing]
        self.session.add_all(m.DncEntry(phone=p, reason=reason, source=source or who.source,
                                        created_at=now) for p in new)
        if new:
            self.audit.record(who, "dnc.add", "dnc", len(new), now,
                              {"count": len(new), "reason": reason})
        return len(new)

    def blocked(self, phone: str) -> bool:
        """True when ``phone`` is on the list."""
        return self.session.scalar(select(m.DncEntry.id).where(m.DncEntry.phone == phone)) \
            is not None

    def list(self, limit: int = 1000) -> list[m.DncEntry]:
        """Entries, newest first."""
        return list(self.session.scalars(select(m.DncEntry).order_by(m.DncEntry.id.desc())
                                         .limit(limit)))
