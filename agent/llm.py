"""Shared OpenAI plumbing for judging and text AMD: one client, strict JSON, bounded retries.

``complete_json`` sends one chat completion whose ``response_format`` is a strict JSON
schema (structured outputs) and returns the decoded object, or the reason it has none.
It never raises for LLM trouble: 429, 5xx, timeouts and dropped connections are retried
with exponential backoff and full jitter (honouring ``Retry-After``) up to a bounded
number of attempts; other refusals (400, 401, 404, a refusal message, output cut off,
malformed JSON) end at once with a reason. The client is made with ``max_retries=0`` so
this module is the only place that decides about retries.

The retry arithmetic (``RetryPolicy.delay``, ``retry_after_s``) is pure and takes the
random source as an argument; the sleep function is injected so tests run in
milliseconds.
"""

from __future__ import annotations

import email.utils
import json
import logging
import math
import random
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Final, cast

import openai
from openai.types.chat import ChatCompletionMessageParam
from openai.types.shared_params import ResponseFormatJSONSchema

log = logging.getLogger(__name__)

NO_LLM_REASON: Final = "no LLM configured"
"""The reason stored with every Unknown when no OpenAI-compatible server is configured."""

_RETRY_STATUSES: Final = frozenset({408, 409, 429})
_PLACEHOLDER_KEY: Final = "not-needed"  # a local OpenAI-compatible server may want no key


@dataclass(frozen=True, slots=True)
class LlmConfig:
    """Where the OpenAI-compatible server is, which model to ask and what it costs.

    Built by the composition root from the settings (``dialer.judge_commands``).
    """

    model: str
    api_key: str | None = field(default=None, repr=False)
    base_url: str | None = None
    price_in_per_mtok: float = 0.0
    """USD per million input tokens."""
    price_out_per_mtok: float = 0.0
    """USD per million output tokens."""
    timeout_s: float = 30.0
    """Per-request timeout; a request that takes longer counts as a failed attempt."""

    def cost_usd(self, tokens_in: int, tokens_out: int) -> float:
        """The price of one exchange."""
        return (tokens_in * self.price_in_per_mtok + tokens_out * self.price_out_per_mtok) / 1e6


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    """Bounded retries with exponential backoff and full jitter.

    Attempt ``n`` (1-based) that failed for a transient reason waits a uniform random
    time in ``[0, min(cap_s, base_s * 2**(n-1))]``, or what the server's ``Retry-After``
    asks for. A ``Retry-After`` longer than ``max_retry_after_s`` ends the retries: the
    server will not take us back soon, so waiting only blocks the caller.
    """

    attempts: int = 5
    base_s: float = 0.5
    cap_s: float = 20.0
    max_retry_after_s: float = 60.0

    def __post_init__(self) -> None:
        if self.attempts < 1:
            raise ValueError("attempts must be at least 1")
        if self.base_s < 0 or self.cap_s < 0 or self.max_retry_after_s < 0:
            raise ValueError("delays must not be negative")

    def delay(self, attempt: int, retry_after: float | None, rng: random.Random) -> float | None:
        """Seconds to wait after failed attempt ``attempt``; None: do not retry."""
        if attempt >= self.attempts:
            return None
        if retry_after is not None:
            if retry_after > self.max_retry_after_s:
                return None
            return max(0.0, retry_after)
        ceiling = min(self.cap_s, self.base_s * 2.0 ** min(attempt - 1, 60))
        return rng.uniform(0.0, ceiling)


def retry_after_s(headers: Mapping[str, str], now: float) -> float | None:
    """The server's ``retry-after-ms`` or ``Retry-After`` (seconds or an HTTP date) in
    seconds from ``now`` (a POSIX time); None when absent or unreadable."""
    lowered = {k.lower(): v for k, v in headers.items()}
    for name, divisor in (("retry-after-ms", 1000.0), ("retry-after", 1.0)):
        raw = lowered.get(name)
        if raw is None:
            continue
        try:
            value = float(raw)
        except ValueError:
            continue
        if math.isfinite(value):
            return max(0.0, value / divisor)
        return math.inf
    raw = lowered.get("retry-after")
    if raw:
        try:
            when = email.utils.parsedate_to_datetime(raw)
        except (TypeError, ValueError, IndexError):
            return None
        return max(0.0, when.timestamp() - now)
    return None


@dataclass(frozen=True, slots=True)
class JsonReply:
    """The outcome of one structured call: ``data`` when it worked, else ``error``.

    Tokens count every response that came back with usage, including ones whose content
    was refused afterwards: they were billed.
    """

    data: dict[str, Any] | None
    error: str | None
    tokens_in: int = 0
    tokens_out: int = 0
    attempts: int = 0

    @property
    def tokens(self) -> int:
        """Input plus output tokens."""
        return self.tokens_in + self.tokens_out


def make_client(config: LlmConfig) -> openai.OpenAI:
    """An ``openai.OpenAI`` client for ``config`` that never retries by itself."""
    return openai.OpenAI(api_key=config.api_key or _PLACEHOLDER_KEY, base_url=config.base_url,
                         max_retries=0, timeout=config.timeout_s)


def strict_format(name: str, schema: Mapping[str, Any]) -> ResponseFormatJSONSchema:
    """The ``response_format`` of a strict structured-outputs request."""
    return {"type": "json_schema",
            "json_schema": {"name": name, "schema": dict(schema), "strict": True}}


def complete_json(
    client: openai.OpenAI,
    *,
    model: str,
    messages: Sequence[Mapping[str, str]],
    schema_name: str,
    schema: Mapping[str, Any],
    policy: RetryPolicy,
    sleep: Callable[[float], None] = time.sleep,
    rng: random.Random | None = None,
    clock: Callable[[], float] = time.time,
) -> JsonReply:
    """Ask for one JSON object matching ``schema``; retry transient failures; never raise.

    Returns the decoded object (not yet checked beyond being a JSON object: the caller
    validates the answers it holds) or an error saying why there is none.
    """
    rng = rng or random.Random()
    # The messages are plain role/content dicts; the client types them as TypedDicts.
    chat_messages = cast(list[ChatCompletionMessageParam], [dict(m) for m in messages])
    response_format = strict_format(schema_name, schema)
    tokens_in = tokens_out = 0
    last_error = "no attempt made"
    for attempt in range(1, policy.attempts + 1):
        retry_after: float | None = None
        try:
            completion = client.chat.completions.create(
                model=model, messages=chat_messages, response_format=response_format)
        except openai.APITimeoutError:
            last_error = "request timed out"
        except openai.APIConnectionError as exc:
            last_error = f"connection failed: {_first_line(exc)}"
        except openai.APIStatusError as exc:
            status = exc.status_code
            should_retry = exc.response.headers.get("x-should-retry", "").lower()
            transient = (status in _RETRY_STATUSES or status >= 500) and should_retry != "false"
            last_error = _status_reason(status, exc)
            if not transient:
                return JsonReply(None, last_error, tokens_in, tokens_out, attempt)
            retry_after = retry_after_s(dict(exc.response.headers), clock())
        except openai.OpenAIError as exc:  # e.g. a response the client cannot validate
            return JsonReply(None, f"LLM error: {_first_line(exc)}", tokens_in, tokens_out,
                             attempt)
        except ValueError as exc:  # the client decodes a non-JSON body and lets this through
            return JsonReply(None, f"malformed response: {_first_line(exc)}", tokens_in,
                             tokens_out, attempt)
        else:
            usage = getattr(completion, "usage", None)
            tokens_in += _count(getattr(usage, "prompt_tokens", 0))
            tokens_out += _count(getattr(usage, "completion_tokens", 0))
            data, error = _read_completion(completion)
            return JsonReply(data, error, tokens_in, tokens_out, attempt)
        wait = policy.delay(attempt, retry_after, rng)
        if wait is None:
            if retry_after is not None and attempt < policy.attempts:
                last_error += f" (server asks to wait {retry_after:.0f} s)"
            break
        log.info("LLM attempt %d failed (%s); retrying in %.2f s", attempt, last_error, wait,
                 extra={"schema": schema_name, "attempt": attempt})
        sleep(wait)
    return JsonReply(None, f"gave up after {attempt} attempt{'s' if attempt > 1 else ''}: "
                           f"{last_error}", tokens_in, tokens_out, attempt)


def _count(value: object) -> int:
    return value if isinstance(value, int) and not isinstance(value, bool) and value > 0 else 0


def _read_completion(completion: Any) -> tuple[dict[str, Any] | None, str | None]:
    # An OpenAI-compatible server may send a body the client could not fully validate:
    # read every field defensively.
    choices = getattr(completion, "choices", None)
    if not isinstance(choices, list) or not choices:
        return None, "malformed output: no choices"
    choice = choices[0]
    message = getattr(choice, "message", None)
    refusal = getattr(message, "refusal", None)
    if refusal:
        return None, f"the model refused: {_clip(str(refusal))}"
    finish_reason = getattr(choice, "finish_reason", None)
    if finish_reason == "length":
        return None, "malformed output: cut off at the token limit"
    if finish_reason == "content_filter":
        return None, "blocked by the content filter"
    content = getattr(message, "content", None)
    if not isinstance(content, str) or not content:
        return None, "malformed output: empty message"
    try:
        data = json.loads(content)
    except json.JSONDecodeError as exc:
        return None, f"malformed output: not JSON ({exc.msg} at {exc.pos})"
    if not isinstance(data, dict):
        return None, f"malformed output: expected a JSON object, got {type(data).__name__}"
    return data, None


def _status_reason(status: int, exc: openai.APIStatusError) -> str:
    if status == 429:
        return "rate limited (429)"
    if status >= 500:
        return f"server error ({status})"
    body = exc.body
    message = body.get("message") if isinstance(body, dict) else None
    if not isinstance(message, str) or not message:
        message = exc.message
    return f"request refused ({status}): {_clip(_first_line(message))}"


def _first_line(value: object) -> str:
    lines = str(value).strip().splitlines()
    return lines[0] if lines else type(value).__name__


def _clip(text: str, limit: int = 200) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"
