"""The database: engine set-up, migrations, and (in the submodules) every query paperboy runs.

All SQL lives in this package (the subscriber queries in its subpackage subscribers/); nothing
else imports SQLAlchemy.
Functions take a Connection so that callers decide where a transaction starts and ends.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from sqlalchemy import Column, Insert, Table, create_engine, event, inspect, select, text, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.engine.interfaces import DBAPIConnection
from sqlalchemy.exc import OperationalError, SQLAlchemyError

from service.errors import PaperboyError, first_line
from service.store import revisions
from service.store.schema import metadata

__all__ = [
    "Connection",
    "DatabaseError",
    "Engine",
    "StoreError",
    "connect",
    "migrate",
    "is_reachable",
    "metadata",
    "describe",
    "write_transaction",
    "is_busy",
    "OperationalError",
]

# Any failure of the database in the middle of a job (lost connection, locked or broken file);
# commands catch it to end with one line instead of a traceback.
DatabaseError = SQLAlchemyError

MIGRATIONS = Path(__file__).resolve().parent / "migrations"
CONNECT_TIMEOUT = 5  # seconds
POOL_RECYCLE_SECONDS = 3600
# How long an SQLite writer waits for another's lock before giving up ("database is locked").
BUSY_TIMEOUT_MS = 30_000
# PostgreSQL errors that end a statement without anything being wrong with it: stopped by a
# timeout (57014, 55P03), a deadlock or a serialization conflict (40P01, 40001), or the server
# going away (57P01, 57P03). Errors without a code are connections that failed.
TRANSIENT_SQLSTATES = {"57014", "55P03", "40P01", "40001", "57P01", "57P03"}


class StoreError(PaperboyError):
    """The database cannot be reached or used; the message says why in one line."""


def connect(url: str) -> Engine:
    """An Engine for `url`; SQLite gets WAL mode, foreign keys and a busy timeout."""
    if url.startswith("sqlite:///") and not url.startswith("sqlite:///:memory:"):
        Path(url.removeprefix("sqlite:///")).parent.mkdir(parents=True, exist_ok=True)
    # A PostgreSQL host that does not answer fails in seconds, so /healthz says 503 in time.
    connect_args = {"connect_timeout": CONNECT_TIMEOUT} if url.startswith("postgresql") else {}
    try:
        # Connections are opened again hourly: SQLite reads the planner's statistics
        # (update_statistics) only when a connection opens.
        engine = create_engine(url, pool_pre_ping=True, pool_recycle=POOL_RECYCLE_SECONDS, connect_args=connect_args)
    except (SQLAlchemyError, ImportError, ValueError) as error:
        raise StoreError(f"store: cannot use database URL {url!r}: {error}") from None
    if engine.dialect.name == "sqlite":
        event.listen(engine, "connect", _sqlite_pragmas)
        # pysqlite's own transaction handling defers BEGIN past reads; emit it ourselves so a
        # transaction covers everything between begin() and commit().
        event.listen(engine, "begin", _sqlite_begin)
    return engine


def _sqlite_begin(conn: Connection) -> None:
    # In WAL mode a deferred transaction that reads, then writes after another writer committed,
    # fails at once ("database is locked", not retried): write_transaction() locks up front.
    conn.exec_driver_sql("BEGIN IMMEDIATE" if conn.get_execution_options().get("write_lock") else "BEGIN")


@contextmanager
def write_transaction(engine: Engine, keep: bool = True) -> Iterator[Connection]:
    """A transaction for work that reads before it writes; on SQLite it takes the write lock at
    BEGIN (waiting out the busy timeout) rather than failing at its first write. `keep=False`
    rolls it back at the end (a dry run, a preview)."""
    with engine.connect() as conn:
        conn.execution_options(write_lock=True)
        transaction = conn.begin()
        try:
            yield conn
        except BaseException:
            transaction.rollback()
            raise
        if keep:
            transaction.commit()
        else:
            transaction.rollback()


def _sqlite_pragmas(dbapi_connection: DBAPIConnection, _record: object) -> None:
    # Python's sqlite3 would open transactions on its own; the "begin" event does it instead.
    dbapi_connection.isolation_level = None
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute(f"PRAGMA busy_timeout={BUSY_TIMEOUT_MS}")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.close()


def migrate(engine: Engine) -> None:
    """Create or upgrade the schema to the newest migration."""
    # Imported here for start-up cost: only `paperboy init` and the first start need Alembic.
    from alembic import command
    from alembic.config import Config as AlembicConfig

    config = AlembicConfig()
    config.set_main_option("script_location", str(MIGRATIONS))
    try:
        with engine.begin() as connection:
            revisions.settle(connection, MIGRATIONS)
            config.attributes["connection"] = connection
            if revisions.repair_first_day(connection):
                command.downgrade(config, "0001")  # then 0002 builds today's search index
            command.upgrade(config, "head")
    except revisions.NewerStore as error:
        raise StoreError(str(error)) from None
    except SQLAlchemyError as error:
        raise StoreError(f"store: cannot migrate {engine.url!r}: {_reason(error)}") from None


def refuse_newer(engine: Engine) -> None:
    """Raise StoreError when a newer paperboy has migrated the database past what this one knows:
    running on it could lose what the newer version stored."""
    try:
        with engine.connect() as connection:
            revisions.refuse_newer(connection, MIGRATIONS)
    except revisions.NewerStore as error:
        raise StoreError(str(error)) from None
    except SQLAlchemyError as error:
        raise StoreError(f"store: cannot connect to {engine.url!r}: {_reason(error)}") from None


def needs_migration(engine: Engine) -> bool:
    """True when the database has no paperboy schema yet."""
    try:
        with engine.connect() as connection:
            return not inspect(connection).has_table("alembic_version")
    except SQLAlchemyError as error:
        raise StoreError(f"store: cannot connect to {engine.url!r}: {_reason(error)}") from None


def is_reachable(engine: Engine) -> bool:
    try:
        with engine.connect() as connection:
            connection.execute(text("SELECT 1"))
        return True
    except SQLAlchemyError:
        return False


def update_statistics(engine: Engine) -> None:
    """Count again what the query planner knows of the paper tables, after a fetch stored papers.
    Without counts SQLite reads a topic's window through paper_terms' primary key and then each
    of its rows instead of the index that holds all the window reads: at 15,000 papers, twice the
    time (BENCHMARKS.md). Approximate counts (analysis_limit) do, in milliseconds. A SQLite
    connection reads them when it opens; the pool opens its connections again hourly."""
    with write_transaction(engine) as conn:
        if conn.dialect.name == "sqlite":
            conn.exec_driver_sql("PRAGMA analysis_limit=1000")
            conn.exec_driver_sql("ANALYZE")
        else:
            conn.exec_driver_sql("ANALYZE paper, paper_terms, topic_paper")


def insert_ignoring_duplicates(conn: Connection, table: Table) -> Insert:
    """INSERT that skips rows whose unique key exists already, on SQLite and on PostgreSQL."""
    if conn.dialect.name == "postgresql":
        return postgresql.insert(table).on_conflict_do_nothing()
    return sqlite.insert(table).on_conflict_do_nothing()


def erase_text(conn: Connection, column: Column[str], subscriber_id: int, text: str, replacement: str) -> None:
    """Replace `text` (any case) with `replacement` in `column` of the subscriber's rows of its
    table: mail servers quote addresses in the bounce reasons that several tables keep."""
    table = column.table
    pattern = re.compile(re.escape(text), re.IGNORECASE)
    rows = conn.execute(
        select(table.c.id, column).where(table.c.subscriber_id == subscriber_id, column.is_not(None))
    ).all()
    for row_id, value in rows:
        replaced = pattern.sub(replacement, value)
        if replaced != value:
            conn.execute(update(table).where(table.c.id == row_id).values({column: replaced}))


def is_busy(error: Exception) -> bool:
    """Whether `error` means the database could not do the work now but may later: locked past
    the busy timeout, unreachable, or a statement stopped by a timeout or a conflict."""
    if not isinstance(error, OperationalError):
        return False
    if error.connection_invalidated:
        return True
    original = error.orig
    sqlstate = getattr(original, "sqlstate", None)
    if sqlstate is not None:
        return sqlstate in TRANSIENT_SQLSTATES or sqlstate.startswith("08")  # 08: connection exception
    message = str(original).lower()
    if "locked" in message or "busy" in message:
        return True
    # psycopg reports a refused or timed-out connection without a code; SQLite's own errors
    # ("no such table") are not about availability.
    return type(original).__module__.startswith("psycopg")


def describe(error: Exception) -> str:
    """One line saying what went wrong with the database."""
    return f"store: {_reason(error)}"


def _reason(error: Exception) -> str:
    """The driver's own first line when SQLAlchemy wraps it."""
    return first_line(getattr(error, "orig", None) or error)
