"""A subscriber's digest preferences (length, keywords in and out, followed authors); only those
who changed the defaults have a row."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import delete, insert, select
from sqlalchemy.engine import Connection

from service.model.preferences import DEFAULT as DEFAULT_PREFERENCES
from service.model.preferences import DigestPreferences
from service.store.schema import digest_preference
from service.store.subscribers.audit import record_audit
from service.store.subscribers.records import CHUNK, live_subscriber, touch


def preferences_of(conn: Connection, ids: list[int]) -> dict[int, DigestPreferences]:
    """The digest preferences of the subscribers among `ids` who changed the defaults."""
    found: dict[int, DigestPreferences] = {}
    for start in range(0, len(ids), CHUNK):
        rows = conn.execute(
            select(digest_preference).where(digest_preference.c.subscriber_id.in_(ids[start : start + CHUNK]))
        )
        for row in rows.mappings():
            found[row["subscriber_id"]] = DigestPreferences(
                row["length"],
                tuple(row["keywords_in"]),
                tuple(row["keywords_out"]),
                tuple(row["authors"]),
                bool(row["suggestions"]),
            )
    return found


def get_preferences(conn: Connection, subscriber_id: int) -> DigestPreferences:
    """One subscriber's digest preferences (the defaults when none were set)."""
    return preferences_of(conn, [subscriber_id]).get(subscriber_id, DEFAULT_PREFERENCES)


def set_preferences(
    conn: Connection, subscriber_id: int, preferences: DigestPreferences, now: datetime, actor: str
) -> None:
    """Replace a subscriber's digest preferences and note the change in the audit log."""
    live_subscriber(conn, subscriber_id)
    before = get_preferences(conn, subscriber_id)
    if before == preferences:
        return
    write_preferences(conn, [(subscriber_id, preferences)])
    touch(conn, subscriber_id, now)
    record_audit(conn, now, actor, "preferences", subscriber_id, preferences.describe()[:1000])


def write_preferences(conn: Connection, rows: list[tuple[int, DigestPreferences]]) -> None:
    """Replace the preferences of each (subscriber id, preferences); defaults leave no row."""
    ids = [subscriber_id for subscriber_id, _ in rows]
    for start in range(0, len(ids), CHUNK):
        conn.execute(delete(digest_preference).where(digest_preference.c.subscriber_id.in_(ids[start : start + CHUNK])))
    values = [
        {
            "subscriber_id": subscriber_id,
            "length": p.length,
            "keywords_in": list(p.keywords_in),
            "keywords_out": list(p.keywords_out),
            "authors": list(p.authors),
            "suggestions": p.suggestions,
        }
        for subscriber_id, p in rows
        if not p.is_default
    ]
    for start in range(0, len(values), CHUNK):
        conn.execute(insert(digest_preference), values[start : start + CHUNK])
