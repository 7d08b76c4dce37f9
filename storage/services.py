"""Use cases shared by the CLI and Slack: import, export, dashboard.

Each one owns its transactions (unlike the repositories, which never commit).
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy.orm import Session, sessionmaker

from campaigns import types as t
from campaigns.dashboard import Dashboard, build_dashboard
from campaigns.errors import ValidationError
from campaigns.exporting import ExportRecord
from campaigns.importing import DuplicateRow, ImportRow, RowError, iter_contacts_csv
from storage.exportfiles import write_export
from storage.repos import (
    CampaignRepo,
    ContactRepo,
    ContactView,
    DashboardRepo,
    ExportRepo,
    ImportRepo,
    NewContact,
    Who,
)

log = logging.getLogger(__name__)

Clock = Callable[[], datetime]
PROGRESS_EVERY = 2000


def utcnow() -> datetime:
    """The wall clock, in UTC: the one clock read at the edge."""
    return datetime.now(UTC)


@dataclass
class ImportReport:
    """What an import did; ``errors`` holds ``{"line", "reason"}`` per bad row."""

    import_id: int
    status: str
    inserted: int = 0
    duplicates: int = 0
    errors: list[dict[str, object]] = field(default_factory=list)
    failure: str | None = None

    def as_json(self) -> dict[str, object]:
        """The CLI contract's object (plus status and failure)."""
        out: dict[str, object] = {"import_id": self.import_id, "inserted": self.inserted,
                                  "duplicates": self.duplicates, "errors": self.errors,
                                  "status": self.status}
        if self.failure:
            out["failure"] = self.failure
        return out


def start_import(sessions: sessionmaker[Session], campaign: str | int, filename: str,
                 size: int, who: Who, clock: Clock = utcnow) -> tuple[int, int]:
    """Open an import record; returns ``(import_id, campaign_id)``."""
    with sessions.begin() as s:
        campaign_id = CampaignRepo(s).row(campaign).id
        import_id = ImportRepo(s).create(campaign_id, filename, size, who, clock())
    return import_id, campaign_id


def run_import(sessions: sessionmaker[Session], import_id: int, data: bytes, *,
               region: str | None = None, clock: Clock = utcnow) -> ImportReport:
    """Parse and insert one import; progress lands on the import record as it goes.

    Every valid row is inserted in one final transaction, so a failure (bad file, lost
    database) leaves nothing half-imported; the record then says ``failed`` and why.
    """
    with sessions.begin() as s:
        record = ImportRepo(s).get(import_id)
        campaign = CampaignRepo(s).get(record.campaign_id)
        record.status = "running"
        record.total_records = data.count(b"\n") + (0 if data.endswith(b"\n") else 1) - 1
    report = ImportReport(import_id, "running")
    rows: list[ImportRow] = []
    try:
        items = iter_contacts_csv(data, default_region=region or campaign.region)
        for n, item in enumerate(items, start=1):
            if isinstance(item, ImportRow):
                rows.append(item)
            elif isinstance(item, RowError):
                report.errors.append({"line": item.line, "reason": item.reason})
            elif isinstance(item, DuplicateRow):
                report.duplicates += 1
            if n % PROGRESS_EVERY == 0:
                _progress(sessions, import_id, n)
        with sessions.begin() as s:
            inserted, dups = ContactRepo(s).add_many(
                campaign.id,
                [NewContact(phone=r.phone, name=r.name, priority=r.priority, tags=r.tags,
                            timezone=r.timezone, country=r.country, attributes=r.attributes)
                 for r in rows],
                clock(), import_id=import_id)
            report.inserted = inserted
            report.duplicates += dups
            report.status = "done"
            _finish(s, report, clock(), processed=len(rows) + len(report.errors)
                    + report.duplicates)
    except ValidationError as exc:
        report.status, report.failure = "failed", exc.reason
    except Exception as exc:
        log.exception("import failed", extra={"import_id": import_id})
        report.status, report.failure = "failed", f"import failed: {type(exc).__name__}"
    if report.status == "failed":
        report.inserted = 0
        try:
            with sessions.begin() as s:
                _finish(s, report, clock(), processed=0)
        except Exception:
            log.exception("could not record the failed import", extra={"import_id": import_id})
    return report


def _progress(sessions: sessionmaker[Session], import_id: int, processed: int) -> None:
    with sessions.begin() as s:
        ImportRepo(s).get(import_id).processed = processed


def _finish(s: Session, report: ImportReport, now: datetime, processed: int) -> None:
    record = ImportRepo(s).get(report.import_id)
    record.status = report.status
    record.inserted = report.inserted
    record.duplicates = report.duplicates
    record.errors = list(report.errors)
    record.failure = report.failure
    record.finished_at = now
    if processed:
        record.processed = processed


def import_in_background(sessions: sessionmaker[Session], import_id: int, data: bytes, *,
                         region: str | None = None,
                         done: Callable[[ImportReport], None] | None = None) -> threading.Thread:
    """Run ``run_import`` on a daemon thread; ``done`` gets the report."""

    def work() -> None:
        report = run_import(sessions, import_id, data, region=region)
        if done is not None:
            done(report)

    thread = threading.Thread(target=work, name=f"import-{import_id}", daemon=True)
    thread.start()
    return thread


def dashboard(sessions: sessionmaker[Session], campaign: str | int) -> tuple[t.Campaign,
                                                                               Dashboard]:
    """The campaign and its dashboard, from the aggregates in one read transaction."""
    with sessions() as s:
        c = CampaignRepo(s).get(campaign)
        inputs = DashboardRepo(s).inputs(c.id)
    return c, build_dashboard(
        contact_statuses=inputs.status_counts, primary_goals=inputs.goal_counts,
        answers=inputs.answer_counts, conversations=inputs.conversations,
        total_duration_s=inputs.talk_s, human_buckets=inputs.human_buckets,
        call_buckets=inputs.call_buckets, timezone=c.timezone)


def read_limited(path: Path, limit: int) -> bytes:
    """Read at most ``limit + 1`` bytes so an oversized file is refused without loading it."""
    with path.open("rb") as handle:
        return handle.read(limit + 1)


def _export_record(v: ContactView) -> ExportRecord:
    return ExportRecord(
        name=v.name, phone=v.phone, country=v.country, timezone=v.timezone, tags=v.tags,
        priority=v.priority, status=v.status, attempts=v.attempts,
        goal_result=t.GoalResult(v.goal_result) if v.goal_result else None,
        goal_score=v.goal_score, conversation_count=v.conversation_count,
        total_duration_s=v.total_duration_s, last_called_at=v.last_called_at,
        last_answer_status=(t.AnswerStatus(v.last_answer_status)
                            if v.last_answer_status else None),
        created_at=v.created_at,
        attributes=tuple((str(k), str(val)) for k, val in v.attributes.items()))


def export_contacts(sessions: sessionmaker[Session], campaign: str | int,
                    fmt: t.ExportFormat, path: Path, who: Who,
                    clock: Clock = utcnow) -> dict[str, object]:
    """Write every contact of a campaign with all metrics to ``path``; kept in history."""
    with sessions() as s:
        c = CampaignRepo(s).get(campaign)
        rows = write_export((_export_record(v) for v in ContactRepo(s).iter_all(c.id)),
                            path, fmt)
    with sessions.begin() as s:
        export_id = ExportRepo(s).record(c.id, fmt, str(path), rows, who, clock())
    return {"export_id": export_id, "campaign_id": c.id, "format": fmt.value,
            "path": str(path), "rows": rows}
