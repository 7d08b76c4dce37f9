"""Write a contact export file (CSV, CSV with semicolons, XLSX, JSON) without half files.

The cells come from ``campaigns.exporting``, so every format carries the same values
and the same formula-injection neutralisation (JSON excepted, see that module).

* The file is written to a temporary file in the target directory and moved into place
  with ``os.replace``: readers see the old file or the complete new one, and a failed
  export (a bad record, a full disk) leaves nothing behind. The file is created with
  mode 0600 (it holds personal data); an existing file at ``path`` is replaced.
* CSV is UTF-8 *with* a BOM so Excel reads accented names right; JSON is plain UTF-8.
* XLSX is written with xlsxwriter in ``constant_memory`` mode (rows stream to disk), one
  ``Contacts`` sheet, a bold frozen header row with a filter. Strings go through
  ``write_string`` and numbers through ``write_number``; nothing is ever interpreted as
  a formula, a number or a URL. Times are ISO-8601 text in UTC, like the other formats
  (an Excel date has no timezone). Excel caps a cell at 32,767 characters: longer text
  is cut there (only a huge ``attributes`` cell can get that long).
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Final

import xlsxwriter
from xlsxwriter.exceptions import XlsxWriterException

from campaigns.exporting import EXPORT_COLUMNS, ExportRecord, export_cells, iter_csv, iter_json
from campaigns.types import ExportFormat
from storage.errors import StorageError

XLSX_MAX_ROWS: Final = 1_048_576 - 1  # Excel's sheet limit, less the header row
_SHEET: Final = "Contacts"
_WIDTHS: Final = {"name": 24, "phone": 16, "tags": 20, "last_called_at": 26,
                  "created_at": 26, "attributes": 40, "timezone": 20}

__all__ = ["XLSX_MAX_ROWS", "ExportFailed", "write_export"]


class ExportFailed(StorageError):
    """The export file could not be written; nothing was left at ``path``."""

    def __init__(self, path: Path, reason: str) -> None:
        super().__init__(f"cannot write export {str(path)!r}: {reason}")
        self.path = path
        self.reason = reason


class _Counter:
    """Counts the records an iterator hands out."""

    def __init__(self, records: Iterable[ExportRecord]) -> None:
        self._records = records
        self.count = 0

    def __iter__(self) -> Iterator[ExportRecord]:
        for record in self._records:
            yield record
            self.count += 1


def write_export(records: Iterable[ExportRecord], path: str | os.PathLike[str],
                 fmt: ExportFormat) -> int:
    """Write ``records`` to ``path`` in ``fmt``, atomically; return the rows written.

    Raises ``ExportFailed`` for file-system and XLSX errors (the cause is chained); an
    exception raised while iterating ``records`` propagates unchanged. Either way no
    partial file is left behind.
    """
    target = Path(path)
    try:
        fd, temp_name = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.",
                                         suffix=".part")
    except OSError as exc:
        raise ExportFailed(target, exc.strerror or str(exc)) from exc
    temp = Path(temp_name)
    counter = _Counter(records)
    try:
        try:
            if fmt is ExportFormat.XLSX:
                os.close(fd)
                _write_xlsx(counter, temp, target)
            else:
                _write_text(counter, fd, fmt)
            _fsync(temp)
            os.replace(temp, target)
        except OSError as exc:
            raise ExportFailed(target, exc.strerror or str(exc)) from exc
        except XlsxWriterException as exc:
            raise ExportFailed(target, str(exc) or type(exc).__name__) from exc
    except BaseException:
        with contextlib.suppress(OSError):
            temp.unlink()
        raise
    return counter.count


def _write_text(records: Iterable[ExportRecord], fd: int, fmt: ExportFormat) -> None:
    if fmt is ExportFormat.JSON:
        chunks, encoding = iter_json(records), "utf-8"
    else:
        delimiter = ";" if fmt is ExportFormat.CSV_SEMICOLON else ","
        chunks, encoding = iter_csv(records, delimiter=delimiter), "utf-8-sig"
    with open(fd, "w", encoding=encoding, newline="") as stream:
        stream.writelines(chunks)


def _write_xlsx(records: Iterable[ExportRecord], temp: Path, target: Path) -> None:
    workbook = xlsxwriter.Workbook(str(temp), {
        "constant_memory": True,
        "strings_to_formulas": False,
        "strings_to_numbers": False,
        "strings_to_urls": False,
    })
    try:
        sheet = workbook.add_worksheet(_SHEET)
        bold = workbook.add_format({"bold": True})
        for column, name in enumerate(EXPORT_COLUMNS):
            sheet.set_column(column, column, _WIDTHS.get(name, 14))
            sheet.write_string(0, column, name, bold)
        sheet.freeze_panes(1, 0)
        row = 0
        for record in records:
            row += 1
            if row > XLSX_MAX_ROWS:
                raise ExportFailed(target, f"more than {XLSX_MAX_ROWS:,} contacts do not fit "
                                           "in one Excel sheet; export CSV or JSON")
            for column, cell in enumerate(export_cells(record)):
                if cell is None:
                    continue
                if isinstance(cell, str):
                    sheet.write_string(row, column, cell)
                else:
                    sheet.write_number(row, column, cell)
        sheet.autofilter(0, 0, row, len(EXPORT_COLUMNS) - 1)
    except BaseException:
        # Closing is the only public way to release the constant_memory temp files;
        # the half workbook is deleted by the caller, and the first error is the one
        # worth reporting.
        with contextlib.suppress(Exception):
            workbook.close()
        raise
    workbook.close()


def _fsync(path: Path) -> None:
    with open(path, "rb") as stream:
        os.fsync(stream.fileno())
