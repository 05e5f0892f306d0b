"""The admin's view of the list: one page of subscribers searched, filtered and sorted, and counts."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import exists, func, select
from sqlalchemy.engine import Connection
from sqlalchemy.sql.elements import ColumnElement

from service.model.states import SubscriberStatus
from service.store.schema import subscriber, subscription
from service.store.subscribers.records import Subscriber, select_subscribers

SORTS = {
    "email": subscriber.c.email,
    "status": subscriber.c.status,
    # A subscriber's first topic in alphabetical order: enough to group readers by topic.
    "topics": select(func.min(subscription.c.topic))
    .where(subscription.c.subscriber_id == subscriber.c.id)
    .scalar_subquery(),
    "created": subscriber.c.created,
    "changed": subscriber.c.changed,
}


@dataclass
class SubscriberPage:
    subscribers: list[Subscriber]
    total: int
    page: int
    pages: int


def _filters(search: str, status: str, topic: str) -> list[ColumnElement[bool]]:
    """The WHERE clauses of the admin's subscriber list: part of the address, status, topic."""
    where: list[ColumnElement[bool]] = []
    if search:
        where.append(subscriber.c.email.icontains(search, autoescape=True))
    if status:
        where.append(subscriber.c.status == status)
    if topic:
        where.append(exists().where(subscription.c.subscriber_id == subscriber.c.id, subscription.c.topic == topic))
    return where


def list_subscribers(
    conn: Connection,
    search: str = "",
    status: str = "",
    topic: str = "",
    sort: str = "email",
    page: int = 1,
    per_page: int = 50,
) -> SubscriberPage:
    """One page of subscribers matching the search (part of the address), status and topic."""
    where = _filters(search, status, topic)
    total = conn.execute(select(func.count()).select_from(subscriber).where(*where)).scalar_one()
    descending = sort.startswith("-")
    column = SORTS.get(sort.lstrip("-"), subscriber.c.email)
    order = column.desc() if descending else column.asc()
    pages = max(1, -(-total // per_page))
    page = min(max(1, page), pages)
    query = (
        select(subscriber).where(*where).order_by(order, subscriber.c.id).limit(per_page).offset((page - 1) * per_page)
    )
    return SubscriberPage(select_subscribers(conn, query), total, page, pages)


def matching_subscribers(conn: Connection, search: str = "", status: str = "", topic: str = "") -> list[Subscriber]:
    """Every subscriber the list's filters select, by address: what a bulk action works on."""
    query = select(subscriber).where(*_filters(search, status, topic)).order_by(subscriber.c.email, subscriber.c.id)
    return select_subscribers(conn, query)


def status_counts(conn: Connection) -> dict[str, int]:
    """Subscribers per status, every status present (zero when none)."""
    counts: dict[str, int] = dict.fromkeys(SubscriberStatus, 0)
    for status, count in conn.execute(select(subscriber.c.status, func.count()).group_by(subscriber.c.status)):
        counts[status] = count
    return counts


def topic_counts(conn: Connection, status: str = SubscriberStatus.ACTIVE) -> dict[str, int]:
    """Subscribers with `status` per topic."""
    rows = conn.execute(
        select(subscription.c.topic, func.count())
        .join(subscriber, subscriber.c.id == subscription.c.subscriber_id)
        .where(subscriber.c.status == status)
        .group_by(subscription.c.topic)
    )
    return dict(rows.all())
