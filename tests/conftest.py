"""Shared fixtures: a migrated database per backend, each test in a rolled-back transaction.

``DIALER_TEST_PG_URL`` points at the real PostgreSQL (default: the machine's local
server, database ``test``). Each test session migrates its own schema there and drops it
at the end, so runs never see each other's rows.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import Engine, text
from sqlalchemy.orm import Session

from storage.db import make_engine
from storage.migrate import upgrade

PG_URL = os.environ.get("DIALER_TEST_PG_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test")
BACKENDS = ("sqlite", "postgres")


def pg_schema_url(schema: str) -> str:
    """The test PostgreSQL URL with ``search_path`` set to ``schema``."""
    sep = "&" if "?" in PG_URL else "?"
    return f"{PG_URL}{sep}options=-csearch_path%3D{schema}"


@pytest.fixture(scope="session")
def pg_engine_factory() -> Iterator[object]:
    """Make PostgreSQL engines on fresh, migrated schemas; drops them all at the end."""
    admin = make_engine(PG_URL)
    schemas: list[str] = []
    engines: list[Engine] = []

    def factory() -> Engine:
        schema = f"dialer_test_{uuid.uuid4().hex[:10]}"
        with admin.begin() as conn:
            conn.execute(text(f'CREATE SCHEMA "{schema}"'))
        schemas.append(schema)
        engine = make_engine(pg_schema_url(schema), pool_size=10)
        upgrade(engine)
        engines.append(engine)
        return engine

    yield factory
    for engine in engines:
        engine.dispose()
    with admin.begin() as conn:
        for schema in schemas:
            conn.execute(text(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE'))
    admin.dispose()


@pytest.fixture(scope="session")
def migrated_engines(tmp_path_factory: pytest.TempPathFactory,
                     pg_engine_factory: object) -> dict[str, Engine]:
    """One migrated engine per backend for the whole session."""
    path: Path = tmp_path_factory.mktemp("db") / "dialer.sqlite3"
    sqlite = make_engine(f"sqlite:///{path}")
    upgrade(sqlite)
    return {"sqlite": sqlite, "postgres": pg_engine_factory()}  # type: ignore[operator]


@pytest.fixture(params=BACKENDS)
def backend(request: pytest.FixtureRequest) -> str:
    """The storage backend under test."""
    return str(request.param)


@pytest.fixture
def engine(backend: str, migrated_engines: dict[str, Engine]) -> Engine:
    """The migrated engine of the backend under test."""
    return migrated_engines[backend]


@pytest.fixture
def session(engine: Engine) -> Iterator[Session]:
    """A session inside an outer transaction that is rolled back after the test."""
    with engine.connect() as connection:
        outer = connection.begin()
        db = Session(bind=connection, join_transaction_mode="create_savepoint",
                     expire_on_commit=False)
        try:
            yield db
        finally:
            db.close()
            outer.rollback()


@pytest.fixture
def now() -> datetime:
    """A fixed instant for tests that pass time in."""
    return datetime(2026, 3, 10, 15, 0, tzinfo=UTC)
