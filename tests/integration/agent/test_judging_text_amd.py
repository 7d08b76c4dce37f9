"""Text AMD with the LLM through the real ``openai`` client against the fake server."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from agent.llm import LlmConfig, RetryPolicy
from agent.text_amd import LlmTextAmd, TextAmd, TextAmdLabel
from tests.fakes.openai_http import API_KEY, FakeOpenAI, Reply, schema_of


@pytest.fixture
def fake() -> Iterator[FakeOpenAI]:
    with FakeOpenAI() as server:
        yield server
    assert server.schema_errors == []


@pytest.fixture
def llm(fake: FakeOpenAI) -> Iterator[LlmTextAmd]:
    config = LlmConfig(model="gpt-test", api_key=API_KEY, base_url=fake.base_url,
                       price_in_per_mtok=1.0, price_out_per_mtok=4.0, timeout_s=0.3)
    detector = LlmTextAmd(config, policy=RetryPolicy(attempts=2, base_s=0.001, cap_s=0.01,
                                                     max_retry_after_s=1.0),
                          sleep=lambda s: None)
    yield detector
    detector.close()


def test_llm_verdict_with_tokens_and_cost(fake: FakeOpenAI, llm: LlmTextAmd) -> None:
    fake.script(Reply.json({"reason": "a personal voicemail greeting", "label": "machine",
                            "confidence": 0.93}))
    verdict = llm.classify("Hey, it's Sam, do your thing at the beep")
    assert (verdict.label, verdict.confidence, verdict.source) == (
        TextAmdLabel.MACHINE, 0.93, "llm")
    assert verdict.tokens > 0 and verdict.cost_usd > 0
    name, schema = schema_of(fake.requests[0])
    assert name == "greeting_amd" and schema["properties"]["label"]["enum"] == [
        "human", "machine", "unknown"]
    assert "do your thing at the beep" in fake.requests[0]["messages"][-1]["content"]


@pytest.mark.parametrize(("reply", "why"), [
    (Reply.json({"reason": "x", "label": "robot", "confidence": 0.9}), "invalid label"),
    (Reply.json({"reason": "x", "label": "human", "confidence": 1.7}), "invalid confidence"),
    (Reply.malformed("{"), "malformed output"),
    (Reply.rate_limited("0"), "rate limited (429)"),
    (Reply.slow(2.0), "request timed out"),
])
def test_llm_trouble_falls_back_to_keywords(fake: FakeOpenAI, llm: LlmTextAmd, reply: Reply,
                                            why: str) -> None:
    fake.default = lambda request: reply
    verdict = llm.classify("You have reached the voicemail of Ada, please leave a message")
    assert verdict.label is TextAmdLabel.MACHINE and verdict.source == "keywords"
    assert why in verdict.reason


def test_hybrid_asks_the_llm_only_when_keywords_are_unsure(fake: FakeOpenAI,
                                                           llm: LlmTextAmd) -> None:
    amd = TextAmd(llm, llm_below=0.85)
    assert amd.classify("Hello?").label is TextAmdLabel.HUMAN  # sure: no request
    assert amd.classify("You have reached Ada, leave a message after the tone").label is (
        TextAmdLabel.MACHINE)
    assert fake.hits == 0
    fake.script(Reply.json({"reason": "business greeting by a person", "label": "human",
                            "confidence": 0.8}))
    verdict = amd.classify("Acme Plumbing, Jane here, what can we fix for you this fine day")
    assert (verdict.label, verdict.source) == (TextAmdLabel.HUMAN, "llm") and fake.hits == 1
