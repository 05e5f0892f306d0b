"""The send engine: claims due rows of a Ledger (service/outbound/ledger.py) in batches, sends them
over a pool of SMTP connections, and settles each only after the server's answer: sent after its
250, retried, failed or bounced as service/outbound/policy.py decides.

Leases: a claimed row is the sender's for PAPERBOY_SEND_LEASE (10 minutes by default); after that
another sender may take it over (the first one died). A live sender renews a lease past half its
time before sending, and never sends or settles a row another sender has taken over.
"""

from __future__ import annotations

import asyncio
import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Generic

from service.clock import Clock, SystemClock
from service.digest.queue import lease_of
from service.errors import first_line
from service.model.states import DeliveryState
from service.model.text import counted
from service.outbound.ledger import JobT, Ledger, Unsendable
from service.outbound.policy import RELEASED, RateLimiter, ascii_address, classify, retry_delay
from service.outbound.transport import SendError, Transport, open_connection
from service.runtime import Runtime, process_identity
from service.smtp_url import SmtpSettings
from service.store import write_transaction
from service.store.subscribers.bounces import mark_bounced

log = logging.getLogger("paperboy.mailer")

# Not a state: another sender took the row over, so this one writes nothing about it.
LOST = "lost"
# How often a run started with `stopping` checks it (seconds).
STOP_CHECK = 0.25
# How long outcomes gather before the recorder writes them to the ledger (seconds).
RECORD_EVERY = 0.05


@dataclass
class SendStats:
    total: int = 0  # rows pending when the run started
    sent: int = 0
    retried: int = 0  # transient refusals, each retried later
    failed: int = 0
    bounced: int = 0
    cancelled: int = 0
    held_elsewhere: int = 0  # left in another sender's hands when this one finished
    held_until: datetime | None = None  # when the last of those senders' leases runs out
    error: str | None = None  # why the run stopped early


@dataclass
class Outcome(Generic[JobT]):
    job: JobT
    state: str  # sent | retrying | failed | cancelled | released | lost (taken over: nothing to write)
    error: str = ""
    bounce: bool = False


class Engine(Generic[JobT]):
    """One sender process's run over one ledger: claims, sends, records."""

    def __init__(
        self,
        runtime: Runtime,
        ledger: Ledger[JobT],
        clock: Clock | None = None,
        lease: timedelta | None = None,
        batch: int | None = None,
        progress: Callable[[SendStats], None] | None = None,
        stopping: threading.Event | None = None,
    ):
        config = runtime.config
        self.runtime, self.config, self.ledger = runtime, config, ledger
        self.clock: Clock = clock or SystemClock()
        self.lease = lease = lease or lease_of(config)
        # A row is sent only with at least the longest a send may take (and half the lease) still to run.
        bound = SmtpSettings.from_url(config.smtp_url).send_bound if config.smtp_url else 0.0
        self.renew_after = min(lease / 2, lease - timedelta(seconds=bound))
        self.batch = batch or max(100, 25 * config.smtp_concurrency)
        if config.smtp_rate > 0:
            # Claimed rows must go out well within the lease, or another sender would take them over.
            self.batch = max(1, min(self.batch, int(config.smtp_rate * lease.total_seconds() / 4)))
        self.progress = progress or (lambda stats: None)
        self.worker = process_identity()
        self.stats = SendStats()
        self.outcomes: list[Outcome[JobT]] = []
        self.stop = asyncio.Event()
        # A long-running sender's (service/outbound/worker.py) SIGTERM: the run stops as after an error,
        # and it does not wait for retries, which that process's next turn sends when they are due.
        self.stopping = stopping
        self.finished = False

    async def run(self) -> SendStats:
        with self.runtime.engine.connect() as conn:
            self.stats.total = self.ledger.pending(conn)
        await asyncio.to_thread(self.ledger.prepare)
        queue: asyncio.Queue[JobT | None] = asyncio.Queue(maxsize=self.batch)
        limiter = RateLimiter(self.config.smtp_rate, self.clock)
        self.new_outcome = asyncio.Event()
        self.writing = asyncio.Lock()
        recorder = asyncio.create_task(self._record())
        workers = [asyncio.create_task(self._work(queue, limiter)) for _ in range(self.config.smtp_concurrency)]
        watcher = asyncio.create_task(self._watch_stopping()) if self.stopping is not None else None
        try:
            await self._produce(queue)
        finally:
            if watcher is not None:
                watcher.cancel()
            for _ in workers:
                await queue.put(None)
            await asyncio.gather(*workers, return_exceptions=True)
            self.finished = True
            self.new_outcome.set()
            await recorder
        with self.runtime.engine.connect() as conn:
            self.stats.held_elsewhere, self.stats.held_until = self.ledger.held_elsewhere(
                conn, self.clock.now(), self.lease
            )
        return self.stats

    async def _watch_stopping(self) -> None:
        # The process's signal handler sets a threading.Event; this run's loop checks it often.
        assert self.stopping is not None
        while not self.stopping.is_set():
            await asyncio.sleep(STOP_CHECK)
        self.stop.set()

    async def _produce(self, queue: asyncio.Queue[JobT | None]) -> None:
        announced = None  # the retry time last logged: each wait is logged once, however often it loops
        while not self.stop.is_set():
            claimed = await asyncio.to_thread(self._claim)
            if claimed:
                log.info(
                    "mailer: %s claimed %s of %s; so far %d sent, %d retried, %d failed of %d",
                    self.worker,
                    counted(len(claimed), "delivery", "deliveries"),
                    self.ledger.label,
                    self.stats.sent,
                    self.stats.retried,
                    self.stats.failed,
                    self.stats.total,
                )
                for job in claimed:
                    await queue.put(job)
                continue
            await queue.join()
            await self._drain()
            if self.stop.is_set():
                return
            with self.runtime.engine.connect() as conn:
                retry_at = self.ledger.retry_at(conn)
            if retry_at is None or self.stopping is not None:
                return
            wait = (retry_at - self.clock.now()).total_seconds()
            if wait >= 1 and retry_at != announced:
                log.info("mailer: waiting %.0f s for deliveries to retry", wait)
                announced = retry_at
            if wait > 0:
                await self.clock.sleep(wait)

    def _claim(self) -> list[JobT]:
        with write_transaction(self.runtime.engine) as conn:
            return self.ledger.claim(conn, self.worker, self.clock.now(), self.lease, self.batch)

    async def _work(self, queue: asyncio.Queue[JobT | None], limiter: RateLimiter) -> None:
        connection = open_connection(self.config)
        try:
            while True:
                job = await queue.get()
                try:
                    if job is None:
                        return
                    try:
                        outcome = await self._send(connection, job, limiter)
                    except Exception as error:
                        # A worker that died here would leave its queue unread and the run waiting
                        # forever: stop instead, with the row due again for a rerun.
                        log.exception("mailer: delivery %d could not be sent", job.id)
                        if not self.stop.is_set():
                            reason = first_line(error)
                            self.stats.error = f"mailer: {type(error).__name__}: {reason}; rerun to send the rest"
                            self.stop.set()
                        outcome = Outcome(job, RELEASED)
                    self.outcomes.append(outcome)
                    self.new_outcome.set()
                finally:
                    queue.task_done()
        finally:
            await connection.close()

    async def _hold(self, job: JobT) -> bool:
        """Whether this sender still holds `job` with enough lease left to send it.

        A claimed row can wait in the queue and for the rate limit; once its lease runs out another
        sender may take it over, so a lease past half its time is renewed before the send, and a
        row that was taken over is not sent (the other sender sends it)."""
        if self.clock.now() - job.claimed_at < self.renew_after:
            return True
        return await asyncio.to_thread(self._renew, job)

    def _renew(self, job: JobT) -> bool:
        with write_transaction(self.runtime.engine) as conn:
            return self.ledger.renew_lease(conn, job.id, self.worker, self.clock.now())

    async def _send(self, connection: Transport, job: JobT, limiter: RateLimiter) -> Outcome[JobT]:
        if self.stop.is_set():
            return Outcome(job, RELEASED)
        if job.email is None:
            return Outcome(job, DeliveryState.CANCELLED, "mailer: the subscriber is no longer active")
        address = ascii_address(job.email)
        if address is None:
            return Outcome(
                job,
                DeliveryState.FAILED,
                f"mailer: {job.email} has a non-ASCII local part, which "
                "needs SMTPUTF8; paperboy sends only ASCII addresses",
            )
        try:
            data = self.ledger.message(job, address, self.clock.now())
        except Unsendable as error:
            return Outcome(job, DeliveryState.CANCELLED, str(error))
        await limiter.wait()
        if not await self._hold(job):
            log.warning(
                "mailer: delivery %d was taken over by another sender after its lease ran out; not sending it", job.id
            )
            return Outcome(job, LOST)
        try:
            # message() builds every line with CRLF (tests/digest/test_digest_email.py checks it).
            await connection.send_raw(self.ledger.envelope_sender(job), [address], data, crlf=True)
        except SendError as error:
            outcome = classify(error, job.attempts, self.config.smtp_max_attempts)
            if outcome.stop_run and not self.stop.is_set():
                self.stats.error = outcome.stop_run
                self.stop.set()
            return Outcome(job, outcome.state, outcome.error, outcome.bounce)
        return Outcome(job, DeliveryState.SENT)

    async def _record(self) -> None:
        while not self.finished:
            await self.new_outcome.wait()
            # One transaction for the outcomes of a moment, not one for each message: a write of
            # the ledger costs more than a send. A crash in that moment sends those few again.
            await asyncio.sleep(RECORD_EVERY)
            self.new_outcome.clear()
            await self._drain()
        await self._drain()  # the workers are done: the last outcomes, or one more try
        sent_unrecorded = sum(1 for o in self.outcomes if o.state == DeliveryState.SENT)
        if sent_unrecorded:
            log.error(
                "mailer: %d messages the server accepted could not be marked sent; they stay "
                "'sending' and go out again once their lease has run out",
                sent_unrecorded,
            )

    async def _drain(self) -> bool:
        """Write every outcome gathered so far; True when all of them are in the ledger.

        When the ledger cannot be written the run stops: each further message would go out with
        no record of it, to be sent again later. The outcomes are kept for another try."""
        async with self.writing:
            while self.outcomes:
                outcomes, self.outcomes = self.outcomes, []
                try:
                    await asyncio.to_thread(self._write, outcomes)
                except Exception as error:
                    self.outcomes = outcomes + self.outcomes
                    log.exception("mailer: cannot write %d outcomes to the ledger", len(outcomes))
                    if not self.stop.is_set():
                        self.stats.error = (
                            f"mailer: cannot record deliveries: {type(error).__name__}: "
                            f"{first_line(error)}; rerun to send the rest"
                        )
                        self.stop.set()
                    return False
                self.progress(self.stats)
        return True

    def _write(self, outcomes: list[Outcome[JobT]]) -> None:
        """Record outcomes in one transaction; the counters change only once it is committed."""
        before = replace(self.stats)
        try:
            self._write_outcomes(outcomes)
        except Exception:
            for counter in ("sent", "retried", "failed", "bounced", "cancelled"):
                setattr(self.stats, counter, getattr(before, counter))
            raise

    def _write_outcomes(self, outcomes: list[Outcome[JobT]]) -> None:
        now, stats, ledger, worker = self.clock.now(), self.stats, self.ledger, self.worker
        with write_transaction(self.runtime.engine) as conn:
            stats.sent += ledger.mark_sent(
                conn, [o.job.id for o in outcomes if o.state == DeliveryState.SENT], worker, now
            )
            ledger.release(conn, [o.job.id for o in outcomes if o.state == RELEASED], worker)
            for o in outcomes:
                if o.state == DeliveryState.RETRYING:
                    next_attempt = now + timedelta(seconds=retry_delay(o.job.attempts))
                    stats.retried += ledger.mark_retrying(conn, o.job.id, worker, o.error, next_attempt)
                elif o.state in (DeliveryState.FAILED, DeliveryState.CANCELLED):
                    settled = ledger.mark_failed(conn, o.job.id, worker, o.error, o.state)
                    if o.state == DeliveryState.CANCELLED:
                        stats.cancelled += settled
                        continue
                    stats.failed += settled
                    log.warning(
                        "mailer: delivery %d to subscriber %s failed: %s", o.job.id, o.job.subscriber_id, o.error
                    )
                    # The policy says the address itself was refused: stop mailing it. Mails to
                    # admins name no subscriber to mark.
                    if o.bounce and settled and o.job.subscriber_id is not None:
                        mark_bounced(conn, o.job.subscriber_id, o.error, now)
                        stats.bounced += 1
