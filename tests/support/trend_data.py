"""Months of subscriber history for the dashboard tests: sign-ups over four weeks, bounces, a
complaint, and a digest whose deliveries were sent, failed and retried."""

from __future__ import annotations

from datetime import timedelta

from service.digest.queue import queue_digest
from service.store import deliveries as ledger
from service.store.subscribers.bounces import mark_bounced, mark_complained
from tests.conftest import NOW
from tests.support.digest_data import WEEK, add_subscribers, load_week

# Sign-ups by ISO week (conftest's NOW is in 2026-W06): (week, addresses, status at sign-up).
SIGNUPS = [
    ("2026-W03", [f"early{n}@example.org" for n in range(5)], "active"),
    ("2026-W04", [f"mid{n}@example.org" for n in range(3)], "active"),
    ("2026-W04", [f"waiting{n}@example.org" for n in range(2)], "pending"),
    ("2026-W05", [f"late{n}@example.org" for n in range(4)], "active"),
    ("2026-W05", ["gone@example.org"], "unsubscribed"),
    ("2026-W06", [f"new{n}@example.org" for n in range(2)], "pending"),
]
WEEK_STARTS = {
    "2026-W03": NOW - timedelta(weeks=3),
    "2026-W04": NOW - timedelta(weeks=2),
    "2026-W05": NOW - timedelta(weeks=1),
    "2026-W06": NOW,
}
BOUNCED = ["early0@example.org", "early1@example.org"]  # bounced in 2026-W05
COMPLAINED = "mid0@example.org"  # marked spam in 2026-W05


def load_trends(runtime) -> dict:
    """Store the history; returns what a dashboard should count."""
    engine = runtime.engine
    with engine.begin() as conn:
        load_week(conn)
        ids = {}
        for week, addresses, status in SIGNUPS:
            ids |= add_subscribers(conn, [(a, ["testing"]) for a in addresses], WEEK_STARTS[week], status)
    queued = queue_digest(runtime, WEEK, NOW)
    with engine.begin() as conn:
        claimed = ledger.claim_deliveries(conn, queued.digest.id, "test", NOW, timedelta(minutes=10), 100)
        ledger.mark_sent(conn, [c.id for c in claimed[:-2]], "test", NOW)
        ledger.mark_failed(conn, claimed[-2].id, "test", "550 5.1.1 no such user")
        ledger.mark_retrying(conn, claimed[-1].id, "test", "451 try later", NOW + timedelta(minutes=1))
        for address in BOUNCED:
            mark_bounced(conn, ids[address], "550 5.1.1 no such user", WEEK_STARTS["2026-W05"])
        mark_complained(conn, ids[COMPLAINED], "abuse report (ARF)", WEEK_STARTS["2026-W05"], "inbound")
    return {
        "digest_week": WEEK,
        "deliveries": len(claimed),
        "signups": {
            "2026-W03": {"active": 3, "bounced": 2},
            "2026-W04": {"active": 2, "complained": 1, "pending": 2},
            "2026-W05": {"active": 4, "unsubscribed": 1},
            "2026-W06": {"pending": 2},
        },
    }
