"""Engines and sessions: one place that knows the database URL and dialect quirks."""

from __future__ import annotations

from pathlib import Path
from typing import Any, TypeAlias

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session, sessionmaker

from storage.errors import StorageError

DEFAULT_SQLITE_PATH = Path("var") / "dialer.sqlite3"

Sessions: TypeAlias = sessionmaker[Session]
"""A session factory; packages that must not import SQLAlchemy (chatops) name it so."""


def default_url(base: Path | None = None) -> str:
    """The embedded default: a SQLite file in ``var/`` under ``base`` (the working dir)."""
    path = (base or Path.cwd()) / DEFAULT_SQLITE_PATH
    return f"sqlite:///{path}"


def normalize_url(url: str) -> str:
    """Prefer psycopg 3 for PostgreSQL whatever driver the URL names (or none)."""
    if url.startswith("postgres://"):
        url = "postgresql://" + url[len("postgres://"):]
    if url.startswith("postgresql://"):
        url = "postgresql+psycopg://" + url[len("postgresql://"):]
    return url


def make_engine(url: str, *, echo: bool = False, pool_size: int = 5) -> Engine:
    """Create an engine with the pragmas and pool settings this project relies on.

    SQLite gets WAL, foreign keys and a busy timeout so concurrent writers queue instead
    of failing; its parent directory is created. PostgreSQL uses psycopg 3. Bound values
    (phone numbers, names) never appear in SQL logs or in the text of database errors,
    which end up in logs and tracebacks (``hide_parameters``).
    """
    url = normalize_url(url)
    try:
        parsed = make_url(url)
    except Exception as exc:
        raise StorageError(f"DATABASE_URL is not a database URL: {exc}") from exc
    kwargs: dict[str, Any] = {"echo": echo, "future": True, "hide_parameters": True}
    if parsed.get_backend_name() == "sqlite":
        database = parsed.database
        if database and database != ":memory:":
            Path(database).parent.mkdir(parents=True, exist_ok=True)
        kwargs["connect_args"] = {"timeout": 30, "check_same_thread": False}
        engine = create_engine(url, **kwargs)
        event.listen(engine, "connect", _sqlite_pragmas)
        event.listen(engine, "begin", _sqlite_begin_immediate)
        return engine
    kwargs.update(pool_size=pool_size, max_overflow=pool_size, pool_pre_ping=True)
    return create_engine(url, **kwargs)


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    # Let SQLAlchemy own transactions (pysqlite's own BEGIN handling is off), then
    # BEGIN IMMEDIATE in the "begin" hook: a reader that later writes can otherwise
    # deadlock with another writer and fail with "database is locked".
    dbapi_connection.isolation_level = None
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA busy_timeout=30000")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.close()


def _sqlite_begin_immediate(conn: Any) -> None:
    conn.exec_driver_sql("BEGIN IMMEDIATE")


def is_postgres(engine: Engine) -> bool:
    """True for PostgreSQL engines."""
    return engine.dialect.name == "postgresql"


def session_factory(engine: Engine) -> sessionmaker[Session]:
    """Sessions that do not expire objects on commit (results are plain data anyway)."""
    return sessionmaker(engine, expire_on_commit=False, future=True)
