"""``agent.llm.complete_json`` against odd servers: it reports, it never raises."""

from __future__ import annotations

import random
from collections.abc import Iterator, Mapping

import openai
import pytest

from agent.llm import JsonReply, LlmConfig, RetryPolicy, complete_json, make_client
from tests.fakes.openai_http import API_KEY, FakeOpenAI, Reply

SCHEMA = {"type": "object", "properties": {"x": {"type": "string", "enum": ["a", "b"]}},
          "required": ["x"], "additionalProperties": False}
MESSAGES = [{"role": "user", "content": "pick one"}]


@pytest.fixture
def fake() -> Iterator[FakeOpenAI]:
    with FakeOpenAI() as server:
        yield server


@pytest.fixture
def client(fake: FakeOpenAI) -> Iterator[openai.OpenAI]:
    c = make_client(LlmConfig(model="m", api_key=API_KEY, base_url=fake.base_url,
                              timeout_s=0.3))
    yield c
    c.close()


def _ask(client: openai.OpenAI, schema: Mapping[str, object] = SCHEMA, attempts: int = 3,
         sleeps: list[float] | None = None) -> JsonReply:
    return complete_json(client, model="m", messages=MESSAGES, schema_name="pick",
                         schema=schema, sleep=(sleeps if sleeps is not None else []).append,
                         policy=RetryPolicy(attempts=attempts, base_s=0.001, cap_s=0.01,
                                            max_retry_after_s=2.0), rng=random.Random(3))


def test_a_good_answer(fake: FakeOpenAI, client: openai.OpenAI) -> None:
    reply = _ask(client)
    assert (reply.data, reply.error, reply.attempts) == ({"x": "a"}, None, 1)
    assert reply.tokens_in > 0 and reply.tokens_out > 0
    assert fake.requests[0]["response_format"]["json_schema"]["strict"] is True


@pytest.mark.parametrize(("body", "why"), [
    (b"{}", "no choices"),
    (b'{"choices": []}', "no choices"),
    (b'{"choices": [{"index": 0, "message": {"role": "assistant"}}]}', "empty message"),
    (b"<html>oops</html>", "malformed response"),
])
def test_odd_bodies_become_reasons(fake: FakeOpenAI, client: openai.OpenAI, body: bytes,
                                   why: str) -> None:
    fake.script(Reply(raw_body=body))
    reply = _ask(client)
    assert reply.data is None and reply.error and why in reply.error


def test_a_non_strict_schema_is_refused_by_the_fake_and_not_retried(
        fake: FakeOpenAI, client: openai.OpenAI) -> None:
    loose = {"type": "object", "properties": {"x": {"type": "string"}}}
    reply = _ask(client, loose)
    assert reply.error is not None and "request refused (400)" in reply.error
    assert "additionalProperties" in reply.error
    assert fake.hits == 1 and fake.schema_errors


def test_a_retry_after_beyond_the_limit_stops_at_once(fake: FakeOpenAI,
                                                      client: openai.OpenAI) -> None:
    fake.script(Reply.rate_limited("120"))
    sleeps: list[float] = []
    reply = _ask(client, sleeps=sleeps)
    assert reply.error == ("gave up after 1 attempt: rate limited (429) "
                           "(server asks to wait 120 s)")
    assert sleeps == [] and fake.hits == 1


def test_x_should_retry_false_is_obeyed(fake: FakeOpenAI, client: openai.OpenAI) -> None:
    fake.script(Reply(status=503, headers={"x-should-retry": "false"}, error="down"))
    reply = _ask(client)
    assert reply.error == "server error (503)" and fake.hits == 1
