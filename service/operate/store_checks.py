"""Doctor: the database is reachable and at the latest migration, and a live scheduler holds its lock."""

from __future__ import annotations

import os
import socket
from datetime import UTC, datetime

from service import store
from service.config import Config
from service.operate.checks import Check, fail, ok, skip
from service.store import locks, revisions

START_CLOCK = "start paperboy scheduler (the Procfile's clock) or paperboy run"


def check_store(config: Config) -> list[Check]:
    """The database check, then the scheduler lock's when the database answers."""
    try:
        engine = store.connect(config.database_url)
    except store.StoreError as error:
        return [fail("database", str(error))]
    try:
        with engine.connect() as conn:
            revision = revisions.stored(conn)
            lock = _lock(conn) if revision is not None else skip("scheduler", "no store, so no lock")
            return [_migration(engine, revision), lock]
    except store.DatabaseError as error:
        return [fail("database", store.describe(error))]
    finally:
        engine.dispose()


def _migration(engine: store.Engine, revision: str | None) -> Check:
    shown = engine.url.render_as_string(hide_password=True)
    head, known = revisions.shipped(store.MIGRATIONS)
    if revision is None:
        return fail("database", f"{shown} has no paperboy store: run paperboy init")
    if revision == head:
        return ok("database", f"{shown} answers, at the latest migration {head}")
    if revision in known | revisions.RENUMBERED:
        return fail("database", f"{shown} is at migration {revision}, the latest is {head}: run paperboy init")
    return fail(
        "database", f"{shown} is at migration {revision}, newer than this paperboy's {head}: run the newer paperboy"
    )


def _lock(conn: store.Connection) -> Check:
    if conn.dialect.name == "postgresql":
        # An advisory lock ends with its session: a holder is a live process.
        pid = locks.advisory_lock_holder(conn, locks.ADVISORY_KEY)
        if pid is None:
            return fail("scheduler", f"no scheduler holds the lock: {START_CLOCK}")
        return ok("scheduler", f"the lock is held by the session of PostgreSQL server process {pid}")
    held = locks.row_lock_holder(conn, locks.LOCK_NAME)
    if held is None:
        return fail("scheduler", f"no scheduler holds the lock: {START_CLOCK}")
    holder, expires = held
    if expires < datetime.now(UTC):
        return fail("scheduler", f"the lock of {holder} ran out at {expires:%Y-%m-%d %H:%M:%S} UTC: {START_CLOCK}")
    if not _alive(holder):
        return fail(
            "scheduler",
            f"the lock is held by {holder}, a process that has ended; it runs out at "
            f"{expires:%H:%M:%S} UTC: {START_CLOCK}",
        )
    return ok("scheduler", f"the lock is held by {holder} until {expires:%H:%M:%S} UTC")


def _alive(holder: str) -> bool:
    """Whether the holder (host:pid:random) still runs; a holder on another host counts as alive."""
    host, _, rest = holder.partition(":")
    pid = rest.partition(":")[0]
    if host != socket.gethostname()[:32] or not pid.isdigit():
        return True
    try:
        os.kill(int(pid), 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # another user's process: alive
        return True
    return True
