"""Queueing a week's digest: the send ledger's due rows, and dry runs of the same.

Synchronous on purpose: the admin pages and `paperboy digest send --dry-run` queue or plan a
week without the asyncio sender (service/outbound/engine.py), which only sends what is queued here.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from datetime import datetime, timedelta

from service import store
from service.config import Config
from service.digest.digest import Digest, build_digest
from service.digest.letter import LetterWriter, letter_writer
from service.model.preferences import DEFAULT as DEFAULT_PREFERENCES
from service.runtime import Runtime
from service.store import deliveries as ledger
from service.store import digests as digest_store
from service.store.subscribers.preferences import preferences_of
from service.store.subscribers.recipients import SUBSCRIBER_BATCH, active_recipients

# A claimed delivery is its sender's for PAPERBOY_SEND_LEASE (by default this long); after that
# another sender may take it over.
LEASE = timedelta(seconds=Config.send_lease)


def lease_of(config: Config) -> timedelta:
    """How long a sender holds what it claimed, from PAPERBOY_SEND_LEASE."""
    return timedelta(seconds=config.send_lease)


@dataclass
class Queued:
    digest: Digest
    added: int  # delivery rows written by this call
    topic_sets: Counter  # topic set -> recipients who have a delivery of this digest


def queue_digest(runtime: Runtime, week: str, now: datetime) -> Queued:
    """Build the week's digest and write one due delivery per active subscriber who gets mail this
    week, all in one transaction; rows that exist are kept, so a rerun adds only newcomers."""
    with store.write_transaction(runtime.engine) as conn:
        digest = build_digest(conn, runtime.topics, week, now)
        writer = letter_writer(conn, runtime.config, digest, runtime.topics)
        rows: list[tuple[int, str]] = []
        added = 0
        sets: Counter[str] = Counter()
        for recipient, topic_set in _mailable(conn, writer, digest, runtime.topics):
            rows.append((recipient.subscriber_id, ",".join(topic_set)))
            sets[topic_set] += 1
            if len(rows) >= SUBSCRIBER_BATCH:
                added += ledger.add_deliveries(conn, digest.id, rows)
                rows = []
        added += ledger.add_deliveries(conn, digest.id, rows)
    return Queued(digest, added, sets)


def _mailable(conn, writer: LetterWriter, digest: Digest, topics):
    """(recipient, topic set) for each active subscriber who gets mail this week: their topics
    have papers, or authors they follow have some, and their keywords leave at least one."""
    batch = []
    for recipient in active_recipients(conn):
        batch.append(recipient)
        if len(batch) >= SUBSCRIBER_BATCH:
            yield from _mailable_batch(conn, writer, digest, topics, batch)
            batch = []
    yield from _mailable_batch(conn, writer, digest, topics, batch)


def _mailable_batch(conn, writer: LetterWriter, digest: Digest, topics, batch):
    preferences = preferences_of(conn, [recipient.subscriber_id for recipient in batch])
    for recipient in batch:
        topic_set = digest.topic_set(topics, recipient.topics)
        chosen = preferences.get(recipient.subscriber_id, DEFAULT_PREFERENCES)
        # A topic retired since the last digest stays in the set, for the letter to say so.
        topic_set += tuple(t.slug for t in writer.retired if t.slug in recipient.topics)
        if (topic_set or chosen.authors) and not writer.week.select(topic_set, chosen).empty:
            yield recipient, topic_set


@dataclass
class DryRun:
    week: str
    digest_exists: bool
    papers: int
    messages: int  # what a send would mail now
    topic_sets: Counter
    held: int = 0  # deliveries another sender holds now: not counted in messages
    held_until: datetime | None = None  # when the last of their leases runs out


def dry_run(runtime: Runtime, week: str, now: datetime) -> DryRun:
    """What `digest send` would mail for `week`, computed in a transaction that is rolled back."""
    with store.write_transaction(runtime.engine, keep=False) as conn:
        exists = digest_store.get_digest_for_week(conn, week) is not None
        digest = build_digest(conn, runtime.topics, week, now)
        settled = ledger.settled_subscriber_ids(conn, digest.id)
        held, until = ledger.held_elsewhere(conn, digest.id, now, lease_of(runtime.config))
        writer = letter_writer(conn, runtime.config, digest, runtime.topics)
        sets: Counter[str] = Counter()
        for recipient, topic_set in _mailable(conn, writer, digest, runtime.topics):
            if recipient.subscriber_id not in settled | held:
                sets[topic_set] += 1
        papers = len({p.id for papers in digest.papers.values() for p in papers})
    return DryRun(week, exists, papers, sum(sets.values()), sets, len(held), until)
