"""Who gets mail: the active subscribers with their topics, and the addresses of given subscribers."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.engine import Connection

from service.model.states import SubscriberStatus
from service.store.schema import subscriber, subscription
from service.store.subscribers.records import Subscriber, select_subscribers

# Subscribers read at a time when a digest is queued: memory stays flat with the list's size.
SUBSCRIBER_BATCH = 1000


@dataclass(frozen=True)
class Recipient:
    subscriber_id: int
    email: str
    topics: list[str]


def active_recipients(conn: Connection, batch: int = SUBSCRIBER_BATCH) -> Iterator[Recipient]:
    """Every active subscriber with their topics, read in batches by id so memory stays flat."""
    last_id = 0
    while True:
        rows = conn.execute(
            select(subscriber.c.id, subscriber.c.email)
            .where(
                subscriber.c.status == SubscriberStatus.ACTIVE,
                subscriber.c.id > last_id,
                subscriber.c.email.is_not(None),
            )
            .order_by(subscriber.c.id)
            .limit(batch)
        ).all()
        if not rows:
            return
        ids = [row.id for row in rows]
        topics: dict[int, list[str]] = {}
        for subscriber_id, topic in conn.execute(
            select(subscription.c.subscriber_id, subscription.c.topic).where(subscription.c.subscriber_id.in_(ids))
        ):
            topics.setdefault(subscriber_id, []).append(topic)
        for row in rows:
            yield Recipient(row.id, row.email, topics.get(row.id, []))
        last_id = ids[-1]


def active_subscribers(conn: Connection) -> list[Subscriber]:
    """Everyone who should get the digest, with their topics."""
    active = select(subscriber).where(subscriber.c.status == SubscriberStatus.ACTIVE)
    return select_subscribers(conn, active.order_by(subscriber.c.id))


def active_addresses(conn: Connection, ids: list[int]) -> dict[int, str]:
    """The address of each subscriber among `ids` who is still active."""
    return dict(
        conn.execute(
            select(subscriber.c.id, subscriber.c.email).where(
                subscriber.c.id.in_(ids), subscriber.c.status == SubscriberStatus.ACTIVE
            )
        ).all()
    )


def addresses(conn: Connection, ids: list[int]) -> dict[int, str | None]:
    """The address of each subscriber among `ids` (None once erased)."""
    return dict(conn.execute(select(subscriber.c.id, subscriber.c.email).where(subscriber.c.id.in_(ids))).all())
