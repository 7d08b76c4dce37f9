"""The ``dialer`` CLI contract (CONTRACTS.md), through the installed console script."""

from __future__ import annotations

import csv
import json
import os
import shutil
import subprocess
import sys
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import openpyxl
import pytest
from sqlalchemy import text

from storage.db import make_engine

DIALER = shutil.which("dialer", path=str(Path(sys.executable).parent)) or "dialer"

Run = Callable[..., subprocess.CompletedProcess[str]]


def _runner(env: dict[str, str], cwd: Path) -> Run:
    def run(*args: str, expect: int = 0) -> subprocess.CompletedProcess[str]:
        proc = subprocess.run([DIALER, *args], capture_output=True, text=True, env=env,
                              cwd=cwd, timeout=120, check=False)
        assert proc.returncode == expect, (args, proc.returncode, proc.stdout, proc.stderr)
        if expect == 2:
            assert "Traceback" not in proc.stderr
            assert len(proc.stderr.strip().splitlines()) == 1, proc.stderr
        return proc
    return run


@pytest.fixture(params=["sqlite", "postgres"])
def run(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Run]:
    """The CLI on a fresh database of each backend (PostgreSQL: a throwaway schema)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DATABASE_URL", "SLACK"))}
    if request.param == "postgres":
        from tests.conftest import PG_URL, pg_schema_url

        schema = f"dialer_cli_{uuid.uuid4().hex[:10]}"
        admin = make_engine(PG_URL)
        with admin.begin() as conn:
            conn.execute(text(f'CREATE SCHEMA "{schema}"'))
        env["DATABASE_URL"] = pg_schema_url(schema)
        yield _runner(env, tmp_path)
        with admin.begin() as conn:
            conn.execute(text(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE'))
        admin.dispose()
        return
    yield _runner(env, tmp_path)


def _json(proc: subprocess.CompletedProcess[str]) -> object:
    return json.loads(proc.stdout)


CSV = """name;phone;tags;priority;company
Ada Lovelace;+1 202 555 0101;vip,renewal;high;Analytical
Bad Row;+1 555 123 4567;;;
Grace Hopper;(415) 555-0102;;normal;Navy
Dup;202-555-0101;;;
Formula;+1 202 555 0103;;low;=HYPERLINK("x")
"""


def test_campaign_lifecycle_contacts_and_dashboard(run: Run, tmp_path: Path) -> None:
    created = _json(run("campaign", "create", "Spring", "--timezone", "America/New_York",
                        "--json"))
    assert isinstance(created, dict) and isinstance(created["id"], int)
    shown = _json(run("campaign", "show", str(created["id"]), "--json"))
    assert isinstance(shown, dict) and shown["status"] == "paused"

    run("numbers", "add", "+14155550100")
    run("campaign", "add-number", "Spring", "+14155550100", "--weight", "2")
    numbers = _json(run("numbers", "list", "--json"))
    assert isinstance(numbers, list) and numbers[0]["e164"] == "+14155550100"

    (tmp_path / "c.csv").write_text(CSV, encoding="utf-8-sig")
    report = _json(run("contacts", "import", "Spring", str(tmp_path / "c.csv"), "--json"))
    assert isinstance(report, dict)
    assert (report["inserted"], report["duplicates"]) == (3, 1)
    assert [e["line"] for e in report["errors"]] == [3]
    assert isinstance(report["import_id"], int)

    listed = _json(run("contacts", "list", "Spring", "--json"))
    assert isinstance(listed, list)
    assert {c["phone"] for c in listed} == {"+12025550101", "+14155550102", "+12025550103"}
    assert listed[0]["priority"] == "high" and listed[0]["status"] == "pending"
    assert {"phone", "name", "status", "priority"} <= set(listed[0])

    run("campaign", "set-status", "Spring", "active")
    assert _json(run("campaign", "show", "Spring", "--json"))["status"] == "active"  # type: ignore[index]
    run("campaign", "set-status", "Spring", "cancelled")
    run("campaign", "set-status", "Spring", "active", expect=2)

    dash = _json(run("dashboard", "Spring", "--json"))
    assert isinstance(dash, dict)
    assert dash["status_breakdown"]["pending"]["count"] == 3
    assert len(dash["heatmap"]) == 7 and all(len(r) == 24 for r in dash["heatmap"])
    assert {"quick_stats", "answer_rates"} <= set(dash)

    out = tmp_path / "out.csv"
    run("contacts", "export", "Spring", "--format", "csv-semicolon", "-o", str(out))
    with out.open(encoding="utf-8-sig", newline="") as handle:
        rows = list(csv.reader(handle, delimiter=";"))
    assert len(rows) == 4
    flat = [cell for row in rows for cell in row]
    assert not any(cell.startswith("=") for cell in flat)
    xlsx = tmp_path / "out.xlsx"
    run("contacts", "export", "Spring", "--format", "xlsx", "-o", str(xlsx))
    book = openpyxl.load_workbook(xlsx, read_only=True)
    sheet = book.active
    assert sheet is not None and sheet.max_row == 4
    book.close()
    history = _json(run("contacts", "exports", "Spring", "--json"))
    assert isinstance(history, list) and len(history) == 2
    audit = _json(run("audit", "--json"))
    assert isinstance(audit, list)
    assert {"campaign.create", "campaign.status", "contacts.import"} <= {a["action"] for a in audit}


def test_bad_input_exits_2_with_one_line(run: Run, tmp_path: Path) -> None:
    run("campaign", "create", "Spring", "--json")
    run("campaign", "show", "Sprong", expect=2)
    assert "Spring" in run("campaign", "show", "Sprong", expect=2).stderr
    run("campaign", "create", "Spring", expect=2)
    run("campaign", "create", "X", "--timezone", "Mars/Olympus", expect=2)
    run("campaign", "create", "Y", "--call-interval", "7s", expect=2)
    run("campaign", "set-status", "Spring", "exploded", expect=2)
    run("numbers", "add", "+1 555 123 4567", expect=2)
    run("contacts", "import", "Spring", str(tmp_path / "missing.csv"), expect=2)
    big = tmp_path / "big.csv"
    big.write_bytes(b"phone\n" + b"+12025550101\n" * (5 * 1024 * 1024 // 13 + 10))
    assert "limit" in run("contacts", "import", "Spring", str(big), expect=2).stderr
    binary = tmp_path / "bin.csv"
    binary.write_bytes(bytes(range(256)) * 10)
    run("contacts", "import", "Spring", str(binary), expect=2)
    run("nonsense-command", expect=2)
    run("dashboard", "Nope", "--json", expect=2)
    assert _json(run("contacts", "list", "Spring", "--json")) == []


def test_bulk_status_change_is_all_or_nothing(run: Run) -> None:
    run("campaign", "create", "A")
    run("campaign", "create", "B")
    run("campaign", "set-status", "A", "cancelled")
    run("campaign", "set-status", "A", "B", "active", expect=2)
    assert _json(run("campaign", "show", "B", "--json"))["status"] == "paused"  # type: ignore[index]
    run("campaign", "set-status", "B", "A", "cancelled")
    listed = _json(run("campaign", "list", "--json", "--sort", "name"))
    assert isinstance(listed, list)
    assert [(c["name"], c["status"]) for c in listed] == [("A", "cancelled"), ("B", "cancelled")]


def test_dnc_import_reports_the_files_own_line_numbers(run: Run, tmp_path: Path) -> None:
    bare = tmp_path / "bare.txt"  # no header: one number per line, a BOM and a blank line
    bare.write_bytes(b"\xef\xbb\xbf+12025550101\n\nnot a number\n+12025550102\n")
    report = _json(run("dnc", "import", str(bare), "--json"))
    assert isinstance(report, dict) and report["added"] == 2
    assert [e["line"] for e in report["errors"]] == [3]
    # With a header (line 1), as contacts import counts; a long file name is no problem.
    headed = tmp_path / ("h" * 240 + ".csv")
    headed.write_text("phone,reason\n+12025550103,asked\n12,typo\n", encoding="utf-8")
    report = _json(run("dnc", "import", str(headed), "--json"))
    assert isinstance(report, dict) and report["added"] == 1
    assert [e["line"] for e in report["errors"]] == [3]
    listed = _json(run("dnc", "list", "--json"))
    assert isinstance(listed, list) and len(listed) == 3
    assert listed[0]["source"] == f"import:{headed.name}"[:200]


def test_a_contact_name_longer_than_its_column_is_bad_input(run: Run) -> None:
    run("campaign", "create", "Spring")
    failed = run("contacts", "add", "Spring", "+12025550101", "--name", "n" * 301, expect=2)
    assert failed.stderr == "dialer: error: name is 301 characters; the limit is 300\n"
    assert _json(run("contacts", "list", "Spring", "--json")) == []
    run("contacts", "add", "Spring", "+12025550101", "--name", "n" * 300)  # at the limit
    listed = _json(run("contacts", "list", "Spring", "--json"))
    assert isinstance(listed, list) and listed[0]["name"] == "n" * 300
    # The other entry points to short columns (storage tests cover each repository).
    assert "the limit is 64" in run("agents", "create", "Ada", "--voice", "v" * 65,
                                    expect=2).stderr
    assert "two-letter" in run("campaign", "create", "Fall", "--region", "USA",
                               expect=2).stderr
