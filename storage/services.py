"""Use cases shared by the CLI and Slack: import, export, dashboard.

Each one owns its transactions (unlike the repositories, which never commit).
"""

from __future__ import annotations

import contextlib
import logging
import queue
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy.orm import Session, sessionmaker

from campaigns import types as t
from campaigns.dashboard import Dashboard, build_dashboard
from campaigns.errors import ValidationError
from campaigns.exporting import ExportRecord
from campaigns.importing import DuplicateRow, ImportRow, RowError, iter_contacts_csv
from campaigns.lifecycle import ContactProgress, apply_outcome
from storage.db import is_postgres
from storage.exportfiles import write_export
from storage.repos import (
    CallAggregates,
    CallEnd,
    CallRepo,
    CampaignRepo,
    ClaimRepo,
    ContactCounts,
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

    All valid rows and the record's final state are written in ONE transaction, so a
    failure (bad file, lost database) leaves nothing half-imported; the record then says
    ``failed`` and why. On PostgreSQL that transaction is fed batch by batch while the
    parse goes on (the server inserts on the other core); SQLite allows one writer, so
    there the rows are inserted after the parse.
    """
    with sessions.begin() as s:
        record = ImportRepo(s).get(import_id)
        campaign = CampaignRepo(s).get(record.campaign_id)
        record.status = "running"
        record.total_records = max(0, data.count(b"\n") + (0 if data.endswith(b"\n") else 1)
                                   - 1)
    report = ImportReport(import_id, "running")
    streaming = is_postgres(sessions.kw["bind"])
    writer = _BatchWriter(sessions, campaign.id, import_id, clock, streaming=streaming)
    batch: list[NewContact] = []
    processed = 0
    try:
        items = iter_contacts_csv(data, default_region=region or campaign.region)
        for processed, item in enumerate(items, start=1):
            if isinstance(item, ImportRow):
                batch.append(NewContact(phone=item.phone, name=item.name,
                                        priority=item.priority, tags=item.tags,
                                        timezone=item.timezone, country=item.country,
                                        attributes=item.attributes))
                if len(batch) >= BATCH_ROWS:
                    writer.add(batch)
                    batch = []
            elif isinstance(item, RowError):
                report.errors.append({"line": item.line, "reason": item.reason})
            elif isinstance(item, DuplicateRow):
                report.duplicates += 1
            if processed % PROGRESS_EVERY == 0:
                _progress(sessions, import_id, processed)
        writer.add(batch)
        report.status = "done"
        inserted, duplicates = writer.commit(
            lambda s, ins, dup: _finish(s, _done(report, ins, dup), clock(), processed))
        report.inserted, report.duplicates = inserted, report.duplicates + duplicates
    except ValidationError as exc:
        writer.abort()
        report.status, report.failure = "failed", exc.reason
    except Exception as exc:
        writer.abort()
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


BATCH_ROWS = 10_000


def _done(report: ImportReport, inserted: int, duplicates: int) -> ImportReport:
    """The report as it will read once the transaction commits."""
    return ImportReport(report.import_id, "done", inserted, report.duplicates + duplicates,
                        list(report.errors))


class _BatchWriter:
    """Inserts an import's rows in one transaction, on a writer thread when streaming."""

    def __init__(self, sessions: sessionmaker[Session], campaign_id: int, import_id: int,
                 clock: Clock, *, streaming: bool) -> None:
        self.sessions, self.campaign_id, self.import_id = sessions, campaign_id, import_id
        self.clock = clock
        self.streaming = streaming
        self.pending: list[NewContact] = []
        self.queue: queue.Queue[object] = queue.Queue(maxsize=4)
        self.error: BaseException | None = None
        self.result: tuple[int, int] = (0, 0)
        self.thread: threading.Thread | None = None
        self.finisher: Callable[[Session, int, int], None] | None = None

    def add(self, rows: list[NewContact]) -> None:
        """Queue a batch (streaming) or keep it for the commit."""
        if not rows:
            return
        if not self.streaming:
            self.pending.extend(rows)
            return
        if self.thread is None:
            self.thread = threading.Thread(target=self._run, name="import-writer",
                                           daemon=True)
            self.thread.start()
        self._put(rows)

    def _put(self, item: object) -> None:
        while True:
            if self.thread is not None and not self.thread.is_alive():
                raise self.error or RuntimeError("import writer stopped")
            try:
                self.queue.put(item, timeout=0.5)
                return
            except queue.Full:
                continue

    def _run(self) -> None:
        inserted = total = 0
        try:
            with self.sessions.begin() as s:
                repo = ContactRepo(s)
                while True:
                    item = self.queue.get()
                    if item is _ABORT:
                        raise _Aborted
                    if item is _COMMIT:
                        break
                    rows = item if isinstance(item, list) else []
                    ins, _ = repo.add_many(self.campaign_id, rows, self.clock(),
                                           import_id=self.import_id)
                    inserted += ins
                    total += len(rows)
                if self.finisher is not None:
                    self.finisher(s, inserted, total - inserted)
            self.result = (inserted, total - inserted)
        except _Aborted:
            pass
        except BaseException as exc:  # handed to the parsing thread, which reports it
            self.error = exc

    def commit(self, finisher: Callable[[Session, int, int], None]) -> tuple[int, int]:
        """Insert what is left, run ``finisher`` in the same transaction, and commit."""
        if not self.streaming or self.thread is None:
            with self.sessions.begin() as s:
                inserted, duplicates = ContactRepo(s).add_many(
                    self.campaign_id, self.pending, self.clock(), import_id=self.import_id)
                finisher(s, inserted, duplicates)
            return inserted, duplicates
        self.finisher = finisher
        self._put(_COMMIT)
        self.thread.join()
        if self.error is not None:
            raise self.error
        return self.result

    def abort(self) -> None:
        """Roll the transaction back (nothing of this import stays)."""
        self.pending = []
        if self.thread is not None and self.thread.is_alive():
            with contextlib.suppress(Exception):
                self._put(_ABORT)
            self.thread.join(timeout=60)


_ABORT = object()
_COMMIT = object()


class _Aborted(Exception):
    """Raised inside the writer's transaction to roll it back."""


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
    """The campaign and its dashboard.

    The contact counts (an index scan over every contact) and the call aggregates (the
    rollup) run at the same time on two connections.
    """
    with sessions() as s:
        c = CampaignRepo(s).get(campaign)

    def contact_part() -> ContactCounts:
        with sessions() as s:
            return DashboardRepo(s).contact_counts(c.id)

    def call_part() -> CallAggregates:
        with sessions() as s:
            return DashboardRepo(s).call_aggregates(c.id, c.timezone)

    with ThreadPoolExecutor(max_workers=2, thread_name_prefix="dashboard") as pool:
        contacts_future = pool.submit(contact_part)
        calls = call_part()
        contacts = contacts_future.result()
    return c, build_dashboard(
        contact_statuses=contacts.status_counts, primary_goals=contacts.goal_counts,
        answers=calls.answer_counts, conversations=calls.conversations,
        total_duration_s=calls.talk_s, human_buckets=calls.human_buckets,
        call_buckets=calls.call_buckets, timezone=c.timezone, grids=calls.grids)


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


@dataclass(frozen=True, slots=True)
class ReapReport:
    """What a lease sweep did."""

    returned: int
    reconciled: int
    lost_calls: int


def reap_expired_leases(sessions: sessionmaker[Session], now: datetime) -> ReapReport:
    """Settle claims whose lease ran out (their dialer crashed or hung).

    No call row for the claim's token: the INVITE never left, so the contact goes back
    to the queue as it was. A call row that ended: its outcome is applied as if the
    dialer had lived. A call row still open: the dialer died mid-call; the call is closed
    as ``failed`` (an attempt, retried after the interval), never redialled at once.
    """
    with sessions.begin() as s:
        claims = ClaimRepo(s)
        returned = claims.return_unplaced(now)
        reconciled = lost = 0
        for cc, call in claims.expired(now):
            if call is None:
                continue
            campaign = CampaignRepo(s).get(cc.campaign_id)
            if call.state != "ended":
                CallRepo(s).finish(call.id, CallEnd(t.AnswerStatus.FAILED,
                                                    sip_reason="dialer lost the call"), now)
                lost += 1
            status = t.AnswerStatus(call.answer_status or t.AnswerStatus.FAILED.value)
            progress = apply_outcome(
                ContactProgress(status=t.ContactStatus.DIALING, attempts=cc.attempts,
                                trunk_failures=cc.trunk_failures),
                status, conversation=bool(call.conversation), now=call.ended_at or now,
                settings=campaign.settings)
            claims.finish(cc.id, cc.fencing_token, status=progress.status,
                          attempts=progress.attempts,
                          due_at=progress.next_attempt_at or now, now=call.ended_at or now,
                          completion_due_at=progress.completion_due_at,
                          final_reason=progress.final_reason,
                          trunk_failures=progress.trunk_failures)
            reconciled += 1
    return ReapReport(returned, reconciled, lost)
