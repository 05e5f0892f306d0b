"""What the admin dashboard charts: sign-ups, bounces and complaints over time, and the
deliveries of recent digests by outcome. Rows come back raw; service/publish/charts.py buckets them."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.engine import Connection

from service.store.schema import audit_log, delivery, subscriber
from service.store.schema import digest as digest_table


def signups_since(conn: Connection, since: datetime) -> list[tuple[datetime, str]]:
    """(created, status now) of every subscriber created since `since`."""
    query = select(subscriber.c.created, subscriber.c.status).where(subscriber.c.created >= since)
    return [(created, status) for created, status in conn.execute(query)]


def bounces_since(conn: Connection, since: datetime) -> list[datetime]:
    """When the mailer marked an address bounced (the audit log's "bounce"), since `since`."""
    query = select(audit_log.c.at).where(audit_log.c.action == "bounce", audit_log.c.at >= since)
    return [at for (at,) in conn.execute(query)]


def complaints_since(conn: Connection, since: datetime) -> list[datetime]:
    """When a reader's spam complaint was recorded (the audit log's "complaint"), since `since`."""
    query = select(audit_log.c.at).where(audit_log.c.action == "complaint", audit_log.c.at >= since)
    return [at for (at,) in conn.execute(query)]


def deliveries_by_digest(conn: Connection, limit: int) -> list[tuple[str, dict[str, int]]]:
    """(week, deliveries per state) of the `limit` most recent digests, oldest first."""
    recent = select(digest_table.c.id, digest_table.c.week).order_by(digest_table.c.week.desc()).limit(limit).subquery()
    query = (
        select(recent.c.week, delivery.c.state, func.count(delivery.c.id))
        .select_from(recent.outerjoin(delivery, delivery.c.digest_id == recent.c.id))
        .group_by(recent.c.week, delivery.c.state)
    )
    found: dict[str, dict[str, int]] = {}
    for week, state, count in conn.execute(query):
        states = found.setdefault(week, {})
        if state is not None:
            states[state] = count
    return sorted(found.items())
