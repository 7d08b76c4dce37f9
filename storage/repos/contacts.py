"""Contacts in campaigns: adding, listing, the atomic claim, leases and calls."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import and_, case, func, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from campaigns import types as t
from campaigns.lifecycle import ContactProgress, manual_retry
from storage import models as m
from storage.db import is_postgres
from storage.errors import NotFound, StaleClaim
from storage.repos.bulk import bulk_add
from storage.repos.campaigns import AuditRepo, Who

BUCKET_MINUTES = 15
"""Width of a dashboard rollup bucket; 15 minutes fits every real UTC offset."""

_DUE_STATUSES = (t.ContactStatus.PENDING.value, t.ContactStatus.RETRY.value)


@dataclass(frozen=True, slots=True)
class NewContact:
    """A contact to add to a campaign (phone already E.164)."""

    phone: str
    name: str = ""
    priority: t.Priority = t.Priority.NORMAL
    tags: tuple[str, ...] = ()
    timezone: str | None = None
    country: str | None = None
    attributes: tuple[tuple[str, str], ...] = ()

    def __post_init__(self) -> None:
        t.check_length("name", self.name, t.MAX_CONTACT_NAME_CHARS)


@dataclass(frozen=True, slots=True)
class ContactView:
    """A campaign contact with the person's details, as lists and exports show it."""

    id: int
    contact_id: int
    phone: str
    name: str
    country: str | None
    timezone: str | None
    tags: tuple[str, ...]
    attributes: dict[str, Any]
    priority: t.Priority
    status: t.ContactStatus
    attempts: int
    due_at: datetime
    created_at: datetime
    last_called_at: datetime | None
    goal_result: str | None
    goal_score: int | None
    conversation_count: int
    total_duration_s: float
    last_answer_status: str | None
    final_reason: str | None


@dataclass(frozen=True, slots=True)
class Claim:
    """A contact leased to one dialer: the fencing token proves the lease is current."""

    campaign_contact_id: int
    contact_id: int
    phone: str
    timezone: str | None
    priority: t.Priority
    attempts: int
    token: int
    claimed_from: t.ContactStatus
    lease_expires_at: datetime


class ContactRepo:
    """Campaign contacts: add, list, manual retry, import inserts."""

    def __init__(self, session: Session) -> None:
        self.session = session
        self.audit = AuditRepo(session)

    def add_many(self, campaign_id: int, contacts: Sequence[NewContact], now: datetime,
                 *, import_id: int | None = None) -> tuple[int, int]:
        """Add contacts to a campaign; returns ``(inserted, duplicates)``.

        A person already known (same E.164) is reused; one already in the campaign, or
        repeated in ``contacts``, is a duplicate and is left as it is. Set-based through a
        staging table (``storage.repos.bulk``), in the caller's transaction.
        """
        first: dict[str, NewContact] = {}
        for c in contacts:
            first.setdefault(c.phone, c)
        inserted = bulk_add(self.session, campaign_id, list(first.values()), now, import_id)
        return inserted, len(contacts) - inserted

    def list(self, campaign_id: int, *, status: t.ContactStatus | None = None,
             search: str = "", limit: int | None = None, offset: int = 0) -> list[ContactView]:
        """Campaign contacts in queue order (priority, due time, id)."""
        query = _view_query().where(m.CampaignContact.campaign_id == campaign_id)
        if status is not None:
            query = query.where(m.CampaignContact.status == status.value)
        if search:
            like = f"%{search}%"
            query = query.where(m.Contact.name.ilike(like) | m.Contact.phone.like(like))
        query = query.order_by(m.CampaignContact.priority_rank, m.CampaignContact.due_at,
                               m.CampaignContact.id).offset(offset)
        if limit is not None:
            query = query.limit(limit)
        return [_view(cc, c) for cc, c in self.session.execute(query)]

    def iter_all(self, campaign_id: int, batch: int = 5000) -> Iterable[ContactView]:
        """Every contact of a campaign, by id, in batches (for exports)."""
        last = 0
        while True:
            query = (_view_query().where(m.CampaignContact.campaign_id == campaign_id)
                     .where(m.CampaignContact.id > last)
                     .order_by(m.CampaignContact.id).limit(batch))
            rows = self.session.execute(query).all()
            if not rows:
                return
            for cc, c in rows:
                yield _view(cc, c)
            last = rows[-1][0].id

    def find(self, campaign_id: int, key: str) -> m.CampaignContact:
        """A campaign contact by its id or the person's E.164 phone."""
        query = (select(m.CampaignContact).join(m.Contact)
                 .where(m.CampaignContact.campaign_id == campaign_id))
        if key.isdigit():
            query = query.where(m.CampaignContact.id == int(key))
        else:
            query = query.where(m.Contact.phone == key)
        row = self.session.scalar(query)
        if row is None:
            raise NotFound("contact", key)
        return row

    def retry(self, campaign_id: int, key: str, settings: t.CallSettings, who: Who,
              now: datetime) -> t.ContactStatus:
        """Operator's manual retry (``campaigns.lifecycle.manual_retry``); audited."""
        row = self.find(campaign_id, key)
        before = t.ContactStatus(row.status)
        progress = manual_retry(
            ContactProgress(status=before, attempts=row.attempts,
                            last_called_at=row.last_called_at, final_reason=row.final_reason,
                            trunk_failures=row.trunk_failures),
            now=now, settings=settings)
        row.status = progress.status.value
        row.attempts = progress.attempts
        row.due_at = progress.next_attempt_at or now
        row.final_reason = None
        row.trunk_failures = progress.trunk_failures
        self.audit.record(who, "contact.retry", "campaign_contact", row.id, now,
                          {"from": before.value})
        return before

    def complete_due(self, campaign_id: int, now: datetime) -> int:
        """Called contacts whose completion timeout has passed become Completed."""
        cc = m.CampaignContact
        result = self.session.execute(
            update(cc).where(cc.campaign_id == campaign_id)
            .where(cc.status == t.ContactStatus.CALLED.value)
            .where(cc.completion_due_at <= now)
            .values(status=t.ContactStatus.COMPLETED.value)
            .execution_options(synchronize_session=False))
        return int(getattr(result, "rowcount", 0))

    def next_due_at(self, campaign_id: int) -> datetime | None:
        """When the next queued contact or completion falls due (None: nothing left)."""
        cc = m.CampaignContact
        queued = self.session.scalar(
            select(func.min(cc.due_at)).where(cc.campaign_id == campaign_id)
            .where(cc.status.in_(_DUE_STATUSES)))
        completing = self.session.scalar(
            select(func.min(cc.completion_due_at)).where(cc.campaign_id == campaign_id)
            .where(cc.status == t.ContactStatus.CALLED.value))
        times = [x for x in (queued, completing) if x is not None]
        return min(times) if times else None

    def status_counts(self, campaign_id: int) -> dict[t.ContactStatus, int]:
        """How many contacts are in each status (kept exact by database triggers)."""
        return status_counts_of(self.session, campaign_id)


def status_counts_of(session: Session, campaign_id: int) -> dict[t.ContactStatus, int]:
    """Contacts per status from the trigger-kept counters (a few rows, not a scan)."""
    c = m.CampaignStatusCount
    total = func.sum(c.n)
    return {t.ContactStatus(status): int(n) for status, n in session.execute(
        select(c.status, total).where(c.campaign_id == campaign_id).group_by(c.status)
        .having(total != 0))}


def _view_query() -> Any:
    return select(m.CampaignContact, m.Contact).join(
        m.Contact, m.Contact.id == m.CampaignContact.contact_id)


def _view(cc: m.CampaignContact, c: m.Contact) -> ContactView:
    return ContactView(
        id=cc.id, contact_id=c.id, phone=c.phone, name=c.name, country=c.country,
        timezone=c.timezone, tags=tuple(c.tags or ()), attributes=dict(c.attributes or {}),
        priority=t.Priority(cc.priority), status=t.ContactStatus(cc.status),
        attempts=cc.attempts, due_at=cc.due_at, created_at=cc.created_at,
        last_called_at=cc.last_called_at, goal_result=cc.goal_result, goal_score=cc.goal_score,
        conversation_count=cc.conversation_count, total_duration_s=cc.total_duration_s,
        last_answer_status=cc.last_answer_status, final_reason=cc.final_reason)


class ClaimRepo:
    """The atomic claim of due contacts, leases and fencing.

    One UPDATE moves the next due contacts to Dialing with a lease owner, a lease expiry
    and a new fencing token. On PostgreSQL the candidate rows are locked with
    ``FOR UPDATE SKIP LOCKED`` so concurrent claimers never wait on or take the same
    row; SQLite serialises writers (``BEGIN IMMEDIATE``) so the same statement is atomic.
    """

    def __init__(self, session: Session) -> None:
        self.session = session

    def claim(self, campaign_id: int, owner: str, now: datetime, *, limit: int = 1,
              lease: timedelta = timedelta(minutes=5)) -> list[Claim]:
        """Claim up to ``limit`` due contacts of a campaign in queue order."""
        cc = m.CampaignContact
        candidates = (
            select(cc.id)
            .where(cc.campaign_id == campaign_id)
            .where(cc.status.in_(_DUE_STATUSES))
            .where(cc.due_at <= now)
            # A paused, completed or cancelled campaign hands out nothing, whoever asks.
            .where(select(m.Campaign.id).where(m.Campaign.id == campaign_id)
                   .where(m.Campaign.status == t.CampaignStatus.ACTIVE.value).exists())
            .order_by(cc.priority_rank,
                      case((cc.status == t.ContactStatus.RETRY.value, 0), else_=1),
                      cc.due_at, cc.id)
            .limit(limit)
        )
        if is_postgres(self.session.get_bind()):  # type: ignore[arg-type]
            candidates = candidates.with_for_update(skip_locked=True)
        expires = now + lease
        statement = (
            update(cc)
            .where(cc.id.in_(candidates.scalar_subquery()))
            .where(cc.status.in_(_DUE_STATUSES))
            .values(status=t.ContactStatus.DIALING.value, lease_owner=owner,
                    lease_expires_at=expires, claimed_from=cc.status,
                    fencing_token=cc.fencing_token + 1)
            .returning(cc.id, cc.contact_id, cc.priority, cc.attempts, cc.fencing_token,
                       cc.claimed_from)
            .execution_options(synchronize_session=False)
        )
        rows = self.session.execute(statement).all()
        if not rows:
            return []
        people = {c.id: c for c in self.session.scalars(
            select(m.Contact).where(m.Contact.id.in_([r[1] for r in rows])))}
        claims = [Claim(campaign_contact_id=r[0], contact_id=r[1], phone=people[r[1]].phone,
                        timezone=people[r[1]].timezone, priority=t.Priority(r[2]),
                        attempts=r[3], token=r[4], claimed_from=t.ContactStatus(r[5] or "pending"),
                        lease_expires_at=expires) for r in rows]
        claims.sort(key=lambda c: c.campaign_contact_id)
        return claims

    def _fenced(self, claim_id: int, token: int) -> Any:
        cc = m.CampaignContact
        return and_(cc.id == claim_id, cc.fencing_token == token,
                    cc.status == t.ContactStatus.DIALING.value)

    def release(self, claim: Claim, due_at: datetime, *, reason: str | None = None) -> None:
        """Give a claimed contact back to the queue without a call (e.g. window closed)."""
        result = self.session.execute(
            update(m.CampaignContact)
            .where(self._fenced(claim.campaign_contact_id, claim.token))
            .values(status=claim.claimed_from.value, due_at=due_at, lease_owner=None,
                    lease_expires_at=None, final_reason=reason)
            .execution_options(synchronize_session=False))
        if not getattr(result, "rowcount", 0):
            raise StaleClaim(claim.campaign_contact_id, claim.token)

    def extend(self, claim: Claim, until: datetime) -> None:
        """Stretch a current claim's lease (a call is now under way on it)."""
        result = self.session.execute(
            update(m.CampaignContact)
            .where(self._fenced(claim.campaign_contact_id, claim.token))
            .values(lease_expires_at=until)
            .execution_options(synchronize_session=False))
        if not getattr(result, "rowcount", 0):
            raise StaleClaim(claim.campaign_contact_id, claim.token)

    def finish(self, claim_id: int, token: int, *, status: t.ContactStatus, attempts: int,
               due_at: datetime, now: datetime, completion_due_at: datetime | None = None,
               final_reason: str | None = None, trunk_failures: int | None = None) -> None:
        """Record the contact's new state after its call, if the claim is still current."""
        values: dict[str, Any] = {
            "status": status.value, "attempts": attempts, "due_at": due_at,
            "last_called_at": now, "completion_due_at": completion_due_at,
            "final_reason": final_reason, "lease_owner": None, "lease_expires_at": None}
        if trunk_failures is not None:
            values["trunk_failures"] = trunk_failures
        result = self.session.execute(
            update(m.CampaignContact).where(self._fenced(claim_id, token)).values(**values)
            .execution_options(synchronize_session=False))
        if not getattr(result, "rowcount", 0):
            raise StaleClaim(claim_id, token)

    def expired(self, now: datetime, limit: int = 500) -> list[tuple[m.CampaignContact,
                                                                       m.Call | None]]:
        """Leases past expiry, each with the call row of its token (None when no call left)."""
        cc = m.CampaignContact
        query = (select(cc, m.Call)
                 .outerjoin(m.Call, and_(m.Call.campaign_contact_id == cc.id,
                                         m.Call.fencing_token == cc.fencing_token))
                 .where(cc.status == t.ContactStatus.DIALING.value)
                 .where(cc.lease_expires_at < now).limit(limit))
        return [(row, call) for row, call in self.session.execute(query)]

    def return_unplaced(self, now: datetime) -> int:
        """Expired leases that never wrote a call row go back to the queue unchanged."""
        cc = m.CampaignContact
        no_call = ~select(m.Call.id).where(m.Call.campaign_contact_id == cc.id).where(
            m.Call.fencing_token == cc.fencing_token).exists()
        result = self.session.execute(
            update(cc).where(cc.status == t.ContactStatus.DIALING.value)
            .where(cc.lease_expires_at < now).where(no_call)
            .values(status=func.coalesce(cc.claimed_from, t.ContactStatus.PENDING.value),
                    lease_owner=None, lease_expires_at=None)
            .execution_options(synchronize_session=False))
        return int(getattr(result, "rowcount", 0))


@dataclass(frozen=True, slots=True)
class CallStart:
    """What is known when a call row is written, before the INVITE leaves."""

    campaign_id: int
    campaign_contact_id: int
    token: int
    attempt_no: int
    number_id: int | None
    from_number: str
    to_number: str


@dataclass(frozen=True, slots=True)
class CallEnd:
    """A call's outcome."""

    answer_status: t.AnswerStatus
    sip_status: int | None = None
    sip_reason: str | None = None
    answered_at: datetime | None = None
    ring_ms: int | None = None
    talk_ms: int | None = None
    hangup_by: str | None = None
    conversation: bool = False
    amd_label: str | None = None
    amd_confidence: float | None = None
    amd_decision_ms: int | None = None
    beep_ms: int | None = None
    recording_path: str | None = None
    transcript: tuple[dict[str, Any], ...] = ()
    greet_delay_ms: int | None = None
    abandoned: bool = False
    voicemail_left: bool = False


def bucket_of(at: datetime) -> datetime:
    """The start of the UTC dashboard bucket that holds ``at``."""
    at = at.astimezone(UTC)
    minute = at.minute - at.minute % BUCKET_MINUTES
    return at.replace(minute=minute, second=0, microsecond=0)


class CallRepo:
    """Call rows: written before dialling, finished with the outcome, rolled up."""

    def __init__(self, session: Session) -> None:
        self.session = session

    def start(self, call: CallStart, now: datetime) -> int:
        """Write the call row; unique per (contact, token), so one claim dials once."""
        row = m.Call(campaign_id=call.campaign_id, campaign_contact_id=call.campaign_contact_id,
                     fencing_token=call.token, attempt_no=call.attempt_no,
                     number_id=call.number_id, from_number=call.from_number,
                     to_number=call.to_number, state="placing", started_at=now, transcript=[])
        self.session.add(row)
        self.session.flush()
        return row.id

    def finish(self, call_id: int, end: CallEnd, now: datetime) -> None:
        """Store the outcome once (a second finish is ignored) and update the rollup."""
        row = self.session.get(m.Call, call_id)
        if row is None:
            raise NotFound("call", str(call_id))
        if row.state == "ended":
            return
        row.state = "ended"
        row.ended_at = now
        for name in ("answer_status", "sip_status", "sip_reason", "answered_at", "ring_ms",
                     "talk_ms", "hangup_by", "conversation", "amd_label", "amd_confidence",
                     "amd_decision_ms", "beep_ms", "recording_path", "greet_delay_ms",
                     "abandoned", "voicemail_left"):
            value = getattr(end, name)
            setattr(row, name, value.value if isinstance(value, t.AnswerStatus) else value)
        row.transcript = list(end.transcript)
        talk_s = (end.talk_ms or 0) / 1000
        cc = self.session.get(m.CampaignContact, row.campaign_contact_id)
        if cc is not None:
            cc.last_answer_status = end.answer_status.value
            if end.conversation:
                cc.conversation_count += 1
                cc.total_duration_s += talk_s
        self.add_to_rollup(row.campaign_id, end.answered_at or row.started_at,
                           end.answer_status, 1, int(end.conversation),
                           talk_s if end.conversation else 0.0)

    def add_to_rollup(self, campaign_id: int, at: datetime, status: t.AnswerStatus,
                      calls: int, conversations: int, talk_s: float) -> None:
        """Add to the dashboard rollup in one upsert (PostgreSQL and SQLite alike)."""
        values = {"campaign_id": campaign_id, "bucket": bucket_of(at),
                  "answer_status": status.value, "calls": calls,
                  "conversations": conversations, "talk_s": talk_s}
        r = m.CallRollup
        keys = ["campaign_id", "bucket", "answer_status"]
        if is_postgres(self.session.get_bind()):  # type: ignore[arg-type]
            pg = postgresql.insert(r).values(**values)
            self.session.execute(pg.on_conflict_do_update(index_elements=keys, set_={
                "calls": r.calls + pg.excluded.calls,
                "conversations": r.conversations + pg.excluded.conversations,
                "talk_s": r.talk_s + pg.excluded.talk_s}))
        else:
            lite = sqlite.insert(r).values(**values)
            self.session.execute(lite.on_conflict_do_update(index_elements=keys, set_={
                "calls": r.calls + lite.excluded.calls,
                "conversations": r.conversations + lite.excluded.conversations,
                "talk_s": r.talk_s + lite.excluded.talk_s}))

    def recent_outcomes(self, campaign_id: int, limit: int,
                        since: datetime | None = None) -> list[t.AnswerStatus]:
        """The answer statuses of the campaign's last ``limit`` ended calls (those that
        ended at or after ``since``, when given), oldest first."""
        query = (select(m.Call.answer_status).where(m.Call.campaign_id == campaign_id)
                 .where(m.Call.state == "ended"))
        if since is not None:
            query = query.where(m.Call.ended_at >= since)
        rows = self.session.scalars(
            query.order_by(m.Call.ended_at.desc(), m.Call.id.desc()).limit(limit)).all()
        return [t.AnswerStatus(r) for r in reversed(rows) if r]

    def greet_delays(self, campaign_id: int, since: datetime | None,
                     limit: int) -> list[int]:
        """Greet delays (ms) of the last ``limit`` ended live answers whose calls started
        at or after ``since`` (all when None), oldest first."""
        query = (select(m.Call.greet_delay_ms).where(
            m.Call.campaign_id == campaign_id, m.Call.state == "ended",
            m.Call.answer_status == t.AnswerStatus.HUMAN.value,
            m.Call.greet_delay_ms.is_not(None)))
        if since is not None:
            query = query.where(m.Call.started_at >= since)
        rows = self.session.scalars(
            query.order_by(m.Call.ended_at.desc(), m.Call.id.desc()).limit(limit)).all()
        return [int(r) for r in reversed(rows) if r is not None]

    def abandon_counts(self, campaign_id: int, since: datetime) -> tuple[int, int]:
        """Live (human) answers and abandoned ones among calls started since ``since``."""
        row = self.session.execute(
            select(func.count(), func.coalesce(func.sum(case((m.Call.abandoned, 1), else_=0)), 0))
            .where(m.Call.campaign_id == campaign_id, m.Call.state == "ended",
                   m.Call.answer_status == t.AnswerStatus.HUMAN.value,
                   m.Call.started_at >= since)).one()
        return int(row[0]), int(row[1])

    def for_contact(self, campaign_contact_id: int) -> list[m.Call]:
        """A contact's calls, oldest first."""
        return list(self.session.scalars(
            select(m.Call).where(m.Call.campaign_contact_id == campaign_contact_id)
            .order_by(m.Call.id)))
