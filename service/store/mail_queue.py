"""The mail queue: transactional mail (confirmations) waiting for the sender, claimed and settled
like the delivery ledger, by the same claim protocol's SQL (service/store/claims.py).

States (service.states.MailState): requested (a sign-up from the form, not yet looked at) -> held
(no mail: the address is blocked or was mailed a moment ago) or due -> sending -> sent, or ->
retrying -> ... -> failed; cancelled when the address became suppressed before its turn, or the
mail was not sent before its link expired.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import func, insert, select, update
from sqlalchemy.engine import Connection

from service.model.states import MailState
from service.store import claims
from service.store.schema import mail_queue
from service.store.schema import subscriber as subscriber_table
from service.store.subscribers.lifecycle import NO_CONFIRMATION

CONFIRM = "confirm"
# Mails to admins, addressed by `email` (no subscriber): an invitation and a password reset.
ADMIN_INVITE = "admin-invite"
ADMIN_RESET = "admin-reset"
ADMIN_KINDS = (ADMIN_INVITE, ADMIN_RESET)


@dataclass(frozen=True)
class Request:
    id: int
    email: str
    topics: list[str]
    created: datetime


@dataclass(frozen=True)
class QueuedMail:
    """A mail this sender now holds; `email` is None when the address may no longer be mailed."""

    id: int
    kind: str
    subscriber_id: int | None
    email: str | None
    topics: tuple[str, ...]
    created: datetime
    attempts: int
    claimed_at: datetime


def request_confirmation(conn: Connection, email: str, topics: list[str], now: datetime) -> None:
    """Record a sign-up from the public form: one and the same insert whoever owns the address."""
    conn.execute(
        insert(mail_queue).values(
            kind=CONFIRM,
            email=email,
            topics=",".join(sorted(set(topics))),
            created=now,
            state=MailState.REQUESTED,
            attempts=0,
        )
    )


def queue_confirmation(conn: Connection, subscriber_id: int, topics: list[str], now: datetime) -> int:
    """Queue a confirmation for a known subscriber (an admin sends it again); returns the mail's id."""
    conn.execute(update(subscriber_table).where(subscriber_table.c.id == subscriber_id).values(confirm_mailed=now))
    return int(
        conn.execute(
            insert(mail_queue)
            .values(
                kind=CONFIRM,
                subscriber_id=subscriber_id,
                topics=",".join(sorted(set(topics))),
                created=now,
                state=MailState.DUE,
                attempts=0,
            )
            .returning(mail_queue.c.id)
        ).scalar_one()
    )


def queue_admin_mail(conn: Connection, kind: str, email: str, now: datetime) -> int:
    """Queue an invitation or a password reset for the admin with this address; returns its id."""
    return int(
        conn.execute(
            insert(mail_queue)
            .values(kind=kind, email=email, topics="", created=now, state=MailState.DUE, attempts=0)
            .returning(mail_queue.c.id)
        ).scalar_one()
    )


def requests(conn: Connection, limit: int) -> list[Request]:
    """The oldest sign-ups not yet looked at; on PostgreSQL rows another transaction holds are skipped."""
    rows = conn.execute(
        select(mail_queue.c.id, mail_queue.c.email, mail_queue.c.topics, mail_queue.c.created)
        .where(mail_queue.c.state == MailState.REQUESTED)
        .order_by(mail_queue.c.id)
        .limit(limit)
        .with_for_update(skip_locked=True)
    ).all()
    return [Request(row.id, row.email, [t for t in row.topics.split(",") if t], row.created) for row in rows]


def admit(conn: Connection, request_id: int, subscriber_id: int, send: bool, note: str = "") -> None:
    """Settle a sign-up: due to be mailed, or held (no mail). The address now lives on the subscriber."""
    conn.execute(
        update(mail_queue)
        .where(mail_queue.c.id == request_id, mail_queue.c.state == MailState.REQUESTED)
        .values(
            subscriber_id=subscriber_id,
            email=None,
            state=MailState.DUE if send else MailState.HELD,
            last_error=note[:1000] or None,
        )
    )


def expire(conn: Connection, created_before: datetime) -> int:
    """Cancel unsent mails queued before `created_before` (their link would no longer work)."""
    return conn.execute(
        update(mail_queue)
        .where(
            mail_queue.c.state.in_((MailState.REQUESTED, MailState.DUE, MailState.RETRYING)),
            mail_queue.c.created < created_before,
        )
        .values(state=MailState.CANCELLED, last_error="notices: not sent before its link expired")
    ).rowcount


def claim_mails(conn: Connection, worker: str, now: datetime, lease: timedelta, limit: int) -> list[QueuedMail]:
    """Take up to `limit` due mails for `worker`, oldest first, counting an attempt on each.

    The recipient's status is read in the same transaction: an address blocked, deleted or
    complained about since the mail was queued comes back with email None and is not mailed."""
    claimed = claims.claim(
        conn, mail_queue, worker, now, lease, limit, columns=["kind", "subscriber_id", "email", "topics", "created"]
    )
    if not claimed:
        return []
    emails = dict(
        conn.execute(
            select(subscriber_table.c.id, subscriber_table.c.email).where(
                subscriber_table.c.id.in_([row.subscriber_id for row in claimed]),
                subscriber_table.c.status.not_in(NO_CONFIRMATION),
                subscriber_table.c.email.is_not(None),
            )
        ).all()
    )
    return sorted(
        (
            QueuedMail(
                row.id,
                row.kind,
                row.subscriber_id,
                emails.get(row.subscriber_id) if row.subscriber_id is not None else row.email,
                tuple(t for t in row.topics.split(",") if t),
                row.created,
                row.attempts,
                now,
            )
            for row in claimed
        ),
        key=lambda mail: mail.id,
    )


def renew_lease(conn: Connection, mail_id: int, worker: str, now: datetime) -> bool:
    """Restart the lease on a mail `worker` still holds; False when another sender has taken it over."""
    return claims.renew_lease(conn, mail_queue, mail_id, worker, now)


def mark_sent(conn: Connection, mail_ids: list[int], worker: str, now: datetime) -> int:
    """The server answered 250 for these mails."""
    return claims.mark_sent(conn, mail_queue, mail_ids, worker, now)


def mark_retrying(conn: Connection, mail_id: int, worker: str, error: str, next_attempt: datetime) -> int:
    """A transient refusal: the mail is due again at `next_attempt`."""
    return claims.mark_retrying(conn, mail_queue, mail_id, worker, error, next_attempt)


def mark_failed(conn: Connection, mail_id: int, worker: str, error: str, state: str = MailState.FAILED) -> int:
    """The mail is given up: a permanent refusal, attempts used up, or (`cancelled`) no recipient."""
    return claims.mark_failed(conn, mail_queue, mail_id, worker, error, state)


def release(conn: Connection, mail_ids: list[int], worker: str) -> int:
    """Hand back claimed mails that were never tried, undoing their attempt."""
    return claims.release(conn, mail_queue, mail_ids, worker)


def pending_count(conn: Connection) -> int:
    """Mails not yet settled (due, sending or retrying)."""
    return conn.execute(
        select(func.count()).where(mail_queue.c.state.in_((MailState.DUE, MailState.SENDING, MailState.RETRYING)))
    ).scalar_one()


def state_counts(conn: Connection) -> dict[str, int]:
    """How many queued mails are in each state."""
    return dict(conn.execute(select(mail_queue.c.state, func.count()).group_by(mail_queue.c.state)).all())


def oldest_waiting(conn: Connection) -> datetime | None:
    """When the oldest mail still to be sent (requested, due or retrying) was queued."""
    return conn.execute(
        select(func.min(mail_queue.c.created)).where(
            mail_queue.c.state.in_((MailState.REQUESTED, MailState.DUE, MailState.RETRYING))
        )
    ).scalar()


def recent_trouble(conn: Connection, limit: int) -> list[dict[str, Any]]:
    """The latest mails that failed or wait for a retry, newest first, with their last error."""
    return [
        dict(row)
        for row in conn.execute(
            select(
                mail_queue.c.id,
                mail_queue.c.kind,
                mail_queue.c.subscriber_id,
                mail_queue.c.state,
                mail_queue.c.attempts,
                mail_queue.c.next_attempt,
                mail_queue.c.last_error,
                mail_queue.c.created,
            )
            .where(mail_queue.c.state.in_((MailState.FAILED, MailState.RETRYING)))
            .order_by(mail_queue.c.id.desc())
            .limit(limit)
        ).mappings()
    ]


def mails_of(conn: Connection, subscriber_id: int) -> list[dict[str, Any]]:
    """A subscriber's queued mails, oldest first."""
    return [
        dict(row)
        for row in conn.execute(
            select(
                mail_queue.c.id,
                mail_queue.c.kind,
                mail_queue.c.state,
                mail_queue.c.attempts,
                mail_queue.c.last_error,
                mail_queue.c.sent_at,
                mail_queue.c.created,
            )
            .where(mail_queue.c.subscriber_id == subscriber_id)
            .order_by(mail_queue.c.id)
        ).mappings()
    ]
