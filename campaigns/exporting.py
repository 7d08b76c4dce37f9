"""Contact export rows and the text renderers (CSV, JSON) (SPEC: Contacts, export).

Pure: records in, text out. ``storage.exportfiles`` writes files (and XLSX) from the same
cells, so every format carries the same values.

Decisions a user can notice:

* **Formula injection.** Every *string* cell of a spreadsheet export (CSV and XLSX) that
  starts with ``=``, ``+``, ``-``, ``@``, tab or carriage return gets a leading single
  quote (OWASP "CSV injection"). That includes E.164 phones (``'+14155550123``), which
  also stops Excel from turning them into numbers in scientific notation. Numbers are
  written as numbers and never touched. JSON is data for programs, not a spreadsheet,
  so ``render_json`` leaves values exactly as they are.
* **Times** are ISO-8601 text in UTC (``2025-03-01T14:05:00+00:00``); a naive datetime
  is taken to be UTC already. Text keeps the offset visible and sorts correctly.
* **Numbers.** In CSV/XLSX the goal score (0-100) and the total duration (seconds) are
  rounded to whole numbers, so no decimal separator can be misread by a
  semicolon-locale Excel; JSON keeps them as given.
* **Tags** are joined with ``", "``; **attributes** go into one ``attributes`` cell as a
  JSON object (``{"plan": "gold"}``), in file order (a repeated key keeps the last value).
  The header names are the JSON keys, and the file re-imports with
  ``campaigns.importing`` (name, phone, tags, priority, timezone, country are recognised).
"""

from __future__ import annotations

import csv
import io
import json
import math
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Final

from campaigns.errors import ValidationError
from campaigns.types import AnswerStatus, ContactStatus, GoalResult, Priority

__all__ = [
    "EXPORT_COLUMNS",
    "Cell",
    "ExportRecord",
    "export_cells",
    "export_object",
    "iter_csv",
    "iter_json",
    "neutralize",
    "render_csv",
    "render_json",
]

Cell = str | int | float | None

EXPORT_COLUMNS: Final = (
    "name", "phone", "country", "timezone", "tags", "priority", "status", "attempts",
    "goal_result", "goal_score", "conversation_count", "total_duration_s",
    "last_called_at", "last_answer_status", "created_at", "attributes",
)

# OWASP: cells starting with these are read as formulas by spreadsheet programs.
_FORMULA_STARTS: Final = ("=", "+", "-", "@", "\t", "\r")


@dataclass(frozen=True, slots=True)
class ExportRecord:
    """One campaign contact with every metric the export shows."""

    name: str
    phone: str
    country: str | None = None
    timezone: str | None = None
    tags: tuple[str, ...] = ()
    priority: Priority = Priority.NORMAL
    status: ContactStatus = ContactStatus.PENDING
    attempts: int = 0
    goal_result: GoalResult | None = None
    goal_score: float | None = None
    conversation_count: int = 0
    total_duration_s: float = 0
    last_called_at: datetime | None = None
    last_answer_status: AnswerStatus | None = None
    created_at: datetime | None = None
    attributes: tuple[tuple[str, str], ...] = ()

    def __post_init__(self) -> None:
        if self.goal_score is not None and not 0 <= self.goal_score <= 100:
            raise ValidationError("goal_score", f"{self.goal_score} is outside 0..100")
        for name in ("attempts", "conversation_count", "total_duration_s"):
            if getattr(self, name) < 0:
                raise ValidationError(name, "must not be negative")


def neutralize(value: str) -> str:
    """Prefix ``'`` to text a spreadsheet would read as a formula (``=``, ``+``, ``-``, ``@``,
    tab, CR); other text is returned unchanged."""
    return "'" + value if value.startswith(_FORMULA_STARTS) else value


def _iso(value: datetime | None) -> str | None:
    if value is None:
        return None
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    return value.astimezone(UTC).isoformat()


def _whole(value: float) -> int:
    """Round half up (66.5 % shows as 67 %, not Python's banker's 66)."""
    return math.floor(value + 0.5)


def _attributes_json(record: ExportRecord) -> str | None:
    if not record.attributes:
        return None
    return json.dumps(dict(record.attributes), ensure_ascii=False)


def export_cells(record: ExportRecord) -> list[Cell]:
    """The spreadsheet cells of one record, in ``EXPORT_COLUMNS`` order.

    Strings are neutralised (see ``neutralize``); ``None`` is an empty cell.
    """
    raw: list[Cell] = [
        record.name,
        record.phone,
        record.country,
        record.timezone,
        ", ".join(record.tags) or None,
        record.priority.value,
        record.status.value,
        record.attempts,
        record.goal_result.value if record.goal_result is not None else None,
        _whole(record.goal_score) if record.goal_score is not None else None,
        record.conversation_count,
        _whole(record.total_duration_s),
        _iso(record.last_called_at),
        record.last_answer_status.value if record.last_answer_status is not None else None,
        _iso(record.created_at),
        _attributes_json(record),
    ]
    return [neutralize(cell) if isinstance(cell, str) else cell for cell in raw]


def export_object(record: ExportRecord) -> dict[str, object]:
    """One record as a JSON-ready object with ``EXPORT_COLUMNS`` keys; not neutralised."""
    return {
        "name": record.name,
        "phone": record.phone,
        "country": record.country,
        "timezone": record.timezone,
        "tags": list(record.tags),
        "priority": record.priority.value,
        "status": record.status.value,
        "attempts": record.attempts,
        "goal_result": record.goal_result.value if record.goal_result is not None else None,
        "goal_score": record.goal_score,
        "conversation_count": record.conversation_count,
        "total_duration_s": record.total_duration_s,
        "last_called_at": _iso(record.last_called_at),
        "last_answer_status": (record.last_answer_status.value
                               if record.last_answer_status is not None else None),
        "created_at": _iso(record.created_at),
        "attributes": dict(record.attributes),
    }


class _Line:
    """A write-only text sink that hands back what the csv writer wrote for one row."""

    def __init__(self) -> None:
        self.text = ""

    def write(self, text: str) -> int:
        self.text = text
        return len(text)


def iter_csv(records: Iterable[ExportRecord], *, delimiter: str = ",") -> Iterator[str]:
    """Yield the CSV text line by line (header first, ``\\r\\n`` endings), for streaming."""
    sink = _Line()
    writer = csv.writer(sink, delimiter=delimiter, quoting=csv.QUOTE_MINIMAL,
                        lineterminator="\r\n")
    writer.writerow(EXPORT_COLUMNS)
    yield sink.text
    for record in records:
        writer.writerow(export_cells(record))
        yield sink.text


def render_csv(records: Iterable[ExportRecord], *, delimiter: str = ",") -> str:
    """The whole CSV export as text: header plus one row per record."""
    buffer = io.StringIO()
    buffer.writelines(iter_csv(records, delimiter=delimiter))
    return buffer.getvalue()


def iter_json(records: Iterable[ExportRecord]) -> Iterator[str]:
    """Yield a JSON array of ``export_object``s in chunks, one object per line."""
    yield "["
    separator = "\n"
    for record in records:
        yield separator + json.dumps(export_object(record), ensure_ascii=False)
        separator = ",\n"
    yield "\n]\n"


def render_json(records: Iterable[ExportRecord]) -> str:
    """The whole JSON export: a list of objects with snake_case keys, ISO-8601 times."""
    return "".join(iter_json(records))
