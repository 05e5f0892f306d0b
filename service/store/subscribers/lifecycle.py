"""A subscriber's way through paperboy: sign-up, confirmation, topic changes, leaving, blocking, erasing.

Whether a confirmation link may still be followed is decided in subscribers/confirmation.py;
here are the writes.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import insert, or_, update
from sqlalchemy.engine import Connection
from sqlalchemy.exc import IntegrityError

from service.model.preferences import DEFAULT as DEFAULT_PREFERENCES
from service.model.states import SubscriberStatus
from service.store.schema import subscriber
from service.store.subscribers.audit import record_audit, scrub_address
from service.store.subscribers.preferences import write_preferences
from service.store.subscribers.records import (
    DELETED,
    Subscriber,
    live_subscriber,
    set_status,
    set_topics,
    subscriber_by_email,
    touch,
)

# At most one confirmation mail per address in this time, so the public form cannot be used
# to flood somebody's inbox; the form's answer stays the same either way.
CONFIRM_MAIL_INTERVAL = timedelta(minutes=10)
# Addresses the form never mails: blocked by an admin, or erased. One whose owner complained or
# that bounced gets a confirmation like any other: confirming it is its owner's consent again.
NO_CONFIRMATION = (SubscriberStatus.BLOCKED, DELETED)


def request_subscription(conn: Connection, email: str, topics: list[str], now: datetime) -> tuple[Subscriber, bool]:
    """Record a sign-up from the public form; return the subscriber and whether to mail a confirmation.

    A new address becomes a pending subscriber with `topics`. An existing one changes nothing
    here (its topics change only once the confirmation link is followed); a blocked one gets no
    mail, nor does one that was sent a confirmation less than CONFIRM_MAIL_INTERVAL ago.
    """
    existing = subscriber_by_email(conn, email)
    if existing is None:
        try:
            with conn.begin_nested():
                new_id = conn.execute(
                    insert(subscriber)
                    .values(email=email, status=SubscriberStatus.PENDING, created=now, changed=now)
                    .returning(subscriber.c.id)
                ).scalar_one()
        except IntegrityError:
            # Another request inserted the same address a moment ago: treat it as existing.
            return request_subscription(conn, email, topics, now)
        set_topics(conn, new_id, topics)
        record_audit(conn, now, "subscriber", "subscribe", new_id, "topics: " + " ".join(sorted(topics)))
        return live_subscriber(conn, new_id), _take_confirmation_turn(conn, new_id, now)
    if existing.status == SubscriberStatus.PENDING:
        set_topics(conn, existing.id, topics)
    note = ""
    send = _take_confirmation_turn(conn, existing.id, now)
    if not send and existing.status not in NO_CONFIRMATION:
        note = "; no mail: one was sent in the last " + _minutes(CONFIRM_MAIL_INTERVAL)
    record_audit(
        conn,
        now,
        "subscriber",
        "subscribe-again",
        existing.id,
        f"was {existing.status}; topics: " + " ".join(sorted(topics)) + note,
    )
    return existing, send


def _minutes(interval: timedelta) -> str:
    return f"{int(interval.total_seconds() // 60)} minutes"


def _take_confirmation_turn(conn: Connection, subscriber_id: int, now: datetime) -> bool:
    """Whether a confirmation may be mailed now, decided by one conditional write: of any number of
    concurrent sign-ups for an address, exactly one finds the last mail old enough and moves it on."""
    return bool(
        conn.execute(
            update(subscriber)
            .where(
                subscriber.c.id == subscriber_id,
                subscriber.c.status.not_in(NO_CONFIRMATION),
                or_(subscriber.c.confirm_mailed.is_(None), subscriber.c.confirm_mailed <= now - CONFIRM_MAIL_INTERVAL),
            )
            .values(confirm_mailed=now)
        ).rowcount
        == 1
    )


def record_confirmation_mailed(conn: Connection, subscriber_id: int, now: datetime, mail_id: int | None = None) -> None:
    """Note in the history that a confirmation mail was queued (as mail `mail_id` of the mail queue)."""
    record_audit(
        conn,
        now,
        "subscriber",
        "confirm-mail",
        subscriber_id,
        f"queued as mail {mail_id}" if mail_id is not None else None,
    )


def activate(conn: Connection, subscriber_id: int, topics: set[str], now: datetime) -> Subscriber:
    """Make the subscriber active with exactly `topics`, confirmed now."""
    set_topics(conn, subscriber_id, topics)
    set_status(conn, subscriber_id, SubscriberStatus.ACTIVE, now, confirmed=now)
    record_audit(conn, now, "subscriber", "confirm", subscriber_id, "topics: " + " ".join(sorted(topics)))
    return live_subscriber(conn, subscriber_id)


def change_topics(conn: Connection, subscriber_id: int, topics: list[str], now: datetime, actor: str) -> Subscriber:
    """Replace a subscriber's topics."""
    found = live_subscriber(conn, subscriber_id)
    set_topics(conn, subscriber_id, topics)
    touch(conn, subscriber_id, now)
    record_audit(
        conn,
        now,
        actor,
        "topics",
        subscriber_id,
        " ".join(sorted(found.topics)) + " -> " + " ".join(sorted(set(topics))),
    )
    return live_subscriber(conn, subscriber_id)


def unsubscribe(
    conn: Connection, subscriber_id: int, now: datetime, actor: str = "subscriber", reason: str = ""
) -> Subscriber:
    """Stop all mail to a subscriber; repeating it changes nothing. Blocked stays blocked."""
    found = live_subscriber(conn, subscriber_id)
    if found.status in (SubscriberStatus.ACTIVE, SubscriberStatus.PENDING, SubscriberStatus.BOUNCED):
        set_status(conn, subscriber_id, SubscriberStatus.UNSUBSCRIBED, now)
        record_audit(
            conn, now, actor, "unsubscribe", subscriber_id, f"was {found.status}" + (f"; {reason}" if reason else "")
        )
    return live_subscriber(conn, subscriber_id)


def block(conn: Connection, subscriber_id: int, now: datetime, actor: str) -> None:
    """Block an address: it gets no mail and cannot subscribe again."""
    found = live_subscriber(conn, subscriber_id)
    set_status(conn, subscriber_id, SubscriberStatus.BLOCKED, now)
    record_audit(conn, now, actor, "block", subscriber_id, f"was {found.status}")


def erase(conn: Connection, subscriber_id: int, now: datetime, actor: str) -> str:
    """Delete a subscriber: the address and topics go, the row stays (status "deleted") for counts
    and history. Returns the erased address; subscribers.erasure also takes it out of the ledger."""
    found = live_subscriber(conn, subscriber_id)
    address = found.email or ""  # a live subscriber always has one
    set_topics(conn, subscriber_id, [])
    write_preferences(conn, [(subscriber_id, DEFAULT_PREFERENCES)])  # followed names and keywords go too
    set_status(conn, subscriber_id, DELETED, now, email=None)
    scrub_address(conn, subscriber_id, address)
    record_audit(conn, now, actor, "delete", subscriber_id, f"was {found.status}")
    return address
