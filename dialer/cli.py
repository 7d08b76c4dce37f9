"""The ``dialer`` command line (CONTRACTS.md: CLI).

Every read command takes ``--json`` and then prints exactly one JSON value on stdout.
Bad input exits 2 with a one-line reason on stderr; no traceback unless ``--debug``.
Heavy imports (Ray, pjsua2, models) happen only inside the commands that need them.
"""

from __future__ import annotations

import getpass
import json
import sys
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, date, datetime, time
from typing import Any, NoReturn, TypeVar

import click
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session, sessionmaker

from campaigns.errors import DomainError, ValidationError
from dialer.settings import Settings, load_settings
from storage.errors import StorageError

F = TypeVar("F", bound=Callable[..., Any])

EXIT_BAD_INPUT = 2
EXIT_UNAVAILABLE = 3


class BadInput(Exception):
    """A reason to exit 2 with one line on stderr."""


@dataclass
class App:
    """What every command gets: settings, a session factory made on first use, who."""

    settings: Settings
    debug: bool = False
    _sessions: sessionmaker[Session] | None = None

    @property
    def sessions(self) -> sessionmaker[Session]:
        """Sessions on the configured database, migrated to the newest schema."""
        if self._sessions is None:
            from storage.db import make_engine, session_factory
            from storage.migrate import current_revision, head_revision, upgrade

            engine = make_engine(self.settings.effective_database_url)
            try:
                if current_revision(engine) != head_revision():
                    upgrade(engine)
            except OperationalError as exc:
                raise StorageError(f"database unavailable: {_first_line(exc.orig)}") from exc
            self._sessions = session_factory(engine)
        return self._sessions

    @property
    def who(self) -> Any:
        """The audit identity of the person at the terminal."""
        from storage.repos import Who

        try:
            user = getpass.getuser()
        except Exception:  # no user name on some containers; still audit something
            user = "unknown"
        return Who(actor=user, source="cli")


def _first_line(value: object) -> str:
    text = str(value).strip().splitlines()
    return text[0] if text else type(value).__name__


def now() -> datetime:
    """The wall clock in UTC (commands pass it down; the domain never reads a clock)."""
    return datetime.now(UTC)


def emit(value: Any) -> None:
    """Print one JSON value on stdout."""
    click.echo(json.dumps(value, default=_json_default, ensure_ascii=False))


def _json_default(value: Any) -> Any:
    if isinstance(value, (datetime, date, time)):
        return value.isoformat()
    if hasattr(value, "total_seconds"):
        return value.total_seconds()
    if isinstance(value, (set, frozenset, tuple)):
        return list(value)
    return str(value)


def console() -> Any:
    """A rich console on stdout (imported lazily to keep start-up fast)."""
    from rich.console import Console

    return Console(highlight=False)


def table(title: str, columns: Sequence[str], rows: Sequence[Sequence[Any]]) -> None:
    """Print a rich table."""
    from rich.table import Table

    tab = Table(title=title)
    for col in columns:
        tab.add_column(col)
    for row in rows:
        tab.add_row(*("" if v is None else str(v) for v in row))
    console().print(tab)


@contextmanager
def tx(app: App) -> Iterator[Session]:
    """One transaction: committed when the block ends, rolled back on error."""
    with app.sessions.begin() as session:
        yield session


json_option = click.option("--json", "as_json", is_flag=True, help="Print one JSON value.")
pass_app = click.make_pass_decorator(App)


# --- root ------------------------------------------------------------------------------

@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.option("--debug", is_flag=True, help="Show tracebacks.")
@click.pass_context
def cli(ctx: click.Context, debug: bool) -> None:
    """Outbound calling for voice-AI campaigns: campaigns, contacts, numbers, calls."""
    import logging

    logging.basicConfig(level=logging.DEBUG if debug else logging.WARNING,
                        format="%(levelname)s %(name)s: %(message)s")
    ctx.obj = App(settings=load_settings(), debug=debug)


def main(argv: Sequence[str] | None = None) -> NoReturn:
    """Entry point: run the CLI and turn every failure into an exit code and one line."""
    debug = "--debug" in (argv if argv is not None else sys.argv[1:])
    try:
        code = cli.main(args=list(argv) if argv is not None else None, prog_name="dialer",
                        standalone_mode=False)
    except click.exceptions.Exit as exc:
        sys.exit(exc.exit_code)
    except click.exceptions.Abort:
        _fail("aborted", 1)
    except click.ClickException as exc:
        _fail(exc.format_message(), EXIT_BAD_INPUT)
    except (BadInput, DomainError, ValueError) as exc:
        if debug:
            raise
        _fail(_reason(exc), EXIT_BAD_INPUT)
    except StorageError as exc:
        if debug:
            raise
        from storage.errors import AlreadyExists, NotFound, StaleClaim

        code = EXIT_BAD_INPUT if isinstance(exc, (NotFound, AlreadyExists, StaleClaim)) else 1
        _fail(str(exc), code)
    except OperationalError as exc:
        if debug:
            raise
        _fail(f"database error: {_first_line(exc.orig)}", 1)
    except OSError as exc:
        if debug:
            raise
        _fail(f"{exc.strerror or exc}: {exc.filename}" if exc.filename else str(exc),
              EXIT_BAD_INPUT)
    except KeyboardInterrupt:
        _fail("interrupted", 130)
    # With standalone_mode=False click returns (not raises) a command's exit code.
    sys.exit(code if isinstance(code, int) else 0)


def _reason(exc: Exception) -> str:
    if isinstance(exc, ValidationError):
        return f"{exc.field}: {exc.reason}" if exc.field not in exc.reason else exc.reason
    return _first_line(exc)


def _fail(message: str, code: int) -> NoReturn:
    click.echo(f"dialer: error: {_first_line(message)}", err=True)
    sys.exit(code)


# --- db --------------------------------------------------------------------------------

@cli.group()
def db() -> None:
    """Database schema."""


@db.command("upgrade")
@pass_app
def db_upgrade(app: App) -> None:
    """Migrate the database to the newest schema."""
    from storage.db import make_engine
    from storage.migrate import upgrade

    engine = make_engine(app.settings.effective_database_url)
    try:
        revision = upgrade(engine)
    except OperationalError as exc:
        raise StorageError(f"database unavailable: {_first_line(exc.orig)}") from exc
    click.echo(f"database at revision {revision}")


@db.command("current")
@json_option
@pass_app
def db_current(app: App, as_json: bool) -> None:
    """Show the schema revision of the database and of the code."""
    from storage.db import make_engine
    from storage.migrate import current_revision, head_revision

    current = current_revision(make_engine(app.settings.effective_database_url))
    out = {"current": current, "head": head_revision()}
    emit(out) if as_json else click.echo(f"current {current}, head {out['head']}")


# Importing the command modules registers their groups on ``cli``.
from dialer import (  # noqa: E402, F401
    amd_commands,
    commands,
    judge_commands,
    run_commands,
    sip_commands,
    slack_commands,
)
