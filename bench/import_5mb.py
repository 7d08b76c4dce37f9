"""Import of a 5 MB contact CSV, validation included (target <= 5 s).

Writes a CSV of just under 5 MB (valid numbers, names, tags, attributes, a sprinkle of
bad rows), then times ``storage.services.run_import`` (parse, E.164 normalisation,
duplicate checks and the single insert transaction) on SQLite and PostgreSQL.
Run: .venv/bin/python bench/import_5mb.py
"""

from __future__ import annotations

import sys
import tempfile
from datetime import UTC, datetime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench._common import Timer, pg_schema, say
from campaigns.importing import MAX_IMPORT_BYTES
from storage.db import make_engine, session_factory
from storage.migrate import upgrade
from storage.repos import CampaignRepo, Who
from storage.services import run_import, start_import

NOW = datetime(2026, 3, 10, 15, 0, tzinfo=UTC)
AREAS = ("202", "212", "305", "312", "415", "503", "602", "702", "713", "617")


def make_csv() -> bytes:
    """Rows until the file is just under 5 MB; every 500th row is invalid."""
    lines = ["name,phone,tags,priority,company,notes"]
    size = len(lines[0]) + 1
    i = 0
    while True:
        phone = (f"+1 555 01{i % 100:02d}" if i % 500 == 499 else
                 f"({AREAS[i // 10000 % 10]}) {300 + i // 100000:03d}-{i % 10000:04d}")
        line = (f"Contact {i},{phone},\"renewal,q{i % 4}\",{('high', 'normal', 'low')[i % 3]},"
                f"Company {i % 977},note {i}")
        if size + len(line) + 1 > MAX_IMPORT_BYTES:
            break
        lines.append(line)
        size += len(line) + 1
        i += 1
    return ("\n".join(lines) + "\n").encode()


def bench(name: str, engine: object, data: bytes) -> None:
    sessions = session_factory(engine)  # type: ignore[arg-type]
    with sessions.begin() as s:
        CampaignRepo(s).create("bench", Who("bench"), NOW)
    import_id, _ = start_import(sessions, "bench", "bench.csv", len(data), Who("bench"))
    with Timer() as timer:
        report = run_import(sessions, import_id, data)
    say(f"{name}: {len(data) / 1e6:.2f} MB, {report.inserted:,} inserted, "
        f"{len(report.errors)} bad rows, {report.duplicates} duplicates in "
        f"{timer.seconds:.2f} s (target <= 5 s)")


def main() -> int:
    data = make_csv()
    rows = data.count(b"\n") - 1
    say(f"generated {len(data):,} bytes, {rows:,} rows")
    with tempfile.TemporaryDirectory() as tmp:
        engine = make_engine(f"sqlite:///{tmp}/bench.sqlite3")
        upgrade(engine)
        bench("SQLite", engine, data)
        engine.dispose()
    with pg_schema("bench_import") as pg:
        bench("PostgreSQL", pg, data)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
