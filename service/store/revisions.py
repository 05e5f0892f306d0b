"""Which migration a database is at: its alembic_version row, checked against the migrations this
paperboy ships, and repaired for stores written while the migrations had other numbers.

Versions landed on 2026-12-02 between 04:04 and 05:52 UTC numbered their migrations 0002, 0005
(inbound), 0007 (search vector), 0004 (digest preferences); the chain was then renumbered to
0003 (inbound), 0004 (search vector), 0005 (digest preferences), 0006 (mail queue). A store such
a version wrote says "0004" or "0005" or "0007" and means another set of tables than today's ids,
so for those the tables themselves say where the store is.

Before that, on 2026-11-24 until 02:32 UTC, migrations 0001 and 0002 were edited in place: stores
written then say "0002" but lack admin_user.session_epoch, and until 01:43 index search the
first way (authors as raw JSON, no paper_search_source view or paper_search_authors function).
"""

from __future__ import annotations

import functools
import logging
from pathlib import Path

from sqlalchemy import inspect, text
from sqlalchemy.engine import Connection

log = logging.getLogger("paperboy")

RENUMBERED = {"0004", "0005", "0007"}
# Added by 0006, the first migration numbered after the renumbering: a store that has it wrote
# its revision with today's numbers.
RENUMBERED_AFTER = ("subscriber", "confirm_mailed")


class NewerStore(Exception):
    """The database was migrated by a newer paperboy than this one."""


@functools.cache  # read once per process: every Runtime checks its store against it
def shipped(migrations: Path) -> tuple[str, frozenset[str]]:
    """(head, every revision) of the migrations in the folder `migrations`."""
    from alembic.config import Config as AlembicConfig
    from alembic.script import ScriptDirectory

    config = AlembicConfig()
    config.set_main_option("script_location", str(migrations))
    scripts = ScriptDirectory.from_config(config)
    return scripts.get_current_head() or "", frozenset(script.revision for script in scripts.walk_revisions())


def stored(conn: Connection) -> str | None:
    """The revision in the database's alembic_version table; None for a database without one."""
    if not inspect(conn).has_table("alembic_version"):
        return None
    return conn.execute(text("SELECT version_num FROM alembic_version")).scalar()


def settle(conn: Connection, migrations: Path) -> str | None:
    """The database's revision, after rewriting one from the old numbering to today's; raise
    NewerStore when it is none of the shipped migrations."""
    revision = stored(conn)
    if revision is None:
        return None
    if revision in RENUMBERED and not _has_column(conn, *RENUMBERED_AFTER):
        actual = _revision_from_tables(conn)
        if actual != revision:
            log.info("store: migration %s of the earlier numbering is %s today", revision, actual)
            conn.execute(text("UPDATE alembic_version SET version_num = :actual"), {"actual": actual})
        return actual
    refuse_newer(conn, migrations, revision)
    return revision


def refuse_newer(conn: Connection, migrations: Path, revision: str | None = None) -> None:
    """Raise NewerStore when the database's revision is none of the shipped migrations."""
    revision = revision or stored(conn)
    head, known = shipped(migrations)
    if revision is not None and revision not in known | RENUMBERED:
        raise NewerStore(
            f"store: the database is at migration {revision}, newer than this paperboy's "
            f"{head}: run the newer paperboy, or restore the backup taken before the upgrade"
        )


def repair_first_day(conn: Connection) -> bool:
    """Give a store written on the first day the column 0001 gained since; True when its search
    index predates 0002's and 0002 must run again (its downgrade drops either kind)."""
    if stored(conn) not in ("0001", "0002"):
        return False
    if inspect(conn).has_table("admin_user") and not _has_column(conn, "admin_user", "session_epoch"):
        log.info("store: adding admin_user.session_epoch, which migration 0001 gained on its first day")
        # The default fills existing rows (NOT NULL); paperboy always writes the column itself.
        conn.execute(text("ALTER TABLE admin_user ADD COLUMN session_epoch INTEGER NOT NULL DEFAULT 0"))
    if stored(conn) != "0002":
        return False
    if conn.dialect.name == "sqlite":
        return "paper_search_source" not in inspect(conn).get_view_names()
    return conn.execute(text("SELECT 1 FROM pg_proc WHERE proname = 'paper_search_authors'")).first() is None


def _revision_from_tables(conn: Connection) -> str:
    tables = set(inspect(conn).get_table_names())
    if "digest_preference" in tables:
        return "0005"
    if "inbound_message" in tables:
        # 0004 adds the search vector on PostgreSQL and nothing on SQLite.
        if conn.dialect.name != "postgresql" or _has_column(conn, "paper", "search_vector"):
            return "0004"
        return "0003"
    return "0002"


def _has_column(conn: Connection, table: str, column: str) -> bool:
    inspector = inspect(conn)
    return inspector.has_table(table) and column in {c["name"] for c in inspector.get_columns(table)}
