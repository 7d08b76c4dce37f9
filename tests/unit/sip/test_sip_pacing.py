"""The call-setup token bucket."""

from __future__ import annotations

import pytest

from sip.pacing import HARD_MAX_SETUPS_PER_S, TokenBucket


def _takes(bucket: TokenBucket, seconds: float, step: float = 0.001) -> int:
    count, t = 0, 0.0
    while t < seconds:
        while bucket.take(t):
            count += 1
        t += step
    return count


@pytest.mark.parametrize("poll_s", [0.001, 0.01, 0.03])
def test_sustained_rate_is_the_configured_rate(poll_s: float) -> None:
    assert _takes(TokenBucket(40.0), 10.0, poll_s) in range(395, 403)


def test_rate_is_capped_below_the_library_abort() -> None:
    bucket = TokenBucket(500.0)
    assert bucket.rate == HARD_MAX_SETUPS_PER_S
    assert _takes(bucket, 10.0) <= 10 * HARD_MAX_SETUPS_PER_S + 1


def test_no_burst_after_idle_beyond_burst_size() -> None:
    bucket = TokenBucket(40.0, burst=2.0)
    assert bucket.take(100.0)
    assert bucket.take(100.0)
    assert not bucket.take(100.0)
    assert bucket.wait_s(100.0) == pytest.approx(1 / 40)


def test_rejects_nonsense() -> None:
    with pytest.raises(ValueError, match="rate"):
        TokenBucket(0.0)
