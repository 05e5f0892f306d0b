"""A week of papers and a few subscribers for the digest and mailer tests, from tests/data."""

from __future__ import annotations

import asyncio
import threading
from datetime import UTC, datetime, timedelta

from service.arxiv.client import parse_feed
from service.outbound.digests import send_digest
from service.runtime import Runtime
from service.store.papers import link_topic_papers, upsert_papers
from service.store.subscribers.imports import ImportRow
from service.store.subscribers.records import subscriber_by_email
from subscribers.imports import import_rows
from tests.conftest import NOW, data_file

WEEK = "2026-W05"  # Monday 2026-01-26 to Sunday 2026-02-01; conftest's NOW is in the week after
IN_WEEK = datetime(2026, 1, 28, 9, 30, tzinfo=UTC)
WEEK_BEFORE = datetime(2026, 1, 21, 9, 30, tzinfo=UTC)

ALICE = ("alice@example.org", ["vla", "testing"])
BOB = ("bob@example.org", ["testing"])
CAROL = ("carol@example.org", ["vla"])
DAN = ("dan@example.org", ["no-such-topic"])  # a topic that has no papers: gets no mail


def load_week(conn):
    """Store the fixtures: 20 testing papers and 2 robot papers first matched in WEEK, the other
    testing papers the week before; two testing papers also belong to "vla".
    Returns (testing papers of the week, vla papers of the week)."""
    testing = parse_feed(data_file("api2026_search_all-testing_100entries.xml")).papers
    robots = parse_feed(data_file("api2025_search_cs.RO-neural_project-website.xml")).papers
    upsert_papers(conn, testing + robots, WEEK_BEFORE)
    with_links = [p for p in testing if p.has_links]
    week_testing = with_links + [p for p in testing if not p.has_links][: 20 - len(with_links)]
    chosen = {p.id for p in week_testing}
    link_topic_papers(conn, "testing", [p.id for p in testing if p.id not in chosen], WEEK_BEFORE)
    link_topic_papers(conn, "testing", sorted(chosen), IN_WEEK)
    shared = [p for p in week_testing if not p.has_links][:2]
    link_topic_papers(conn, "vla", [p.id for p in robots + shared], IN_WEEK)
    return week_testing, robots + shared


def add_subscribers(conn, people, now, status="active") -> dict[str, int]:
    """Insert subscribers [(email, topics)] with `status`; returns email -> id."""

    import_rows(conn, [ImportRow(email, topics, status) for email, topics in people], now, "cli")
    return {email: subscriber_by_email(conn, email).id for email, _ in people}


class FakeClock:
    """A clock that moves only when the code under test sleeps: retries and leases without waiting."""

    def __init__(self, start: datetime):
        self.current = start
        self.slept: list[float] = []

    def now(self) -> datetime:
        return self.current

    def monotonic(self) -> float:
        return self.current.timestamp()

    async def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.current += timedelta(seconds=seconds)
        await asyncio.sleep(0)


_made: list = []


def runtime_for(config):
    """A Runtime that conftest's `close_runtimes` closes after the test (no connection left open)."""

    runtime = Runtime(config)
    _made.append(runtime)
    return runtime


def close_runtimes() -> None:
    """Close every runtime_for() runtime made so far."""
    while _made:
        _made.pop().close()


def send_with_deadline(runtime, seconds: float = 60):
    """send_digest in a thread: a worker that died mid-send would leave the run waiting forever,
    so the test fails after `seconds` instead of hanging. Returns (queued, stats)."""

    result = []
    sending = threading.Thread(
        target=lambda: result.append(send_digest(runtime, WEEK, now=NOW, clock=FakeClock(NOW))), daemon=True
    )
    sending.start()
    sending.join(timeout=seconds)
    assert not sending.is_alive(), "the send did not finish"
    return result[0]
