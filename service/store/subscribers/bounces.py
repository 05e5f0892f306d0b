"""The marks that stop mail to an address for good: the mail server refused it (bounced), or its
reader reported our mail as spam (complained)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import update
from sqlalchemy.engine import Connection

from service.model.states import SubscriberStatus
from service.store.schema import subscriber
from service.store.subscribers.audit import record_audit


def mark_bounced(conn: Connection, subscriber_id: int, reason: str, now: datetime, actor: str = "mailer") -> bool:
    """The mail server refused this address for good: stop mailing it (status bounced) and log why.
    Returns whether the status changed (only active and pending subscribers become bounced)."""
    changed = conn.execute(
        update(subscriber)
        .where(
            subscriber.c.id == subscriber_id,
            subscriber.c.status.in_((SubscriberStatus.ACTIVE, SubscriberStatus.PENDING)),
        )
        .values(status=SubscriberStatus.BOUNCED, changed=now)
    ).rowcount
    record_audit(conn, now, actor, "bounce", subscriber_id, reason[:1000])
    return bool(changed)


def mark_complained(conn: Connection, subscriber_id: int, reason: str, now: datetime, actor: str) -> bool:
    """The reader reported our mail as spam: never mail them again (status complained) and log why.
    Blocked and deleted subscribers keep their status; returns whether it changed."""
    before = (
        SubscriberStatus.ACTIVE,
        SubscriberStatus.PENDING,
        SubscriberStatus.UNSUBSCRIBED,
        SubscriberStatus.BOUNCED,
    )
    changed = conn.execute(
        update(subscriber)
        .where(subscriber.c.id == subscriber_id, subscriber.c.status.in_(before))
        .values(status=SubscriberStatus.COMPLAINED, changed=now)
    ).rowcount
    record_audit(conn, now, actor, "complaint", subscriber_id, reason[:1000])
    return bool(changed)
