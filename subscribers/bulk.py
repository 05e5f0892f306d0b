"""Bulk actions on a selection of subscribers: which ones an action changes, and doing it to all
of them in the caller's transaction (one audit entry each, through the usual single changes)."""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from datetime import datetime

from service.model.states import SubscriberStatus
from service.store import Connection, mail_queue
from service.store.subscribers import audit, lifecycle, listing, records
from subscribers.erasure import erase_subscriber

# Action name -> what the confirm button says.
ACTIONS = {
    "block": "Block",
    "delete": "Delete for good",
    "unsubscribe": "Unsubscribe",
    "add-topic": "Add the topic",
    "remove-topic": "Remove the topic",
    "resend": "Re-send the confirmation",
}
TOPIC_ACTIONS = ("add-topic", "remove-topic")
UNSUBSCRIBABLE = (SubscriberStatus.ACTIVE, SubscriberStatus.PENDING, SubscriberStatus.BOUNCED)


def applies(action: str, found: records.Subscriber, topic: str = "") -> bool:
    """Whether `action` changes this subscriber (those it would not change are left out)."""
    if found.status == SubscriberStatus.DELETED:
        return False
    if action == "block":
        return found.status != SubscriberStatus.BLOCKED
    if action == "unsubscribe":
        return found.status in UNSUBSCRIBABLE
    if action == "add-topic":
        return topic not in found.topics
    if action == "remove-topic":
        return topic in found.topics
    if action == "resend":
        return found.status == SubscriberStatus.PENDING
    return action == "delete"


def selection(
    conn: Connection, action: str, topic: str, search: str, status: str, having: str
) -> list[records.Subscriber]:
    """The subscribers the list's filters select and `action` would change, by address."""
    return [s for s in listing.matching_subscribers(conn, search, status, having) if applies(action, s, topic)]


def fingerprint(chosen: Sequence[records.Subscriber]) -> str:
    """A short digest of the selection's ids: the confirm step's promise of exactly whom it acts on."""
    return hashlib.sha256(",".join(str(s.id) for s in chosen).encode()).hexdigest()[:32]


def apply(
    conn: Connection, action: str, chosen: Sequence[records.Subscriber], topic: str, now: datetime, actor: str
) -> int:
    """Do `action` to every subscriber in `chosen`; any failure raises and the caller rolls back."""
    for found in chosen:
        if action == "block":
            lifecycle.block(conn, found.id, now, actor)
        elif action == "delete":
            erase_subscriber(conn, found.id, now, actor)
        elif action == "unsubscribe":
            lifecycle.unsubscribe(conn, found.id, now, actor, "bulk action")
        elif action == "add-topic":
            lifecycle.change_topics(conn, found.id, [*found.topics, topic], now, actor)
        elif action == "remove-topic":
            lifecycle.change_topics(conn, found.id, [t for t in found.topics if t != topic], now, actor)
        elif action == "resend":
            mail_id = mail_queue.queue_confirmation(conn, found.id, found.topics, now)
            audit.record_audit(conn, now, actor, "confirm-mail", found.id, f"sent again; queued as mail {mail_id}")
        else:
            raise ValueError(f"bulk: unknown action {action!r}")
    return len(chosen)
