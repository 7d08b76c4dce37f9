"""Prometheus metrics through ``ray.util.metrics`` (exported by every Ray node).

Ray prefixes each name with ``ray_`` on the node's metrics export port (scrape it with
the service discovery file Ray writes, see the README). The names:

| metric | type | tags |
|---|---|---|
| ``dialer_calls_placed_total`` | counter | campaign, number |
| ``dialer_call_outcomes_total`` | counter | campaign, answer_status |
| ``dialer_amd_verdicts_total`` | counter | label |
| ``dialer_amd_decision_ms`` | histogram | label |
| ``dialer_amd_corrections_total`` | counter | kind: ``reply``, ``late_beep`` |
| ``dialer_active_calls`` | gauge | number |
| ``dialer_number_spam_score`` | gauge | number |
| ``dialer_number_calls_today`` | gauge | number |

A correction is a verdict the call flow turned round: ``reply``, a machine verdict made
human by the callee's "Hello?" after a pause; ``late_beep``, a human verdict made machine
by a voicemail beep.

Phone numbers appear in tags as masked E.164 (country code and last two digits), like
in logs. Each recorder also keeps plain tallies so an actor's ``state()`` can show them.
"""

from __future__ import annotations

from collections import Counter
from typing import Any

from actors.campaign_loop import CallResult, DialRequest
from campaigns.phones import mask

AMD_BUCKETS_MS = [250.0, 500.0, 750.0, 1000.0, 1500.0, 2000.0, 3000.0, 4000.0, 5000.0]


class CallMetrics:
    """Records what a number actor sees: placements, outcomes, AMD, active calls."""

    def __init__(self) -> None:
        from ray.util import metrics

        self.placed = metrics.Counter("dialer_calls_placed_total", "Calls placed.",
                                      tag_keys=("campaign", "number"))
        self.outcomes = metrics.Counter("dialer_call_outcomes_total",
                                        "Finished calls by answer status.",
                                        tag_keys=("campaign", "answer_status"))
        self.amd = metrics.Counter("dialer_amd_verdicts_total", "AMD verdicts.",
                                   tag_keys=("label",))
        self.amd_ms = metrics.Histogram("dialer_amd_decision_ms",
                                        "Audio ms from answer to the AMD verdict.",
                                        boundaries=AMD_BUCKETS_MS, tag_keys=("label",))
        self.corrections = metrics.Counter(
            "dialer_amd_corrections_total",
            "AMD verdicts the call flow corrected: reply (machine -> human), late_beep "
            "(human -> machine).", tag_keys=("kind",))
        self.active = metrics.Gauge("dialer_active_calls", "Calls in progress.",
                                    tag_keys=("number",))
        self.spam = metrics.Gauge("dialer_number_spam_score", "Spam score 0-9.",
                                  tag_keys=("number",))
        self.today = metrics.Gauge("dialer_number_calls_today", "Calls today.",
                                   tag_keys=("number",))
        self.tally: Counter[str] = Counter()

    def started(self, request: DialRequest, active: int) -> None:
        """A call left for the trunk."""
        number = mask(request.caller_id)
        self.placed.inc(1, {"campaign": str(request.campaign_id), "number": number})
        self.active.set(active, {"number": number})
        self.tally["placed"] += 1

    def ended(self, request: DialRequest, result: CallResult, active: int) -> None:
        """A call ended with ``result``."""
        number = mask(request.caller_id)
        status = result.answer_status.value
        self.outcomes.inc(1, {"campaign": str(request.campaign_id), "answer_status": status})
        self.active.set(active, {"number": number})
        self.tally[f"outcome:{status}"] += 1
        if result.amd_label:
            self.amd.inc(1, {"label": result.amd_label})
            if result.amd_decision_ms is not None:
                self.amd_ms.observe(result.amd_decision_ms, {"label": result.amd_label})
            self.tally[f"amd:{result.amd_label}"] += 1
        if result.amd_correction:
            self.corrections.inc(1, {"kind": result.amd_correction})
            self.tally[f"amd_correction:{result.amd_correction}"] += 1

    def number_state(self, e164: str, spam_score: int, calls_today: int) -> None:
        """The number's reputation and use today."""
        number = mask(e164)
        self.spam.set(spam_score, {"number": number})
        self.today.set(calls_today, {"number": number})

    def snapshot(self) -> dict[str, Any]:
        """The plain tallies (for ``state()``)."""
        return dict(self.tally)
