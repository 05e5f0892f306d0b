"""What a database holds and what runs it: row counts for backup and restore, the server's version."""

from __future__ import annotations

from sqlalchemy import func, inspect, select, text
from sqlalchemy.engine import Connection

from service.store.schema import admin_user, delivery, digest, paper, subscriber

# The tables whose rows an operator would lose by overwriting a store.
KEPT = {"papers": paper, "subscribers": subscriber, "admins": admin_user, "digests": digest, "deliveries": delivery}


def row_counts(conn: Connection) -> dict[str, int]:
    """Rows in each table of KEPT that the database has (none of a table it lacks)."""
    present = set(inspect(conn).get_table_names())
    return {
        name: conn.execute(select(func.count()).select_from(table)).scalar_one()
        for name, table in KEPT.items()
        if table.name in present
    }


def server_version(conn: Connection) -> int:
    """PostgreSQL's major version, e.g. 15."""
    return int(conn.execute(text("SHOW server_version_num")).scalar_one()) // 10000
