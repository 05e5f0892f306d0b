"""Queries on inbound mail: the log of received bounces, complaints, unsubscribes and the rest."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import exists, func, insert, select, update
from sqlalchemy.engine import Connection

from service.model.states import InboundKind
from service.store import erase_text
from service.store.schema import audit_log, delivery, inbound_message

KINDS = tuple(InboundKind)
# The start of each message is kept for the admin; a bounce quoting a whole digest needs no more.
RAW_KEPT = 256 * 1024


@dataclass
class InboundMessage:
    id: int
    received: datetime
    source: str
    kind: str
    mail_from: str | None
    rcpt_to: str | None
    sender: str | None
    subject: str | None
    subscriber_id: int | None
    delivery_id: int | None
    outcome: str
    size: int
    raw: bytes | None = None


def _text(value: str | None) -> str | None:
    """`value` fit for a text column: mail may carry NUL characters (raw or MIME-encoded), which
    PostgreSQL refuses in text; each becomes U+FFFD. The raw bytes keep them."""
    return value.replace("\x00", "\ufffd") if value else value


def record_message(
    conn: Connection,
    received: datetime,
    source: str,
    kind: str,
    outcome: str,
    raw: bytes,
    mail_from: str | None = None,
    rcpt_to: str | None = None,
    sender: str | None = None,
    subject: str | None = None,
    subscriber_id: int | None = None,
    delivery_id: int | None = None,
    keep: bool = True,
) -> int:
    """Add one received message to the inbound log (its text only with `keep`); returns its id."""
    message_id: int = conn.execute(
        insert(inbound_message)
        .values(
            received=received,
            source=source,
            kind=kind,
            outcome=_text(outcome[:2000]),
            size=len(raw),
            raw=raw[:RAW_KEPT] if keep else None,
            mail_from=_text((mail_from or None) and mail_from[:320]),
            rcpt_to=_text(rcpt_to),
            sender=_text(sender),
            subject=_text(subject),
            subscriber_id=subscriber_id,
            delivery_id=delivery_id,
        )
        .returning(inbound_message.c.id)
    ).scalar_one()
    return message_id


def forget_subscriber(conn: Connection, subscriber_id: int, address: str, replacement: str) -> None:
    """Drop the text of every message about an erased subscriber (it holds their address) and take the
    address out of what the log says was done; the log rows stay."""
    conn.execute(
        update(inbound_message)
        .where(inbound_message.c.subscriber_id == subscriber_id)
        .values(raw=None, sender=None, subject=None, rcpt_to=None, mail_from=None)
    )
    erase_text(conn, inbound_message.c.outcome, subscriber_id, address, replacement)


def subscriber_of_delivery(conn: Connection, delivery_id: int) -> int | None:
    """The subscriber a delivery went to, or None when there is no such delivery."""
    return conn.execute(select(delivery.c.subscriber_id).where(delivery.c.id == delivery_id)).scalar_one_or_none()


def was_mailed(conn: Connection, subscriber_id: int) -> bool:
    """Whether paperboy ever sent this subscriber a digest or a confirmation mail."""
    sent = select(exists().where(delivery.c.subscriber_id == subscriber_id, delivery.c.sent_at.is_not(None)))
    confirmed = select(exists().where(audit_log.c.subscriber_id == subscriber_id, audit_log.c.action == "confirm-mail"))
    return conn.execute(sent).scalar_one() or conn.execute(confirmed).scalar_one()


def count_verified_since(conn: Connection, subscriber_id: int, kind: str, since: datetime) -> int:
    """Messages of `kind` about a subscriber received after `since` that named a delivery (VERP)."""
    return conn.execute(
        select(func.count())
        .select_from(inbound_message)
        .where(
            inbound_message.c.subscriber_id == subscriber_id,
            inbound_message.c.kind == kind,
            inbound_message.c.received > since,
            inbound_message.c.delivery_id.is_not(None),
        )
    ).scalar_one()


def kind_counts(conn: Connection) -> dict[str, int]:
    """Messages per kind, every kind present (zero when none)."""
    counts: dict[str, int] = dict.fromkeys(KINDS, 0)
    for kind, count in conn.execute(select(inbound_message.c.kind, func.count()).group_by(inbound_message.c.kind)):
        counts[kind] = count
    return counts


_LISTED = [column for column in inbound_message.c if column.name != "raw"]


def list_messages(
    conn: Connection, kind: str = "", page: int = 1, per_page: int = 50
) -> tuple[list[InboundMessage], int, int]:
    """One page of the log, newest first, without the message bodies; also the total and the page shown."""
    where = [inbound_message.c.kind == kind] if kind else []
    total = conn.execute(select(func.count()).select_from(inbound_message).where(*where)).scalar_one()
    pages = max(1, -(-total // per_page))
    page = min(max(1, page), pages)
    rows = conn.execute(
        select(*_LISTED)
        .where(*where)
        .order_by(inbound_message.c.id.desc())
        .limit(per_page)
        .offset((page - 1) * per_page)
    ).mappings()
    return [InboundMessage(**row) for row in rows], total, page


def get_message(conn: Connection, message_id: int) -> InboundMessage | None:
    row = conn.execute(select(inbound_message).where(inbound_message.c.id == message_id)).mappings().first()
    return InboundMessage(**row) if row else None
