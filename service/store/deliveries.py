"""The send ledger: one delivery row per (digest, subscriber), claimed before a mail goes out.

States: due -> sending -> sent, or -> retrying -> sending ... -> failed; cancelled when the
subscriber left between the row being written and its turn to be sent.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import Table, and_, func, or_, select, update
from sqlalchemy.engine import Connection

from service.model.states import DeliveryState
from service.store import erase_text, insert_ignoring_duplicates
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


def claimable(now: datetime, lease: timedelta, table: Table = delivery, worker: str | None = None):
    """Rows a sender may claim now: due, retrying and due again, or left by a sender whose lease ran out.

    With `worker`, that sender's own rows are never taken over: they are in its queue, and it
    renews their lease before it sends them (a row waiting past its lease would go out twice)."""
    taken_over = and_(table.c.state == DeliveryState.SENDING, table.c.claimed_at < now - lease)
    if worker is not None:
        taken_over = and_(taken_over, table.c.claimed_by != worker)
    return or_(
        and_(
            table.c.state.in_((DeliveryState.DUE, DeliveryState.RETRYING)),
            or_(table.c.next_attempt.is_(None), table.c.next_attempt <= now),
        ),
        # A sender that died holding rows: its lease has run out, so another may take them.
        taken_over,
    )


def claim_deliveries(
    conn: Connection, digest_id: int, worker: str, now: datetime, lease: timedelta, limit: int
) -> list[Claimed]:
    """Take up to `limit` due deliveries of a digest for `worker`, counting an attempt on each.

    PostgreSQL skips rows another sender has locked (FOR UPDATE SKIP LOCKED); SQLite takes the
    write lock for the UPDATE, and the repeated condition makes the claim conditional, so two
    senders never hold the same row."""
    claimable_now = claimable(now, lease, worker=worker)
    candidates = (
        select(delivery.c.id)
        .where(delivery.c.digest_id == digest_id, claimable_now)
        # Grouped by topic set, so the sender renders each set once and holds few at a time.
        .order_by(delivery.c.topics, delivery.c.id)
        .limit(limit)
        .with_for_update(skip_locked=True)
    )
    claimed = conn.execute(
        update(delivery)
        .where(delivery.c.id.in_(picked(conn, candidates)), claimable_now)
        .values(state=DeliveryState.SENDING, claimed_by=worker, claimed_at=now, attempts=delivery.c.attempts + 1)
        .returning(delivery.c.id, delivery.c.subscriber_id, delivery.c.topics, delivery.c.attempts)
    ).all()
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


def picked(conn: Connection, candidates):
    """What a claim's UPDATE takes: the ids `candidates` selects, each row once.

    On PostgreSQL they are read (and locked) first: as a subquery of the UPDATE, `LIMIT ... FOR
    UPDATE SKIP LOCKED` may run again for each row the UPDATE joins, skipping the rows the UPDATE
    has just changed, so one claim took every due row whatever its limit, and a sender held more
    than it could send within its lease. SQLite keeps one statement, which takes the write lock
    at once even in a transaction that did not."""
    if conn.dialect.name == "postgresql":
        return conn.execute(candidates).scalars().all()
    return candidates.scalar_subquery()


# The functions below settle claimed rows of the delivery table or, given `table`, of any table
# with the same claim columns (the mail queue): one set of rules for every mail paperboy sends.


def _held(table: Table, delivery_ids: list[int], worker: str):
    # Only the sender holding a row may settle it: after a lease ran out the row is someone else's.
    return and_(table.c.id.in_(delivery_ids), table.c.state == DeliveryState.SENDING, table.c.claimed_by == worker)


def renew_lease(conn: Connection, delivery_id: int, worker: str, now: datetime, table: Table = delivery) -> bool:
    """Restart the lease on a row `worker` still holds; False when another sender has taken it over."""
    return conn.execute(update(table).where(_held(table, [delivery_id], worker)).values(claimed_at=now)).rowcount == 1


def mark_sent(conn: Connection, delivery_ids: list[int], worker: str, now: datetime, table: Table = delivery) -> int:
    """The server answered 250 for these deliveries."""
    if not delivery_ids:
        return 0
    return conn.execute(
        update(table)
        .where(_held(table, delivery_ids, worker))
        .values(state=DeliveryState.SENT, sent_at=now, last_error=None)
    ).rowcount


def mark_retrying(
    conn: Connection, delivery_id: int, worker: str, error: str, next_attempt: datetime, table: Table = delivery
) -> int:
    return conn.execute(
        update(table)
        .where(_held(table, [delivery_id], worker))
        .values(state=DeliveryState.RETRYING, last_error=error[:1000], next_attempt=next_attempt)
    ).rowcount


def mark_failed(
    conn: Connection,
    delivery_id: int,
    worker: str,
    error: str,
    state: str = DeliveryState.FAILED,
    table: Table = delivery,
) -> int:
    """The delivery is given up: a permanent refusal, attempts used up, or (`cancelled`) no recipient."""
    return conn.execute(
        update(table).where(_held(table, [delivery_id], worker)).values(state=state, last_error=error[:1000])
    ).rowcount


def release(conn: Connection, delivery_ids: list[int], worker: str, table: Table = delivery) -> int:
    """Hand back claimed rows that were never tried (a sender stopping early), undoing their attempt."""
    if not delivery_ids:
        return 0
    return conn.execute(
        update(table)
        .where(_held(table, delivery_ids, worker))
        .values(state=DeliveryState.DUE, attempts=table.c.attempts - 1, claimed_by=None, claimed_at=None)
    ).rowcount


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
    counts = dict.fromkeys(STATES, 0)
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


def list_deliveries(conn: Connection, digest_id: int, state: str | None = None, limit: int = 100) -> list[dict]:
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
            select(delivery.c.digest_id).where(claimable(now, lease)).distinct().order_by(delivery.c.digest_id)
        ).scalars()
    )
