"""Hostile contact files: nothing crashes, nothing is lost, every error is clear.

The test writes each file itself, so it knows where every record starts and whether it
is valid; the importer must then account for every record exactly once (imported,
duplicate, or rejected with its line and a reason), and a bad record must never cost a
neighbour. ``phones.normalize`` is the oracle for numbers (the importer parses them on
its own faster path). The same files go through the database (both backends) and the
``dialer contacts import`` CLI; exports are checked for formula injection end to end.
"""

from __future__ import annotations

import codecs
import csv
import io
import itertools
import json
import os
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import openpyxl
import pytest
from hypothesis import given
from hypothesis import strategies as st
from sqlalchemy import Engine, select

import storage.services as services
from campaigns import phones
from campaigns.errors import InvalidPhoneNumber
from campaigns.exporting import ExportRecord, neutralize, render_csv
from campaigns.importing import (
    MAX_FIELD_CHARS,
    MAX_IMPORT_BYTES,
    MAX_NAME_CHARS,
    DuplicateRow,
    ImportFileError,
    ImportItem,
    ImportRow,
    ImportTooLarge,
    RowError,
    iter_contacts_csv,
    parse_contacts_csv,
)
from campaigns.types import ExportFormat
from dialer.cli import main
from storage import models as m
from storage.db import make_engine, session_factory
from storage.exportfiles import write_export
from storage.migrate import upgrade
from storage.repos import CampaignRepo, Who
from tests.fuzz import fuzz

NOW = datetime(2026, 3, 10, 15, 0, tzinfo=UTC)
WHO = Who("fuzzer", "test")
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
MAX_REASON_CHARS = 500

# --- the model of a contact file ----------------------------------------------------------

# Numbers phonenumbers accepts (CONTRACTS.md), written the ways people write them.
POOL = [f"+1202555{n:04d}" for n in range(100, 200)] + [f"+1415555{n:04d}" for n in
                                                        range(100, 200)]
_FULLWIDTH = str.maketrans("+0123456789", "＋０１２３４５６７８９")


def _spellings(e164: str) -> list[str]:
    area, exchange, line = e164[2:5], e164[5:8], e164[8:]
    return [e164, f"+1 {area} {exchange} {line}", f"({area}) {exchange}-{line}",
            f"tel:+1-{area}-{exchange}-{line}", e164.translate(_FULLWIDTH),
            f"  {e164}\u00a0", f"001 {area} {exchange} {line}", f"{e164} ext. 7",
            f"1-{area}-{exchange}-{line}"]


GARBAGE_PHONES = ["+0", "+00", "00", "None", "null", "NaN", "N/A", "undefined", "😀📞",
                  "+1 555 123 4567", "1" * 65, "+", "tel:", "+999 1", "12", "#REF!",
                  "=1+1", "+1 202 555 01", "+1 202 555 0123 4567 89", "٠١٢"]
_TEXT = st.characters(exclude_categories=("Cs", "Cc")) | st.sampled_from(
    [*'",;\t\r\n=+-@\' ', "\u2028", "\x85", "\ufeff", "é", "€"])
text_cells = st.text(_TEXT, max_size=24)
phone_cells = st.one_of(
    st.sampled_from(POOL).flatmap(lambda e: st.sampled_from(_spellings(e))),
    st.sampled_from(GARBAGE_PHONES),
    st.text(st.characters(codec="utf-8", exclude_categories=("Cs", "Cc")), max_size=20),
)

# Header spellings per role; every column but "extra" is recognised by the importer.
HEADERS = {
    "phone": ["phone", "Phone Number", "MOBILE", "e164", " tel "],
    "phone2": ["phone", "Cell"],  # a second phone column: an attribute, or the phone
    "name": ["name", "Full Name", "CONTACT"],
    "priority": ["priority", "PRIORITY"],
    "timezone": ["tz", "Time Zone"],
    "country": ["country", "Country Code", "region"],
    "extra": ["notes", "", "=HYPERLINK(1)", "@sum", "Plan"],
}
PHONE_ALIASES = {"phone", "phonenumber", "mobile", "e164", "tel", "cell"}
# Cell values for the validated columns, and (case-folded, stripped) which are valid.
PRIORITIES = ["", "high", "LOW", " normal ", "1", "soon", "highest"]
GOOD_PRIORITIES = {"", "high", "low", "normal", "1"}
TIMEZONES = ["", "America/New_York", "europe/london", "UTC", "Mars/Olympus", "EST5EDT?"]
GOOD_TIMEZONES = {"", "america/new_york", "europe/london", "utc"}
COUNTRIES = ["", "US", "gb", "UK", "XX", "Narnia"]
REGIONS = {"": "US", "US": "US", "GB": "GB", "UK": "GB"}  # the rest is not a country
CELLS: dict[str, st.SearchStrategy[str]] = {
    "phone": phone_cells,
    "phone2": st.one_of(phone_cells, text_cells),
    "name": text_cells,
    "priority": st.sampled_from(PRIORITIES),
    "timezone": st.sampled_from(TIMEZONES),
    "country": st.sampled_from(COUNTRIES),
    "extra": st.one_of(text_cells, st.sampled_from(["=cmd|' /C calc'!A0", "+SUM(1)",
                                                    "-2+3", "@SUM(A1)"])),
}
SHAPES = ["plain"] * 6 + ["short", "trailing_blank", "surplus", "huge", "huge_multiline",
                          "bad_quote", "long_name", "blank"]


def _key(header: str) -> str:
    return "".join(ch for ch in header.casefold() if ch.isalnum())


@dataclass(frozen=True)
class Expected:
    """What the importer must say about one record."""

    kind: str  # "row", "duplicate", "error"
    line: int
    phone: str = ""
    first_line: int = 0
    name: str = ""
    attributes: tuple[tuple[str, str], ...] = ()


@dataclass(frozen=True)
class ContactFile:
    """A file as bytes, the text it encodes, and the verdict for each of its records."""

    data: bytes
    text: str
    encoding: str
    expected: tuple[Expected, ...]

    @property
    def records(self) -> int:
        return len(self.expected)


def _cells_text(cells: list[str], delimiter: str) -> str:
    buffer = io.StringIO()  # the writer quotes \r and \n only if they end its lines
    csv.writer(buffer, delimiter=delimiter, lineterminator="\r\n").writerow(cells)
    return buffer.getvalue().removesuffix("\r\n")


def _breaks(text: str) -> int:
    return len(re.findall(r"\r\n|\r|\n", text))


def _judge(cells: list[str], header: list[str], roles: list[str]) -> tuple[
        str, str, str, tuple[tuple[str, str], ...]]:
    """``(verdict, e164, name, attributes)``; verdict is row, error or skip."""
    width = len(header)
    stripped = [c.strip() for c in cells]
    if not any(stripped):
        return "skip", "", "", ()
    if len(cells) > width and any(stripped[width:]):
        return "error", "", "", ()
    if any(len(c) > MAX_FIELD_CHARS for c in cells[:width]):
        return "error", "", "", ()
    values = stripped[:width] + [""] * (width - len(stripped))
    phone_col = next(i for i, h in enumerate(header) if _key(h) in PHONE_ALIASES)
    by_role = {role: values[i] for i, role in enumerate(roles) if i != phone_col}
    ok = True
    region = REGIONS.get(by_role.get("country", "").upper())
    e164 = ""
    if region is None:
        ok = False
    else:
        try:
            e164 = phones.normalize(values[phone_col], region)
        except InvalidPhoneNumber:
            ok = False
    ok &= by_role.get("priority", "").casefold() in GOOD_PRIORITIES
    ok &= by_role.get("timezone", "").casefold() in GOOD_TIMEZONES
    name = by_role.get("name", "")
    ok &= len(name) <= MAX_NAME_CHARS
    attribute_cols = [i for i, role in enumerate(roles)
                      if role == "extra" or (role.startswith("phone") and i != phone_col)]
    attributes = tuple((header[i].strip() or f"column {i + 1}", values[i])
                       for i in attribute_cols if values[i])
    return ("row" if ok else "error"), e164, name, attributes


@st.composite
def contact_files(draw: st.DrawFn, max_rows: int = 25) -> ContactFile:
    """A contact file with hostile rows, and what the importer must make of it."""
    delimiter = draw(st.sampled_from([",", ";", "\t"]))
    eol = draw(st.sampled_from(["\n", "\r\n", "\r"]))
    others = draw(st.lists(st.sampled_from([r for r in HEADERS if r != "phone"]),
                           min_size=1, max_size=6, unique=True))
    roles = draw(st.permutations(["phone", *others]))
    header = [draw(st.sampled_from(HEADERS[role])) for role in roles]
    width = len(header)
    blank_line = st.sampled_from(["", "   ", delimiter * 3])

    parts: list[str] = []
    if draw(st.booleans()):
        parts.append(f"sep={delimiter}")
    parts += draw(st.lists(blank_line, max_size=2))
    parts.append(_cells_text(header, delimiter))
    # (part index, verdict maker) for each record, resolved once line numbers are known
    records: list[tuple[int, str, str, str, tuple[tuple[str, str], ...]]] = []
    for _ in range(draw(st.integers(0, max_rows))):
        parts += draw(st.lists(blank_line, max_size=1))
        cells = [draw(CELLS[role]) for role in roles]
        shape = draw(st.sampled_from(SHAPES))
        if shape == "bad_quote":
            parts.append(f'{draw(st.sampled_from(POOL))}{delimiter}"Ada" Lovelace')
            records.append((len(parts) - 1, "error", "", "", ()))
            continue
        if shape == "short":
            cells = cells[:draw(st.integers(1, width))]
        elif shape == "trailing_blank":
            cells += draw(st.sampled_from([["", ""], ["  "], [" " * (MAX_FIELD_CHARS + 1)]]))
        elif shape == "surplus":
            cells += ["", "surprise"]
        elif shape == "huge":
            cells[draw(st.integers(0, width - 1))] = "x" * draw(
                st.sampled_from([MAX_FIELD_CHARS + 1, 150_000]))
        elif shape == "huge_multiline":  # past the csv module's own 131,072 limit
            cells[draw(st.integers(0, width - 1))] = ("y" * 999 + "\n") * draw(
                st.sampled_from([11, 140]))
        elif shape == "long_name" and "name" in roles:
            cells[roles.index("name")] = "n" * draw(
                st.sampled_from([MAX_NAME_CHARS, MAX_NAME_CHARS + 1, 5000]))
        elif shape == "blank":
            cells = [draw(st.sampled_from(["", " ", "\u3000"])) for _ in cells]
        verdict, e164, name, attributes = _judge(cells, header, list(roles))
        parts.append(_cells_text(cells, delimiter))
        if verdict != "skip":
            records.append((len(parts) - 1, verdict, e164, name, attributes))
    if draw(st.booleans()):  # an unclosed quote: the rest of the file is one bad record
        parts.append(f'{draw(st.sampled_from(POOL))}{delimiter}"never closed')
        records.append((len(parts) - 1, "error", "", "", ()))
        parts += [POOL[0], POOL[1]]
    text = eol.join(parts) + draw(st.sampled_from(["", eol]))

    starts, line = [], 1
    for part in parts:
        starts.append(line)
        line += _breaks(part) + 1
    expected: list[Expected] = []
    first: dict[str, int] = {}
    for index, verdict, e164, name, attributes in records:
        start = starts[index]
        if verdict == "row" and e164 in first:
            expected.append(Expected("duplicate", start, e164, first[e164]))
        elif verdict == "row":
            first[e164] = start
            expected.append(Expected("row", start, e164, name=name, attributes=attributes))
        else:
            expected.append(Expected("error", start))
    encoding = draw(st.sampled_from(["utf-8", "utf-8-sig", "utf-16", "utf-16-be", "cp1252"]))
    data = _encode(text, encoding)
    return ContactFile(data, text, encoding, tuple(expected))


def _encode(text: str, encoding: str) -> bytes:
    if encoding == "utf-16-be":
        return codecs.BOM_UTF16_BE + text.encode("utf-16-be")
    if encoding != "cp1252":
        return text.encode(encoding)
    # Windows-1252 only when the importer will read it back as such: not representable,
    # or bytes that happen to be valid UTF-8 too (mojibake), mean a UTF-8 file instead.
    try:
        data = text.encode("cp1252")
    except UnicodeEncodeError:
        return text.encode("utf-8")
    try:
        data.decode("utf-8")
    except UnicodeDecodeError:
        return data
    return data if data.isascii() else text.encode("utf-8")


def _observed(item: ImportItem) -> Expected:
    if isinstance(item, ImportRow):
        return Expected("row", item.line, item.phone, name=item.name,
                        attributes=item.attributes)
    if isinstance(item, DuplicateRow):
        return Expected("duplicate", item.line, item.phone, item.first_line)
    return Expected("error", item.line)


def _check_reason(reason: str) -> None:
    assert reason.strip(), "an error without a reason"
    assert "\n" not in reason and "\r" not in reason, reason
    assert len(reason) <= MAX_REASON_CHARS, reason[:200]


# --- the pure parser --------------------------------------------------------------------


@fuzz(120)
@given(contact_files())
def test_every_record_is_imported_duplicate_or_rejected_with_its_line(
        file: ContactFile) -> None:
    items = list(iter_contacts_csv(file.data))
    for item in items:
        if isinstance(item, RowError):
            _check_reason(item.reason)
    assert [_observed(item) for item in items] == list(file.expected)

    parsed = parse_contacts_csv(file.data)
    assert parsed.total_records == file.records
    assert len(parsed.rows) + len(parsed.errors) + parsed.duplicates == file.records
    assert len({r.phone for r in parsed.rows}) == len(parsed.rows)
    assert all(phones.is_e164(r.phone) for r in parsed.rows)


def _mutations(data: bytes) -> st.SearchStrategy[bytes]:
    def apply(edits: list[tuple[int, int, bytes]]) -> bytes:
        out = bytearray(data)
        for at, cut, insert in edits:
            at %= len(out) + 1
            out[at:at + cut] = insert
        return bytes(out)

    edit = st.tuples(st.integers(0, 1 << 20), st.integers(0, 3), st.binary(max_size=4) |
                     st.sampled_from([b"\x00", b'"', b"\r", b"\xff", b"\xef\xbb\xbf", b"\n"]))
    return st.lists(edit, min_size=1, max_size=6).map(apply)


PREFIXES = [b"", b"PK\x03\x04", b"%PDF-1.7\n", b"\xef\xbb\xbf", b"\xff\xfe", b"\xfe\xff",
            b"\xd0\xcf\x11\xe0", b"sep=|\n", b"ID3\x03"]
hostile_bytes = st.one_of(
    st.binary(max_size=3000),
    contact_files(max_rows=6).flatmap(lambda f: _mutations(f.data)),
    st.tuples(st.sampled_from(PREFIXES), st.binary(max_size=300)).map(b"".join),
    st.text(max_size=400).map(lambda t: ("phone,name\n" + t).encode("utf-16-le")),
    st.text(st.characters(codec="latin-1"), max_size=400).map(
        lambda t: ("phone,name\n+12025550101," + t).encode("latin-1")),
)


@fuzz(250)
@given(hostile_bytes)
def test_hostile_bytes_raise_only_documented_errors_with_clear_reasons(data: bytes) -> None:
    try:
        items = list(iter_contacts_csv(data, max_bytes=4000))
    except (ImportFileError, ImportTooLarge) as exc:
        _check_reason(exc.reason)
        return
    text = data.decode(parse_contacts_csv(data, max_bytes=4000).encoding)
    lines = [item.line for item in items]
    assert lines == sorted(set(lines)), "a record reported twice or out of order"
    assert all(1 <= line <= _breaks(text) + 1 for line in lines)
    for item in items:
        if isinstance(item, RowError):
            _check_reason(item.reason)
        elif isinstance(item, ImportRow):
            assert phones.is_e164(item.phone)
            assert len(item.name) <= MAX_NAME_CHARS


def test_a_quoted_field_past_the_csv_modules_limit_does_not_split_its_record() -> None:
    # Regression: csv stops at 131,072 characters mid-record; the rest of the quoted field
    # then read as ~4,000 bogus rows and its closing quote swallowed the valid rows after it.
    data = ('phone,notes\n+12025550101,a\n+12025550102,"' + "x\n" * 70_000 +
            '"\n+12025550103,c\n+12025550104,d\n').encode()
    parsed = parse_contacts_csv(data)
    assert [(r.line, r.phone) for r in parsed.rows] == [
        (2, "+12025550101"), (70_004, "+12025550103"), (70_005, "+12025550104")]
    assert [e.line for e in parsed.errors] == [3]
    assert "longer than 10,000 characters" in parsed.errors[0].reason


def test_long_whitespace_in_a_surplus_field_is_not_a_crash() -> None:
    # Regression: IndexError naming the field (it has no header).
    parsed = parse_contacts_csv(f"phone\n+12025550101,{' ' * 20_000}\n+12025550102\n".encode())
    assert [r.line for r in parsed.rows] == [2, 3]


def test_very_many_columns_become_attributes_in_order() -> None:
    columns = [f"c{i}" for i in range(3000)]
    header = ";".join(["phone", *columns])
    full = ";".join(["+12025550101", *(f"v{i}" for i in range(3000))])
    wide = ";".join(["+12025550102", *("w" for _ in range(3000)), "surplus"])
    parsed = parse_contacts_csv(f"{header}\n{full}\n{wide}\n+12025550103\n".encode())
    assert [r.line for r in parsed.rows] == [2, 4]
    assert parsed.rows[0].attributes == tuple((f"c{i}", f"v{i}") for i in range(3000))
    assert parsed.errors == (RowError(3, "row has 3002 fields, header has 3001"),)


def test_echoed_values_are_cut_so_a_reason_stays_readable() -> None:
    parsed = parse_contacts_csv(f"phone,priority\n+12025550101,{'z' * 9000}\n".encode())
    (error,) = parsed.errors
    assert error.reason.startswith("priority 'zzzz") and len(error.reason) < 120
    with pytest.raises(ImportFileError, match="no phone column") as caught:
        parse_contacts_csv(("x" * 9000 + ",name\n1,2\n").encode())
    assert len(caught.value.reason) < 400


def test_utf16_without_a_bom_is_named_not_called_binary() -> None:
    with pytest.raises(ImportFileError, match=r"UTF-16 .*without a byte-order mark"):
        parse_contacts_csv("phone,name\n+12025550101,Zoë\n".encode("utf-16-le"))
    with pytest.raises(ImportFileError, match="binary"):
        parse_contacts_csv(b"phone\n+12025550101\x00\x01\x02\n")


# --- formula injection, import to export and back ------------------------------------------

formula_names = st.tuples(st.sampled_from(["=", "+", "-", "@", " =", "=-", "+="]),
                          st.text(_TEXT, max_size=20)).map("".join)


@fuzz(40)
@given(st.lists(formula_names | text_cells, min_size=1, max_size=8),
       st.lists(st.sampled_from(["=cmd|' /C calc'!A0", "@SUM(1)", "-1", "plain"]),
                min_size=1, max_size=8))
def test_imported_formulas_are_neutralised_in_every_spreadsheet_export(
        tmp_path_factory: pytest.TempPathFactory, names: list[str], plans: list[str]) -> None:
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(["name", "phone", "tags", "plan"])
    for i, name in enumerate(names):
        writer.writerow([name, POOL[i], plans[i % len(plans)], plans[i % len(plans)]])
    parsed = parse_contacts_csv(buffer.getvalue().encode())
    assert len(parsed.rows) == len(names)
    records = [ExportRecord(name=r.name, phone=r.phone, tags=r.tags, attributes=r.attributes)
               for r in parsed.rows]

    for delimiter in (",", ";"):
        text = render_csv(records, delimiter=delimiter)
        cells = [c for row in csv.reader(io.StringIO(text), delimiter=delimiter) for c in row]
        assert not [c for c in cells if c.startswith(FORMULA_STARTS)]
        again = parse_contacts_csv(text.encode())  # an export re-imports
        assert [r.phone for r in again.rows] == [r.phone for r in parsed.rows]
        assert [r.name for r in again.rows] == [neutralize(r.name) for r in parsed.rows]

    path = tmp_path_factory.mktemp("xlsx") / "contacts.xlsx"
    write_export(records, path, ExportFormat.XLSX)
    workbook = openpyxl.load_workbook(path, read_only=True)
    try:
        sheet = workbook.active
        assert sheet is not None
        cells = [cell for row in sheet.iter_rows(min_row=2) for cell in row]
    finally:
        workbook.close()
    assert len(cells) >= len(records) * 2
    for cell in cells:
        assert cell.data_type != "f"
        assert not (isinstance(cell.value, str) and cell.value.startswith(FORMULA_STARTS))


# --- the database side ------------------------------------------------------------------


@pytest.fixture(scope="module")
def engines(tmp_path_factory: pytest.TempPathFactory,
            pg_engine_factory: Callable[[], Engine]) -> Iterator[dict[str, Engine]]:
    """A fresh migrated database per backend, committed to (imports own transactions)."""
    sqlite = make_engine(f"sqlite:///{tmp_path_factory.mktemp('fuzz') / 'imp.sqlite3'}")
    upgrade(sqlite)
    yield {"sqlite": sqlite, "postgres": pg_engine_factory()}
    sqlite.dispose()


_campaigns = itertools.count(1)


@pytest.mark.parametrize("backend", ["sqlite",
                                     pytest.param("postgres", marks=pytest.mark.postgres)])
@fuzz(15)
@given(file=contact_files(max_rows=15))
def test_the_import_service_stores_every_valid_row_and_reports_the_rest(
        engines: dict[str, Engine], backend: str, file: ContactFile) -> None:
    sessions = session_factory(engines[backend])
    name = f"fuzz-{next(_campaigns)}"
    with sessions.begin() as s:
        campaign_id = CampaignRepo(s).create(name, WHO, NOW).id
    import_id, _ = services.start_import(sessions, name, "f.csv", len(file.data), WHO)
    report = services.run_import(sessions, import_id, file.data, clock=lambda: NOW)

    assert report.status == "done", report.failure
    rows = [e for e in file.expected if e.kind == "row"]
    errors = [e.line for e in file.expected if e.kind == "error"]
    assert [e["line"] for e in report.errors] == errors
    for error in report.errors:
        _check_reason(str(error["reason"]))
    assert report.inserted == len(rows)
    assert report.inserted + report.duplicates + len(report.errors) == file.records
    with sessions() as s:
        stored = s.scalars(select(m.Contact.phone).join(
            m.CampaignContact, m.CampaignContact.contact_id == m.Contact.id).where(
            m.CampaignContact.campaign_id == campaign_id)).all()
    assert sorted(stored) == sorted(e.phone for e in rows)


# --- the CLI --------------------------------------------------------------------------------

Run = Callable[..., tuple[str, str]]


@pytest.fixture
def dialer(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
           capsys: pytest.CaptureFixture[str]) -> Run:
    """``dialer ARGS`` in this process (the console script's ``main``) on a fresh SQLite."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("DATABASE_URL", f"sqlite:///{tmp_path / 'cli.sqlite3'}")
    for key in os.environ:
        if key.startswith("SLACK"):
            monkeypatch.delenv(key)

    def run(*args: str, expect: int = 0) -> tuple[str, str]:
        with pytest.raises(SystemExit) as exit_:
            main(list(args))
        out, err = capsys.readouterr()
        assert exit_.value.code == expect, (args, exit_.value.code, out, err)
        if expect == 2:
            assert "Traceback" not in err
            assert len(err.strip().splitlines()) == 1, err
            assert len(err) <= MAX_REASON_CHARS, err[:200]
        return out, err

    return run


def test_cli_import_takes_exactly_the_limit_refuses_one_byte_more_and_bad_files(
        dialer: Run, tmp_path: Path) -> None:
    dialer("campaign", "create", "Fuzz")
    head = b"phone,name\n+12025550101,=cmd|' /C calc'!A0\n+12025550102,Bob,"
    exact = tmp_path / "exact.csv"  # the padding is a blank surplus field: still valid
    exact.write_bytes(head + b" " * (MAX_IMPORT_BYTES - len(head) - 1) + b"\n")
    assert exact.stat().st_size == MAX_IMPORT_BYTES
    report = json.loads(dialer("contacts", "import", "Fuzz", str(exact), "--json")[0])
    assert (report["inserted"], report["errors"]) == (2, [])

    over = tmp_path / "over.csv"
    over.write_bytes(exact.read_bytes().replace(b"\n+1202", b"\n +1202", 1))
    assert over.stat().st_size == MAX_IMPORT_BYTES + 1
    _, err = dialer("contacts", "import", "Fuzz", str(over), "--json", expect=2)
    assert f"{MAX_IMPORT_BYTES + 1:,}" in err and "limit" in err

    hostile = {
        "zip.csv": b"PK\x03\x04" + bytes(range(256)),
        "utf16.csv": "phone\n+12025550103\n".encode("utf-16-le"),
        "nul.csv": b"phone\n+12025550103\x00\n",
        "latin1.csv": "phone,name\n+12025550103,Zoë\x81\n".encode("latin-1"),
        "empty.csv": b"",
        "noheader.csv": b"+12025550103,Ada\n",
    }
    for filename, content in hostile.items():
        (tmp_path / filename).write_bytes(content)
        dialer("contacts", "import", "Fuzz", str(tmp_path / filename), expect=2)

    rows = tmp_path / "rows.csv"
    rows.write_bytes("\ufeffname;phone\r\nBad;+1 555 123 4567\r\n\r\nZoë;(202) 555-0104\r\n"
                     'Quote;"+1 202 555 0105"x\r\nDup;+12025550101\r\n'.encode())
    report = json.loads(dialer("contacts", "import", "Fuzz", str(rows), "--json")[0])
    assert report["inserted"] == 1 and report["duplicates"] == 1
    assert [e["line"] for e in report["errors"]] == [2, 5]
    listed = json.loads(dialer("contacts", "list", "Fuzz", "--json")[0])
    assert sorted(c["phone"] for c in listed) == ["+12025550101", "+12025550102",
                                                 "+12025550104"]

    out = tmp_path / "out.csv"
    dialer("contacts", "export", "Fuzz", "--format", "csv", "-o", str(out))
    exported = list(csv.DictReader(io.StringIO(out.read_text(encoding="utf-8-sig"))))
    assert "'=cmd|' /C calc'!A0" in {r["name"] for r in exported}
    assert not [v for r in exported for v in r.values() if v.startswith(FORMULA_STARTS)]
