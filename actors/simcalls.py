"""Simulated callees: who answers, how, and for how long, drawn per dialled number.

Stands where the SIP trunk will be until the number actors place real calls. A number's
persona (human, voicemail, busy, no answer, reject, invalid, quiet human) is drawn from
the number itself and a seed, so a retry reaches the same kind of callee; humans may
let the first attempts ring out.
"""

from __future__ import annotations

import hashlib
import random
import time
from collections.abc import Callable
from dataclasses import replace
from datetime import datetime, timedelta

from actors.campaign_loop import CallResult, DialRequest
from campaigns import types as t

PERSONAS = (("human", 0.46), ("voicemail", 0.24), ("no_answer", 0.14), ("busy", 0.07),
            ("reject", 0.05), ("invalid", 0.02), ("human_quiet", 0.02))


def persona_for(e164: str, seed: int) -> tuple[str, int]:
    """``(kind, attempts that ring out before a human answers)`` for a number."""
    digest = hashlib.sha256(f"{seed}:{e164}".encode()).digest()
    rng = random.Random(digest)
    kinds, weights = zip(*PERSONAS, strict=True)
    return rng.choices(kinds, weights)[0], rng.choice((0, 0, 0, 1, 2))


def outcome(kind: str, answers_after: int, attempt: int,
            rng: random.Random) -> tuple[t.AnswerStatus, int, bool, int]:
    """``(answer status, SIP status, conversation, talk ms)`` for one attempt (0-based)."""
    if kind == "invalid":
        return t.AnswerStatus.INVALID_NUMBER, 404, False, 0
    if kind == "reject":
        return t.AnswerStatus.REJECTED, 603, False, 0
    if kind == "busy" and attempt == 0:
        return t.AnswerStatus.BUSY, 486, False, 0
    if kind == "no_answer" or (kind == "human" and attempt < answers_after):
        return t.AnswerStatus.NO_ANSWER, 487, False, 0
    if kind == "voicemail":
        return t.AnswerStatus.MACHINE, 200, False, rng.randint(3000, 9000)
    if kind == "human_quiet":
        return t.AnswerStatus.SILENCE, 200, False, rng.randint(4000, 8000)
    return t.AnswerStatus.HUMAN, 200, True, rng.randint(20_000, 240_000)


def plan_call(request: DialRequest, rng: random.Random, seed: int,
              start: datetime) -> CallResult:
    """The whole simulated call, timed from ``start``."""
    kind, answers_after = persona_for(request.to, seed)
    status, sip, conversation, talk_ms = outcome(kind, answers_after, request.attempt - 1, rng)
    answered = sip == 200
    ring_ms = rng.randint(2000, 12000) if answered else request.ring_timeout_s * 1000
    if status in (t.AnswerStatus.BUSY, t.AnswerStatus.REJECTED, t.AnswerStatus.INVALID_NUMBER):
        ring_ms = rng.randint(300, 3000)
    return CallResult(
        answer_status=status, sip_status=sip,
        ended_at=start + timedelta(milliseconds=ring_ms + talk_ms),
        answered_at=start + timedelta(milliseconds=ring_ms) if answered else None,
        ring_ms=ring_ms, talk_ms=talk_ms, conversation=conversation,
        hangup_by="callee" if answered else "dialer")


def simulate_call(request: DialRequest, rng: random.Random, clock: Callable[[], datetime],
                  time_scale: float, seed: int = 7) -> CallResult:
    """Place a simulated call in real time, ``time_scale`` times the call's duration."""
    start = clock()
    planned = plan_call(request, rng, seed, start)
    time.sleep(max(0.0, (planned.ended_at - start).total_seconds() * time_scale))
    ring = timedelta(milliseconds=(planned.ring_ms or 0) * time_scale)
    return replace(planned, ended_at=clock(),
                   answered_at=start + ring if planned.answered_at else None)
