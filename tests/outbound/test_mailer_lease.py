"""The lease on claimed deliveries: a sender renews it before a late send, and does not send a
delivery that another sender took over after the lease ran out."""

from __future__ import annotations

import asyncio
from collections import Counter

from service.digest.queue import LEASE
from service.outbound.digests import send_digest
from service.store import deliveries, write_transaction
from tests.conftest import NOW
from tests.support.digest_data import ALICE, BOB, WEEK, FakeClock, add_subscribers, load_week, runtime_for

# One message per 700 s: the second of two claimed together waits past the 600 s lease.
RATE = 1 / 700


class TakeOverClock(FakeClock):
    """While the sender waits for the rate limit, another sender claims every expired row."""

    def __init__(self, start, runtime, smtp_server):
        super().__init__(start)
        self.runtime, self.smtp_server = runtime, smtp_server
        self.taken: list[int] = []

    async def sleep(self, seconds: float) -> None:
        await super().sleep(seconds)
        # The first message (sent without waiting) is in the ledger before the take-over: the jump
        # of the clock must not catch it in flight or between its 250 and its ledger write.
        for _ in range(3000):
            with self.runtime.engine.connect() as conn:
                sent = deliveries.delivery_counts(conn, 1)["sent"]
            if sent and sent == len(self.smtp_server.handler.recipients()):
                break
            await asyncio.sleep(0.01)
        # Claimed the way another sender claims: with the write lock taken up front.
        with write_transaction(self.runtime.engine) as conn:
            for digest_id in deliveries.digests_with_due_deliveries(conn, self.current, LEASE):
                claimed = deliveries.claim_deliveries(conn, digest_id, "other", self.current, LEASE, 10)
                self.taken += [job.id for job in claimed]


def _runtime(config, database_url, smtp_server):
    runtime = runtime_for(
        config.with_overrides(database_url=database_url, smtp_url=smtp_server.url, smtp_concurrency=2, smtp_rate=RATE)
    )
    with runtime.engine.begin() as conn:
        load_week(conn)
        add_subscribers(conn, [ALICE, BOB], NOW)
    return runtime


def test_it_does_not_send_a_delivery_taken_over_after_its_lease_ran_out(config, database_url, smtp_server):
    runtime = _runtime(config, database_url, smtp_server)
    clock = TakeOverClock(NOW, runtime, smtp_server)

    queued, stats = send_digest(runtime, WEEK, now=NOW, clock=clock)

    [taken] = clock.taken
    assert len(smtp_server.handler.recipients()) == 1  # the other sender sends the one taken over
    assert stats.sent == 1 and stats.held_elsewhere == 1
    with runtime.engine.connect() as conn:
        rows = {row["id"]: row["state"] for row in deliveries.list_deliveries(conn, queued.digest.id)}
    assert rows[taken] == "sending" and Counter(rows.values()) == Counter({"sent": 1, "sending": 1})


def test_it_renews_the_lease_of_a_delivery_that_waited_past_half_of_it(config, database_url, smtp_server):
    runtime = _runtime(config, database_url, smtp_server)
    clock = FakeClock(NOW)

    queued, stats = send_digest(runtime, WEEK, now=NOW, clock=clock)

    assert sum(clock.slept) > LEASE.total_seconds()  # the second send came after the first lease ran out
    assert Counter(smtp_server.handler.recipients()) == Counter({ALICE[0]: 1, BOB[0]: 1})
    assert stats.sent == 2
    with runtime.engine.connect() as conn:
        assert deliveries.delivery_counts(conn, queued.digest.id)["sent"] == 2
