"""Which contacts to dial next (SPEC: "High priority first, then due retries, then pending").

Only due contacts are dialled: PENDING ones, and RETRY ones whose ``next_attempt_at`` has
come. A DIALING contact (or any other status) never is. The order is ``queue_key``::

    (priority rank, 0 for RETRY / 1 for PENDING, due time, id)

where the due time is ``next_attempt_at`` for RETRY and ``created_at`` for PENDING, and a
missing time sorts first. Storage mirrors it in SQL as::

    WHERE status = 'pending' OR (status = 'retry' AND next_attempt_at <= :now)
    ORDER BY priority_rank,
             CASE WHEN status = 'retry' THEN 0 ELSE 1 END,
             CASE WHEN status = 'retry' THEN next_attempt_at ELSE created_at END NULLS FIRST,
             id
"""

from __future__ import annotations

import heapq
from collections.abc import Collection, Iterable
from datetime import UTC, datetime
from typing import Final

from campaigns.errors import ValidationError
from campaigns.types import CampaignContact, ContactStatus

_EARLIEST: Final = datetime.min.replace(tzinfo=UTC)

QueueKey = tuple[int, int, datetime, int]


def is_due(c: CampaignContact, now: datetime) -> bool:
    """True for a PENDING contact, or a RETRY one with ``next_attempt_at <= now``."""
    if c.status is ContactStatus.PENDING:
        return True
    return (
        c.status is ContactStatus.RETRY
        and c.next_attempt_at is not None
        and c.next_attempt_at <= now
    )


def queue_key(c: CampaignContact) -> QueueKey:
    """The sort key of a due contact (see the module docstring); smaller dials first."""
    retry = c.status is ContactStatus.RETRY
    when = c.next_attempt_at if retry else c.created_at
    return (c.priority.rank, 0 if retry else 1, when or _EARLIEST, c.id)


def due_contacts(
    contacts: Iterable[CampaignContact],
    now: datetime,
    limit: int,
    *,
    busy_contact_ids: Collection[int] = (),
) -> list[CampaignContact]:
    """The first ``limit`` due contacts in ``queue_key`` order.

    ``busy_contact_ids`` are people (``contact_id``) on a call right now in any campaign;
    they are skipped so nobody gets two calls at once.
    """
    if limit < 0:
        raise ValidationError("limit", "must not be negative")
    due = (c for c in contacts if is_due(c, now) and c.contact_id not in busy_contact_ids)
    return heapq.nsmallest(limit, due, key=queue_key)
