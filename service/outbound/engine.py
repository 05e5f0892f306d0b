"""The digest sender: after service/digest/queue.py has written the ledger, claim due deliveries in
batches and send them over a pool of SMTP connections, marking each sent only after the server's 250.

Retry policy: a 4xx reply or a dropped connection puts the delivery back as `retrying`, due again
after 30 s, 60 s, 120 s, ... (at most an hour), until PAPERBOY_SMTP_MAX_ATTEMPTS tries are used;
then it is `failed`. A 5xx is `failed` at once. Bounce policy: a 5xx that refuses the address
(enhanced status 5.1.x or 5.2.1; a reply without one: any at RCPT TO, 550/551/553 after DATA)
also marks the subscriber bounced after that one refusal; other 5xx (size, content, 5.7.x
policy such as relaying denied or a DMARC rejection) fail only that delivery. A server that
cannot be reached at all, or that refuses our own envelope sender with a 5xx at MAIL FROM, stops
the run with every unsent delivery still due, so a rerun sends them.

Leases: a claimed delivery is the sender's for PAPERBOY_SEND_LEASE (10 minutes by default); after that
another sender may take it over (the first one died). A live sender renews a lease past half its
time before sending, and never sends or settles a delivery another sender has taken over.
"""

from __future__ import annotations

import asyncio
import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from urllib.parse import quote

from service.clock import SystemClock
from service.digest.digest import Digest, DigestError, last_complete_week
from service.digest.letter import LetterWriter, letter_writer
from service.digest.queue import Queued, lease_of, queue_digest
from service.errors import first_line
from service.model.preferences import DEFAULT as DEFAULT_PREFERENCES
from service.model.preferences import DigestPreferences
from service.model.states import DeliveryState
from service.model.text import counted
from service.outbound.mime import DkimSigner, PieceEncoder, Stamp, assemble, message_id
from service.outbound.policy import RELEASED, RateLimiter, ascii_address, classify, retry_delay
from service.outbound.transport import SendError, Transport, open_connection
from service.outbound.verp import envelope_sender
from service.runtime import Runtime, process_identity
from service.smtp_url import SmtpSettings
from service.store import deliveries as ledger
from service.store import write_transaction
from service.store.subscribers.bounces import mark_bounced
from service.store.subscribers.preferences import preferences_of
from subscribers.tokens import preferences_url, unsubscribe_url

log = logging.getLogger("paperboy.mailer")

# Not a state: another sender took the delivery over, so this one writes nothing about it.
LOST = "lost"
# How often a run started with `stopping` checks it (seconds).
STOP_CHECK = 0.25


@dataclass
class SendStats:
    total: int = 0  # deliveries pending when the run started
    sent: int = 0
    retried: int = 0  # transient refusals, each retried later
    failed: int = 0
    bounced: int = 0
    cancelled: int = 0
    held_elsewhere: int = 0  # left in another sender's hands when this one finished
    held_until: datetime | None = None  # when the last of those senders' leases runs out
    error: str | None = None  # why the run stopped early


@dataclass
class _Outcome:
    job: ledger.Claimed
    state: str  # sent | retrying | failed | cancelled | released | lost (taken over: nothing to write)
    error: str = ""
    bounce: bool = False


class Sender:
    """One sender process's run over one digest: claims, sends, records."""

    def __init__(
        self,
        runtime: Runtime,
        digest: Digest,
        clock=None,
        lease: timedelta | None = None,
        batch: int | None = None,
        progress: Callable[[SendStats], None] | None = None,
        stopping: threading.Event | None = None,
    ):
        config = runtime.config
        self.runtime, self.config, self.digest = runtime, config, digest
        self.clock = clock or SystemClock()
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
        self.envelope_from = config.mail_from_address
        self.mailto = f"mailto:{self.envelope_from}"
        self.signer = DkimSigner.from_config(config)
        self.writer: LetterWriter | None = None  # made when the run starts: it reads the week's papers
        self.preferences: dict[int, DigestPreferences] = {}  # of the claimed deliveries' subscribers, until sent
        self.encoder = PieceEncoder()
        self.stats = SendStats()
        self.outcomes: list[_Outcome] = []
        self.stop = asyncio.Event()
        # A long-running sender's (service/outbound/worker.py) SIGTERM: the run stops as after an error,
        # and it does not wait for retries, which that process's next turn sends when they are due.
        self.stopping = stopping
        self.finished = False

    def message(self, job: ledger.Claimed, address: str) -> bytes:
        unsubscribe = unsubscribe_url(self.config, job.subscriber_id)
        token = unsubscribe.rsplit("/", 1)[-1]
        # Every subscriber's papers may differ: the letter is filled per message into its topic
        # set's frame, and encoded with the links already in it.
        letter = self.letter_writer().letter(
            job.topics,
            self.preferences.pop(job.subscriber_id, DEFAULT_PREFERENCES),
            (unsubscribe, preferences_url(self.config, job.subscriber_id)),
        )
        if letter is None:
            raise DigestError("digest: the subscriber's keywords leave no paper this week")
        stamp = Stamp(
            to=address,
            # The same on every attempt: a copy sent again after a crash is recognisably the same mail.
            message_id=message_id(self.config, "digest", self.digest.id, job.id),
            unsubscribe_url=unsubscribe,
            mailto_unsubscribe=f"{self.mailto}?subject={quote('unsubscribe ' + token)}",
            values={},
        )
        body = self.encoder.body(letter.subject, letter.text_parts, letter.html_parts)
        return assemble(self.config, body, stamp, self.clock.now(), self.signer)

    def _prepare(self) -> None:
        """Work done once before the first message; the digest reads the week's papers."""
        self.letter_writer()

    def letter_writer(self) -> LetterWriter:
        if self.writer is None:
            with self.runtime.engine.connect() as conn:
                self.writer = letter_writer(conn, self.config, self.digest, self.runtime.topics)
        return self.writer

    # What the sender works through; NoticeSender (service/outbound/notices.py) sends the mail queue instead.
    ledger = ledger

    @property
    def label(self) -> str:
        return self.digest.week

    def _pending(self, conn) -> int:
        return ledger.pending_count(conn, self.digest.id)

    def _held_elsewhere(self, conn) -> tuple[int, datetime | None]:
        """How many rows another sender holds under a running lease, and when the last lease runs out."""
        held, until = ledger.held_elsewhere(conn, self.digest.id, self.clock.now(), self.lease)
        return len(held), until

    def _retry_at(self, conn) -> datetime | None:
        return ledger.next_attempt_at(conn, self.digest.id)

    def _envelope_sender(self, job) -> str:
        return envelope_sender(self.config, job.id)

    async def run(self) -> SendStats:
        with self.runtime.engine.connect() as conn:
            self.stats.total = self._pending(conn)
        await asyncio.to_thread(self._prepare)
        queue: asyncio.Queue = asyncio.Queue(maxsize=self.batch)
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
            self.stats.held_elsewhere, self.stats.held_until = self._held_elsewhere(conn)
        return self.stats

    async def _watch_stopping(self) -> None:
        # The process's signal handler sets a threading.Event; this run's loop checks it often.
        while not self.stopping.is_set():
            await asyncio.sleep(STOP_CHECK)
        self.stop.set()

    async def _produce(self, queue: asyncio.Queue) -> None:
        announced = None  # the retry time last logged: each wait is logged once, however often it loops
        while not self.stop.is_set():
            claimed = await asyncio.to_thread(self._claim)
            if claimed:
                log.info(
                    "mailer: %s claimed %s of %s; so far %d sent, %d retried, %d failed of %d",
                    self.worker,
                    counted(len(claimed), "delivery", "deliveries"),
                    self.label,
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
                retry_at = self._retry_at(conn)
            if retry_at is None or self.stopping is not None:
                return
            wait = (retry_at - self.clock.now()).total_seconds()
            if wait >= 1 and retry_at != announced:
                log.info("mailer: waiting %.0f s for deliveries to retry", wait)
                announced = retry_at
            if wait > 0:
                await self.clock.sleep(wait)

    def _claim(self) -> list[ledger.Claimed]:
        with write_transaction(self.runtime.engine) as conn:
            claimed = ledger.claim_deliveries(
                conn, self.digest.id, self.worker, self.clock.now(), self.lease, self.batch
            )
            self.preferences.update(preferences_of(conn, [job.subscriber_id for job in claimed]))
        return claimed

    async def _work(self, queue: asyncio.Queue, limiter: RateLimiter) -> None:
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
                        # forever: stop instead, with the delivery due again for a rerun.
                        log.exception("mailer: delivery %d could not be sent", job.id)
                        if not self.stop.is_set():
                            reason = first_line(error)
                            self.stats.error = f"mailer: {type(error).__name__}: {reason}; rerun to send the rest"
                            self.stop.set()
                        outcome = _Outcome(job, RELEASED)
                    self._outcome(outcome)
                finally:
                    queue.task_done()
        finally:
            await connection.close()

    async def _hold(self, job: ledger.Claimed) -> bool:
        """Whether this sender still holds `job` with enough lease left to send it.

        A claimed row can wait in the queue and for the rate limit; once its lease runs out another
        sender may take it over, so a lease past half its time is renewed before the send, and a
        row that was taken over is not sent (the other sender sends it)."""
        if self.clock.now() - job.claimed_at < self.renew_after:
            return True
        return await asyncio.to_thread(self._renew, job)

    def _renew(self, job: ledger.Claimed) -> bool:
        with write_transaction(self.runtime.engine) as conn:
            return self.ledger.renew_lease(conn, job.id, self.worker, self.clock.now())

    async def _send(self, connection: Transport, job: ledger.Claimed, limiter: RateLimiter) -> _Outcome:
        if self.stop.is_set():
            return _Outcome(job, RELEASED)
        if job.email is None:
            return _Outcome(job, DeliveryState.CANCELLED, "mailer: the subscriber is no longer active")
        address = ascii_address(job.email)
        if address is None:
            return _Outcome(
                job,
                DeliveryState.FAILED,
                f"mailer: {job.email} has a non-ASCII local part, which "
                "needs SMTPUTF8; paperboy sends only ASCII addresses",
            )
        try:
            data = self.message(job, address)
        except DigestError as error:
            return _Outcome(job, DeliveryState.CANCELLED, str(error))
        await limiter.wait()
        if not await self._hold(job):
            log.warning(
                "mailer: delivery %d was taken over by another sender after its lease ran out; not sending it", job.id
            )
            return _Outcome(job, LOST)
        try:
            # assemble() builds every line with CRLF (tests/test_digest_email.py checks it).
            # The envelope sender names this delivery (VERP), so a later bounce finds its way back.
            await connection.send_raw(self._envelope_sender(job), [address], data, crlf=True)
        except SendError as error:
            outcome = classify(error, job.attempts, self.config.smtp_max_attempts)
            if outcome.stop_run and not self.stop.is_set():
                self.stats.error = outcome.stop_run
                self.stop.set()
            return _Outcome(job, outcome.state, outcome.error, outcome.bounce)
        return _Outcome(job, DeliveryState.SENT)

    def _outcome(self, outcome: _Outcome) -> None:
        self.outcomes.append(outcome)
        self.new_outcome.set()

    async def _record(self) -> None:
        while not self.finished:
            await self.new_outcome.wait()
            self.new_outcome.clear()
            await self._drain()
        await self._drain()  # the workers are done: the last outcomes, or one more try
        unsent = sum(1 for o in self.outcomes if o.state == DeliveryState.SENT)
        if unsent:
            log.error(
                "mailer: %d messages the server accepted could not be marked sent; they stay "
                "'sending' and go out again once their lease has run out",
                unsent,
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

    def _write(self, outcomes: list[_Outcome]) -> None:
        """Record outcomes in one transaction; the counters change only once it is committed."""
        before = replace(self.stats)
        try:
            self._write_outcomes(outcomes)
        except Exception:
            for counter in ("sent", "retried", "failed", "bounced", "cancelled"):
                setattr(self.stats, counter, getattr(before, counter))
            raise

    def _write_outcomes(self, outcomes: list[_Outcome]) -> None:
        now = self.clock.now()
        stats = self.stats
        with write_transaction(self.runtime.engine) as conn:
            sent = [o.job.id for o in outcomes if o.state == DeliveryState.SENT]
            stats.sent += self.ledger.mark_sent(conn, sent, self.worker, now)
            self.ledger.release(conn, [o.job.id for o in outcomes if o.state == RELEASED], self.worker)
            for o in outcomes:
                if o.state == DeliveryState.RETRYING:
                    next_attempt = now + timedelta(seconds=retry_delay(o.job.attempts))
                    stats.retried += self.ledger.mark_retrying(conn, o.job.id, self.worker, o.error, next_attempt)
                elif o.state in (DeliveryState.FAILED, DeliveryState.CANCELLED):
                    settled = self.ledger.mark_failed(conn, o.job.id, self.worker, o.error, o.state)
                    if o.state == DeliveryState.CANCELLED:
                        stats.cancelled += settled
                        continue
                    stats.failed += settled
                    log.warning(
                        "mailer: delivery %d to subscriber %s failed: %s", o.job.id, o.job.subscriber_id, o.error
                    )
                    # Mails to admins name no subscriber to mark.
                    if o.bounce and settled and o.job.subscriber_id is not None:
                        mark_bounced(conn, o.job.subscriber_id, o.error, now)
                        stats.bounced += 1


def send_digest(
    runtime: Runtime,
    week: str | None = None,
    now: datetime | None = None,
    clock=None,
    lease: timedelta | None = None,
    progress=None,
) -> tuple[Queued, SendStats]:
    """Queue the week's digest (default: the last complete ISO week) and send what is due."""
    clock = clock or SystemClock()
    now = now or clock.now()
    week = week or last_complete_week(now)
    queued = queue_digest(runtime, week, now)
    log.info(
        "mailer: digest %s (id %d): %s written",
        week,
        queued.digest.id,
        counted(queued.added, "new delivery", "new deliveries"),
    )
    stats = asyncio.run(Sender(runtime, queued.digest, clock, lease, progress=progress).run())
    log.info(
        "mailer: %s: %d sent, %d retried, %d failed (%d bounced), %d cancelled",
        week,
        stats.sent,
        stats.retried,
        stats.failed,
        stats.bounced,
        stats.cancelled,
    )
    return queued, stats


def send_due(
    runtime: Runtime, clock=None, lease: timedelta | None = None, stopping: threading.Event | None = None
) -> list[SendStats]:
    """Send whatever is due in any digest: rows queued from the admin pages, retries whose time
    has come, rows a dead sender left behind. The scheduler runs this every few minutes, and
    `paperboy sender` every few seconds (with `stopping`, its SIGTERM)."""
    from service.digest.digest import digest_by_id

    clock = clock or SystemClock()
    lease = lease or lease_of(runtime.config)
    with runtime.engine.connect() as conn:
        digests = [
            digest_by_id(conn, digest_id) for digest_id in ledger.digests_with_due_deliveries(conn, clock.now(), lease)
        ]
    results = []
    for digest in digests:
        if stopping is not None and stopping.is_set():
            break
        stats = asyncio.run(Sender(runtime, digest, clock, lease, stopping=stopping).run())
        # Another sender may have claimed every row first: a run that did nothing says nothing,
        # or senders polling every few seconds would log a line each time.
        if stats.sent or stats.failed or stats.retried or stats.cancelled:
            log.info(
                "mailer: %s: %d sent, %d failed (%d bounced), %d retried, %d cancelled",
                digest.week,
                stats.sent,
                stats.failed,
                stats.bounced,
                stats.retried,
                stats.cancelled,
            )
        results.append(stats)
    return results
