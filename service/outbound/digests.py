"""The weekly digest's deliveries as a Ledger (service/outbound/ledger.py), and the two ways they
are sent: a week's digest queued and sent at once, and whatever is due in any digest.

service/digest/queue.py writes one due delivery per recipient; the engine (service/outbound/engine.py)
claims and sends them; this module writes each delivery's message and settles its row.
"""

from __future__ import annotations

import asyncio
import logging
import threading
from collections.abc import Callable
from datetime import datetime, timedelta
from urllib.parse import quote

from service.clock import Clock, SystemClock
from service.digest.digest import Digest, digest_by_id, last_complete_week
from service.digest.letter import DigestError, LetterWriter, letter_writer
from service.digest.queue import Queued, lease_of, queue_digest
from service.digest.selection import NO_VOTES, ReaderVotes
from service.model.preferences import DEFAULT as DEFAULT_PREFERENCES
from service.model.preferences import DigestPreferences
from service.model.text import counted
from service.outbound.engine import Engine, SendStats
from service.outbound.ledger import Unsendable
from service.outbound.mime import DkimSigner, PieceEncoder, Stamp, assemble, message_id
from service.outbound.verp import envelope_sender
from service.runtime import Runtime
from service.store import Connection, deliveries
from service.store.deliveries import Claimed
from service.store.subscribers import votes
from service.store.subscribers.preferences import preferences_of
from subscribers.tokens import preferences_url, unsubscribe_url

log = logging.getLogger("paperboy.mailer")


def reader_votes(conn: Connection, subscriber_ids: list[int]) -> dict[int, ReaderVotes]:
    """What each of these subscribers marked "More like this" and "Fewer like this"."""
    return {
        subscriber_id: ReaderVotes(
            tuple(vote.paper for vote in given if vote.vote == votes.MORE),
            tuple(vote.paper for vote in given if vote.vote == votes.FEWER),
        )
        for subscriber_id, given in votes.votes_of_subscribers(conn, subscriber_ids).items()
    }


class DigestLedger:
    """One digest's deliveries: one row per subscriber, each mail the subscriber's own letter."""

    def __init__(self, runtime: Runtime, digest: Digest):
        self.runtime, self.config, self.digest = runtime, runtime.config, digest
        self.label = digest.week
        self.mailto = f"mailto:{self.config.mail_from_address}"
        self.signer = DkimSigner.from_config(self.config)
        self.encoder = PieceEncoder()
        self.writer: LetterWriter | None = None  # made when the run starts: it reads the week's papers
        self.preferences: dict[int, DigestPreferences] = {}  # of the claimed deliveries' subscribers, until sent
        self.votes: dict[int, ReaderVotes] = {}  # of those who voted, until sent

    def pending(self, conn: Connection) -> int:
        return deliveries.pending_count(conn, self.digest.id)

    def held_elsewhere(self, conn: Connection, now: datetime, lease: timedelta) -> tuple[int, datetime | None]:
        held, until = deliveries.held_elsewhere(conn, self.digest.id, now, lease)
        return len(held), until

    def retry_at(self, conn: Connection) -> datetime | None:
        return deliveries.next_attempt_at(conn, self.digest.id)

    def prepare(self) -> None:
        """The letter writer reads the week's papers once, before the first message."""
        self.letter_writer()

    def letter_writer(self) -> LetterWriter:
        if self.writer is None:
            with self.runtime.engine.connect() as conn:
                self.writer = letter_writer(conn, self.config, self.digest, self.runtime.topics)
        return self.writer

    def claim(self, conn: Connection, worker: str, now: datetime, lease: timedelta, limit: int) -> list[Claimed]:
        claimed = deliveries.claim_deliveries(conn, self.digest.id, worker, now, lease, limit)
        subscriber_ids = [job.subscriber_id for job in claimed]
        self.preferences.update(preferences_of(conn, subscriber_ids))
        self.votes.update(reader_votes(conn, subscriber_ids))
        return claimed

    def message(self, job: Claimed, address: str, now: datetime) -> bytes:
        unsubscribe = unsubscribe_url(self.config, job.subscriber_id)
        token = unsubscribe.rsplit("/", 1)[-1]
        # Every subscriber's papers may differ: the letter is filled per message into its topic
        # set's frame, and encoded with the links already in it.
        try:
            letter = self.letter_writer().letter(
                job.topics,
                self.preferences.pop(job.subscriber_id, DEFAULT_PREFERENCES),
                (unsubscribe, preferences_url(self.config, job.subscriber_id)),
                self.votes.pop(job.subscriber_id, NO_VOTES),
            )
        except DigestError as error:
            raise Unsendable(str(error)) from None
        if letter is None:
            raise Unsendable("digest: the subscriber's keywords leave no paper this week")
        stamp = Stamp(
            to=address,
            # The same on every attempt: a copy sent again after a crash is recognisably the same mail.
            message_id=message_id(self.config, "digest", self.digest.id, job.id),
            unsubscribe_url=unsubscribe,
            mailto_unsubscribe=f"{self.mailto}?subject={quote('unsubscribe ' + token)}",
            values={},
        )
        body = self.encoder.body(letter.subject, letter.text_parts, letter.html_parts)
        return assemble(self.config, body, stamp, now, self.signer)

    def envelope_sender(self, job: Claimed) -> str:
        # The envelope sender names this delivery (VERP), so a later bounce finds its way back.
        return envelope_sender(self.config, job.id)

    def renew_lease(self, conn: Connection, job_id: int, worker: str, now: datetime) -> bool:
        return deliveries.renew_lease(conn, job_id, worker, now)

    def mark_sent(self, conn: Connection, job_ids: list[int], worker: str, now: datetime) -> int:
        return deliveries.mark_sent(conn, job_ids, worker, now)

    def mark_retrying(self, conn: Connection, job_id: int, worker: str, error: str, next_attempt: datetime) -> int:
        return deliveries.mark_retrying(conn, job_id, worker, error, next_attempt)

    def mark_failed(self, conn: Connection, job_id: int, worker: str, error: str, state: str) -> int:
        return deliveries.mark_failed(conn, job_id, worker, error, state)

    def release(self, conn: Connection, job_ids: list[int], worker: str) -> int:
        return deliveries.release(conn, job_ids, worker)


def digest_sender(
    runtime: Runtime,
    digest: Digest,
    clock: Clock | None = None,
    lease: timedelta | None = None,
    batch: int | None = None,
    progress: Callable[[SendStats], None] | None = None,
    stopping: threading.Event | None = None,
) -> Engine[Claimed]:
    """The engine over one digest's deliveries."""
    return Engine(runtime, DigestLedger(runtime, digest), clock, lease, batch, progress, stopping)


def send_digest(
    runtime: Runtime,
    week: str | None = None,
    now: datetime | None = None,
    clock: Clock | None = None,
    lease: timedelta | None = None,
    progress: Callable[[SendStats], None] | None = None,
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
    stats = asyncio.run(digest_sender(runtime, queued.digest, clock, lease, progress=progress).run())
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
    runtime: Runtime,
    clock: Clock | None = None,
    lease: timedelta | None = None,
    stopping: threading.Event | None = None,
) -> list[SendStats]:
    """Send whatever is due in any digest: rows queued from the admin pages, retries whose time
    has come, rows a dead sender left behind. The scheduler runs this every few minutes, and
    `paperboy sender` every few seconds (with `stopping`, its SIGTERM)."""
    clock = clock or SystemClock()
    lease = lease or lease_of(runtime.config)
    with runtime.engine.connect() as conn:
        found = [
            digest_by_id(conn, digest_id)
            for digest_id in deliveries.digests_with_due_deliveries(conn, clock.now(), lease)
        ]
    digests = [digest for digest in found if digest is not None]
    results = []
    for digest in digests:
        if stopping is not None and stopping.is_set():
            break
        stats = asyncio.run(digest_sender(runtime, digest, clock, lease, stopping=stopping).run())
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
