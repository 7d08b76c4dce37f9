"""Hostile input, fuzzed with Hypothesis: contact files, phone numbers, AMD audio.

Every test takes its settings from ``fuzz(n)``: ``n`` examples, derandomised (the same
examples on every run, so CI is reproducible), no example database, no deadline. For a
long hunt, ``DIALER_FUZZ_SCALE=50`` runs fifty times as many examples with fresh
randomness; a failure prints the ``@reproduce_failure`` blob to replay it.
The atheris harnesses in ``fuzz/`` cover the same properties with coverage guidance.
"""

from __future__ import annotations

import os

from hypothesis import HealthCheck, settings

settings.register_profile(
    "fuzz", deadline=None, derandomize=True, database=None, print_blob=True,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large,
                           HealthCheck.large_base_example])
settings.register_profile("fuzz-long", parent=settings.get_profile("fuzz"),
                          derandomize=False)


def fuzz(max_examples: int) -> settings:
    """Settings for a fuzz test worth ``max_examples`` examples in CI."""
    scale = max(1, int(os.environ.get("DIALER_FUZZ_SCALE", "1")))
    profile = settings.get_profile("fuzz" if scale == 1 else "fuzz-long")
    return settings(profile, max_examples=max_examples * scale)
