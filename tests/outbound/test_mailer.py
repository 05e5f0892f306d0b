"""`send_digest`: the ledger, one message per active subscriber, reruns and dry runs."""

from __future__ import annotations

import asyncio
from collections import Counter

from service.digest.queue import LEASE, dry_run, queue_digest
from service.outbound.digests import DigestLedger, send_digest
from service.outbound.engine import Engine
from service.outbound.policy import RateLimiter
from service.runtime import Runtime
from service.store import deliveries
from service.store.subscribers.lifecycle import unsubscribe
from tests.conftest import NOW
from tests.support.digest_data import ALICE, BOB, CAROL, DAN, WEEK, FakeClock, add_subscribers, load_week, runtime_for


def _runtime(config, database_url, smtp_server) -> Runtime:
    return runtime_for(config.with_overrides(database_url=database_url, smtp_url=smtp_server.url))


def _setup(runtime):
    with runtime.engine.begin() as conn:
        load_week(conn)
        ids = add_subscribers(conn, [ALICE, BOB, CAROL, DAN], NOW)
        add_subscribers(conn, [("erin@example.org", ["vla"])], NOW, status="pending")
        add_subscribers(conn, [("frank@example.org", ["testing"])], NOW, status="unsubscribed")
    return ids


def test_it_sends_one_message_to_each_active_subscriber_with_papers(config, database_url, smtp_server):
    runtime = _runtime(config, database_url, smtp_server)
    _setup(runtime)

    queued, stats = send_digest(runtime, WEEK, now=NOW, clock=FakeClock(NOW))

    assert Counter(smtp_server.handler.recipients()) == Counter({ALICE[0]: 1, BOB[0]: 1, CAROL[0]: 1})
    assert queued.added == 3 and stats.sent == 3 and stats.failed == 0
    with runtime.engine.connect() as conn:
        assert deliveries.delivery_counts(conn, queued.digest.id)["sent"] == 3


def test_it_sends_nothing_new_when_run_again(config, database_url, smtp_server):
    runtime = _runtime(config, database_url, smtp_server)
    _setup(runtime)
    send_digest(runtime, WEEK, now=NOW, clock=FakeClock(NOW))

    queued, stats = send_digest(runtime, WEEK, now=NOW, clock=FakeClock(NOW))

    assert queued.added == 0 and stats.sent == 0
    assert len(smtp_server.messages) == 3


def test_it_sends_only_to_newcomers_when_run_again(config, database_url, smtp_server):
    runtime = _runtime(config, database_url, smtp_server)
    _setup(runtime)
    send_digest(runtime, WEEK, now=NOW, clock=FakeClock(NOW))
    with runtime.engine.begin() as conn:
        add_subscribers(conn, [("grace@example.org", ["testing"])], NOW)

    queued, stats = send_digest(runtime, WEEK, now=NOW, clock=FakeClock(NOW))

    assert queued.added == 1 and stats.sent == 1
    assert smtp_server.handler.recipients()[-1] == "grace@example.org"
    assert len(smtp_server.messages) == 4


def test_it_reports_a_dry_run_and_writes_nothing(config, database_url, smtp_server):
    runtime = _runtime(config, database_url, smtp_server)
    _setup(runtime)

    report = dry_run(runtime, WEEK, NOW)

    assert report.messages == 3 and not report.digest_exists
    assert report.topic_sets == Counter({("vla", "testing"): 1, ("testing",): 1, ("vla",): 1})
    assert smtp_server.messages == []
    assert dry_run(runtime, WEEK, NOW).digest_exists is False


def test_it_cancels_a_delivery_whose_subscriber_left_before_sending(config, database_url, smtp_server):
    runtime = _runtime(config, database_url, smtp_server)
    ids = _setup(runtime)
    queued = queue_digest(runtime, WEEK, NOW)
    with runtime.engine.begin() as conn:
        unsubscribe(conn, ids[BOB[0]], NOW)

    _, stats = send_digest(runtime, WEEK, now=NOW, clock=FakeClock(NOW))

    assert sorted(smtp_server.handler.recipients()) == [ALICE[0], CAROL[0]]
    assert stats.cancelled == 1
    with runtime.engine.connect() as conn:
        assert deliveries.delivery_counts(conn, queued.digest.id)["cancelled"] == 1


def test_it_renders_mjml_once_per_distinct_set_of_topics(config, database_url, smtp_server):
    runtime = _runtime(config, database_url, smtp_server)
    _setup(runtime)
    with runtime.engine.begin() as conn:
        add_subscribers(conn, [(f"reader{n}@example.org", ["testing"]) for n in range(5)], NOW)
    queued = queue_digest(runtime, WEEK, NOW)
    ledger = DigestLedger(runtime, queued.digest)

    stats = asyncio.run(Engine(runtime, ledger, FakeClock(NOW)).run())

    assert stats.sent == 8
    assert set(ledger.writer.frames) == {("vla", "testing"), ("testing",), ("vla",)}  # MJML once per set
    subjects = Counter(message["Subject"] for message in smtp_server.messages)
    assert subjects[f"paperboy {WEEK}: Software Testing"] == 6


def test_it_spaces_messages_by_the_rate_limit(config, database_url, smtp_server):
    clock = FakeClock(NOW)
    limiter = RateLimiter(4, clock)

    async def five_sends():
        for _ in range(5):
            await limiter.wait()

    asyncio.run(five_sends())
    assert clock.slept == [0.25] * 4

    runtime = runtime_for(config.with_overrides(database_url=database_url, smtp_url=smtp_server.url, smtp_rate=0.1))
    _setup(runtime)
    queued = queue_digest(runtime, WEEK, NOW)
    # At 0.1 msg/s a claimed batch must go out well within the lease, so it stays small.
    assert Engine(runtime, DigestLedger(runtime, queued.digest), clock).batch == int(0.1 * LEASE.total_seconds() / 4)
