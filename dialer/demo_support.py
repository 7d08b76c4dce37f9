"""What both demos share: the demo's phone numbers and the figures computed from the
database (never from counters in memory)."""

from __future__ import annotations

import itertools
import random
from datetime import datetime
from typing import Any

import phonenumbers
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from campaigns import types as t
from storage import models as m
from storage.repos import CampaignRepo, ContactRepo, NewContact, NumberRepo, Who

WHO = Who("demo", "demo")

# Area codes from several US time zones, so the callee's calling window matters.
_AREAS = ("202", "212", "305", "312", "415", "503", "602", "702", "713", "808", "907",
          "617", "404", "206", "303", "214", "720", "919", "512", "615")


def demo_numbers(count: int, offset: int = 0) -> list[str]:
    """``count`` valid, distinct US numbers (555-01xx in many area codes)."""
    out: list[str] = []
    for i in range(offset, offset + count * 4):
        area = _AREAS[i % len(_AREAS)]
        block = i // len(_AREAS)
        exchange, line = 555, 100 + block % 100
        if block >= 100:
            exchange, line = 200 + block // 100, 1000 + block % 100
        candidate = f"+1{area}{exchange:03d}{line:04d}"
        if phonenumbers.is_valid_number(phonenumbers.parse(candidate)):
            out.append(candidate)
        if len(out) == count:
            return out
    raise ValueError(f"could not make {count} demo numbers")


def add_numbers_and_contacts(s: Session, campaign_id: int, callers: list[str],
                             phones: list[str], due: datetime, now: datetime,
                             rng: random.Random) -> None:
    """The demo's caller IDs (assigned, equal weights) and contacts (mixed priorities,
    due at ``due``), then the campaign goes active."""
    numbers = NumberRepo(s)
    for e164 in callers:
        numbers.add(e164, WHO, now, friendly_name=f"Demo {e164[2:5]}-{e164[-4:]}")
        numbers.assign(campaign_id, e164, WHO, now, weight=1)
    priorities = (t.Priority.HIGH, t.Priority.NORMAL, t.Priority.NORMAL, t.Priority.LOW)
    ContactRepo(s).add_many(campaign_id, [NewContact(p, name=f"Demo contact {i}",
                                                     priority=rng.choice(priorities))
                                          for i, p in enumerate(phones)], due)
    CampaignRepo(s).set_status(campaign_id, t.CampaignStatus.ACTIVE, WHO, now)


def campaign_figures(s: Session, campaign_id: int) -> dict[str, Any]:
    """Contacts by status, calls by answer, lost outcomes and double dials."""
    by_status = dict(s.execute(
        select(m.CampaignContact.status, func.count())
        .where(m.CampaignContact.campaign_id == campaign_id)
        .group_by(m.CampaignContact.status)).all())
    by_answer = dict(s.execute(
        select(m.Call.answer_status, func.count()).where(m.Call.campaign_id == campaign_id)
        .group_by(m.Call.answer_status)).all())
    calls = s.scalar(select(func.count()).select_from(m.Call)
                     .where(m.Call.campaign_id == campaign_id)) or 0
    lost = s.scalar(select(func.count()).select_from(m.Call)
                    .where(m.Call.campaign_id == campaign_id, m.Call.state != "ended")) or 0
    return {"calls": int(calls),
            "by_status": {str(k): int(v) for k, v in by_status.items()},
            "by_answer": {str(k): int(v) for k, v in by_answer.items()},
            "double_dials": double_dials(s, campaign_id), "lost_outcomes": int(lost)}


def double_dials(s: Session, campaign_id: int) -> int:
    """Calls that dialled a contact a second time for one attempt.

    Two calls to a contact overlap in time, or share an attempt number although the
    earlier one used the attempt up (only a trunk failure gives the attempt back).
    """
    rows = s.execute(select(m.Call.campaign_contact_id, m.Call.attempt_no, m.Call.started_at,
                            m.Call.ended_at, m.Call.answer_status)
                     .where(m.Call.campaign_id == campaign_id)
                     .order_by(m.Call.campaign_contact_id, m.Call.started_at, m.Call.id)).all()
    doubles = 0
    for prev, cur in itertools.pairwise(rows):
        if prev[0] != cur[0]:
            continue
        overlap = prev[3] is None or cur[2] < prev[3]
        same_attempt = (prev[1] == cur[1]
                        and prev[4] != t.AnswerStatus.TRUNK_FAILURE.value)
        if overlap or same_attempt:
            doubles += 1
    return doubles
