"""Call-setup pacing: a token bucket, pure (the time is passed in)."""

from __future__ import annotations

from typing import Final

HARD_MAX_SETUPS_PER_S: Final = 50.0
"""pjsua2 from the wheel aborts the process above ~60 setups/s (FACTS.md); stay under."""
DEFAULT_SETUPS_PER_S: Final = 40.0


class TokenBucket:
    """At most ``rate`` takes per second on average, at most ``burst`` at once.

    A burst of 2 lets a caller that polls late (every 10 ms) still reach the full rate.
    """

    def __init__(self, rate: float, burst: float = 2.0, *, now: float = 0.0) -> None:
        if rate <= 0 or burst < 1:
            raise ValueError("rate must be positive and burst at least 1")
        self.rate = min(rate, HARD_MAX_SETUPS_PER_S)
        self.burst = burst
        self._tokens = burst
        self._last = now

    def _refill(self, now: float) -> None:
        if now > self._last:
            self._tokens = min(self.burst, self._tokens + (now - self._last) * self.rate)
            self._last = now

    def take(self, now: float) -> bool:
        """Spend one token if there is one at ``now``."""
        self._refill(now)
        if self._tokens >= 1.0:
            self._tokens -= 1.0
            return True
        return False

    def wait_s(self, now: float) -> float:
        """Seconds from ``now`` until a token is available (0 when one is)."""
        self._refill(now)
        return max(0.0, (1.0 - self._tokens) / self.rate)
