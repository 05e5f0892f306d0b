"""The audit log: one entry per change to a subscriber or admin, who made it and when."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import insert, select
from sqlalchemy.engine import Connection

from service.store import erase_text
from service.store.schema import audit_log

# What an erased address becomes in the texts that quoted it.
ERASED = "[erased address]"


@dataclass
class AuditEntry:
    id: int
    at: datetime
    actor: str
    action: str
    subscriber_id: int | None
    detail: str | None


def record_audit(
    conn: Connection,
    now: datetime,
    actor: str,
    action: str,
    subscriber_id: int | None = None,
    detail: str | None = None,
) -> None:
    """Append one entry to the audit log."""
    conn.execute(
        insert(audit_log).values(at=now, actor=actor, action=action, subscriber_id=subscriber_id, detail=detail)
    )


def record_many(conn: Connection, entries: list[dict[str, object]]) -> None:
    """Append entries (dicts of the audit log's columns) in one statement."""
    if entries:
        conn.execute(insert(audit_log), entries)


def audit_entries(conn: Connection, subscriber_id: int) -> list[AuditEntry]:
    """A subscriber's history, oldest first."""
    rows = conn.execute(
        select(audit_log).where(audit_log.c.subscriber_id == subscriber_id).order_by(audit_log.c.id)
    ).mappings()
    return [AuditEntry(**row) for row in rows]


def scrub_address(conn: Connection, subscriber_id: int, address: str) -> None:
    """Take the address out of the audit log's texts about the subscriber: mail servers quote it
    in the bounce reasons it keeps (the ledger's own copies are scrubbed by subscribers.erasure)."""
    erase_text(conn, audit_log.c.detail, subscriber_id, address, ERASED)
