"""Judging end to end through the real ``openai`` client, a fake server and real storage.

Runs on SQLite and PostgreSQL. The fake OpenAI server checks every request's strict JSON
schema (a fixture fails the test if one was refused). Failure tests: 429 storms, 5xx,
timeouts, malformed output, refusals, answers outside the options: each ends as Unknown
(or a not-ok answer) with a reason, nothing raises, and every goal, call and analysis
still gets its row. ``dialer judge`` is driven through the installed console script.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine, func, select

from actors.judging import judge_due, rejudge
from agent.judging import Judge
from agent.llm import NO_LLM_REASON, LlmConfig, RetryPolicy
from campaigns import types as t
from storage import models as m
from storage.db import Sessions, make_engine, session_factory
from storage.migrate import upgrade
from storage.repos import (
    AnalysisRepo,
    CallEnd,
    CallRepo,
    CallStart,
    CampaignRepo,
    ClaimRepo,
    ContactRepo,
    GoalRepo,
    NewContact,
    Who,
)
from tests.fakes.openai_http import API_KEY, FakeOpenAI, Reply, schema_of

WHO = Who("tester", "test")
T0 = datetime(2026, 3, 10, 15, 0, tzinfo=UTC)
ADA, BEN, CY, DEE, EVE = (f"+1202555{100 + i:04d}" for i in range(5))
K = t.AnalysisKind
ANALYSES = (
    t.Analysis(0, "interested", "Is the callee interested?", K.YES_NO),
    t.Analysis(0, "plan", "Which plan fits the callee?", K.SINGLE_CHOICE,
               options=("Basic", "Pro")),
    t.Analysis(0, "topics", "Which topics came up?", K.MULTIPLE_CHOICE,
               options=("price", "support", "security")),
    t.Analysis(0, "objection", "What was the main objection?", K.OPEN),
    t.Analysis(0, "mood", "How friendly was the callee?", K.RATING, scale_min=1, scale_max=5),
    t.Analysis(0, "demo date", "Which demo date was agreed?", K.DATA_POINT,
               data_type=t.DataPointType.DATE),
    t.Analysis(0, "email", "Which email address did the callee give?", K.DATA_POINT,
               data_type=t.DataPointType.EMAIL),
)
Turns = list[tuple[str, str]]
DEMO: Turns = [("agent", "Hi, this is Ava from Acme. Could we book a demo?"),
               ("callee", "Sure, Tuesday at 10 works for me. My email is ada@example.com.")]
REFUSE: Turns = [("agent", "Hi, this is Ava from Acme. Could we book a demo?"),
                 ("callee", "No thanks, we are not interested. The price is too high.")]
LATER: Turns = [("agent", "Hi, this is Ava from Acme. Could we book a demo?"),
                ("callee", "I'm busy, call me back next week.")]
FRIDAY: Turns = [("agent", "Hi again, it's Ava. Shall we book that demo?"),
                 ("callee", "OK, book the demo for Friday.")]


# --- fixtures -------------------------------------------------------------------------------

@pytest.fixture(params=["sqlite", "postgres"])
def sessions(request: pytest.FixtureRequest, tmp_path: Path,
             pg_engine_factory: Callable[[], Engine]) -> Iterator[Sessions]:
    """Committed sessions on a fresh database of each backend."""
    if request.param == "postgres":
        yield session_factory(pg_engine_factory())
        return
    engine = make_engine(f"sqlite:///{tmp_path / 'judge.sqlite3'}")
    upgrade(engine)
    yield session_factory(engine)
    engine.dispose()


@pytest.fixture
def fake() -> Iterator[FakeOpenAI]:
    """The fake server; fails the test if any request broke the strict schema rules."""
    with FakeOpenAI() as server:
        yield server
    assert server.schema_errors == []


@dataclass
class Harness:
    """A judge on the fake server with a recorded (not slept) backoff."""

    fake: FakeOpenAI
    sleeps: list[float] = field(default_factory=list)

    def judge(self, *, attempts: int = 3, timeout_s: float = 2.0, key: str = API_KEY) -> Judge:
        config = LlmConfig(model="gpt-test", api_key=key, base_url=self.fake.base_url,
                           price_in_per_mtok=1.0, price_out_per_mtok=4.0, timeout_s=timeout_s)
        return Judge(config, policy=RetryPolicy(attempts=attempts, base_s=0.001, cap_s=0.01,
                                                max_retry_after_s=5.0),
                     sleep=self.sleeps.append)


@pytest.fixture
def harness(fake: FakeOpenAI) -> Harness:
    return Harness(fake)


# --- seeding through the real repositories ------------------------------------------------

@dataclass
class Seeded:
    campaign_id: int
    contacts: dict[str, int] = field(default_factory=dict)  # phone -> campaign contact id
    calls: dict[str, list[int]] = field(default_factory=dict)
    goals: dict[str, int] = field(default_factory=dict)
    analyses: dict[str, int] = field(default_factory=dict)


def seed(sessions: Sessions, phones: list[str], *, name: str = "Judge",
         analyses: tuple[t.Analysis, ...] = ANALYSES) -> Seeded:
    """A campaign with a primary and a secondary goal, the analyses and the contacts."""
    with sessions.begin() as s:
        campaigns = CampaignRepo(s)
        c = campaigns.create(name, WHO, T0 - timedelta(days=1), timezone="America/New_York",
                             settings=t.CallSettings(completion_timeout=timedelta(hours=1)))
        out = Seeded(c.id)
        goals = GoalRepo(s)
        out.goals["demo"] = goals.add(c.id, "Book a demo", WHO, T0, primary=True,
                                      description="The callee agrees to a demo date.").id
        out.goals["email"] = goals.add(c.id, "Confirm email", WHO, T0,
                                       description="The callee gives an email address.").id
        for a in analyses:
            out.analyses[a.name] = AnalysisRepo(s).add(c.id, a, WHO, T0).id
        ContactRepo(s).add_many(c.id, [NewContact(p, name=p[-4:]) for p in phones],
                                T0 - timedelta(hours=2))
        campaigns.set_status(c.id, t.CampaignStatus.ACTIVE, WHO, T0)
    return out


def call(sessions: Sessions, seeded: Seeded, turns: Turns | None, at: datetime) -> int:
    """Claim the next due contact and record one call (a conversation when ``turns``)."""
    with sessions.begin() as s:
        (claim,) = ClaimRepo(s).claim(seeded.campaign_id, "tester", at)
        call_id = CallRepo(s).start(CallStart(
            seeded.campaign_id, claim.campaign_contact_id, claim.token, claim.attempts + 1,
            None, "+14155550100", claim.phone), at)
        end = at + timedelta(seconds=40)
        transcript = tuple({"role": role, "text": text, "at_ms": 2000 * i}
                           for i, (role, text) in enumerate(turns or []))
        CallRepo(s).finish(call_id, CallEnd(
            answer_status=t.AnswerStatus.HUMAN if turns else t.AnswerStatus.BUSY,
            sip_status=200 if turns else 486, answered_at=at if turns else None,
            talk_ms=40_000 if turns else None, conversation=bool(turns),
            transcript=transcript), end)
        ClaimRepo(s).finish(
            claim.campaign_contact_id, claim.token,
            status=t.ContactStatus.CALLED if turns else t.ContactStatus.RETRY,
            attempts=claim.attempts + 1, due_at=end + timedelta(hours=4), now=end,
            completion_due_at=end + timedelta(hours=1) if turns else None)
        seeded.contacts[claim.phone] = claim.campaign_contact_id
        seeded.calls.setdefault(claim.phone, []).append(call_id)
    return call_id


def retry_now(sessions: Sessions, seeded: Seeded, phone: str, at: datetime) -> None:
    with sessions.begin() as s:
        c = CampaignRepo(s).get(seeded.campaign_id)
        ContactRepo(s).retry(c.id, phone, c.settings, WHO, at)


# --- a scripted but reasonable LLM ----------------------------------------------------------

def reasonable(request: dict[str, Any]) -> Reply:
    """Answers from the transcript in the prompt, the way a careful model would."""
    name, schema = schema_of(request)
    text = request["messages"][-1]["content"].split("Conversation 1 of", 1)[-1]
    demo = "works for me" in text or "book the demo for Friday" in text
    refused = "not interested" in text
    if name == "goal_verdicts":
        out: dict[str, Any] = {}
        for key, prop in schema["properties"].items():
            if "Book a demo" in prop["description"]:
                verdict = "achieved" if demo else "not_achieved" if refused else "unknown"
                quote = ("Tuesday at 10 works for me" if "works for me" in text else
                         "book the demo for Friday" if demo else "")
            else:
                verdict = "achieved" if "@" in text else "not_achieved"
                quote = "My email is ada@example.com" if "@" in text else ""
            out[key] = {"rationale": f"Judged from the call: {verdict}.", "evidence": quote,
                        "result": verdict}
        return Reply.json(out)
    answers: dict[str, Any] = {}
    for key, prop in schema["properties"].items():
        question = prop["description"]
        answer: Any = None
        if "interested" in question:
            answer = not refused
        elif "plan" in question:
            answer = "Pro" if demo else "Basic"
        elif "topics" in question:
            answer = ["price"] if "price" in text else ["support"]
        elif "objection" in question:
            answer = "The price is too high." if refused else None
        elif "friendly" in question:
            answer = 4 if demo else 2
        elif "demo date" in question:
            answer = "2026-03-17" if "Tuesday" in text else None
        elif "email" in question:
            answer = "ada@example.com" if "@" in text else None
        answers[key] = {"note": "from the transcript", "answer": answer}
    return Reply.json(answers)


def _goal_rows(sessions: Sessions, cc_id: int) -> dict[int, m.GoalResultRow]:
    with sessions() as s:
        return {r.goal_id: r for r in s.scalars(
            select(m.GoalResultRow).where(m.GoalResultRow.campaign_contact_id == cc_id))}


def _analysis_rows(sessions: Sessions, call_id: int) -> dict[int, m.AnalysisResult]:
    with sessions() as s:
        return {r.analysis_id: r for r in s.scalars(
            select(m.AnalysisResult).where(m.AnalysisResult.call_id == call_id))}


def _contact(sessions: Sessions, cc_id: int) -> m.CampaignContact:
    with sessions() as s:
        row = s.get(m.CampaignContact, cc_id)
        assert row is not None
        return row


def _calls(sessions: Sessions, campaign_id: int) -> list[m.Call]:
    with sessions() as s:
        return list(s.scalars(select(m.Call).where(m.Call.campaign_id == campaign_id)
                              .order_by(m.Call.id)))


# --- end to end -------------------------------------------------------------------------------

def test_judges_due_contacts_end_to_end(sessions: Sessions, harness: Harness) -> None:
    seeded = seed(sessions, [ADA, BEN, CY, DEE, EVE])
    call(sessions, seeded, DEMO, T0)
    call(sessions, seeded, REFUSE, T0 + timedelta(minutes=1))
    call(sessions, seeded, LATER, T0 + timedelta(minutes=2))
    call(sessions, seeded, None, T0 + timedelta(minutes=3))  # Dee: busy, no conversation
    call(sessions, seeded, DEMO, T0 + timedelta(hours=3))  # Eve: completes later
    retry_now(sessions, seeded, CY, T0 + timedelta(minutes=30))
    call(sessions, seeded, FRIDAY, T0 + timedelta(minutes=31))  # Cy's second conversation
    harness.fake.default = reasonable

    with harness.judge() as judge:
        report = judge_due(sessions, seeded.campaign_id, judge, T0 + timedelta(hours=2),
                           workers=3)
    assert report.contacts == 3 and report.errors == 0 and report.failed_requests == 0
    # goals: one request per contact; analyses: one per conversation (Cy has two)
    assert len(harness.fake.requests) == 3 + 4
    c = {p: seeded.contacts[p] for p in (ADA, BEN, CY, DEE, EVE)}
    demo, email = seeded.goals["demo"], seeded.goals["email"]

    ada = _goal_rows(sessions, c[ADA])
    assert (ada[demo].result, ada[email].result) == ("achieved", "achieved")
    assert ada[demo].evidence == "Tuesday at 10 works for me" and ada[demo].rationale
    assert (_contact(sessions, c[ADA]).goal_result, _contact(sessions, c[ADA]).goal_score) == (
        "achieved", 100)
    ben = _goal_rows(sessions, c[BEN])
    assert (ben[demo].result, ben[email].result) == ("not_achieved", "not_achieved")
    assert (_contact(sessions, c[BEN]).goal_result, _contact(sessions, c[BEN]).goal_score) == (
        "not_achieved", 0)
    cy = _goal_rows(sessions, c[CY])  # judged over both conversations together
    assert cy[demo].result == "achieved" and cy[demo].evidence == "book the demo for Friday"
    assert (_contact(sessions, c[CY]).goal_result, _contact(sessions, c[CY]).goal_score) == (
        "achieved", 50)
    assert _goal_rows(sessions, c[DEE]) == {} and _goal_rows(sessions, c[EVE]) == {}
    assert _contact(sessions, c[EVE]).goal_result is None

    a = seeded.analyses
    answers = _analysis_rows(sessions, seeded.calls[ADA][0])
    assert len(answers) == len(ANALYSES) and all(r.ok for r in answers.values()
                                                  if r.analysis_id != a["objection"])
    assert answers[a["plan"]].value["answer"] == "Pro"
    assert answers[a["topics"]].value["answer"] == ["support"]
    assert answers[a["mood"]].value["answer"] == 4
    assert answers[a["demo date"]].value["answer"] == "2026-03-17"
    assert answers[a["email"]].value["answer"] == "ada@example.com"
    objection = answers[a["objection"]]
    assert not objection.ok and objection.reason.startswith("not answered by the conversation")
    ben_answers = _analysis_rows(sessions, seeded.calls[BEN][0])
    assert ben_answers[a["interested"]].value["answer"] is False
    assert ben_answers[a["objection"]].value["answer"] == "The price is too high."
    assert len(_analysis_rows(sessions, seeded.calls[CY][1])) == len(ANALYSES)

    calls = _calls(sessions, seeded.campaign_id)
    assert sum(k.llm_tokens for k in calls) == report.tokens > 0
    assert sum(k.llm_cost_usd for k in calls) == pytest.approx(report.cost_usd)
    assert all(k.llm_tokens > 0 for k in calls if k.conversation and k.id not in
               seeded.calls[EVE])
    assert report.as_json()["goals"] == {"achieved": 3, "partially_achieved": 0,
                                         "not_achieved": 3, "unknown": 0}
    assert report.as_json()["primary_goal"]["achieved"] == 2

    # Nothing is due again until something changes.
    with harness.judge() as judge:
        assert judge_due(sessions, seeded.campaign_id, judge,
                         T0 + timedelta(hours=2, minutes=5)).contacts == 0
        # Ben talks again and Eve's completion passes: exactly those two are judged.
        retry_now(sessions, seeded, BEN, T0 + timedelta(hours=3, minutes=30))
        call(sessions, seeded, DEMO, T0 + timedelta(hours=3, minutes=31))
        later = judge_due(sessions, seeded.campaign_id, judge, T0 + timedelta(hours=5))
    assert sorted(d.campaign_contact_id for d in later.details) == sorted([c[BEN], c[EVE]])
    ben = _goal_rows(sessions, c[BEN])
    assert len(ben) == 2 and ben[demo].result == "achieved"  # replaced, not added
    assert _contact(sessions, c[BEN]).goal_score == 100


def test_without_llm_settings_verdicts_are_unknown_with_the_reason(
        sessions: Sessions, fake: FakeOpenAI) -> None:
    seeded = seed(sessions, [ADA])
    call(sessions, seeded, DEMO, T0)
    with Judge(None) as judge:
        report = judge_due(sessions, seeded.campaign_id, judge, T0 + timedelta(hours=2))
    assert report.contacts == 1 and fake.requests == []
    rows = _goal_rows(sessions, seeded.contacts[ADA])
    assert {(r.result, r.rationale) for r in rows.values()} == {("unknown", NO_LLM_REASON)}
    answers = _analysis_rows(sessions, seeded.calls[ADA][0])
    assert {(r.ok, r.reason) for r in answers.values()} == {(False, NO_LLM_REASON)}
    contact = _contact(sessions, seeded.contacts[ADA])
    assert (contact.goal_result, contact.goal_score) == ("unknown", None)
    assert _calls(sessions, seeded.campaign_id)[0].llm_tokens == 0


# --- failures: each ends Unknown with a reason; nothing raises; nothing is lost -------------

FAILURES: dict[str, tuple[Callable[[], Reply], str]] = {
    "429 storm": (lambda: Reply.rate_limited("0.25"),
                  "gave up after 3 attempts: rate limited (429)"),
    "5xx": (lambda: Reply.server_error(503), "gave up after 3 attempts: server error (503)"),
    "timeouts": (lambda: Reply.slow(3.0), "gave up after 3 attempts: request timed out"),
    "malformed json": (lambda: Reply.malformed(), "malformed output: not JSON"),
    "not an object": (lambda: Reply.json(["achieved"]), "malformed output: expected a JSON"),
    "refusal": (lambda: Reply(refusal="I can't help with that."), "the model refused"),
    "cut off": (lambda: Reply(content='{"g1": {"rationale": "', finish_reason="length"),
                "cut off at the token limit"),
}


@pytest.mark.parametrize("kind", list(FAILURES))
def test_llm_failures_end_unknown_with_a_reason(sessions: Sessions, harness: Harness,
                                                kind: str) -> None:
    make_reply, reason = FAILURES[kind]
    seeded = seed(sessions, [ADA])
    call(sessions, seeded, DEMO, T0)
    harness.fake.default = lambda request: make_reply()
    with harness.judge(timeout_s=0.2) as judge:
        report = judge_due(sessions, seeded.campaign_id, judge, T0 + timedelta(hours=2))

    assert report.contacts == 1 and report.errors == 0 and report.failed_requests == 2
    goals = _goal_rows(sessions, seeded.contacts[ADA])
    assert set(goals) == set(seeded.goals.values())  # nothing lost: a row per goal
    for row in goals.values():
        assert row.result == "unknown" and reason in row.rationale, row.rationale
    answers = _analysis_rows(sessions, seeded.calls[ADA][0])
    assert set(answers) == set(seeded.analyses.values())
    for answer in answers.values():
        assert not answer.ok and reason in answer.reason, answer.reason
    contact = _contact(sessions, seeded.contacts[ADA])
    assert (contact.goal_result, contact.goal_score) == ("unknown", None)
    (stored,) = _calls(sessions, seeded.campaign_id)
    assert len(stored.transcript) == len(DEMO)  # the conversation itself is untouched
    retried = kind in ("429 storm", "5xx", "timeouts")
    assert len(harness.fake.requests) == (6 if retried else 2)
    if kind == "429 storm":
        assert harness.sleeps == [0.25] * 4  # Retry-After honoured between attempts
    if not retried:
        assert stored.llm_tokens > 0  # a bad answer was still paid for

    # Once the server behaves, re-judging replaces every Unknown.
    harness.fake.default = reasonable
    with harness.judge() as judge:
        again = rejudge(sessions, seeded.campaign_id, judge, T0 + timedelta(hours=3))
    assert again.as_json()["goals"]["achieved"] == 2
    assert all(r.ok for r in _analysis_rows(sessions, seeded.calls[ADA][0]).values()
               if r.analysis_id != seeded.analyses["objection"])


def test_a_storm_that_passes_within_the_attempts_is_ridden_out(
        sessions: Sessions, harness: Harness) -> None:
    seeded = seed(sessions, [ADA])
    call(sessions, seeded, DEMO, T0)
    harness.fake.default = reasonable
    harness.fake.script(Reply.rate_limited(None, ms="40"), Reply.server_error(),
                        Reply.slow(1.0), reasonable, Reply.rate_limited("0"))
    with harness.judge(attempts=4, timeout_s=0.3) as judge:
        report = judge_due(sessions, seeded.campaign_id, judge, T0 + timedelta(hours=2))
    assert report.failed_requests == 0 and report.as_json()["goals"]["achieved"] == 2
    assert harness.sleeps[0] == 0.04  # retry-after-ms
    assert all(r.ok for r in _analysis_rows(sessions, seeded.calls[ADA][0]).values()
               if r.analysis_id != seeded.analyses["objection"])


def test_answers_outside_the_options_are_refused_one_by_one(
        sessions: Sessions, harness: Harness) -> None:
    seeded = seed(sessions, [ADA])
    call(sessions, seeded, DEMO, T0)
    a = seeded.analyses

    def careless(request: dict[str, Any]) -> Reply:  # a server that ignores the schema
        name, schema = schema_of(request)
        keys = list(schema["properties"])
        if name == "goal_verdicts":
            return Reply.json({keys[0]: {"rationale": "Sure.", "evidence": "",
                                         "result": "definitely"},
                               keys[1]: {"rationale": "Gave it.", "evidence":
                                         "I will sign the contract", "result": "achieved"}})
        wrong = {a["interested"]: "perhaps", a["plan"]: "Enterprise",
                 a["topics"]: ["price", "weather"], a["objection"]: "",
                 a["mood"]: 9, a["demo date"]: "next Tuesday", a["email"]: "ada at example"}
        return Reply.json({f"a{i}": {"note": "n", "answer": v} for i, v in wrong.items()})

    harness.fake.default = careless
    with harness.judge() as judge:
        report = judge_due(sessions, seeded.campaign_id, judge, T0 + timedelta(hours=2))
    assert report.failed_requests == 0 and report.analyses_ok == 0
    goals = _goal_rows(sessions, seeded.contacts[ADA])
    first = goals[seeded.goals["demo"]]
    assert first.result == "unknown" and "invalid verdict 'definitely'" in first.rationale
    second = goals[seeded.goals["email"]]
    assert second.result == "achieved" and second.evidence == ""
    assert "not found in the transcript" in second.rationale
    answers = _analysis_rows(sessions, seeded.calls[ADA][0])
    expected = {"interested": "expected yes or no", "plan": "'Enterprise' is not one of",
                "topics": "'weather' is not one of", "objection": "empty answer",
                "mood": "9 is outside the scale 1..5", "demo date": "expected a date",
                "email": "expected an email"}
    for name, reason in expected.items():
        row = answers[a[name]]
        assert not row.ok and reason in row.reason, (name, row.reason)
    assert answers[a["plan"]].value["raw"] == "Enterprise"


def test_a_wrong_key_is_not_retried(sessions: Sessions, harness: Harness) -> None:
    seeded = seed(sessions, [ADA])
    call(sessions, seeded, DEMO, T0)
    with harness.judge(key="sk-wrong") as judge:
        report = judge_due(sessions, seeded.campaign_id, judge, T0 + timedelta(hours=2))
    assert report.failed_requests == 2 and harness.fake.hits == 2  # one attempt each
    rows = _goal_rows(sessions, seeded.contacts[ADA])
    assert all("request refused (401)" in r.rationale for r in rows.values())
    assert harness.sleeps == []


# --- dialer judge -------------------------------------------------------------------------------

DIALER = shutil.which("dialer", path=str(Path(sys.executable).parent)) or "dialer"


@pytest.fixture(params=["sqlite", "postgres"])
def cli_db(request: pytest.FixtureRequest, tmp_path: Path,
           pg_engine_factory: Callable[[], Engine]) -> Iterator[tuple[str, Sessions]]:
    """A database URL for the CLI and sessions on it."""
    if request.param == "postgres":
        engine = pg_engine_factory()
        yield engine.url.render_as_string(hide_password=False), session_factory(engine)
        return
    url = f"sqlite:///{tmp_path / 'cli.sqlite3'}"
    engine = make_engine(url)
    upgrade(engine)
    yield url, session_factory(engine)
    engine.dispose()


def _dialer(url: str, fake: FakeOpenAI | None, *args: str,
            expect: int = 0) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("DATABASE_URL", "OPENAI_", "DIALER_", "SLACK"))}
    env["DATABASE_URL"] = url
    if fake is not None:
        env.update(OPENAI_BASE_URL=fake.base_url, OPENAI_API_KEY=API_KEY)
    proc = subprocess.run([DIALER, *args], capture_output=True, text=True, env=env,
                          timeout=120, check=False)
    assert proc.returncode == expect, (args, proc.returncode, proc.stdout, proc.stderr)
    if expect == 2:
        assert "Traceback" not in proc.stderr
        assert len(proc.stderr.strip().splitlines()) == 1, proc.stderr
    return proc


def test_dialer_judge_rejudges_and_reports(cli_db: tuple[str, Sessions],
                                           fake: FakeOpenAI) -> None:
    url, sessions = cli_db
    seeded = seed(sessions, [ADA, BEN, CY], name="Spring")
    call(sessions, seeded, DEMO, T0)
    call(sessions, seeded, REFUSE, T0 + timedelta(minutes=1))
    call(sessions, seeded, LATER, T0 + timedelta(minutes=2))
    fake.default = reasonable

    out = json.loads(_dialer(url, fake, "judge", "Spring", "--json").stdout)
    assert out["contacts"] == 3 and out["llm"] is True
    assert out["goals"] == {"achieved": 2, "partially_achieved": 0, "not_achieved": 3,
                            "unknown": 1}
    assert out["analyses"] == 3 * len(ANALYSES) and out["tokens"] > 0 and out["cost_usd"] > 0
    tokens = {k.id: k.llm_tokens for k in _calls(sessions, seeded.campaign_id)}
    assert sum(tokens.values()) == out["tokens"]

    # Re-judging replaces the verdicts (same rows) and adds the new tokens.
    fake.default = lambda request: Reply.malformed()
    again = json.loads(_dialer(url, fake, "judge", str(seeded.campaign_id), "--json").stdout)
    assert again["goals"]["unknown"] == 6 and again["failed_requests"] == 6
    with sessions() as s:
        assert s.scalar(select(func.count()).select_from(m.GoalResultRow)) == 6
        assert s.scalar(select(func.count()).select_from(m.AnalysisResult)) == 3 * len(ANALYSES)
    assert all(k.llm_tokens > tokens[k.id] for k in _calls(sessions, seeded.campaign_id))
    assert _contact(sessions, seeded.contacts[ADA]).goal_result == "unknown"

    # One contact, by phone as people type it.
    fake.default = reasonable
    one = json.loads(_dialer(url, fake, "judge", "Spring", "--contact", "+1 202 555 0100",
                             "--json").stdout)
    assert one["contacts"] == 1 and one["contact"]["id"] == seeded.contacts[ADA]
    assert one["contact"]["goal_result"] == "achieved" and one["contact"]["goal_score"] == 100
    assert {g["result"] for g in one["contact"]["goals"]} == {"achieved"}
    text = _dialer(url, fake, "judge", "Spring", "--contact",
                   str(seeded.contacts[BEN])).stdout
    assert "judged 1 contact(s) of Spring" in text and "not_achieved" in text

    _dialer(url, fake, "judge", "Nope", "--json", expect=2)
    _dialer(url, fake, "judge", "Spring", "--contact", "+12025550199", "--json", expect=2)
    _dialer(url, fake, "judge", "Spring", "--contact", "1", "--due", expect=2)
    with sessions.begin() as s:  # a contact that was never reached
        ContactRepo(s).add_many(seeded.campaign_id, [NewContact(DEE)], T0)
    assert "no conversation" in _dialer(url, fake, "judge", "Spring", "--contact", DEE,
                                        expect=2).stderr


def test_dialer_judge_without_openai_settings(cli_db: tuple[str, Sessions]) -> None:
    url, sessions = cli_db
    seeded = seed(sessions, [ADA], name="Offline")
    call(sessions, seeded, DEMO, T0)
    due = json.loads(_dialer(url, None, "judge", "Offline", "--due", "--json").stdout)
    assert due["contacts"] == 1 and due["llm"] is False
    assert due["goals"]["unknown"] == 2 and due["tokens"] == 0
    rows = _goal_rows(sessions, seeded.contacts[ADA])
    assert {r.rationale for r in rows.values()} == {NO_LLM_REASON}
    # Judged since its last call: no longer due; a plain ``judge`` re-judges it anyway.
    assert json.loads(_dialer(url, None, "judge", "Offline", "--due",
                              "--json").stdout)["contacts"] == 0
    assert json.loads(_dialer(url, None, "judge", "Offline", "--json").stdout)["contacts"] == 1
