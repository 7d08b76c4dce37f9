"""Judging without a server: strict schemas, prompts, and how answers are read and checked."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from agent.base import Turn
from agent.judging import (
    CallTranscript,
    Judge,
    analyses_messages,
    analyses_schema,
    answer_schema,
    goals_messages,
    goals_schema,
    parse_goal_result,
    read_analysis_answers,
    read_goal_verdicts,
    render_transcript,
    turns_from_json,
)
from agent.llm import NO_LLM_REASON
from campaigns.types import Analysis, AnalysisKind, DataPointType, Goal, GoalResult
from tests.fakes.openai_http import example_for, strict_schema_errors

GOALS = (Goal(1, "Book a demo", "The callee agrees to a demo date.", primary=True),
         Goal(2, "Confirm email"))
K = AnalysisKind
ANALYSES = (
    Analysis(10, "interested", "Is the callee interested?", K.YES_NO),
    Analysis(11, "plan", "Which plan fits?", K.SINGLE_CHOICE, options=("Basic", "Pro")),
    Analysis(12, "topics", "Which topics came up?", K.MULTIPLE_CHOICE,
             options=("price", "support", "security")),
    Analysis(13, "summary", "Summarise the objections.", K.OPEN),
    Analysis(14, "mood", "How friendly was the callee?", K.RATING, scale_min=1, scale_max=5),
    Analysis(15, "date", "Which demo date was agreed?", K.DATA_POINT,
             data_type=DataPointType.DATE),
    Analysis(16, "email", "Which email did they give?", K.DATA_POINT,
             data_type=DataPointType.EMAIL),
    Analysis(17, "phone", "Which callback number?", K.DATA_POINT,
             data_type=DataPointType.PHONE),
    Analysis(18, "seats", "How many seats?", K.DATA_POINT, data_type=DataPointType.NUMBER),
    Analysis(19, "owner", "Are they the decision maker?", K.DATA_POINT,
             data_type=DataPointType.BOOLEAN),
    Analysis(20, "company", "Company name?", K.DATA_POINT, data_type=DataPointType.TEXT),
)
CALL = CallTranscript(7, (
    Turn("agent", "Hi, this is Ava from Acme. Could we book a demo?", 0),
    Turn("callee", "Sure, Tuesday at 10 works for me. My email is ada@example.com.", 4000),
), datetime(2026, 3, 10, 15, 0, tzinfo=UTC))


def test_goal_and_analysis_schemas_keep_the_strict_rules() -> None:
    assert strict_schema_errors(goals_schema(GOALS)) == []
    assert strict_schema_errors(analyses_schema(ANALYSES)) == []


def test_the_strict_checker_is_not_vacuous() -> None:
    loose: dict[str, Any] = {"type": "object", "properties": {"x": {"type": "string",
                                                                    "minLength": 2}}}
    problems = strict_schema_errors(loose)
    assert any("additionalProperties" in p for p in problems)
    assert any("required" in p for p in problems)
    assert any("minLength" in p for p in problems)
    assert strict_schema_errors({"anyOf": [{"type": "object"}]})
    assert strict_schema_errors({"type": "object", "properties": {
        "x": {"type": "string", "enum": ["a", 1]}}, "required": ["x"],
        "additionalProperties": False})
    assert strict_schema_errors({"type": "object", "properties": {
        "x": {"type": "string", "format": "phone"}}, "required": ["x"],
        "additionalProperties": False})


@pytest.mark.parametrize(("analysis", "expected"), [
    (ANALYSES[0], {"type": "boolean"}),
    (ANALYSES[1], {"type": "string", "enum": ["Basic", "Pro"]}),
    (ANALYSES[3], {"type": "string"}),
    (ANALYSES[5], {"type": "string", "format": "date", "description": "yyyy-mm-dd"}),
    (ANALYSES[8], {"type": "number"}),
])
def test_answer_schema_per_kind(analysis: Analysis, expected: dict[str, Any]) -> None:
    assert answer_schema(analysis) == expected


def test_rating_and_multiple_choice_schemas_carry_their_bounds_and_options() -> None:
    rating = answer_schema(ANALYSES[4])
    assert (rating["type"], rating["minimum"], rating["maximum"]) == ("integer", 1, 5)
    multiple = answer_schema(ANALYSES[2])
    assert multiple["items"]["enum"] == ["price", "support", "security"]


def test_every_answer_is_nullable_and_every_goal_has_four_verdicts() -> None:
    schema = analyses_schema(ANALYSES)
    for a in ANALYSES:
        answer = schema["properties"][f"a{a.id}"]["properties"]["answer"]
        assert answer["anyOf"][1] == {"type": "null"}
    goal = goals_schema(GOALS)["properties"]["g1"]
    assert goal["properties"]["result"]["enum"] == [
        "achieved", "partially_achieved", "not_achieved", "unknown"]
    assert "Book a demo" in goal["description"]


def test_prompts_carry_questions_and_transcripts() -> None:
    system, user = goals_messages(GOALS, [CALL, CALL])
    assert system["role"] == "system" and "never guess" in system["content"]
    assert "g1: primary goal 'Book a demo'" in user["content"]
    assert "Conversation 2 of 2 (call 7, 2026-03-10 15:00 UTC)" in user["content"]
    assert "Callee: Sure, Tuesday at 10 works for me." in user["content"]
    _, user = analyses_messages(ANALYSES, CALL)
    assert "a11: Which plan fits? [one of: 'Basic', 'Pro']" in user["content"]
    assert "a14: How friendly was the callee? [a whole number from 1 to 5]" in user["content"]


def test_example_of_schema_reads_back_cleanly() -> None:
    # The phone data point is left out: the fake's example text is not a phone number.
    typed = [a for a in ANALYSES if a.data_type is not DataPointType.PHONE]
    answers = read_analysis_answers(typed, example_for(analyses_schema(typed)))
    assert all(a.ok for a in answers), [a.reason for a in answers if not a.ok]


def _entry(answer: object, note: str = "said so") -> dict[str, Any]:
    return {"note": note, "answer": answer}


def test_valid_answers_are_normalised() -> None:
    data = {"a10": _entry(True), "a11": _entry("pro"), "a12": _entry(["security", "price"]),
            "a13": _entry("  too expensive "), "a14": _entry(4), "a15": _entry("2026-03-17"),
            "a16": _entry("ada@example.com"), "a17": _entry("(415) 555-0132"),
            "a18": _entry(12), "a19": _entry(False), "a20": _entry("Acme")}
    answers = {a.analysis_id: a for a in read_analysis_answers(ANALYSES, data)}
    assert all(a.ok for a in answers.values())
    assert answers[11].value == "Pro"
    assert answers[12].value == ("price", "security")  # option order
    assert answers[12].stored_value() == {"note": "said so", "answer": ["price", "security"]}
    assert answers[13].value == "too expensive"
    assert answers[17].value == "+14155550132"


@pytest.mark.parametrize(("analysis_id", "raw", "reason"), [
    (10, "perhaps", "expected yes or no"),
    (11, "Enterprise", "is not one of the options"),
    (12, ["price", "weather"], "is not one of the options"),
    (12, [], "no option chosen"),
    (12, ["price", "price"], "chosen twice"),
    (13, "   ", "empty answer"),
    (14, 9, "outside the scale 1..5"),
    (14, 3.5, "expected a whole number"),
    (15, "next Tuesday", "expected a date"),
    (16, "ada at example", "expected an email"),
    (17, "+1 555 123 4567", ""),
    (18, "lots", "expected a number"),
])
def test_answers_outside_the_question_are_refused_with_a_reason(
        analysis_id: int, raw: object, reason: str) -> None:
    (answer,) = [a for a in read_analysis_answers(ANALYSES, {f"a{analysis_id}": _entry(raw)})
                 if a.analysis_id == analysis_id]
    assert not answer.ok and answer.value is None
    assert answer.reason.startswith("invalid answer: ") and reason in answer.reason
    assert answer.stored_value()["raw"] == raw


def test_null_and_missing_answers_are_unknown_with_a_reason() -> None:
    answers = read_analysis_answers(ANALYSES[:2], {"a10": _entry(None, "never came up")})
    assert not answers[0].ok and answers[0].reason == (
        "not answered by the conversation: never came up")
    assert not answers[1].ok and "no answer for this question" in answers[1].reason


def test_goal_verdicts_are_read_with_their_evidence() -> None:
    data = {"g1": {"rationale": "Agreed to a demo.", "evidence": "Tuesday at 10 works for me",
                   "result": "achieved"},
            "g2": {"rationale": "Email given.", "evidence": "Callee: my email is ada@example.com",
                   "result": "Partially Achieved"}}
    one, two = read_goal_verdicts(GOALS, data, [CALL])
    assert (one.result, one.evidence) == (GoalResult.ACHIEVED, "Tuesday at 10 works for me")
    assert two.result is GoalResult.PARTIALLY_ACHIEVED and two.evidence


def test_a_quote_not_in_the_transcript_is_dropped_and_said() -> None:
    data = {"g1": {"rationale": "Agreed.", "evidence": "I will sign the contract today",
                   "result": "achieved"},
            "g2": {"rationale": "", "evidence": "Sure, … works for me", "result": "unknown"}}
    one, two = read_goal_verdicts(GOALS, data, [CALL])
    assert one.result is GoalResult.ACHIEVED and one.evidence == ""
    assert "not found in the transcript" in one.rationale
    assert two.evidence == "Sure, … works for me"  # both parts occur
    assert two.rationale == "the transcripts do not allow a decision"


def test_invalid_and_missing_verdicts_are_unknown_with_a_reason() -> None:
    one, two = read_goal_verdicts(GOALS, {"g1": {"result": "definitely", "rationale": "x",
                                                 "evidence": ""}}, [CALL])
    assert one.result is GoalResult.UNKNOWN and "invalid verdict 'definitely'" in one.rationale
    assert two.result is GoalResult.UNKNOWN and "no verdict for this goal" in two.rationale


@pytest.mark.parametrize(("raw", "expected"), [
    ("achieved", GoalResult.ACHIEVED), ("Not Achieved", GoalResult.NOT_ACHIEVED),
    ("partially-achieved", GoalResult.PARTIALLY_ACHIEVED), ("UNKNOWN", GoalResult.UNKNOWN),
    ("yes", None), (1, None), (None, None)])
def test_parse_goal_result(raw: object, expected: GoalResult | None) -> None:
    assert parse_goal_result(raw) is expected


def test_turns_from_json_skips_junk() -> None:
    raw = [{"role": "agent", "text": " Hi ", "at_ms": 5}, {"role": "system", "text": "x"},
           {"role": "callee", "text": ""}, "junk", {"role": "callee", "text": "Yes",
                                                    "at_ms": "late"}]
    assert turns_from_json(raw) == (Turn("agent", "Hi", 5), Turn("callee", "Yes", 0))
    assert turns_from_json({"not": "a list"}) == ()


def test_long_transcripts_keep_head_and_tail() -> None:
    turns = tuple(Turn("callee" if i % 2 else "agent", f"line {i} " + "x" * 50, i)
                  for i in range(200))
    text = render_transcript(turns, 2000)
    assert len(text) < 2100 and text.startswith("Agent: line 0") and "left out" in text
    assert text.endswith("x" * 50) and "line 199" in text


def test_without_an_llm_everything_is_unknown_with_the_reason() -> None:
    with Judge(None) as judge:
        assert not judge.enabled
        goals = judge.judge_goals(GOALS, [CALL])
        analyses = judge.judge_analyses(ANALYSES, CALL)
    assert {v.result for v in goals.verdicts} == {GoalResult.UNKNOWN}
    assert {v.rationale for v in goals.verdicts} == {NO_LLM_REASON}
    assert all(not a.ok and a.reason == NO_LLM_REASON for a in analyses.answers)
    assert goals.usage.tokens == analyses.usage.tokens == 0


def test_empty_conversations_are_not_sent() -> None:
    empty = CallTranscript(8, ())
    with Judge(None) as judge:
        assert judge.judge_goals(GOALS, [empty]).verdicts[0].rationale == "no transcript"
        assert judge.judge_analyses(ANALYSES, empty).answers[0].reason == "no transcript"
        assert judge.judge_goals((), [CALL]).verdicts == ()
