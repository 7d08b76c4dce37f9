"""Judging: which contacts are due, their conversations, and the stored verdicts.

A contact is **due** for judging when it has had a conversation, is not on a call, its
completion timeout has passed (or it has none, e.g. it was retried by hand), and nothing
has been judged for it since its last call: no goal result and no analysis result of
its calls with ``judged_at`` at or after ``last_called_at``. So a later conversation
makes a judged contact due again, and no extra column is needed. A campaign with
neither live goals nor active analyses has nothing to judge.

Results are upserted: re-judging replaces a goal's verdict for a contact and an
analysis' answer for a call. Token counts and costs are added to the calls.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import func, or_, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from campaigns import types as t
from storage import models as m
from storage.db import is_postgres


@dataclass(frozen=True, slots=True)
class StoredConversation:
    """A call with a conversation, as the judge needs it."""

    call_id: int
    started_at: datetime
    transcript: list[Any]


@dataclass(frozen=True, slots=True)
class GoalRecord:
    """One goal verdict to store."""

    goal_id: int
    result: t.GoalResult
    rationale: str
    evidence: str


@dataclass(frozen=True, slots=True)
class AnalysisRecord:
    """One analysis answer to store (``ok`` False: ``reason`` says why)."""

    analysis_id: int
    ok: bool
    value: dict[str, Any]
    reason: str


class JudgingRepo:
    """Queries and writes of the judging step; never commits."""

    def __init__(self, session: Session) -> None:
        self.session = session

    def has_questions(self, campaign_id: int) -> bool:
        """True when the campaign has a live goal or an active analysis to judge."""
        goal = select(m.Goal.id).where(m.Goal.campaign_id == campaign_id,
                                       m.Goal.archived.is_(False)).limit(1)
        analysis = select(m.Analysis.id).where(m.Analysis.campaign_id == campaign_id,
                                               m.Analysis.active.is_(True),
                                               m.Analysis.archived.is_(False)).limit(1)
        return (self.session.scalar(goal) is not None
                or self.session.scalar(analysis) is not None)

    def due(self, campaign_id: int, now: datetime, *, limit: int = 100) -> list[int]:
        """Campaign-contact ids due for judging at ``now`` (see the module docstring),
        those whose completion fell due first."""
        cc = m.CampaignContact
        last_call = func.coalesce(cc.last_called_at, cc.created_at)
        gr, ar, call = m.GoalResultRow, m.AnalysisResult, m.Call
        judged_goal = (select(gr.id).where(gr.campaign_contact_id == cc.id)
                       .where(gr.judged_at >= last_call).exists())
        judged_call = (select(ar.id).join(call, call.id == ar.call_id)
                       .where(call.campaign_contact_id == cc.id)
                       .where(ar.judged_at >= last_call).exists())
        query = (select(cc.id)
                 .where(cc.campaign_id == campaign_id)
                 .where(cc.conversation_count > 0)
                 .where(cc.status != t.ContactStatus.DIALING.value)
                 .where(last_call <= now)
                 .where(or_(cc.completion_due_at.is_(None), cc.completion_due_at <= now))
                 .where(~judged_goal).where(~judged_call)
                 .order_by(cc.completion_due_at, cc.id)
                 .limit(limit))
        return list(self.session.scalars(query))

    def with_conversations(self, campaign_id: int, *, after_id: int = 0,
                           limit: int = 500) -> list[int]:
        """Campaign-contact ids with a conversation and not on a call, by id, after
        ``after_id`` (to page through a whole campaign for re-judging)."""
        cc = m.CampaignContact
        return list(self.session.scalars(
            select(cc.id).where(cc.campaign_id == campaign_id)
            .where(cc.conversation_count > 0)
            .where(cc.status != t.ContactStatus.DIALING.value)
            .where(cc.id > after_id).order_by(cc.id).limit(limit)))

    def conversations(self, campaign_contact_id: int) -> list[StoredConversation]:
        """The contact's calls with a conversation, oldest first."""
        c = m.Call
        rows = self.session.execute(
            select(c.id, c.started_at, c.transcript)
            .where(c.campaign_contact_id == campaign_contact_id)
            .where(c.conversation.is_(True))
            .order_by(c.started_at, c.id))
        return [StoredConversation(i, started, list(transcript or []))
                for i, started, transcript in rows]

    def save_goal_results(self, campaign_contact_id: int, records: Sequence[GoalRecord],
                          now: datetime) -> None:
        """Store (or replace) the contact's verdict on each goal."""
        for r in records:
            self._upsert(m.GoalResultRow, ["goal_id", "campaign_contact_id"], {
                "goal_id": r.goal_id, "campaign_contact_id": campaign_contact_id,
                "result": r.result.value, "rationale": r.rationale, "evidence": r.evidence,
                "judged_at": now})

    def save_analysis_results(self, call_id: int, records: Sequence[AnalysisRecord],
                              now: datetime) -> None:
        """Store (or replace) the call's answer to each analysis."""
        for r in records:
            self._upsert(m.AnalysisResult, ["analysis_id", "call_id"], {
                "analysis_id": r.analysis_id, "call_id": call_id, "ok": r.ok,
                "value": r.value, "reason": r.reason, "judged_at": now})

    def set_contact_goal(self, campaign_contact_id: int, result: t.GoalResult | None,
                         score: int | None) -> None:
        """The contact's primary-goal result and goal score."""
        self.session.execute(
            update(m.CampaignContact).where(m.CampaignContact.id == campaign_contact_id)
            .values(goal_result=result.value if result is not None else None,
                    goal_score=score)
            .execution_options(synchronize_session=False))

    def add_usage(self, call_id: int, tokens: int, cost_usd: float) -> None:
        """Add LLM tokens and cost to a call."""
        if not tokens and not cost_usd:
            return
        c = m.Call
        self.session.execute(
            update(c).where(c.id == call_id)
            .values(llm_tokens=c.llm_tokens + tokens, llm_cost_usd=c.llm_cost_usd + cost_usd)
            .execution_options(synchronize_session=False))

    def goal_results(self, campaign_contact_id: int) -> list[m.GoalResultRow]:
        """The contact's stored goal verdicts, by goal."""
        gr = m.GoalResultRow
        return list(self.session.scalars(
            select(gr).where(gr.campaign_contact_id == campaign_contact_id)
            .order_by(gr.goal_id)))

    def analysis_results(self, campaign_contact_id: int) -> list[m.AnalysisResult]:
        """The stored answers of all the contact's calls, by call and analysis."""
        ar = m.AnalysisResult
        return list(self.session.scalars(
            select(ar).join(m.Call, m.Call.id == ar.call_id)
            .where(m.Call.campaign_contact_id == campaign_contact_id)
            .order_by(ar.call_id, ar.analysis_id)))

    def _upsert(self, model: type[m.Base], keys: list[str], values: dict[str, Any]) -> None:
        changes = {k: v for k, v in values.items() if k not in keys}
        if is_postgres(self.session.get_bind()):  # type: ignore[arg-type]
            pg = postgresql.insert(model).values(**values)
            self.session.execute(pg.on_conflict_do_update(index_elements=keys, set_=changes))
        else:
            lite = sqlite.insert(model).values(**values)
            self.session.execute(lite.on_conflict_do_update(index_elements=keys, set_=changes))
