"""The scheduler's lock: a PostgreSQL advisory lock, or on SQLite a row with an expiry that the
holder renews."""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import delete, select, text, update
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.engine import Connection

from service.store.schema import scheduler_lock


def try_advisory_lock(conn: Connection, key: int) -> bool:
    """Take a session-level advisory lock on this connection, if nobody holds it."""
    return bool(conn.execute(text("SELECT pg_try_advisory_lock(:key)"), {"key": key}).scalar())


def backend_pid(conn: Connection) -> int:
    """The server process of this session: it changes when the session was lost and reopened."""
    return conn.execute(text("SELECT pg_backend_pid()")).scalar_one()


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
