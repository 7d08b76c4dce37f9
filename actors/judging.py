"""The judging step: load what is due, ask the judge, store the verdicts.

``judge_due`` is what the campaign loop calls now and then: contacts whose completion
timeout has passed and who are not judged since their last call
(``storage.repos.judging``). ``rejudge`` is ``dialer judge``: every contact with a
conversation, or the ones given. Per contact:

1. one short transaction loads its conversations;
2. outside any transaction the judge asks the LLM (goals over all conversations, then
   the analyses of each call); it never raises, failures come back as Unknown with a
   reason;
3. one transaction upserts the goal and analysis results, sets the contact's
   primary-goal result and goal score, and adds tokens and cost to the calls (the goals
   request is split evenly over the contact's calls).

A contact without a conversation is skipped: nothing to judge, nothing stored.

A database error on one contact is logged and counted; the others go on.
"""

from __future__ import annotations

import itertools
import logging
from collections import Counter
from collections.abc import Iterable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session, sessionmaker

from agent.judging import (
    AnalysisJudgement,
    CallTranscript,
    GoalJudgement,
    GoalVerdict,
    Judge,
    turns_from_json,
)
from campaigns import types as t
from campaigns.goals import contact_goal_score
from storage.repos import AnalysisRepo, CampaignRepo, GoalRepo
from storage.repos.judging import AnalysisRecord, GoalRecord, JudgingRepo

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class ContactJudgement:
    """What judging one contact produced."""

    campaign_contact_id: int
    goals: GoalJudgement
    analyses: tuple[AnalysisJudgement, ...]
    primary: t.GoalResult | None
    score: int | None

    @property
    def tokens(self) -> int:
        """Tokens of every request made for this contact."""
        return self.goals.usage.tokens + sum(a.usage.tokens for a in self.analyses)

    @property
    def cost_usd(self) -> float:
        """Cost of every request made for this contact."""
        return self.goals.usage.cost_usd + sum(a.usage.cost_usd for a in self.analyses)

    def as_json(self) -> dict[str, Any]:
        """The contact's verdicts and answers as JSON."""
        return {
            "id": self.campaign_contact_id,
            "goal_result": self.primary.value if self.primary else None,
            "goal_score": self.score,
            "goals": [{"goal_id": v.goal_id, "result": v.result.value,
                       "rationale": v.rationale, "evidence": v.evidence}
                      for v in self.goals.verdicts],
            "analyses": [{"call_id": j.call_id, "analysis_id": a.analysis_id, "ok": a.ok,
                          **a.stored_value(), "reason": a.reason}
                         for j in self.analyses for a in j.answers],
            "tokens": self.tokens,
            "cost_usd": round(self.cost_usd, 6),
        }


@dataclass
class JudgeReport:
    """Totals over one judging run (``dialer judge --json`` prints ``as_json``)."""

    contacts: int = 0
    goals: Counter[t.GoalResult] = field(default_factory=Counter)
    primary: Counter[t.GoalResult] = field(default_factory=Counter)
    analyses: int = 0
    analyses_ok: int = 0
    tokens: int = 0
    cost_usd: float = 0.0
    failed_requests: int = 0
    errors: int = 0
    details: list[ContactJudgement] = field(default_factory=list)
    details_limit: int = 1000
    """Keep at most this many per-contact judgements (a whole campaign can be large)."""

    def add(self, judged: ContactJudgement) -> None:
        """Count one judged contact."""
        self.contacts += 1
        self.goals.update(v.result for v in judged.goals.verdicts)
        if judged.primary is not None:
            self.primary[judged.primary] += 1
        for j in judged.analyses:
            self.analyses += len(j.answers)
            self.analyses_ok += sum(a.ok for a in j.answers)
            self.failed_requests += j.error is not None and j.usage.requests > 0
        self.failed_requests += (judged.goals.error is not None
                                 and judged.goals.usage.requests > 0)
        self.tokens += judged.tokens
        self.cost_usd += judged.cost_usd
        if len(self.details) < self.details_limit:
            self.details.append(judged)

    def as_json(self) -> dict[str, Any]:
        """The summary: contacts, verdicts per goal result, analyses, tokens, cost."""
        return {
            "contacts": self.contacts,
            "goals": {r.value: self.goals.get(r, 0) for r in t.GoalResult},
            "primary_goal": {r.value: self.primary.get(r, 0) for r in t.GoalResult},
            "analyses": self.analyses,
            "analyses_ok": self.analyses_ok,
            "tokens": self.tokens,
            "cost_usd": round(self.cost_usd, 6),
            "failed_requests": self.failed_requests,
            "errors": self.errors,
        }


@dataclass(frozen=True, slots=True)
class _Questions:
    goals: tuple[t.Goal, ...]
    analyses: tuple[t.Analysis, ...]
    region: str


def judge_due(sessions: sessionmaker[Session], campaign_id: int, judge: Judge, now: datetime,
              *, limit: int = 50, workers: int = 1) -> JudgeReport:
    """Judge up to ``limit`` contacts of the campaign that are due at ``now``."""
    with sessions() as s:
        if not JudgingRepo(s).has_questions(campaign_id):
            return JudgeReport()
        due = JudgingRepo(s).due(campaign_id, now, limit=limit)
    return _judge_all(sessions, campaign_id, due, judge, now, workers=workers)


def rejudge(sessions: sessionmaker[Session], campaign_id: int, judge: Judge, now: datetime,
            *, contact_ids: Sequence[int] | None = None, workers: int = 1,
            batch: int = 200) -> JudgeReport:
    """Judge again the given campaign contacts, or every one with a conversation."""
    ids: Iterable[int] = contact_ids if contact_ids is not None else _pages(
        sessions, campaign_id, batch)
    return _judge_all(sessions, campaign_id, ids, judge, now, workers=workers)


def judge_contact(sessions: sessionmaker[Session], campaign_id: int, campaign_contact_id: int,
                  judge: Judge, now: datetime) -> ContactJudgement | None:
    """Judge one contact and store the results (see the module docstring); None when it
    has no conversation (nothing is stored then)."""
    return _judge_one(sessions, _questions(sessions, campaign_id), campaign_contact_id,
                      judge, now)


def _pages(sessions: sessionmaker[Session], campaign_id: int, batch: int) -> Iterator[int]:
    after = 0
    while True:
        with sessions() as s:
            ids = JudgingRepo(s).with_conversations(campaign_id, after_id=after, limit=batch)
        yield from ids
        if len(ids) < batch:
            return
        after = ids[-1]


def _questions(sessions: sessionmaker[Session], campaign_id: int) -> _Questions:
    with sessions() as s:
        region = CampaignRepo(s).get(campaign_id).region
        goals = GoalRepo(s).list(campaign_id, include_archived=False)
        analyses = [a for a in AnalysisRepo(s).list(campaign_id, include_archived=False)
                    if a.active]
    return _Questions(tuple(goals), tuple(analyses), region)


def _judge_all(sessions: sessionmaker[Session], campaign_id: int, ids: Iterable[int],
               judge: Judge, now: datetime, *, workers: int) -> JudgeReport:
    report = JudgeReport()
    iterator = iter(ids)
    first = next(iterator, None)
    if first is None:
        return report
    questions = _questions(sessions, campaign_id)

    def one(cc_id: int) -> ContactJudgement | Exception | None:
        try:
            return _judge_one(sessions, questions, cc_id, judge, now)
        except SQLAlchemyError as exc:
            log.exception("storing the judgement of a contact failed",
                          extra={"campaign": campaign_id, "contact": cc_id})
            return exc

    pending = itertools.chain([first], iterator)
    if workers <= 1:
        for judged in map(one, pending):
            _count(report, judged)
        return report
    with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="judge") as pool:
        for judged in pool.map(one, pending):
            _count(report, judged)
    return report


def _count(report: JudgeReport, judged: ContactJudgement | Exception | None) -> None:
    if isinstance(judged, Exception):
        report.errors += 1
    elif judged is not None:
        report.add(judged)


def _judge_one(sessions: sessionmaker[Session], questions: _Questions, cc_id: int,
               judge: Judge, now: datetime) -> ContactJudgement | None:
    with sessions() as s:
        stored = JudgingRepo(s).conversations(cc_id)
    if not stored:
        return None
    calls = [CallTranscript(c.call_id, turns_from_json(c.transcript), c.started_at)
             for c in stored]
    goals = judge.judge_goals(questions.goals, calls)
    analyses = tuple(judge.judge_analyses(questions.analyses, call, region=questions.region)
                     for call in calls) if questions.analyses else ()
    verdicts = {v.goal_id: v.result for v in goals.verdicts}
    primary_goal = next((g for g in questions.goals if g.primary), None)
    primary = verdicts.get(primary_goal.id) if primary_goal is not None else None
    score = contact_goal_score(verdicts, questions.goals)
    with sessions.begin() as s:
        repo = JudgingRepo(s)
        repo.save_goal_results(cc_id, [_goal_record(v) for v in goals.verdicts], now)
        for judged in analyses:
            repo.save_analysis_results(judged.call_id, [
                AnalysisRecord(a.analysis_id, a.ok, a.stored_value(), a.reason)
                for a in judged.answers], now)
            repo.add_usage(judged.call_id, judged.usage.tokens, judged.usage.cost_usd)
        for call_id, tokens, cost in _split(goals, [c.call_id for c in calls]):
            repo.add_usage(call_id, tokens, cost)
        repo.set_contact_goal(cc_id, primary, score)
    log.info("judged contact", extra={"contact": cc_id, "goal_result": primary,
                                      "goal_score": score})
    return ContactJudgement(cc_id, goals, analyses, primary, score)


def _goal_record(v: GoalVerdict) -> GoalRecord:
    return GoalRecord(v.goal_id, v.result, v.rationale, v.evidence)


def _split(goals: GoalJudgement, call_ids: Sequence[int]) -> list[tuple[int, int, float]]:
    """The goals request's tokens and cost shared evenly by the contact's calls."""
    usage = goals.usage
    if not call_ids or (not usage.tokens and not usage.cost_usd):
        return []
    n = len(call_ids)
    share, extra = divmod(usage.tokens, n)
    return [(call_id, share + (extra if i == n - 1 else 0), usage.cost_usd / n)
            for i, call_id in enumerate(call_ids)]
