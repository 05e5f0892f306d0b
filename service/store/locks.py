"""The scheduler's lock: a PostgreSQL advisory lock, or on SQLite a row with an expiry that the
holder renews."""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import delete, select, text, update
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.engine import Connection

from service.store.schema import scheduler_lock

# The scheduler's lock, named here so that `paperboy doctor` can see who holds it.
LOCK_NAME = "scheduler"
# Any fixed 64-bit number; it names paperboy's scheduler lock among PostgreSQL advisory locks.
ADVISORY_KEY = 0x70617065_72626F79 & 0x7FFFFFFFFFFFFFFF


def try_advisory_lock(conn: Connection, key: int) -> bool:
    """Take a session-level advisory lock on this connection, if nobody holds it."""
    return bool(conn.execute(text("SELECT pg_try_advisory_lock(:key)"), {"key": key}).scalar())


def backend_pid(conn: Connection) -> int:
    """The server process of this session: it changes when the session was lost and reopened."""
    return int(conn.execute(text("SELECT pg_backend_pid()")).scalar_one())


def advisory_unlock(conn: Connection, key: int) -> None:
    conn.execute(text("SELECT pg_advisory_unlock(:key)"), {"key": key})


def take_row_lock(conn: Connection, name: str, holder: str, now: datetime, ttl: timedelta) -> bool:
    """Take or renew the lock row `name` for `holder` until now + ttl; False while another
    holder's lock has not expired."""
    conn.execute(
        sqlite_insert(scheduler_lock).values(name=name, holder=holder, expires=now + ttl).on_conflict_do_nothing()
    )
    taken = conn.execute(
        update(scheduler_lock)
        .where(scheduler_lock.c.name == name, (scheduler_lock.c.holder == holder) | (scheduler_lock.c.expires < now))
        .values(holder=holder, expires=now + ttl)
    ).rowcount
    return taken == 1


def release_row_lock(conn: Connection, name: str, holder: str) -> None:
    conn.execute(delete(scheduler_lock).where(scheduler_lock.c.name == name, scheduler_lock.c.holder == holder))


def row_lock_holder(conn: Connection, name: str) -> tuple[str, datetime] | None:
    row = conn.execute(
        select(scheduler_lock.c.holder, scheduler_lock.c.expires).where(scheduler_lock.c.name == name)
    ).first()
    return (row.holder, row.expires) if row else None


def advisory_lock_holder(conn: Connection, key: int) -> int | None:
    """The server process (pg_backend_pid) of the session holding advisory lock `key`, if any.
    A 64-bit key is kept in pg_locks as its high and low 32 bits."""
    return conn.execute(
        text(
            "SELECT pid FROM pg_locks WHERE locktype = 'advisory' AND granted"
            " AND database = (SELECT oid FROM pg_database WHERE datname = current_database())"
            " AND classid = :high AND objid = :low AND objsubid = 1"
        ),
        {"high": key >> 32, "low": key & 0xFFFFFFFF},
    ).scalar()
