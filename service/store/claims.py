"""The claim protocol's SQL, written once for every table of mails that senders claim, lease,
retry and settle (the delivery ledger and the mail queue: both have schema.py's claim columns).

due or retrying (and due again) -> sending (claimed: one attempt counted, a lease taken) -> sent,
retrying, failed or cancelled by the sender that holds the row, or back to due when released
unsent. A row whose lease ran out may be claimed by another sender (the first one died).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import ColumnElement, Row, Table, and_, or_, select, update
from sqlalchemy.engine import Connection

from service.model.states import DeliveryState


def claimable(table: Table, now: datetime, lease: timedelta, worker: str | None = None) -> ColumnElement[bool]:
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


def claim(
    conn: Connection,
    table: Table,
    worker: str,
    now: datetime,
    lease: timedelta,
    limit: int,
    where: Sequence[ColumnElement[bool]] = (),
    order_by: Sequence[Any] = (),
    columns: Sequence[str] = (),
) -> Sequence[Row[Any]]:
    """Take up to `limit` claimable rows of `table` (also matching `where`, in `order_by` order)
    for `worker`, counting an attempt on each; returns their id, attempts and `columns`.

    PostgreSQL skips rows another sender has locked (FOR UPDATE SKIP LOCKED); SQLite takes the
    write lock for the UPDATE, and the repeated condition makes the claim conditional, so two
    senders never hold the same row."""
    claimable_now = claimable(table, now, lease, worker)
    candidates = (
        select(table.c.id)
        .where(*where, claimable_now)
        .order_by(*order_by, table.c.id)
        .limit(limit)
        .with_for_update(skip_locked=True)
    )
    return conn.execute(
        update(table)
        .where(table.c.id.in_(_picked(conn, candidates)), claimable_now)
        .values(state=DeliveryState.SENDING, claimed_by=worker, claimed_at=now, attempts=table.c.attempts + 1)
        .returning(table.c.id, table.c.attempts, *(table.c[name] for name in columns))
    ).all()


def _picked(conn: Connection, candidates: Any) -> Any:
    """What a claim's UPDATE takes: the ids `candidates` selects, each row once.

    On PostgreSQL they are read (and locked) first: as a subquery of the UPDATE, `LIMIT ... FOR
    UPDATE SKIP LOCKED` may run again for each row the UPDATE joins, skipping the rows the UPDATE
    has just changed, so one claim took every due row whatever its limit, and a sender held more
    than it could send within its lease. SQLite keeps one statement, which takes the write lock
    at once even in a transaction that did not."""
    if conn.dialect.name == "postgresql":
        return conn.execute(candidates).scalars().all()
    return candidates.scalar_subquery()


def _held(table: Table, ids: Sequence[int], worker: str) -> ColumnElement[bool]:
    # Only the sender holding a row may settle it: after a lease ran out the row is someone else's.
    return and_(table.c.id.in_(ids), table.c.state == DeliveryState.SENDING, table.c.claimed_by == worker)


def renew_lease(conn: Connection, table: Table, row_id: int, worker: str, now: datetime) -> bool:
    """Restart the lease on a row `worker` still holds; False when another sender has taken it over."""
    return conn.execute(update(table).where(_held(table, [row_id], worker)).values(claimed_at=now)).rowcount == 1


def mark_sent(conn: Connection, table: Table, ids: Sequence[int], worker: str, now: datetime) -> int:
    """The server answered 250 for these rows."""
    if not ids:
        return 0
    return conn.execute(
        update(table).where(_held(table, ids, worker)).values(state=DeliveryState.SENT, sent_at=now, last_error=None)
    ).rowcount


def mark_retrying(conn: Connection, table: Table, row_id: int, worker: str, error: str, next_attempt: datetime) -> int:
    """A transient refusal: the row is due again at `next_attempt`."""
    return conn.execute(
        update(table)
        .where(_held(table, [row_id], worker))
        .values(state=DeliveryState.RETRYING, last_error=error[:1000], next_attempt=next_attempt)
    ).rowcount


def mark_failed(
    conn: Connection, table: Table, row_id: int, worker: str, error: str, state: str = DeliveryState.FAILED
) -> int:
    """The row is given up: a permanent refusal, attempts used up, or (`cancelled`) no recipient."""
    return conn.execute(
        update(table).where(_held(table, [row_id], worker)).values(state=state, last_error=error[:1000])
    ).rowcount


def release(conn: Connection, table: Table, ids: Sequence[int], worker: str) -> int:
    """Hand back claimed rows that were never tried (a sender stopping early), undoing their attempt."""
    if not ids:
        return 0
    return conn.execute(
        update(table)
        .where(_held(table, ids, worker))
        .values(state=DeliveryState.DUE, attempts=table.c.attempts - 1, claimed_by=None, claimed_at=None)
    ).rowcount
