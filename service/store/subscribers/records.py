"""The subscriber row and its topics: the shape every other module of this package reads and writes.

Deleting a subscriber erases the address but keeps the row (email NULL, status "deleted"),
so counts and the audit history stay whole.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import Select, delete, insert, select, update
from sqlalchemy.engine import Connection

from service.errors import PaperboyError
from service.model.states import SubscriberStatus
from service.store.schema import subscriber, subscription

DELETED = SubscriberStatus.DELETED
# Rows per statement in bulk work: well under SQLite's limit of bound parameters.
CHUNK = 500


class SubscriberError(PaperboyError):
    """A change that the subscriber's state does not allow; the message says why."""


@dataclass
class Subscriber:
    id: int
    email: str | None
    status: str
    created: datetime
    confirmed: datetime | None
    changed: datetime
    confirm_mailed: datetime | None = None
    topics: list[str] = field(default_factory=list)


def topics_of(conn: Connection, ids: list[int]) -> dict[int, list[str]]:
    """The topics of each subscriber among `ids`, sorted."""
    topics: dict[int, list[str]] = defaultdict(list)
    for start in range(0, len(ids), CHUNK):
        rows = conn.execute(
            select(subscription.c.subscriber_id, subscription.c.topic)
            .where(subscription.c.subscriber_id.in_(ids[start : start + CHUNK]))
            .order_by(subscription.c.subscriber_id, subscription.c.topic)
        )
        for subscriber_id, topic in rows:
            topics[subscriber_id].append(topic)
    return topics


def with_topics(conn: Connection, rows: Iterable[Any]) -> list[Subscriber]:
    """Subscriber rows (mappings of the subscriber table) as Subscribers with their topics."""
    found = list(rows)
    topics = topics_of(conn, [row["id"] for row in found])
    return [Subscriber(**row, topics=topics.get(row["id"], [])) for row in found]


def select_subscribers(conn: Connection, query: Select[Any]) -> list[Subscriber]:
    """The subscribers that `query` (a select of the subscriber table) finds, with their topics."""
    return with_topics(conn, conn.execute(query).mappings().all())


def get_subscriber(conn: Connection, subscriber_id: int) -> Subscriber | None:
    found = select_subscribers(conn, select(subscriber).where(subscriber.c.id == subscriber_id))
    return found[0] if found else None


def subscriber_by_email(conn: Connection, email: str) -> Subscriber | None:
    """The subscriber with this normalized address, or None."""
    found = select_subscribers(conn, select(subscriber).where(subscriber.c.email == email))
    return found[0] if found else None


def live_subscriber(conn: Connection, subscriber_id: int) -> Subscriber:
    """The subscriber, or SubscriberError when there is none or it was deleted."""
    found = get_subscriber(conn, subscriber_id)
    if found is None or found.status == DELETED:
        raise SubscriberError("subscribers: no such subscriber")
    return found


def set_topics(conn: Connection, subscriber_id: int, topics: Iterable[str]) -> None:
    conn.execute(delete(subscription).where(subscription.c.subscriber_id == subscriber_id))
    rows = [{"subscriber_id": subscriber_id, "topic": t} for t in sorted(set(topics))]
    if rows:
        conn.execute(insert(subscription), rows)


def set_status(conn: Connection, subscriber_id: int, status: str, now: datetime, **more: Any) -> None:
    conn.execute(update(subscriber).where(subscriber.c.id == subscriber_id).values(status=status, changed=now, **more))


def touch(conn: Connection, subscriber_id: int, now: datetime) -> None:
    """Note that the subscriber changed now."""
    conn.execute(update(subscriber).where(subscriber.c.id == subscriber_id).values(changed=now))
