"""Export cells and the CSV/JSON renderers: values, neutralisation, round trips."""

from __future__ import annotations

import csv
import io
import json
from datetime import UTC, datetime, timedelta, timezone

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from campaigns.errors import ValidationError
from campaigns.exporting import (
    EXPORT_COLUMNS,
    ExportRecord,
    export_cells,
    export_object,
    neutralize,
    render_csv,
    render_json,
)
from campaigns.importing import parse_contacts_csv
from campaigns.types import AnswerStatus, ContactStatus, GoalResult, Priority

PARIS = timezone(timedelta(hours=2))

FULL = ExportRecord(
    name="Ada Lovelace",
    phone="+12025550101",
    country="US",
    timezone="America/New_York",
    tags=("vip", "beta"),
    priority=Priority.HIGH,
    status=ContactStatus.COMPLETED,
    attempts=3,
    goal_result=GoalResult.ACHIEVED,
    goal_score=87.5,
    conversation_count=2,
    total_duration_s=184.4,
    last_called_at=datetime(2025, 3, 1, 16, 5, tzinfo=PARIS),
    last_answer_status=AnswerStatus.HUMAN,
    created_at=datetime(2025, 2, 1, 9, 0, tzinfo=UTC),
    attributes=(("plan", "gold"), ("city", "Zürich")),
)
BARE = ExportRecord(name="", phone="+14155550102")

INJECTIONS = ["=cmd|' /C calc'!A0", "@SUM(1+9)*cmd|' /C calc'!A0", "-2+3", "+cmd",
              "\t=1+1", "\r=1+1", "=HYPERLINK(\"http://evil\",\"x\")"]


def csv_rows(text: str, delimiter: str = ",") -> list[list[str]]:
    return list(csv.reader(io.StringIO(text, newline=""), delimiter=delimiter))


@pytest.mark.parametrize("value", INJECTIONS)
def test_neutralize_prefixes_formula_starts(value: str) -> None:
    assert neutralize(value) == "'" + value


@pytest.mark.parametrize("value", ["Ada", "", "1+1", "a=b", " =1", "'=1", "ok-", "x@y.z"])
def test_neutralize_leaves_other_text_alone(value: str) -> None:
    assert neutralize(value) == value


def test_export_cells_follow_the_columns() -> None:
    cells = export_cells(FULL)
    assert len(cells) == len(EXPORT_COLUMNS)
    assert dict(zip(EXPORT_COLUMNS, cells, strict=True)) == {
        "name": "Ada Lovelace",
        "phone": "'+12025550101",
        "country": "US",
        "timezone": "America/New_York",
        "tags": "vip, beta",
        "priority": "high",
        "status": "completed",
        "attempts": 3,
        "goal_result": "achieved",
        "goal_score": 88,
        "conversation_count": 2,
        "total_duration_s": 184,
        "last_called_at": "2025-03-01T14:05:00+00:00",
        "last_answer_status": "human",
        "created_at": "2025-02-01T09:00:00+00:00",
        "attributes": '{"plan": "gold", "city": "Zürich"}',
    }


def test_missing_values_are_empty_cells() -> None:
    cells = dict(zip(EXPORT_COLUMNS, export_cells(BARE), strict=True))
    assert [k for k, v in cells.items() if v is None] == [
        "country", "timezone", "tags", "goal_result", "goal_score", "last_called_at",
        "last_answer_status", "created_at", "attributes"]
    assert cells["name"] == ""


def test_naive_datetimes_are_taken_as_utc() -> None:
    record = ExportRecord(name="x", phone="+12025550101",
                          created_at=datetime(2025, 1, 2, 3, 4, 5))  # noqa: DTZ001 - the case under test
    assert export_object(record)["created_at"] == "2025-01-02T03:04:05+00:00"


def test_scores_round_half_up() -> None:
    record = ExportRecord(name="x", phone="+12025550101", goal_score=66.5, total_duration_s=0.5)
    cells = dict(zip(EXPORT_COLUMNS, export_cells(record), strict=True))
    assert (cells["goal_score"], cells["total_duration_s"]) == (67, 1)


@pytest.mark.parametrize(("field", "value"), [
    ("goal_score", 100.5), ("goal_score", -1), ("attempts", -1), ("total_duration_s", -0.1),
])
def test_impossible_metrics_are_refused(field: str, value: float) -> None:
    with pytest.raises(ValidationError, match=field):
        ExportRecord(name="x", phone="+12025550101", **{field: value})  # type: ignore[arg-type]


@pytest.mark.parametrize("payload", INJECTIONS)
def test_every_user_text_cell_is_neutralised_in_csv(payload: str) -> None:
    record = ExportRecord(name=payload, phone="+12025550101", tags=(payload,),
                          timezone=payload, country=payload)
    for delimiter in (",", ";"):
        header, row = csv_rows(render_csv([record], delimiter=delimiter), delimiter)
        by_column = dict(zip(header, row, strict=True))
        for column in ("name", "tags", "timezone", "country", "phone"):
            assert by_column[column].startswith("'"), column
            assert not by_column[column].startswith(("=", "+", "-", "@", "\t", "\r"))
        assert by_column["name"] == "'" + payload


def test_numbers_are_never_neutralised() -> None:
    record = ExportRecord(name="x", phone="+12025550101", attempts=0, goal_score=0)
    header, row = csv_rows(render_csv([record]))
    by_column = dict(zip(header, row, strict=True))
    assert (by_column["attempts"], by_column["goal_score"]) == ("0", "0")


def test_csv_has_a_header_crlf_and_minimal_quoting() -> None:
    text = render_csv([FULL, BARE])
    lines = text.split("\r\n")
    assert lines[0] == ",".join(EXPORT_COLUMNS)
    assert lines[-1] == ""
    assert len(lines) == 4
    assert '"vip, beta"' in lines[1]
    assert render_csv([]) == ",".join(EXPORT_COLUMNS) + "\r\n"


def test_semicolon_csv_round_trips_through_the_csv_module() -> None:
    tricky = ExportRecord(name='Smith; "Ada"\nsecond line', phone="+12025550101",
                          tags=("a;b", "c"), attributes=(("note", 'he said "hi"; bye'),))
    rows = csv_rows(render_csv([FULL, tricky], delimiter=";"), ";")
    assert rows[0] == list(EXPORT_COLUMNS)
    expected = [["" if c is None else str(c) for c in export_cells(r)] for r in (FULL, tricky)]
    assert rows[1:] == expected
    assert rows[2][0] == 'Smith; "Ada"\nsecond line'


def test_json_round_trips_without_neutralisation() -> None:
    hostile = ExportRecord(name="=cmd|' /C calc'!A0", phone="+14155550102", tags=("@x",))
    data = json.loads(render_json([FULL, hostile]))
    assert data == [export_object(FULL), export_object(hostile)]
    assert data[0] == {
        "name": "Ada Lovelace", "phone": "+12025550101", "country": "US",
        "timezone": "America/New_York", "tags": ["vip", "beta"], "priority": "high",
        "status": "completed", "attempts": 3, "goal_result": "achieved", "goal_score": 87.5,
        "conversation_count": 2, "total_duration_s": 184.4,
        "last_called_at": "2025-03-01T14:05:00+00:00", "last_answer_status": "human",
        "created_at": "2025-02-01T09:00:00+00:00",
        "attributes": {"plan": "gold", "city": "Zürich"},
    }
    assert data[1]["name"] == "=cmd|' /C calc'!A0"
    assert list(data[0]) == list(EXPORT_COLUMNS)
    assert json.loads(render_json([])) == []


def test_csv_export_re_imports() -> None:
    text = render_csv([FULL, BARE], delimiter=";")
    result = parse_contacts_csv(text.encode("utf-8-sig"))
    assert result.errors == ()
    first, second = result.rows
    assert (first.phone, first.name, first.tags, first.priority, first.timezone) == (
        "+12025550101", "Ada Lovelace", ("vip", "beta"), Priority.HIGH, "America/New_York")
    assert second.phone == "+14155550102"


_text = st.text(st.characters(codec="utf-8"), max_size=30)


@settings(max_examples=100, deadline=None)
@given(_text, st.lists(_text, max_size=3), st.lists(st.tuples(_text, _text), max_size=3),
       st.sampled_from([",", ";"]))
def test_any_text_survives_csv_and_no_cell_starts_a_formula(
        name: str, tags: list[str], attributes: list[tuple[str, str]], delimiter: str) -> None:
    record = ExportRecord(name=name, phone="+12025550101", tags=tuple(tags),
                          attributes=tuple(attributes))
    rows = csv_rows(render_csv([record], delimiter=delimiter), delimiter)
    assert len(rows) == 2
    assert rows[1] == ["" if c is None else str(c) for c in export_cells(record)]
    for cell in rows[1]:
        assert not cell.startswith(("=", "+", "-", "@", "\t", "\r"))
