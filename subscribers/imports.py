"""Importing a subscriber list: which rows are new, which change, and which status each may get.

The rows come checked from subscribers/csv_io.py; service/store/subscribers/imports.py writes them.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime

from service.model.preferences import DEFAULT as DEFAULT_PREFERENCES
from service.model.states import SubscriberStatus
from service.store import Connection
from service.store.subscribers.imports import ImportRow, existing_by_email, write_import
from service.store.subscribers.preferences import preferences_of
from service.store.subscribers.records import Subscriber


@dataclass
class ImportResult:
    created: int
    updated: int
    unchanged: int
    # Rows whose status was not applied: the address had left, bounced, complained or is blocked.
    kept: int = 0


def import_status(found: Subscriber | None, status: str) -> str:
    """The status an import may set. An import (often of an old export) never brings back an address:
    a blocked or complained one stays so, and one that unsubscribed or bounced can only be blocked, never
    made pending or active (only its owner's own confirmation brings it back)."""
    if found is None:
        return status
    if found.status in (SubscriberStatus.BLOCKED, SubscriberStatus.COMPLAINED) or (
        found.status in (SubscriberStatus.UNSUBSCRIBED, SubscriberStatus.BOUNCED) and status != SubscriberStatus.BLOCKED
    ):
        return found.status
    return status


def import_rows(conn: Connection, rows: list[ImportRow], now: datetime, actor: str) -> ImportResult:
    """Insert or update every row; the caller's transaction makes it all or nothing.

    Rows must already be valid and have distinct addresses (subscribers.csv_io checks both).
    """
    existing = existing_by_email(conn, [row.email for row in rows])
    # replace() keeps every other field of the row, its preferences included.
    decided = [replace(row, status=import_status(existing.get(row.email), row.status)) for row in rows]
    kept = sum(1 for before, after in zip(rows, decided, strict=True) if before.status != after.status)
    stored = preferences_of(
        conn, [existing[row.email].id for row in decided if row.email in existing and row.preferences is not None]
    )
    preference_changes = {
        row.email
        for row in decided
        if row.preferences is not None
        and (row.email not in existing or stored.get(existing[row.email].id, DEFAULT_PREFERENCES) != row.preferences)
    }
    new_rows = [row for row in decided if row.email not in existing]
    changed = [
        (existing[row.email].id, row)
        for row in decided
        if row.email in existing
        and (
            existing[row.email].status != row.status
            or sorted(set(row.topics)) != existing[row.email].topics
            or row.email in preference_changes
        )
    ]
    write_import(conn, new_rows, changed, preference_changes, now, actor)
    return ImportResult(
        created=len(new_rows), updated=len(changed), unchanged=len(rows) - len(new_rows) - len(changed), kept=kept
    )
