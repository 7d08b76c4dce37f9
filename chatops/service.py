"""The one service Slack handlers call: storage use cases in, plain data out.

Every method owns its transaction. Changes are written with the caller's ``Who`` so the
repositories audit them in the same transaction as the change itself. Errors from the
domain and storage are translated to ``chatops.errors`` with the cause chained.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol

from campaigns import types as t
from campaigns.dashboard import Dashboard
from campaigns.errors import IllegalTransition, InvalidPhoneNumber, ValidationError
from campaigns.phones import mask, normalize, region_of
from campaigns.spam import band
from chatops.errors import BadInput, BadPhone, IllegalChange, UnknownAgent, UnknownCampaign
from storage import services

# storage.db imports these for its session factory; chatops names them only as types
# (no SQL here). Ask: storage.db should export a ``Sessions`` alias so this goes away.
from storage.db import Sessions

__all__ = ["Sessions"]
from storage.errors import NotFound
from storage.repos import (
    AgentRepo,
    AuditRepo,
    CampaignRepo,
    ContactRepo,
    ImportRepo,
    NewContact,
    NumberRepo,
    Who,
)

log = logging.getLogger(__name__)

Clock = Callable[[], datetime]


class CampaignControl(Protocol):
    """The small control port to the running dialer (actors), told after a change.

    The database is the source of truth and the actors obey it; this only wakes them.
    """

    def status_changed(self, campaign_id: int, status: t.CampaignStatus) -> None:
        """A campaign's status changed in the database."""


class NoControl:
    """No live dialer to wake: the actors pick the change up from the database."""

    def status_changed(self, campaign_id: int, status: t.CampaignStatus) -> None:
        """Nothing to do."""


@dataclass(frozen=True, slots=True)
class CampaignRef:
    """A campaign's identity and status, nothing more (cheap to read)."""

    id: int
    name: str
    status: str


@dataclass(frozen=True, slots=True)
class CampaignLine:
    """One campaign in a list."""

    id: int
    name: str
    status: str
    contacts: int
    numbers: int


@dataclass(frozen=True, slots=True)
class CampaignStatusView:
    """One campaign's status: its contacts per status and its caller-ID numbers."""

    id: int
    name: str
    status: str
    timezone: str
    contacts: int
    by_status: tuple[tuple[str, int], ...]
    numbers: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class Change:
    """A status change that was applied (``before == after`` means nothing changed)."""

    campaign_id: int
    name: str
    before: str
    after: str


@dataclass(frozen=True, slots=True)
class Added:
    """The result of adding one contact."""

    campaign: str
    phone: str
    name: str
    inserted: bool


@dataclass(frozen=True, slots=True)
class AgentChange:
    """The result of ``agent``: the campaign's agent before and after."""

    campaign: str
    agent: str
    before: str | None


@dataclass(frozen=True, slots=True)
class NumberLine:
    """A caller-ID number as the numbers view shows it."""

    e164: str
    friendly_name: str
    status: str
    calls_today: int
    daily_cap: int
    calls_total: int
    spam_score: int
    spam_band: str
    excluded_reason: str | None


@dataclass(frozen=True, slots=True)
class NumbersView:
    """A campaign's numbers."""

    campaign: str
    numbers: tuple[NumberLine, ...]


@dataclass(frozen=True, slots=True)
class DashboardView:
    """A campaign's dashboard (``campaigns.dashboard.Dashboard``) with its name."""

    campaign: str
    timezone: str
    dashboard: Dashboard


@dataclass(frozen=True, slots=True)
class ImportStarted:
    """An import that is running in the background."""

    import_id: int
    campaign: str
    thread: threading.Thread


@dataclass(frozen=True, slots=True)
class ImportProgress:
    """Where a running import stands."""

    status: str
    processed: int
    total: int


@dataclass(frozen=True, slots=True)
class ImportResult:
    """A finished import: counts, the skipped rows and a failure reason if it failed."""

    import_id: int
    status: str
    inserted: int
    duplicates: int
    errors: tuple[tuple[int, str], ...]
    failure: str | None


class ChatOpsService:
    """Everything the Slack app can read or change, as plain data."""

    def __init__(self, sessions: Sessions, clock: Clock,
                 control: CampaignControl | None = None) -> None:
        self.sessions = sessions
        self.clock = clock
        self.control: CampaignControl = control or NoControl()

    # --- reads --------------------------------------------------------------------------

    def list_campaigns(self) -> list[CampaignLine]:
        """Every campaign by name with its contact and number counts."""
        with self.sessions() as s:
            return [CampaignLine(r.campaign.id, r.campaign.name, r.campaign.status.value,
                                 r.contacts, r.numbers) for r in CampaignRepo(s).list()]

    def campaign(self, key: str) -> CampaignRef:
        """The campaign by name or id; UnknownCampaign suggests the closest names."""
        with self.sessions() as s:
            c = _get(s, key)
        return CampaignRef(c.id, c.name, c.status.value)

    def status(self, key: str) -> CampaignStatusView:
        """One campaign: status, contacts per status (by index), numbers."""
        with self.sessions() as s:
            c = _get(s, key)
            counts = ContactRepo(s).status_counts(c.id)
            numbers = tuple(a.number.e164 for a in NumberRepo(s).for_campaign(c.id))
        by_status = tuple((st.value, counts.get(st, 0)) for st in t.ContactStatus)
        return CampaignStatusView(c.id, c.name, c.status.value, c.timezone,
                                  sum(counts.values()), by_status, numbers)

    def numbers(self, key: str) -> NumbersView:
        """A campaign's numbers: calls today against the cap, spam scores, exclusions."""
        today = self.clock().date().isoformat()
        with self.sessions() as s:
            c = _get(s, key)
            repo = NumberRepo(s)
            lines = []
            for assigned in repo.for_campaign(c.id, today=today):
                n = assigned.number
                reason = (repo.row(n.e164).excluded_reason
                          if n.status is t.NumberStatus.EXCLUDED else None)
                lines.append(NumberLine(
                    n.e164, n.friendly_name, n.status.value, n.calls_today,
                    c.rotation.max_calls_per_number_per_day, n.calls_total, n.spam_score,
                    band(min(max(n.spam_score, 0), 9)).value, reason))
        return NumbersView(c.name, tuple(lines))

    def dashboard(self, key: str) -> DashboardView:
        """The campaign's dashboard (aggregates from storage, maths from campaigns)."""
        try:
            c, d = services.dashboard(self.sessions, key)
        except NotFound as exc:
            raise UnknownCampaign(exc.key, exc.suggestions) from exc
        return DashboardView(c.name, c.timezone, d)

    # --- changes (audited by the repositories with ``who``) ----------------------------

    def set_status(self, key: str, target: t.CampaignStatus, who: Who) -> Change:
        """Pause, resume or cancel a campaign; audited; the dialer is told afterwards."""
        try:
            with self.sessions.begin() as s:
                c = _get(s, key)
                before, after = CampaignRepo(s).set_status(c.id, target, who, self.clock())
        except IllegalTransition as exc:
            raise IllegalChange(c.name, exc.current, exc.target) from exc
        if before is not after:
            try:
                self.control.status_changed(c.id, after)
            except Exception:  # the DB holds the change; the actors will see it anyway
                log.exception("could not wake the dialer", extra={"campaign": c.id})
        return Change(c.id, c.name, before.value, after.value)

    def set_agent(self, key: str, agent_key: str, who: Who) -> AgentChange:
        """Give the campaign a voice agent (audited as ``campaign.update``)."""
        with self.sessions.begin() as s:
            c = _get(s, key)
            agents = AgentRepo(s)
            try:
                agent = agents.row(agent_key)
            except NotFound as exc:
                names = tuple(a.name for a in agents.list())[:10]
                raise UnknownAgent(agent_key, names) from exc
            before = agents.row(c.agent_id).name if c.agent_id is not None else None
            CampaignRepo(s).update(c.id, who, self.clock(), agent_id=agent.id)
        return AgentChange(c.name, agent.name, before)

    def add_contact(self, key: str, phone: str, name: str, who: Who) -> Added:
        """Add one contact; a number that does not normalise adds nothing (BadPhone)."""
        with self.sessions.begin() as s:
            c = _get(s, key)
            try:
                e164 = normalize(phone, c.region)
            except InvalidPhoneNumber as exc:
                raise BadPhone(phone, exc.reason) from exc
            contact = NewContact(phone=e164, name=name.strip()[:200], country=region_of(e164))
            inserted, _ = ContactRepo(s).add_many(c.id, [contact], self.clock())
            if inserted:
                AuditRepo(s).record(who, "contacts.add", "campaign", c.id, self.clock(),
                                    {"count": 1, "phone": mask(e164)})
        return Added(c.name, e164, contact.name, bool(inserted))

    def start_import(self, key: str, filename: str, data: bytes, who: Who,
                     done: Callable[[ImportResult], None]) -> ImportStarted:
        """Open an import record (audited) and run it on a background thread."""
        try:
            import_id, campaign_id = services.start_import(
                self.sessions, key, filename, len(data), who, self.clock)
        except NotFound as exc:
            raise UnknownCampaign(exc.key, exc.suggestions) from exc
        with self.sessions.begin() as s:
            name = CampaignRepo(s).get(campaign_id).name
            AuditRepo(s).record(who, "contacts.import", "campaign", campaign_id, self.clock(),
                                {"import_id": import_id, "filename": filename[:200],
                                 "size": len(data)})

        def finished(report: services.ImportReport) -> None:
            done(ImportResult(
                report.import_id, report.status, report.inserted, report.duplicates,
                tuple((int(str(e.get("line", 0))), str(e.get("reason", "")))
                      for e in report.errors), report.failure))

        thread = services.import_in_background(self.sessions, import_id, data, done=finished)
        return ImportStarted(import_id, name, thread)

    def import_progress(self, import_id: int) -> ImportProgress:
        """Rows read so far of a running import."""
        with self.sessions() as s:
            record = ImportRepo(s).get(import_id)
            return ImportProgress(record.status, record.processed, record.total_records)


def _get(s: Any, key: str) -> t.Campaign:
    try:
        return CampaignRepo(s).get(key)
    except NotFound as exc:
        raise UnknownCampaign(exc.key, exc.suggestions) from exc
    except ValidationError as exc:
        raise BadInput(exc.reason) from exc
