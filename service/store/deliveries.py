"""The send ledger: one delivery row per (digest, subscriber), claimed before a mail goes out.

States: due -> sending -> sent, or -> retrying -> sending ... -> failed; cancelled when the
subscriber left between the row being written and its turn to be sent. Claimed and settled by
the claim protocol's SQL (service/store/claims.py), as the mail queue is.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.engine import Connection

from service.model.states import DeliveryState
from service.store import claims, erase_text, insert_ignoring_duplicates
from service.store.schema import delivery
from service.store.subscribers.recipients import active_addresses, addresses

STATES = tuple(DeliveryState)
SETTLED = (DeliveryState.SENT, DeliveryState.FAILED, DeliveryState.CANCELLED)
UNSETTLED = (DeliveryState.DUE, DeliveryState.SENDING, DeliveryState.RETRYING)


@dataclass(frozen=True)
class Claimed:
    """A delivery this sender now holds; `email` is None when the subscriber is no longer active."""

    id: int
    subscriber_id: int
    email: str | None
    topics: tuple[str, ...]
    attempts: int
    claimed_at: datetime


def add_deliveries(conn: Connection, digest_id: int, rows: list[tuple[int, str]]) -> int:
    """Write (subscriber id, topics) rows as due; rows that exist stay as they are. Returns how many are new."""
    if not rows:
        return 0
    values = [
        {"digest_id": digest_id, "subscriber_id": sid, "topics": topics, "state": DeliveryState.DUE, "attempts": 0}
        for sid, topics in rows
    ]
    # RETURNING yields only the inserted rows; rowcount is unreliable for executemany.
    inserted = conn.execute(insert_ignoring_duplicates(conn, delivery).returning(delivery.c.id), values)
    return len(inserted.all())


def claim_deliveries(
    conn: Connection, digest_id: int, worker: str, now: datetime, lease: timedelta, limit: int
) -> list[Claimed]:
    """Take up to `limit` due deliveries of a digest for `worker`, counting an attempt on each
    (service/store/claims.py); `email` is read in the same transaction."""
    claimed = claims.claim(
        conn,
        delivery,
        worker,
        now,
        lease,
        limit,
        where=[delivery.c.digest_id == digest_id],
        # Grouped by topic set, so the sender renders each set once and holds few at a time.
        order_by=[delivery.c.topics],
        columns=["subscriber_id", "topics"],
    )
    if not claimed:
        return []
    emails = active_addresses(conn, [row.subscriber_id for row in claimed])
    return sorted(
        (
            Claimed(
                row.id,
                row.subscriber_id,
                emails.get(row.subscriber_id),
                tuple(t for t in row.topics.split(",") if t),
                row.attempts,
                now,
            )
            for row in claimed
        ),
        key=lambda c: (c.topics, c.id),
    )


def renew_lease(conn: Connection, delivery_id: int, worker: str, now: datetime) -> bool:
    """Restart the lease on a delivery `worker` still holds; False when another sender has taken it over."""
    return claims.renew_lease(conn, delivery, delivery_id, worker, now)


def mark_sent(conn: Connection, delivery_ids: list[int], worker: str, now: datetime) -> int:
    """The server answered 250 for these deliveries."""
    return claims.mark_sent(conn, delivery, delivery_ids, worker, now)


def mark_retrying(conn: Connection, delivery_id: int, worker: str, error: str, next_attempt: datetime) -> int:
    """A transient refusal: the delivery is due again at `next_attempt`."""
    return claims.mark_retrying(conn, delivery, delivery_id, worker, error, next_attempt)


def mark_failed(conn: Connection, delivery_id: int, worker: str, error: str, state: str = DeliveryState.FAILED) -> int:
    """The delivery is given up: a permanent refusal, attempts used up, or (`cancelled`) no recipient."""
    return claims.mark_failed(conn, delivery, delivery_id, worker, error, state)


def release(conn: Connection, delivery_ids: list[int], worker: str) -> int:
    """Hand back claimed deliveries that were never tried, undoing their attempt."""
    return claims.release(conn, delivery, delivery_ids, worker)


def held_elsewhere(
    conn: Connection, digest_id: int, now: datetime, lease: timedelta
) -> tuple[set[int], datetime | None]:
    """Subscribers whose delivery a sender holds under a lease still running at `now`, and when
    the last of those leases runs out (None when there are none)."""
    rows = conn.execute(
        select(delivery.c.subscriber_id, delivery.c.claimed_at).where(
            delivery.c.digest_id == digest_id,
            delivery.c.state == DeliveryState.SENDING,
            delivery.c.claimed_at >= now - lease,
        )
    ).all()
    return {row.subscriber_id for row in rows}, (max(row.claimed_at for row in rows) + lease if rows else None)


def delivery_counts(conn: Connection, digest_id: int) -> dict[str, int]:
    """How many deliveries of a digest are in each state (every state present, zeros included)."""
    counts: dict[str, int] = dict.fromkeys(STATES, 0)
    for state, count in conn.execute(
        select(delivery.c.state, func.count()).where(delivery.c.digest_id == digest_id).group_by(delivery.c.state)
    ):
        counts[state] = count
    return counts


def pending_count(conn: Connection, digest_id: int) -> int:
    """Deliveries not yet settled (due, sending or retrying)."""
    return conn.execute(
        select(func.count()).where(delivery.c.digest_id == digest_id, delivery.c.state.in_(UNSETTLED))
    ).scalar_one()


def next_attempt_at(conn: Connection, digest_id: int) -> datetime | None:
    """The earliest time a retrying delivery of the digest is due again."""
    return conn.execute(
        select(func.min(delivery.c.next_attempt)).where(
            delivery.c.digest_id == digest_id, delivery.c.state == DeliveryState.RETRYING
        )
    ).scalar()


def list_deliveries(
    conn: Connection, digest_id: int, state: str | None = None, limit: int = 100
) -> list[dict[str, Any]]:
    """Deliveries of a digest with the subscriber's address, for the admin pages."""
    query = (
        select(
            delivery.c.id,
            delivery.c.state,
            delivery.c.attempts,
            delivery.c.last_error,
            delivery.c.sent_at,
            delivery.c.topics,
            delivery.c.subscriber_id,
        )
        .where(delivery.c.digest_id == digest_id)
        .order_by(delivery.c.id)
        .limit(limit)
    )
    if state:
        query = query.where(delivery.c.state == state)
    rows = [dict(row) for row in conn.execute(query).mappings()]
    emails = addresses(conn, [row["subscriber_id"] for row in rows])
    for row in rows:
        row["email"] = emails.get(row.pop("subscriber_id"))
    return rows


def scrub_errors(conn: Connection, subscriber_id: int, address: str, replacement: str) -> None:
    """Replace `address` (any case) in the errors kept on the subscriber's deliveries: mail
    servers quote it in bounce reasons, and an erased subscriber's address must go."""
    erase_text(conn, delivery.c.last_error, subscriber_id, address, replacement)


def settled_subscriber_ids(conn: Connection, digest_id: int) -> set[int]:
    """Subscribers whose delivery of this digest is over (sent, failed or cancelled)."""
    return set(
        conn.execute(
            select(delivery.c.subscriber_id).where(delivery.c.digest_id == digest_id, delivery.c.state.in_(SETTLED))
        ).scalars()
    )


def digests_with_due_deliveries(conn: Connection, now: datetime, lease: timedelta) -> list[int]:
    """Digests that have deliveries a sender could claim now, oldest first."""
    return list(
        conn.execute(
            select(delivery.c.digest_id)
            .where(claims.claimable(delivery, now, lease))
            .distinct()
            .order_by(delivery.c.digest_id)
        ).scalars()
    )
