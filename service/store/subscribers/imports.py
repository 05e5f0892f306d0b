"""Subscribers in and out as rows (the shape of a CSV line), read and written in bulk statements.

Which rows an import changes, and to which status, is decided in subscribers/imports.py.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import delete, insert, select, update
from sqlalchemy.engine import Connection

from service.model.preferences import DEFAULT as DEFAULT_PREFERENCES
from service.model.preferences import DigestPreferences
from service.model.states import SubscriberStatus
from service.store.schema import subscriber, subscription
from service.store.subscribers.audit import record_many
from service.store.subscribers.preferences import preferences_of, write_preferences
from service.store.subscribers.records import CHUNK, Subscriber, topics_of, with_topics


@dataclass
class ImportRow:
    email: str
    topics: list[str]
    status: str
    # None when the file has no preference columns: what is stored stays as it is.
    preferences: DigestPreferences | None = None


def export_rows(conn: Connection) -> Iterator[ImportRow]:
    """Every subscriber with an address, by address, in the shape CSV import reads."""
    last = ""
    while True:
        rows = conn.execute(
            select(subscriber.c.id, subscriber.c.email, subscriber.c.status)
            .where(subscriber.c.email.is_not(None), subscriber.c.email > last)
            .order_by(subscriber.c.email)
            .limit(CHUNK * 10)
        ).all()
        if not rows:
            return
        topics = topics_of(conn, [row.id for row in rows])
        preferences = preferences_of(conn, [row.id for row in rows])
        for row in rows:
            yield ImportRow(row.email, topics.get(row.id, []), row.status, preferences.get(row.id, DEFAULT_PREFERENCES))
        last = rows[-1].email


def existing_by_email(conn: Connection, emails: list[str]) -> dict[str, Subscriber]:
    """The subscribers among `emails`. A large import reads the whole table once: hundreds of IN
    lookups are slow when the planner's statistics predate a bulk load (PostgreSQL then scans)."""
    if len(emails) > CHUNK * 10:
        wanted = set(emails)
        found = [
            r
            for r in conn.execute(select(subscriber).where(subscriber.c.email.is_not(None))).mappings()
            if r["email"] in wanted
        ]
        topics: dict[int, list[str]] = defaultdict(list)
        if found:
            for subscriber_id, topic in conn.execute(
                select(subscription.c.subscriber_id, subscription.c.topic).order_by(
                    subscription.c.subscriber_id, subscription.c.topic
                )
            ):
                topics[subscriber_id].append(topic)
        return {r["email"]: Subscriber(**r, topics=topics.get(r["id"], [])) for r in found}
    existing: dict[str, Subscriber] = {}
    for start in range(0, len(emails), CHUNK):
        rows = conn.execute(select(subscriber).where(subscriber.c.email.in_(emails[start : start + CHUNK])))
        for found_one in with_topics(conn, rows.mappings().all()):
            existing[found_one.email or ""] = found_one
    return existing


def write_import(
    conn: Connection,
    new_rows: list[ImportRow],
    changed: list[tuple[int, ImportRow]],
    preference_changes: set[str],
    now: datetime,
    actor: str,
) -> None:
    """Insert `new_rows`, give each changed (subscriber id, row) the row's status and topics, and
    write the preferences of the rows whose address is in `preference_changes`; all in bulk."""
    ids: dict[str, int] = {}
    if new_rows:
        inserted = conn.execute(
            insert(subscriber).returning(subscriber.c.id, subscriber.c.email, sort_by_parameter_order=True),
            [
                {
                    "email": row.email,
                    "status": row.status,
                    "created": now,
                    "changed": now,
                    "confirmed": now if row.status == SubscriberStatus.ACTIVE else None,
                }
                for row in new_rows
            ],
        )
        ids.update({email: sid for sid, email in inserted})
    for status in {row.status for _, row in changed}:
        same = [subscriber_id for subscriber_id, row in changed if row.status == status]
        for start in range(0, len(same), CHUNK):
            conn.execute(
                update(subscriber)
                .where(subscriber.c.id.in_(same[start : start + CHUNK]))
                .values(status=status, changed=now)
            )
    changed_ids = [subscriber_id for subscriber_id, _ in changed]
    for start in range(0, len(changed_ids), CHUNK):
        conn.execute(delete(subscription).where(subscription.c.subscriber_id.in_(changed_ids[start : start + CHUNK])))
    ids.update({row.email: subscriber_id for subscriber_id, row in changed})
    written = [*new_rows, *(row for _, row in changed)]
    subscription_rows = [
        {"subscriber_id": ids[row.email], "topic": topic} for row in written for topic in sorted(set(row.topics))
    ]
    if subscription_rows:
        conn.execute(insert(subscription), subscription_rows)
    record_many(
        conn,
        [
            {
                "at": now,
                "actor": actor,
                "action": "import",
                "subscriber_id": ids[row.email],
                "detail": f"status {row.status}; topics: " + " ".join(sorted(set(row.topics))),
            }
            for row in written
        ],
    )
    write_preferences(
        conn,
        [
            (ids[row.email], row.preferences)
            for row in written
            if row.preferences is not None and row.email in preference_changes
        ],
    )
