"""Two senders at once never send the same delivery; a sender killed with SIGKILL loses nothing."""

from __future__ import annotations

import asyncio
import math
import os
import signal
import subprocess
import sys
import threading
import time
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path

from service.digest.queue import LEASE, queue_digest
from service.outbound.digests import DigestLedger, send_digest
from service.outbound.engine import RECORD_EVERY, Engine
from service.runtime import Runtime
from service.store import deliveries
from tests.conftest import NOW
from tests.support.digest_data import WEEK, FakeClock, add_subscribers, load_week, runtime_for
from tests.support.smtp_server import RecordingHandler, SmtpServer

ROOT = Path(__file__).resolve().parents[2]


def _people(count: int):
    return [(f"reader{n:04d}@example.org", ["testing"] if n % 3 else ["vla"]) for n in range(count)]


def _setup(config, database_url, smtp_url, people, concurrency=3) -> Runtime:
    runtime = runtime_for(
        config.with_overrides(database_url=database_url, smtp_url=smtp_url, smtp_concurrency=concurrency)
    )
    with runtime.engine.begin() as conn:
        load_week(conn)
        add_subscribers(conn, people, NOW)
    return runtime


def test_it_never_hands_one_delivery_to_two_claiming_threads(config, database_url, smtp_server):
    runtime = _setup(config, database_url, smtp_server.url, _people(300))
    digest = queue_digest(runtime, WEEK, NOW).digest
    claimed: dict[str, list[int]] = {"a": [], "b": []}
    start = threading.Barrier(2)

    def claim_all(worker: str) -> None:
        start.wait()
        while True:
            with runtime.engine.begin() as conn:
                batch = deliveries.claim_deliveries(conn, digest.id, worker, NOW, LEASE, 7)
            if not batch:
                return
            claimed[worker].extend(job.id for job in batch)

    threads = [threading.Thread(target=claim_all, args=(w,)) for w in claimed]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert not set(claimed["a"]) & set(claimed["b"])
    assert len(claimed["a"]) + len(claimed["b"]) == 300


def test_a_claim_takes_no_more_than_its_batch(config, database_url, smtp_server):
    # On PostgreSQL the claim's LIMIT ... FOR UPDATE SKIP LOCKED, run as a subquery of the UPDATE,
    # was run again for each row and took all 300 rows, leaving rows past their lease in one queue.
    runtime = _setup(config, database_url, smtp_server.url, _people(300))
    digest = queue_digest(runtime, WEEK, NOW).digest
    with runtime.engine.begin() as conn:
        first = deliveries.claim_deliveries(conn, digest.id, "a", NOW, LEASE, 20)
    with runtime.engine.begin() as conn:
        second = deliveries.claim_deliveries(conn, digest.id, "b", NOW, LEASE, 20)
        counts = deliveries.delivery_counts(conn, digest.id)

    assert (len(first), len(second)) == (20, 20)
    assert not {job.id for job in first} & {job.id for job in second}
    assert (counts["sending"], counts["due"]) == (40, 260)


def test_two_senders_at_once_send_each_delivery_once(config, database_url, smtp_server):
    people = _people(200)
    runtime = _setup(config, database_url, smtp_server.url, people)
    digest = queue_digest(runtime, WEEK, NOW).digest
    results = []

    def sender() -> None:
        results.append(asyncio.run(Engine(runtime, DigestLedger(runtime, digest), FakeClock(NOW), batch=10).run()))

    threads = [threading.Thread(target=sender) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert Counter(smtp_server.handler.recipients()) == Counter(email for email, _ in people)
    assert sum(stats.sent for stats in results) == 200
    with runtime.engine.connect() as conn:
        assert deliveries.delivery_counts(conn, digest.id)["sent"] == 200


SINK_DELAY = 0.02  # seconds SlowSink takes over each message


class SlowSink(RecordingHandler):
    async def handle_DATA(self, server, session, envelope):
        await asyncio.sleep(SINK_DELAY)  # a slow-ish server, so that the kill lands mid-run
        return await super().handle_DATA(server, session, envelope)


def test_a_sender_killed_halfway_loses_nothing_and_repeats_only_what_was_in_flight(config, database_url, tmp_path):
    handler = SlowSink()
    server = SmtpServer(handler).start()
    people = _people(80)
    concurrency = 2
    try:
        runtime = _setup(config, database_url, server.url, people, concurrency)
        env = {
            **os.environ,
            "PAPERBOY_DATABASE_URL": database_url,
            "PAPERBOY_TOPICS_FILE": str(config.topics_file),
            "PAPERBOY_SMTP_URL": server.url,
            "PAPERBOY_SMTP_CONCURRENCY": str(concurrency),
            "PAPERBOY_SECRET_KEY": config.secret_key,
            "PAPERBOY_BASE_URL": config.base_url,
        }
        sender = subprocess.Popen(
            [sys.executable, "-c", "from service.cli import main; main()", "digest", "send", "--week", WEEK],
            cwd=tmp_path,
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + 60
        while len(handler.messages) < 20 and sender.poll() is None and time.monotonic() < deadline:
            time.sleep(0.005)
        os.kill(sender.pid, signal.SIGKILL)
        sender.wait()
        before = len(handler.messages)
        assert 20 <= before < 80, "the sender should be killed halfway"

        # The dead sender's rows come back once its lease has run out.
        later = FakeClock(datetime.now(UTC) + LEASE + timedelta(seconds=1))
        queued, stats = send_digest(runtime, WEEK, now=NOW, clock=later)
    finally:
        server.stop()

    received = Counter(handler.recipients())
    assert set(received) == {email for email, _ in people}
    repeated = sum(count - 1 for count in received.values())
    # In flight at the kill: per connection, one message the server took but whose 250 was not
    # yet recorded, and those sent since the ledger's last write (outcomes gather for RECORD_EVERY
    # before they are written), at most one per SINK_DELAY.
    assert repeated <= concurrency * (1 + math.ceil(RECORD_EVERY / SINK_DELAY))
    assert stats.sent == 80 - before + repeated
    with runtime.engine.connect() as conn:
        assert deliveries.delivery_counts(conn, queued.digest.id)["sent"] == 80
