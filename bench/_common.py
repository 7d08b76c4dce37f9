"""Helpers shared by the benchmarks: a throwaway PostgreSQL schema, timing, output."""

from __future__ import annotations

import os
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager

from sqlalchemy import Engine, text

from storage.db import make_engine
from storage.migrate import upgrade

PG_URL = os.environ.get("DIALER_BENCH_PG_URL",
                        "postgresql+psycopg://postgres@127.0.0.1:5432/test")


@contextmanager
def pg_schema(prefix: str, pool_size: int = 10) -> Iterator[Engine]:
    """A migrated PostgreSQL schema that is dropped afterwards."""
    schema = f"{prefix}_{uuid.uuid4().hex[:8]}"
    admin = make_engine(PG_URL)
    with admin.begin() as conn:
        conn.execute(text(f'CREATE SCHEMA "{schema}"'))
    sep = "&" if "?" in PG_URL else "?"
    engine = make_engine(f"{PG_URL}{sep}options=-csearch_path%3D{schema}", pool_size=pool_size)
    try:
        upgrade(engine)
        yield engine
    finally:
        engine.dispose()
        with admin.begin() as conn:
            conn.execute(text(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE'))
        admin.dispose()


class Timer:
    """Wall-clock seconds of a block."""

    def __enter__(self) -> Timer:
        self.start = time.perf_counter()
        return self

    def __exit__(self, *_: object) -> None:
        self.seconds = time.perf_counter() - self.start


def say(message: str) -> None:
    """Progress and results on stdout, flushed at once."""
    print(message, flush=True)
