"""The keyword text AMD model: voicemail and carrier phrasings versus live greetings."""

from __future__ import annotations

import pytest

from agent.base import Turn
from agent.text_amd import (
    TEXT_AMD_SCHEMA,
    TextAmd,
    TextAmdLabel,
    classify_greeting,
    greeting_text,
    normalise_greeting,
)
from tests.fakes.openai_http import strict_schema_errors

MACHINE = [
    "You have reached the voicemail of John Smith. Please leave a message after the tone.",
    "Hi, you've reached Anna. I can't come to the phone right now, leave me a message.",
    "The number you have dialed is not in service. Please check the number and try again.",
    "The mailbox is full and cannot accept any messages at this time. Goodbye.",
    "The person you are calling is not available.",
    "The Google subscriber you have called is not available. Please leave a message after "
    "the tone.",
    "Please stay on the line. The person you're calling is using a screening service.",
    "I'm not available right now, please leave your name and number.",
    "Hi this is Tom, I am not available to take your call.",
    "Your call has been forwarded to an automated voice messaging system.",
    "At the tone, please record your message. When you are finished recording, hang up.",
    "Thank you for calling Acme Plumbing. Our office is closed. Our office hours are Monday "
    "to Friday nine to five.",
    "Hey it’s Mike, sorry I missed your call, I’ll get back to you as soon as I can.",
]

HUMAN = [
    "Hello?",
    "Hello",
    "Hi, this is Sam.",
    "Yeah?",
    "Yes, speaking.",
    "Hello, who is this?",
    "Good afternoon, Acme Plumbing, this is Jane speaking, how can I help you?",
    "He's not available right now",  # a live person answering for someone else
    "um yes hello",
]


@pytest.mark.parametrize("text", MACHINE)
def test_voicemail_and_carrier_greetings_are_machines(text: str) -> None:
    verdict = classify_greeting(text)
    assert verdict.label is TextAmdLabel.MACHINE, verdict
    assert verdict.confidence >= 0.6
    assert verdict.cues and verdict.source == "keywords"


@pytest.mark.parametrize("text", HUMAN)
def test_live_greetings_are_humans(text: str) -> None:
    verdict = classify_greeting(text)
    assert verdict.label is TextAmdLabel.HUMAN, verdict
    assert 0.5 <= verdict.confidence <= 0.95


def test_short_hello_is_confidently_human_and_clear_voicemail_more_so() -> None:
    assert classify_greeting("Hello?").confidence >= 0.9
    assert classify_greeting(MACHINE[0]).confidence >= 0.95


def test_silence_is_unknown() -> None:
    for text in ("", "   ", "...", "?!"):
        verdict = classify_greeting(text)
        assert (verdict.label, verdict.confidence) == (TextAmdLabel.UNKNOWN, 0.0)


def test_a_long_monologue_without_cues_leans_machine() -> None:
    text = ("Welcome to the Johnson family residence where we are probably out in the garden "
            "enjoying the lovely weather today")
    verdict = classify_greeting(text)
    assert verdict.label is TextAmdLabel.MACHINE and verdict.confidence < 0.7


def test_normalise_keeps_words_apostrophes_and_question_marks() -> None:
    assert normalise_greeting("  You’ve  REACHED: Anna!? ") == "you've reached anna ?"


def test_greeting_text_takes_the_callee_words_of_the_first_seconds() -> None:
    turns = (Turn("agent", "Hi there", 0), Turn("callee", "Hello?", 1200),
             Turn("callee", "Who is it?", 3000), Turn("callee", "later words", 12_000))
    assert greeting_text(turns, window_ms=8000) == "Hello? Who is it?"
    assert greeting_text((Turn("agent", "Hi", 0),)) == ""


def test_keyword_only_text_amd_classifies_transcripts() -> None:
    amd = TextAmd()
    assert amd.classify_turns((Turn("callee", MACHINE[0], 100),)).label is TextAmdLabel.MACHINE
    assert amd.classify("Hello?").label is TextAmdLabel.HUMAN


def test_llm_schema_is_strict() -> None:
    assert strict_schema_errors(TEXT_AMD_SCHEMA) == []
