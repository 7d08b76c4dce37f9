"""Alerts for the alerts channel: where they come from and how they are posted.

The coordination store's event stream is the real source and arrives later; until then
``AuditAlertSource`` reads the audit log, where the dialer already records what matters,
and ``MemoryAlertSource`` serves tests and in-process producers. Both satisfy
``AlertSource``. The audit conventions read here (the writers must keep them):

* ``number.status`` to ``excluded`` by anyone but a person (actor not ``slack:…``,
  source not ``cli``) → number auto-excluded (``details.reason``);
* ``campaign.status`` to ``completed`` → campaign completed;
* ``campaign.status`` to ``paused`` by the dialer itself → auto-pause (``details.reason``,
  e.g. abandon rate or circuit breaker);
* ``trunk.failing`` (entity ``campaign`` or ``trunk``) → trunk failing (``details.reason``);
* ``trunk.recovered`` (entity ``campaign``) → the circuit breaker closed, dialling resumed;
* ``dialer.degraded`` / ``dialer.recovered`` (entity ``campaign``) → the campaign could not
  dial because the database or the coordination store was unreachable / it dials again.

A database outage cannot be written to the audit log while it lasts, so ``AlertPoster``
raises that one itself: when its source has failed for ``announce_after_s`` it posts
``database_down`` at once, and ``database_back`` when the source answers again (then the
alerts written meanwhile follow, ``dialer.recovered`` among them).
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any, Protocol

from storage.db import Sessions
from storage.errors import NotFound
from storage.repos import AuditRepo, CampaignRepo, NumberRepo

log = logging.getLogger(__name__)


class AlertKind(StrEnum):
    """What happened."""

    NUMBER_EXCLUDED = "number_excluded"
    CAMPAIGN_COMPLETED = "campaign_completed"
    TRUNK_FAILING = "trunk_failing"
    AUTO_PAUSE = "auto_pause"
    TRUNK_RECOVERED = "trunk_recovered"
    DIALER_DEGRADED = "dialer_degraded"
    DIALER_RECOVERED = "dialer_recovered"
    DATABASE_DOWN = "database_down"
    DATABASE_BACK = "database_back"


@dataclass(frozen=True, slots=True)
class AlertEvent:
    """One alert: its kind, what it is about and why."""

    kind: AlertKind
    at: datetime
    campaign: str | None = None
    number: str | None = None
    reason: str = ""


class AlertSource(Protocol):
    """Anything that hands over the alerts that happened since the last call."""

    def poll(self) -> list[AlertEvent]:
        """New events, oldest first; each is returned once."""


class MemoryAlertSource:
    """An in-process queue of alerts (tests, and producers in the same process)."""

    def __init__(self) -> None:
        self._events: list[AlertEvent] = []
        self._lock = threading.Lock()

    def push(self, event: AlertEvent) -> None:
        """Queue one event."""
        with self._lock:
            self._events.append(event)

    def poll(self) -> list[AlertEvent]:
        """Everything queued since the last poll."""
        with self._lock:
            events, self._events = self._events, []
        return events


def _by_a_person(actor: str, source: str) -> bool:
    return actor.startswith("slack:") or source == "cli"


class AuditAlertSource:
    """Alerts derived from new audit-log entries (see the module docstring).

    Starts after the newest entry that exists when it is made, so a restart does not
    replay history. Reads at most ``batch`` new entries per poll.
    """

    def __init__(self, sessions: Sessions, batch: int = 500) -> None:
        self.sessions = sessions
        self.batch = batch
        with sessions() as s:
            newest = AuditRepo(s).recent(limit=1)
        self.cursor = newest[0].id if newest else 0

    def poll(self) -> list[AlertEvent]:
        """Alerts from the entries written since the last poll, oldest first."""
        with self.sessions() as s:
            entries = AuditRepo(s).since(self.cursor, limit=self.batch)
            if not entries:
                return []
            self.cursor = entries[-1].id
            events = []
            for e in entries:
                event = self._event(s, e.action, e.entity, e.entity_id, e.actor, e.source,
                                    e.at, dict(e.details or {}))
                if event is not None:
                    events.append(event)
        return events

    def _event(self, s: Any, action: str, entity: str, entity_id: str, actor: str,
               source: str, at: datetime, details: dict[str, Any]) -> AlertEvent | None:
        reason = str(details.get("reason") or "")
        to = details.get("to")
        if action == "number.status" and to == "excluded" and not _by_a_person(actor, source):
            number = str(details.get("e164") or _number(s, entity_id))
            return AlertEvent(AlertKind.NUMBER_EXCLUDED, at, number=number, reason=reason)
        if action == "campaign.status" and to == "completed":
            return AlertEvent(AlertKind.CAMPAIGN_COMPLETED, at, campaign=_campaign(s, entity_id))
        if action == "campaign.status" and to == "paused" and not _by_a_person(actor, source):
            return AlertEvent(AlertKind.AUTO_PAUSE, at, campaign=_campaign(s, entity_id),
                              reason=reason)
        kind = _KINDS.get(action)
        if kind is not None:
            campaign = _campaign(s, entity_id) if entity == "campaign" else None
            return AlertEvent(kind, at, campaign=campaign, reason=reason)
        return None


_KINDS: dict[str, AlertKind] = {
    "trunk.failing": AlertKind.TRUNK_FAILING,
    "trunk.recovered": AlertKind.TRUNK_RECOVERED,
    "dialer.degraded": AlertKind.DIALER_DEGRADED,
    "dialer.recovered": AlertKind.DIALER_RECOVERED,
}


def _campaign(s: Any, campaign_id: str) -> str:
    try:
        return CampaignRepo(s).get(campaign_id).name
    except NotFound:
        return f"#{campaign_id}"


def _number(s: Any, number_id: str) -> str:
    for n in NumberRepo(s).list():
        if str(n.id) == number_id:
            return n.e164
    return f"#{number_id}"


class AlertPoster:
    """Polls a source and posts each alert to the alerts channel.

    A source that keeps failing (the database behind the audit log is down) is an alert
    of its own: after ``announce_after_s`` of failed polls ``database_down`` is posted,
    and ``database_back`` once a poll succeeds again. ``monotonic`` and ``clock`` are
    injectable for tests.
    """

    def __init__(self, source: AlertSource, post: Callable[[AlertEvent], None],
                 interval_s: float = 5.0, announce_after_s: float = 15.0,
                 monotonic: Callable[[], float] = time.monotonic,
                 clock: Callable[[], datetime] = lambda: datetime.now(UTC)) -> None:
        self.source = source
        self.post = post
        self.interval_s = interval_s
        self.announce_after_s = announce_after_s
        self.monotonic = monotonic
        self.clock = clock
        self.failing_since: float | None = None
        self.announced = False
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def run_once(self) -> int:
        """Post what the source has now; returns how many alerts were posted.

        Raises what the source raises (``tick`` is the loop's forgiving version)."""
        return sum(self._post(event) for event in self.source.poll())

    def tick(self) -> int:
        """One poll of the loop: like ``run_once``, but a failing source is logged and,
        once it has failed for ``announce_after_s``, announced; when it answers again,
        that is said before the alerts it held."""
        try:
            events = self.source.poll()
        except Exception as exc:
            self._source_failed(exc)
            return 0
        if self.failing_since is not None:
            self._source_back()
        return sum(self._post(event) for event in events)

    def start(self) -> None:
        """Poll on a daemon thread until ``stop``."""
        self._thread = threading.Thread(target=self._loop, name="slack-alerts", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        """Stop polling."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5)

    def _loop(self) -> None:
        while not self._stop.wait(self.interval_s):
            self.tick()

    def _post(self, event: AlertEvent) -> bool:
        try:
            self.post(event)
        except Exception:  # one failed post must not stop the alerts that follow
            log.exception("could not post an alert", extra={"alert": event.kind.value})
            return False
        return True

    def _held_s(self) -> float:
        return self.monotonic() - (self.failing_since or self.monotonic())

    def _source_failed(self, exc: Exception) -> None:
        if self.failing_since is None:
            self.failing_since = self.monotonic()
            log.warning("alert source failed: %s", type(exc).__name__)
        if self.announced or self._held_s() < self.announce_after_s:
            return
        self.announced = self._post(AlertEvent(
            AlertKind.DATABASE_DOWN, self.clock(),
            reason=(f"unreachable for {self._held_s():.0f} s ({type(exc).__name__}); "
                    "campaigns cannot dial and alerts wait until it is back")))

    def _source_back(self) -> None:
        if self.announced and not self._post(AlertEvent(
                AlertKind.DATABASE_BACK, self.clock(),
                reason=f"reachable again after {self._held_s():.0f} s")):
            return  # tell it on the next good poll
        log.warning("alert source back after %.0f s", self._held_s())
        self.failing_since, self.announced = None, False
