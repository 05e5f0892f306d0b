"""Following a confirmation link: whether it may still confirm, and which topics the subscriber ends with."""

from __future__ import annotations

from datetime import datetime

from service.model.states import SubscriberStatus
from service.store import Connection
from service.store.subscribers.lifecycle import activate
from service.store.subscribers.records import DELETED, Subscriber, SubscriberError, get_subscriber


def can_confirm(found: Subscriber, issued: datetime | None = None) -> bool:
    """Blocked and deleted subscribers never come back through a confirmation link; one who left
    (or bounced) comes back only through a link issued after that, never through an older one."""
    if found.status in (SubscriberStatus.BLOCKED, DELETED):
        return False
    if issued is not None and found.status in (
        SubscriberStatus.UNSUBSCRIBED,
        SubscriberStatus.BOUNCED,
        SubscriberStatus.COMPLAINED,
    ):
        # Tokens carry whole seconds.
        return int(found.changed.timestamp()) <= int(issued.timestamp())
    return True


def confirm(
    conn: Connection, subscriber_id: int, topics: list[str], now: datetime, issued: datetime | None = None
) -> Subscriber:
    """Activate after the confirmation link issued at `issued`; an active subscriber gains `topics`, others get exactly them."""
    found = get_subscriber(conn, subscriber_id)
    if found is None or not can_confirm(found, issued):
        raise SubscriberError("subscribers: this subscription can no longer be confirmed")
    new_topics = set(topics) | set(found.topics) if found.status == SubscriberStatus.ACTIVE else set(topics)
    return activate(conn, subscriber_id, new_topics, now)
