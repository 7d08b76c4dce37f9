"""Export files: every format on disk, XLSX read back with openpyxl, atomic replacement."""

from __future__ import annotations

import csv
import json
import os
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import openpyxl
import pytest

from campaigns.exporting import EXPORT_COLUMNS, ExportRecord, export_cells, render_csv, render_json
from campaigns.types import AnswerStatus, ContactStatus, ExportFormat, GoalResult, Priority
from storage.exportfiles import ExportFailed, write_export

RECORDS = [
    ExportRecord(
        name="Ada Lovelace", phone="+12025550101", country="US", timezone="America/New_York",
        tags=("vip", "beta"), priority=Priority.HIGH, status=ContactStatus.COMPLETED,
        attempts=2, goal_result=GoalResult.ACHIEVED, goal_score=90, conversation_count=1,
        total_duration_s=61.2, last_called_at=datetime(2025, 3, 1, 14, 5, tzinfo=UTC),
        last_answer_status=AnswerStatus.HUMAN, created_at=datetime(2025, 2, 1, tzinfo=UTC),
        attributes=(("plan", "gold"),)),
    ExportRecord(name="=cmd|' /C calc'!A0", phone="+14155550102", tags=("@SUM(A1)",),
                 attributes=(("note", "-2+3"),)),
    ExportRecord(name="+cmd", phone="+14155550103", country="-2+3"),
    ExportRecord(name="Zoë; \"quoted\"\nnewline", phone="+12025550104"),
]


def test_csv_file_is_the_rendered_text_with_a_bom(tmp_path: Path) -> None:
    path = tmp_path / "out.csv"
    assert write_export(RECORDS, path, ExportFormat.CSV) == len(RECORDS)
    raw = path.read_bytes()
    assert raw.startswith(b"\xef\xbb\xbf")
    assert raw.decode("utf-8-sig") == render_csv(RECORDS)


def test_semicolon_csv_file_round_trips(tmp_path: Path) -> None:
    path = tmp_path / "out.csv"
    write_export(iter(RECORDS), path, ExportFormat.CSV_SEMICOLON)
    with path.open(encoding="utf-8-sig", newline="") as stream:
        rows = list(csv.reader(stream, delimiter=";"))
    assert rows[0] == list(EXPORT_COLUMNS)
    assert rows[1:] == [["" if c is None else str(c) for c in export_cells(r)] for r in RECORDS]
    assert rows[2][0] == "'=cmd|' /C calc'!A0"


def test_json_file_round_trips(tmp_path: Path) -> None:
    path = tmp_path / "out.json"
    assert write_export(RECORDS, path, ExportFormat.JSON) == 4
    assert path.read_text(encoding="utf-8") == render_json(RECORDS)
    assert json.loads(path.read_text(encoding="utf-8"))[1]["name"] == "=cmd|' /C calc'!A0"


def test_xlsx_reads_back_with_the_same_values_and_no_formulas(tmp_path: Path) -> None:
    path = tmp_path / "out.xlsx"
    assert write_export(RECORDS, path, ExportFormat.XLSX) == 4
    workbook = openpyxl.load_workbook(path)
    try:
        sheet = workbook["Contacts"]
        assert sheet.freeze_panes == "A2"
        rows = list(sheet.iter_rows())
        assert [c.value for c in rows[0]] == list(EXPORT_COLUMNS)
        assert all(c.font.b for c in rows[0])
        for record, row in zip(RECORDS, rows[1:], strict=True):
            assert [c.value for c in row] == export_cells(record)
        for row in rows:
            for cell in row:
                assert cell.data_type != "f"
                if isinstance(cell.value, str):
                    assert not cell.value.startswith(("=", "+", "-", "@"))
        assert rows[1][1].value == "'+12025550101"
        assert rows[1][1].data_type == "s"
        assert rows[1][7].value == 2
        assert rows[1][7].data_type == "n"
    finally:
        workbook.close()


def test_empty_export_has_only_the_header(tmp_path: Path) -> None:
    for fmt, name in ((ExportFormat.CSV, "e.csv"), (ExportFormat.XLSX, "e.xlsx"),
                      (ExportFormat.JSON, "e.json")):
        assert write_export([], tmp_path / name, fmt) == 0
    assert json.loads((tmp_path / "e.json").read_text(encoding="utf-8")) == []
    workbook = openpyxl.load_workbook(tmp_path / "e.xlsx")
    try:
        assert workbook["Contacts"].max_row == 1
    finally:
        workbook.close()


def _failing_records() -> Iterator[ExportRecord]:
    yield RECORDS[0]
    raise RuntimeError("database went away")


@pytest.mark.parametrize("fmt", list(ExportFormat))
def test_a_failed_export_leaves_the_old_file_and_no_temp_file(
        tmp_path: Path, fmt: ExportFormat) -> None:
    path = tmp_path / "contacts.out"
    path.write_text("previous export", encoding="utf-8")
    with pytest.raises(RuntimeError, match="database went away"):
        write_export(_failing_records(), path, fmt)
    assert path.read_text(encoding="utf-8") == "previous export"
    assert sorted(os.listdir(tmp_path)) == ["contacts.out"]


def test_a_failed_first_export_leaves_no_file(tmp_path: Path) -> None:
    with pytest.raises(RuntimeError):
        write_export(_failing_records(), tmp_path / "new.xlsx", ExportFormat.XLSX)
    assert os.listdir(tmp_path) == []


def test_missing_directory_is_an_export_error(tmp_path: Path) -> None:
    with pytest.raises(ExportFailed, match="cannot write export") as info:
        write_export(RECORDS, tmp_path / "no" / "such" / "dir.csv", ExportFormat.CSV)
    assert isinstance(info.value.__cause__, OSError)


def test_export_replaces_an_existing_file(tmp_path: Path) -> None:
    path = tmp_path / "out.csv"
    write_export(RECORDS, path, ExportFormat.CSV)
    write_export(RECORDS[:1], path, ExportFormat.CSV)
    assert path.read_bytes().count(b"\r\n") == 2
    assert sorted(os.listdir(tmp_path)) == ["out.csv"]
