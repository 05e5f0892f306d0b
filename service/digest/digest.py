"""The weekly digest: which papers each topic first matched in an ISO week, composed per set of
topics (a paper in several topics shows once, under the first); service/digest/letter.py turns it
into each subscriber's email, with the per-subscriber links as placeholders until a message is made.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from markupsafe import escape

from service.config import Config
from service.digest.letter import (  # noqa: F401 (part of this module's interface)
    PREFERENCES_SLOT,
    SLOTS,
    UNSUBSCRIBE_SLOT,
    DigestError,
    letter_writer,
)
from service.digest.selection import Selection
from service.model.paper import Paper, sections
from service.model.preferences import DEFAULT
from service.model.topics import Topic
from service.model.weeks import week_bounds, week_of
from service.store import Connection, write_transaction
from service.store import digests as digest_store
from service.store.digests import DigestRow
from service.store.papers import papers_for_topic


@dataclass(frozen=True)
class Entry:
    paper: Paper
    also_in: tuple[str, ...]  # titles of the set's other topics that hold the paper


@dataclass(frozen=True)
class TopicBlock:
    topic: Topic
    sections: list[tuple[str, list[Entry]]]

    @property
    def count(self) -> int:
        return sum(len(entries) for _, entries in self.sections)


@dataclass
class Digest:
    id: int
    week: str
    created: datetime
    papers: dict[str, list[Paper]]  # topic slug -> papers, newest published first

    def topic_set(self, topics: list[Topic], wanted) -> tuple[str, ...]:
        """The subscriber's topics that have papers this week, in topics.toml order."""
        wanted = set(wanted)
        return tuple(t.slug for t in topics if t.slug in wanted and self.papers.get(t.slug))

    def compose(self, topics: list[Topic], topic_set) -> list[TopicBlock]:
        """Topic blocks for `topic_set`: each paper once, under the first topic holding it."""
        chosen = [t for t in topics if t.slug in set(topic_set)]
        shown: set[str] = set()
        blocks = []
        for topic in chosen:
            entries = []
            for paper in self.papers.get(topic.slug, []):
                if paper.id in shown:
                    continue
                shown.add(paper.id)
                also = tuple(
                    other.title
                    for other in chosen
                    if other is not topic and any(p.id == paper.id for p in self.papers.get(other.slug, []))
                )
                entries.append(Entry(paper, also))
            if entries:
                by_id = {e.paper.id: e for e in entries}
                blocks.append(
                    TopicBlock(
                        topic,
                        [
                            (name, [by_id[p.id] for p in papers])
                            for name, papers in sections([e.paper for e in entries])
                        ],
                    )
                )
        return blocks


def browser_selection(conn: Connection, config: Config, digest: Digest, topics: list[Topic]) -> Selection:
    """What /digests/<id> shows: the email of a reader of every topic with the usual length, in
    its order (papers in full, then title links, then a link to each topic's week page)."""
    writer = letter_writer(conn, config, digest, topics)
    return writer.week.select(digest.topic_set(topics, [t.slug for t in topics]), DEFAULT)


def last_complete_week(now: datetime) -> str:
    """The ISO week before the one holding `now`."""
    return week_of(now - timedelta(days=7))


def build_digest(
    conn: Connection, topics: list[Topic], week: str, now: datetime, in_progress_ok: bool = False
) -> Digest:
    """The digest of `week`, created from the papers first matched in it if it does not exist yet.

    A week still in progress is refused unless `in_progress_ok` (previews, which roll back)."""
    start, end = week_bounds(week)
    if end > now and not (in_progress_ok and start <= now):
        raise DigestError(f"digest: week {week} is not over yet (it ends {end:%Y-%m-%d %H:%M} UTC)")
    row = digest_store.get_digest_for_week(conn, week)
    if row is None:
        papers_by_topic = {
            # A withdrawn paper stays on the topic's pages, marked, but is not news.
            topic.slug: [p.id for p in papers_for_topic(conn, topic.slug, since=start, until=end) if not p.withdrawn]
            for topic in topics
        }
        row = digest_store.create_digest(conn, week, papers_by_topic, now)
    return load_digest(conn, row)


def digest_by_id(conn: Connection, digest_id: int) -> Digest | None:
    """The digest with its papers (store.digests.get_digest reads only its row)."""
    row = digest_store.get_digest(conn, digest_id)
    return load_digest(conn, row) if row else None


def load_digest(conn: Connection, row: DigestRow) -> Digest:
    return Digest(row.id, row.week, row.created, digest_store.digest_papers(conn, row.id))


@dataclass(frozen=True)
class RenderedDigest:
    """One topic set's email, with UNSUBSCRIBE_SLOT and PREFERENCES_SLOT still in it."""

    topic_set: tuple[str, ...]
    subject: str
    html: str
    text: str


def fill_slots(rendered: RenderedDigest, unsubscribe_url: str, preferences_url: str) -> tuple[str, str]:
    """HTML and text with the links of one subscriber, escaped for HTML in the HTML part."""
    html, text = rendered.html, rendered.text
    for slot, url in ((UNSUBSCRIBE_SLOT, unsubscribe_url), (PREFERENCES_SLOT, preferences_url)):
        html = html.replace(slot, str(escape(url)))
        text = text.replace(slot, url)
    return html, text


PREVIEW_LINK = "/preview-only"


@dataclass(frozen=True)
class Preview:
    digest: Digest
    rendered: RenderedDigest
    html: str
    text: str
    stored: bool  # False: the week's digest does not exist yet and this one was not kept


def preview(engine, config: Config, topics: list[Topic], week: str, slugs: list[str] | None, now: datetime) -> Preview:
    """The email a subscriber to `slugs` (default: every topic) would get for `week`.

    A digest that does not exist yet is built in a transaction that is rolled back, so a
    preview never freezes the week's content."""
    known = {t.slug for t in topics}
    unknown = [s for s in slugs or [] if s not in known]
    if unknown:
        raise DigestError(f"digest: no topic {unknown[0]!r} in the topics file (known: {', '.join(sorted(known))})")
    with write_transaction(engine, keep=False) as conn:
        stored = digest_store.get_digest_for_week(conn, week) is not None
        # Admins may look at the week in progress: what subscribers would get so far.
        digest = build_digest(conn, topics, week, now, in_progress_ok=True)
        writer = letter_writer(conn, config, digest, topics)
    topic_set = digest.topic_set(topics, slugs or known)
    if not topic_set:
        wanted = ", ".join(slugs or sorted(known))
        raise DigestError(f"digest: {week} has no papers for {wanted}; nobody with only these topics gets mail")
    letter = writer.letter(topic_set)
    if letter is None:  # only a subscriber's own filters leave a letter empty; a preview has none
        raise DigestError(f"digest: {week} has nothing to show for {', '.join(topic_set)}")
    rendered = RenderedDigest(topic_set, letter.subject, letter.html, letter.text)
    link = config.base_url + PREVIEW_LINK
    html, text = fill_slots(rendered, link, link)
    if not stored:
        # The rolled-back digest has no page yet: its "view in browser" link would lead nowhere.
        browser_url = f"{config.base_url}/digests/{digest.id}"
        html, text = html.replace(browser_url, link), text.replace(browser_url, link)
    return Preview(digest, rendered, html, text, stored)
