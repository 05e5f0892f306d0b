"""The weekly digest's deliveries as a Ledger (service/outbound/ledger.py), and the two ways they
are sent: a week's digest queued and sent at once, and whatever is due in any digest.

service/digest/queue.py writes one due delivery per recipient; the engine (service/outbound/engine.py)
claims and sends them; this module writes each delivery's message and settles its row.
"""

from __future__ import annotations

import asyncio
import logging
import threading
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

from markupsafe import escape

from service.clock import Clock, SystemClock
from service.digest.digest import Digest, digest_by_id, last_complete_week
from service.digest.letter import HTML_LIMIT, SLOTS, DigestError, LetterWriter, letter_writer
from service.digest.queue import Queued, lease_of, queue_digest
from service.digest.selection import NO_VOTES, ReaderVotes
from service.model.preferences import DEFAULT as DEFAULT_PREFERENCES
from service.model.preferences import DigestPreferences
from service.model.text import counted
from service.outbound.engine import Engine, SendStats
from service.outbound.ledger import Unsendable
from service.outbound.mime import DigestHeaders, DkimSigner, EncodedBody, PieceEncoder, encode_piece
from service.outbound.verp import EnvelopeSenders
from service.runtime import Runtime
from service.store import Connection, deliveries
from service.store.deliveries import Claimed
from service.store.subscribers import votes
from service.store.subscribers.preferences import preferences_of
from subscribers.tokens import MailLinks

log = logging.getLogger("paperboy.mailer")

NOTHING_LEFT = "digest: the subscriber's keywords leave no paper this week"
# Topic sets whose shared letter is kept (as many as the letter writer keeps frames).
SHARED_KEPT = 64


@dataclass(frozen=True)
class _Shared:
    body: EncodedBody  # with gaps for the links
    level: int  # how far letter() shortened it
    html_bytes: int  # of its HTML with the slots in place of the links
    counts: dict[str, int]  # how often each slot stands in that HTML


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
        # Parsed, keyed and encoded once for the run: addresses, link signers, shared headers.
        self.headers = DigestHeaders(self.config, DkimSigner.from_config(self.config))
        self.links = MailLinks(self.config)
        self.senders = EnvelopeSenders(self.config)
        self.encoder = PieceEncoder()
        self.writer: LetterWriter | None = None  # made when the run starts: it reads the week's papers
        self.preferences: dict[int, DigestPreferences] = {}  # of the claimed deliveries' subscribers, until sent
        self.votes: dict[int, ReaderVotes] = {}  # of those who voted, until sent
        # Letters of subscribers without filters of their own, by topic set: encoded once, links left open.
        self.shared: OrderedDict[tuple[str, ...], _Shared | None] = OrderedDict()

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
        links = self.links.of(job.subscriber_id)
        chosen = self.preferences.pop(job.subscriber_id, DEFAULT_PREFERENCES)
        try:
            # A reader who voted has an order of their own, like one with filters.
            voted = self.votes.pop(job.subscriber_id, NO_VOTES)
            found = self._shared(job.topics, links) if chosen == DEFAULT_PREFERENCES and not voted else None
            if found is not None:
                body, fills = found
            else:
                body, fills = self._own(job.topics, chosen, links, voted), {}
        except DigestError as error:
            raise Unsendable(str(error)) from None
        # The same on every attempt: a copy sent again after a crash is recognisably the same mail.
        message_id = self.headers.message_id("digest", self.digest.id, job.id)
        return self.headers.message(body, fills, address, message_id, links[0], now)

    def _own(
        self, topics: tuple[str, ...], chosen: DigestPreferences, links: tuple[str, str], voted: ReaderVotes
    ) -> EncodedBody:
        """A letter of its own: every subscriber's papers may differ, so the letter is filled into
        its topic set's frame and encoded from pieces kept across messages, links already in it."""
        letter = self.letter_writer().letter(topics, chosen, links, voted)
        if letter is None:
            raise Unsendable(NOTHING_LEFT)
        return self.encoder.body(letter.subject, letter.text_parts, letter.html_parts)

    def _shared(
        self, topics: tuple[str, ...], links: tuple[str, str]
    ) -> tuple[EncodedBody, dict[tuple[str, str], bytes]] | None:
        """The topic set's letter without filters, encoded once with its links left open, and the
        encoded links that fill it; None when this subscriber's longer links would push it past
        HTML_LIMIT (then it is made as a letter of its own, shortened as letter() decides)."""
        if topics not in self.shared:
            self.shared[topics] = self._share(topics)
            if len(self.shared) > SHARED_KEPT:
                self.shared.popitem(last=False)
        shared = self.shared[topics]
        if shared is None:
            raise Unsendable(NOTHING_LEFT)
        html = [str(escape(link)) for link in links]
        growth = sum(
            shared.counts[slot] * (len(url.encode()) - len(slot)) for slot, url in zip(SLOTS, html, strict=True)
        )
        if shared.level > 0 or shared.html_bytes + growth > HTML_LIMIT:
            return None
        fills = {}
        for slot, link, escaped in zip(SLOTS, links, html, strict=True):
            fills["plain", slot] = encode_piece(link)
            fills["html", slot] = encode_piece(escaped)
        return shared.body, fills

    def _share(self, topics: tuple[str, ...]) -> _Shared | None:
        # With the slots for links, letter() measures the letter as the slots leave it.
        letter = self.letter_writer().letter(topics, DEFAULT_PREFERENCES, SLOTS)
        if letter is None:
            return None
        html = letter.html
        return _Shared(
            self.encoder.body(letter.subject, letter.text_parts, letter.html_parts, SLOTS),
            letter.level,
            letter.html_bytes,
            {slot: html.count(slot) for slot in SLOTS},
        )

    def envelope_sender(self, job: Claimed) -> str:
        # The envelope sender names this delivery (VERP), so a later bounce finds its way back.
        return self.senders.of(job.id)

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
