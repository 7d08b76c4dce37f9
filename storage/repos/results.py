"""Goals, analyses, imports, exports and the dashboard aggregates."""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any

from sqlalchemy import case, func, select
from sqlalchemy.orm import Session

from campaigns import types as t
from storage import models as m
from storage.db import is_postgres
from storage.errors import AlreadyExists, NotFound
from storage.repos.campaigns import AuditRepo, Who
from storage.repos.contacts import status_counts_of


def to_goal(row: m.Goal) -> t.Goal:
    """Map a goal row to the domain type."""
    return t.Goal(id=row.id, name=row.name, description=row.description,
                  primary=row.is_primary, archived=row.archived)


def to_analysis(row: m.Analysis) -> t.Analysis:
    """Map an analysis row to the domain type."""
    return t.Analysis(id=row.id, name=row.name, question=row.question,
                      kind=t.AnalysisKind(row.kind), options=tuple(row.options or ()),
                      scale_min=row.scale_min, scale_max=row.scale_max,
                      data_type=t.DataPointType(row.data_type), active=row.active,
                      archived=row.archived)


class GoalRepo:
    """Campaign goals: one primary, any number of secondary; archive and restore."""

    def __init__(self, session: Session) -> None:
        self.session = session
        self.audit = AuditRepo(session)

    def add(self, campaign_id: int, name: str, who: Who, now: datetime, *,
            description: str = "", primary: bool = False) -> t.Goal:
        """Add a goal; a new primary demotes the old one."""
        name = t.Goal(id=0, name=name.strip()).name  # validates
        if self.session.scalar(select(m.Goal.id).where(m.Goal.campaign_id == campaign_id,
                                                       m.Goal.name == name)):
            raise AlreadyExists("goal", name)
        if primary:
            self._demote_primary(campaign_id)
        row = m.Goal(campaign_id=campaign_id, name=name, description=description,
                     is_primary=primary, archived=False, created_at=now)
        self.session.add(row)
        self.session.flush()
        self.audit.record(who, "goal.add", "goal", row.id, now,
                          {"name": name, "primary": primary})
        return to_goal(row)

    def _demote_primary(self, campaign_id: int) -> None:
        for row in self.session.scalars(select(m.Goal).where(m.Goal.campaign_id == campaign_id,
                                                             m.Goal.is_primary)):
            row.is_primary = False

    def row(self, campaign_id: int, key: str) -> m.Goal:
        """A goal by id or name within the campaign."""
        query = select(m.Goal).where(m.Goal.campaign_id == campaign_id)
        query = query.where(m.Goal.id == int(key)) if key.isdigit() else query.where(
            m.Goal.name == key)
        row = self.session.scalar(query)
        if row is None:
            raise NotFound("goal", key)
        return row

    def edit(self, campaign_id: int, key: str, who: Who, now: datetime, *,
             name: str | None = None, description: str | None = None,
             primary: bool | None = None) -> t.Goal:
        """Change a goal's name, description or primary flag; audited."""
        row = self.row(campaign_id, key)
        name = name.strip() if name is not None and name.strip() else None
        if name is not None:
            replace(to_goal(row), name=name)  # validates
        if primary:
            self._demote_primary(campaign_id)
        changes: dict[str, Any] = {}
        if name is not None:
            row.name = changes["name"] = name
        if description is not None:
            row.description = changes["description"] = description
        if primary is not None:
            row.is_primary = changes["primary"] = primary
        self.audit.record(who, "goal.edit", "goal", row.id, now, changes)
        return to_goal(row)

    def set_archived(self, campaign_id: int, key: str, archived: bool, who: Who,
                     now: datetime) -> t.Goal:
        """Archive or restore a goal; audited."""
        row = self.row(campaign_id, key)
        row.archived = archived
        self.audit.record(who, "goal.archive" if archived else "goal.restore", "goal", row.id,
                          now)
        return to_goal(row)

    def list(self, campaign_id: int, *, include_archived: bool = True) -> list[t.Goal]:
        """The campaign's goals, primary first."""
        query = select(m.Goal).where(m.Goal.campaign_id == campaign_id)
        if not include_archived:
            query = query.where(m.Goal.archived.is_(False))
        query = query.order_by(m.Goal.is_primary.desc(), m.Goal.id)
        return [to_goal(r) for r in self.session.scalars(query)]


class AnalysisRepo:
    """Analyses: questions asked of every conversation."""

    def __init__(self, session: Session) -> None:
        self.session = session
        self.audit = AuditRepo(session)

    def add(self, campaign_id: int, spec: t.Analysis, who: Who, now: datetime) -> t.Analysis:
        """Store a validated analysis definition."""
        if self.session.scalar(select(m.Analysis.id).where(m.Analysis.campaign_id == campaign_id,
                                                           m.Analysis.name == spec.name)):
            raise AlreadyExists("analysis", spec.name)
        row = m.Analysis(campaign_id=campaign_id, name=spec.name, question=spec.question,
                         kind=spec.kind.value, options=list(spec.options),
                         scale_min=spec.scale_min, scale_max=spec.scale_max,
                         data_type=spec.data_type.value, active=spec.active, archived=False,
                         created_at=now)
        self.session.add(row)
        self.session.flush()
        self.audit.record(who, "analysis.add", "analysis", row.id, now,
                          {"name": spec.name, "kind": spec.kind.value})
        return to_analysis(row)

    def row(self, campaign_id: int, key: str) -> m.Analysis:
        """An analysis by id or name within the campaign."""
        query = select(m.Analysis).where(m.Analysis.campaign_id == campaign_id)
        query = query.where(m.Analysis.id == int(key)) if key.isdigit() else query.where(
            m.Analysis.name == key)
        row = self.session.scalar(query)
        if row is None:
            raise NotFound("analysis", key)
        return row

    def update(self, campaign_id: int, key: str, who: Who, now: datetime,
               **changes: Any) -> t.Analysis:
        """Edit, toggle, archive or restore; the domain type re-validates; audited."""
        row = self.row(campaign_id, key)
        updated = replace(to_analysis(row), **changes)
        row.name, row.question, row.kind = updated.name, updated.question, updated.kind.value
        row.options = list(updated.options)
        row.scale_min, row.scale_max = updated.scale_min, updated.scale_max
        row.data_type, row.active, row.archived = (updated.data_type.value, updated.active,
                                                   updated.archived)
        self.audit.record(who, "analysis.update", "analysis", row.id, now,
                          {k: (v.value if hasattr(v, "value") else
                               list(v) if isinstance(v, tuple) else v)
                           for k, v in changes.items()})
        return updated

    def list(self, campaign_id: int, *, include_archived: bool = True) -> list[t.Analysis]:
        """The campaign's analyses in creation order."""
        query = select(m.Analysis).where(m.Analysis.campaign_id == campaign_id)
        if not include_archived:
            query = query.where(m.Analysis.archived.is_(False))
        return [to_analysis(r) for r in self.session.scalars(query.order_by(m.Analysis.id))]


class ImportRepo:
    """Import records: progress while running, the report when done."""

    def __init__(self, session: Session) -> None:
        self.session = session

    def create(self, campaign_id: int, filename: str, size: int, who: Who,
               now: datetime) -> int:
        """Open an import record in status ``queued``."""
        row = m.Import(campaign_id=campaign_id, filename=filename, status="queued",
                       size_bytes=size, errors=[], created_by=who.actor, created_at=now)
        self.session.add(row)
        self.session.flush()
        return row.id

    def get(self, import_id: int) -> m.Import:
        """The import record or NotFound."""
        row = self.session.get(m.Import, import_id)
        if row is None:
            raise NotFound("import", str(import_id))
        return row

    def list(self, campaign_id: int) -> list[m.Import]:
        """A campaign's imports, newest first."""
        return list(self.session.scalars(select(m.Import).where(
            m.Import.campaign_id == campaign_id).order_by(m.Import.id.desc())))


class ExportRepo:
    """Export history."""

    def __init__(self, session: Session) -> None:
        self.session = session
        self.audit = AuditRepo(session)

    def record(self, campaign_id: int, fmt: t.ExportFormat, path: str, rows: int, who: Who,
               now: datetime) -> int:
        """Remember one finished export; audited."""
        row = m.Export(campaign_id=campaign_id, format=fmt.value, path=path, rows=rows,
                       created_by=who.actor, created_at=now)
        self.session.add(row)
        self.session.flush()
        self.audit.record(who, "contacts.export", "campaign", campaign_id, now,
                          {"format": fmt.value, "rows": rows, "path": path})
        return row.id

    def list(self, campaign_id: int) -> list[m.Export]:
        """A campaign's exports, newest first."""
        return list(self.session.scalars(select(m.Export).where(
            m.Export.campaign_id == campaign_id).order_by(m.Export.id.desc())))


@dataclass(frozen=True, slots=True)
class ContactCounts:
    """Contacts per status and per primary-goal result."""

    status_counts: dict[t.ContactStatus, int]
    goal_counts: dict[t.GoalResult, int]


@dataclass(frozen=True, slots=True)
class CallAggregates:
    """Calls per answer status, conversations, talk time and the heatmap inputs.

    ``grids`` holds the (human answers, calls) 7×24 grids when the database binned them
    in the campaign's timezone itself (PostgreSQL); otherwise the 15-minute UTC buckets
    are returned for the pure code to bin.
    """

    answer_counts: dict[t.AnswerStatus, int]
    conversations: int
    talk_s: float
    human_buckets: list[tuple[datetime, int]]
    call_buckets: list[tuple[datetime, int]]
    grids: tuple[list[list[int]], list[list[int]]] | None = None


class DashboardRepo:
    """Aggregates for the dashboard: contact statuses by index, calls from the rollup."""

    def __init__(self, session: Session) -> None:
        self.session = session

    def contact_counts(self, campaign_id: int) -> ContactCounts:
        """Contacts per status and per primary-goal result."""
        cc = m.CampaignContact
        status_counts = status_counts_of(self.session, campaign_id)
        goal_counts = {
            t.GoalResult(str(goal)): int(n) for goal, n in self.session.execute(
                select(cc.goal_result, func.count()).where(cc.campaign_id == campaign_id)
                .where(cc.goal_result.is_not(None)).group_by(cc.goal_result))}
        return ContactCounts(status_counts, goal_counts)

    def call_aggregates(self, campaign_id: int, timezone: str) -> CallAggregates:
        """Everything the dashboard needs from the call rollup."""
        r = m.CallRollup
        answer_counts: dict[t.AnswerStatus, int] = {}
        conversations = 0
        talk_s = 0.0
        for status, calls, convs, talk in self.session.execute(
                select(r.answer_status, func.sum(r.calls), func.sum(r.conversations),
                       func.sum(r.talk_s))
                .where(r.campaign_id == campaign_id).group_by(r.answer_status)):
            answer_counts[t.AnswerStatus(status)] = int(calls)
            conversations += int(convs)
            talk_s += float(talk)
        is_human = r.answer_status == t.AnswerStatus.HUMAN.value
        humans = func.sum(case((is_human, r.calls), else_=0))
        if is_postgres(self.session.get_bind()):  # type: ignore[arg-type]
            # PostgreSQL converts each bucket to local time exactly (DST included) and
            # bins by weekday and hour: 168 rows back instead of one per bucket.
            local = func.timezone(timezone, r.bucket)
            dow = func.extract("isodow", local)
            hour = func.extract("hour", local)
            human_grid = [[0] * 24 for _ in range(7)]
            call_grid = [[0] * 24 for _ in range(7)]
            for d, h, hs, cs in self.session.execute(
                    select(dow, hour, humans, func.sum(r.calls))
                    .where(r.campaign_id == campaign_id).group_by(dow, hour)):
                human_grid[int(d) - 1][int(h)] = int(hs)
                call_grid[int(d) - 1][int(h)] = int(cs)
            return CallAggregates(answer_counts, conversations, talk_s, [], [],
                                  (human_grid, call_grid))
        human: list[tuple[datetime, int]] = []
        every: list[tuple[datetime, int]] = []
        for bucket, hs, calls in self.session.execute(
                select(r.bucket, humans, func.sum(r.calls))
                .where(r.campaign_id == campaign_id).group_by(r.bucket).order_by(r.bucket)):
            every.append((bucket, int(calls)))
            if hs:
                human.append((bucket, int(hs)))
        return CallAggregates(answer_counts, conversations, talk_s, human, every)
