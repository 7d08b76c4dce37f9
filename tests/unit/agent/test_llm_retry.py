"""Retry arithmetic: bounded attempts, exponential backoff with full jitter, Retry-After."""

from __future__ import annotations

import random
from datetime import UTC, datetime
from email.utils import format_datetime

import pytest

from agent.llm import LlmConfig, RetryPolicy, retry_after_s, strict_format


def test_backoff_grows_exponentially_within_the_cap_with_jitter() -> None:
    policy = RetryPolicy(attempts=10, base_s=0.5, cap_s=4.0)
    rng = random.Random(7)
    for attempt, ceiling in [(1, 0.5), (2, 1.0), (3, 2.0), (4, 4.0), (8, 4.0)]:
        delays = [policy.delay(attempt, None, rng) for _ in range(200)]
        assert all(d is not None and 0.0 <= d <= ceiling for d in delays)
        assert max(d for d in delays if d is not None) > ceiling * 0.8  # full jitter spreads
        assert len(set(delays)) > 100


def test_attempts_are_bounded() -> None:
    policy = RetryPolicy(attempts=3)
    rng = random.Random(1)
    assert policy.delay(2, None, rng) is not None
    assert policy.delay(3, None, rng) is None
    assert RetryPolicy(attempts=1).delay(1, 0.0, rng) is None


def test_retry_after_is_honoured_unless_too_long() -> None:
    policy = RetryPolicy(attempts=5, base_s=0.001, cap_s=0.01, max_retry_after_s=30)
    rng = random.Random(1)
    assert policy.delay(1, 7.0, rng) == 7.0
    assert policy.delay(1, 0.0, rng) == 0.0
    assert policy.delay(1, 31.0, rng) is None


def test_invalid_policies_are_refused() -> None:
    with pytest.raises(ValueError, match="attempts"):
        RetryPolicy(attempts=0)
    with pytest.raises(ValueError, match="negative"):
        RetryPolicy(base_s=-1)


def test_retry_after_header_forms() -> None:
    now = datetime(2026, 3, 10, 15, 0, tzinfo=UTC).timestamp()
    later = format_datetime(datetime(2026, 3, 10, 15, 0, 12, tzinfo=UTC), usegmt=True)
    assert retry_after_s({"Retry-After": "3"}, now) == 3.0
    assert retry_after_s({"retry-after": "1.5"}, now) == 1.5
    assert retry_after_s({"retry-after-ms": "250", "Retry-After": "9"}, now) == 0.25
    assert retry_after_s({"Retry-After": later}, now) == pytest.approx(12.0)
    assert retry_after_s({"Retry-After": "soon"}, now) is None
    assert retry_after_s({}, now) is None
    assert retry_after_s({"Retry-After": "-4"}, now) == 0.0


def test_cost_and_format() -> None:
    config = LlmConfig(model="m", price_in_per_mtok=0.4, price_out_per_mtok=1.6)
    assert config.cost_usd(1_000_000, 500_000) == pytest.approx(1.2)
    assert "api_key" not in repr(LlmConfig(model="m", api_key="sk-secret"))
    fmt = strict_format("x", {"type": "object"})
    assert fmt["type"] == "json_schema" and fmt["json_schema"]["strict"] is True
