"""Queries on papers and on which topic each paper belongs to."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from datetime import datetime
from typing import Any

import numpy as np
from sqlalchemy import String, Text, cast, delete, exists, func, or_, select, type_coerce, update
from sqlalchemy.engine import Connection, RowMapping

from service.model.paper import Paper
from service.model.terms import Terms, Window, only, paper_terms
from service.store import insert_ignoring_duplicates
from service.store.schema import digest_paper, topic_paper
from service.store.schema import paper as paper_table
from service.store.schema import paper_terms as terms_table

# Columns a newer version of a paper replaces; id, published and first_seen stay.
VERSIONED_COLUMNS = (
    "version",
    "title",
    "authors",
    "abstract",
    "categories",
    "primary_category",
    "updated",
    "comment",
    "journal_ref",
    "doi",
    "code_urls",
    "project_urls",
)


@dataclass
class UpsertCounts:
    new: int = 0
    updated: int = 0
    unchanged: int = 0
    updated_ids: list[str] = field(default_factory=list)  # papers that arrived in a newer version

    def add(self, other: UpsertCounts) -> None:
        self.new += other.new
        self.updated += other.updated
        self.unchanged += other.unchanged
        self.updated_ids += other.updated_ids


def upsert_papers(conn: Connection, papers: list[Paper], now: datetime) -> UpsertCounts:
    """Insert papers not yet stored and update those arriving in a newer version.

    An equal or older version changes nothing. Duplicates within `papers` count once."""
    counts = UpsertCounts()
    latest: dict[str, Paper] = {}
    for incoming in papers:
        held = latest.get(incoming.id)
        if held is None or incoming.version > held.version:
            latest[incoming.id] = incoming
    if not latest:
        return counts
    stored = dict(
        conn.execute(select(paper_table.c.id, paper_table.c.version).where(paper_table.c.id.in_(latest))).all()
    )
    new_rows = []
    for paper_id, incoming in latest.items():
        if paper_id not in stored:
            row = asdict(incoming)
            row["first_seen"] = now
            new_rows.append(row)
            counts.new += 1
        elif incoming.version > stored[paper_id]:
            values = {column: getattr(incoming, column) for column in VERSIONED_COLUMNS}
            # The version guard keeps a concurrent newer write from being overwritten.
            changed = conn.execute(
                update(paper_table)
                .where(paper_table.c.id == paper_id, paper_table.c.version < incoming.version)
                .values(**values)
            ).rowcount
            if changed:
                _replace_terms(conn, incoming)
            counts.updated += 1
            counts.updated_ids.append(paper_id)
        else:
            counts.unchanged += 1
    if new_rows:
        # A concurrent fetch may have inserted the same id since the select: keep its row.
        conn.execute(insert_ignoring_duplicates(conn, paper_table), new_rows)
        conn.execute(insert_ignoring_duplicates(conn, terms_table), [_terms_row(latest[row["id"]]) for row in new_rows])
    return counts


def _terms_row(paper: Paper) -> dict[str, object]:
    terms = paper_terms(paper)
    return {
        "paper_id": paper.id,
        "version": paper.version,
        "published": paper.published,
        "linked": paper.has_links,
        "length": terms.length,
        "entries": terms.entries,
    }


def _replace_terms(conn: Connection, paper: Paper) -> None:
    """A new version's stem counts in place of the old version's."""
    row = _terms_row(paper)
    written = conn.execute(
        update(terms_table)
        .where(terms_table.c.paper_id == paper.id)
        .values(version=row["version"], linked=row["linked"], length=row["length"], entries=row["entries"])
    ).rowcount
    if not written:
        conn.execute(insert_ignoring_duplicates(conn, terms_table), [row])


def link_topic_papers(conn: Connection, topic: str, paper_ids: list[str], now: datetime) -> set[str]:
    """Record that `topic` matched these papers; a link that exists keeps its first date.

    Returns the ids the topic did not hold before."""
    wanted = set(paper_ids)
    if not wanted:
        return set()
    known = set(
        conn.execute(
            select(topic_paper.c.paper_id).where(topic_paper.c.topic == topic, topic_paper.c.paper_id.in_(wanted))
        ).scalars()
    )
    new = sorted(wanted - known)
    published = (
        dict(conn.execute(select(paper_table.c.id, paper_table.c.published).where(paper_table.c.id.in_(new))).all())
        if new
        else {}
    )
    rows = [{"topic": topic, "paper_id": pid, "first_matched": now, "published": published.get(pid)} for pid in new]
    if rows:
        conn.execute(insert_ignoring_duplicates(conn, topic_paper), rows)
    return wanted - known


def get_paper(conn: Connection, paper_id: str) -> Paper | None:
    if "\x00" in paper_id:
        return None  # no stored id holds a NUL, and PostgreSQL refuses one in a query
    row = conn.execute(select(paper_table).where(paper_table.c.id == paper_id)).mappings().first()
    return paper_from_row(row) if row else None


def papers_for_topic(
    conn: Connection,
    topic: str,
    since: datetime | None = None,
    until: datetime | None = None,
    limit: int | None = None,
    with_links: bool = False,
) -> list[Paper]:
    """Papers first matched by `topic` in [since, until), newest published first.

    `with_links`: only papers with a code or project page URL."""
    # In the order of the (topic, published, paper_id) index: a feed's 50 newest are its first 50.
    query = (
        select(paper_table)
        .join(topic_paper, topic_paper.c.paper_id == paper_table.c.id)
        .where(topic_paper.c.topic == topic)
        .order_by(topic_paper.c.published.desc(), topic_paper.c.paper_id.desc())
    )
    if since is not None:
        query = query.where(topic_paper.c.first_matched >= since)
    if until is not None:
        query = query.where(topic_paper.c.first_matched < until)
    if with_links:
        # Both columns hold JSON lists; an empty one is "[]" on SQLite and PostgreSQL alike.
        query = query.where(
            or_(cast(paper_table.c.code_urls, Text) != "[]", cast(paper_table.c.project_urls, Text) != "[]")
        )
    if limit is not None:
        query = query.limit(limit)
    return [paper_from_row(row) for row in conn.execute(query).mappings()]


def papers_first_seen(conn: Connection, since: datetime, until: datetime) -> list[Paper]:
    """Every paper the store first held in [since, until), whether or not a topic lists it."""
    query = (
        select(paper_table)
        .where(paper_table.c.first_seen >= since, paper_table.c.first_seen < until)
        .order_by(paper_table.c.published.desc(), paper_table.c.id.desc())
    )
    return [paper_from_row(row) for row in conn.execute(query).mappings()]


def papers_published(conn: Connection, since: datetime, until: datetime) -> list[Paper]:
    """Every paper first published (v1) in [since, until), newest first, in a topic or not."""
    query = (
        select(paper_table)
        .where(paper_table.c.published >= since, paper_table.c.published < until)
        .order_by(paper_table.c.published.desc(), paper_table.c.id.desc())
    )
    return [paper_from_row(row) for row in conn.execute(query).mappings()]


def newest_published(conn: Connection, topic: str) -> datetime | None:
    """The publication date of the newest paper `topic` holds, or None for an empty topic."""
    return conn.execute(
        select(func.max(paper_table.c.published))
        .join(topic_paper, topic_paper.c.paper_id == paper_table.c.id)
        .where(topic_paper.c.topic == topic)
    ).scalar()


def count_topic_papers_submitted(conn: Connection, topic: str, start: datetime, end: datetime) -> int:
    """How many papers `topic` holds whose first version was submitted in [start, end]."""
    return conn.execute(
        select(func.count())
        .select_from(topic_paper.join(paper_table, topic_paper.c.paper_id == paper_table.c.id))
        .where(topic_paper.c.topic == topic, paper_table.c.published >= start, paper_table.c.published <= end)
    ).scalar_one()


def count_papers(conn: Connection) -> int:
    return conn.execute(select(func.count()).select_from(paper_table)).scalar_one()


def topics_of_paper(conn: Connection, paper_id: str) -> list[str]:
    """The topics that matched `paper_id`, by slug."""
    return sorted(conn.execute(select(topic_paper.c.topic).where(topic_paper.c.paper_id == paper_id)).scalars())


def count_topic_papers(conn: Connection, topic: str) -> int:
    return conn.execute(select(func.count()).select_from(topic_paper).where(topic_paper.c.topic == topic)).scalar_one()


def unlink_papers(conn: Connection, topic: str, paper_ids: list[str], matched_by: datetime) -> int:
    """Remove `topic`'s links to these papers first matched at or before `matched_by`."""
    if not paper_ids:
        return 0
    return conn.execute(
        delete(topic_paper).where(
            topic_paper.c.topic == topic,
            topic_paper.c.paper_id.in_(paper_ids),
            topic_paper.c.first_matched <= matched_by,
        )
    ).rowcount


def delete_unlinked_papers(conn: Connection, paper_ids: list[str]) -> int:
    """Delete those of these papers that no topic and no digest refers to any more."""
    if not paper_ids:
        return 0
    return conn.execute(
        delete(paper_table).where(
            paper_table.c.id.in_(paper_ids),
            ~exists().where(topic_paper.c.paper_id == paper_table.c.id),
            ~exists().where(digest_paper.c.paper_id == paper_table.c.id),
        )
    ).rowcount


def paper_from_row(row: RowMapping) -> Paper:
    return Paper(**{key: row[key] for key in Paper.__dataclass_fields__})


# Rows of a topic's window read at a time.
WINDOW_PART = 2000

# What a process holds of each paper's counts for one set of ranking keys: id -> (version, entries).
Held = dict[str, tuple[int, bytes]]


def topic_window(
    conn: Connection,
    topic: str,
    since: datetime | None,
    until: datetime | None,
    keys: np.ndarray | None = None,
    held: Held | None = None,
) -> Window:
    """The papers first matched by `topic` in [since, until) as ranking reads them: their stem
    counts from paper_terms, not the papers, whose rows are ten times larger.

    With `keys` (sorted stem keys) and `held`, only the entries of those stems are kept, and
    the counts of papers that `held` has at their current version are not read again: after a
    fetch, a window of thousands reads the counts of the fetch's papers only."""
    terms = terms_table.c
    counts = terms.entries if held is None else terms.version
    query = (
        select(
            topic_paper.c.paper_id,
            # The stored value as is: converting thousands of dates costs more than the ranking.
            type_coerce(terms.published, String),
            terms.linked,
            terms.length,
            counts,
        )
        .outerjoin(terms_table, terms.paper_id == topic_paper.c.paper_id)
        .where(topic_paper.c.topic == topic)
    )
    if since is not None:
        query = query.where(topic_paper.c.first_matched >= since)
    if until is not None:
        query = query.where(topic_paper.c.first_matched < until)
    columns: list[list[Any]] = [[], [], [], [], []]
    # Read in parts: the rows of a window of thousands never live all at once, so they never reach
    # the garbage collector's oldest generation, whose passes walk the whole heap (BENCHMARKS.md).
    for part in conn.execute(query).partitions(WINDOW_PART):
        for column, values in zip(columns, zip(*part, strict=True), strict=True):
            column.extend(values)
    uncounted = [paper_id for paper_id, length in zip(columns[0], columns[3], strict=True) if length is None]
    if uncounted:
        counted = [row for row in zip(*columns, strict=True) if row[3] is not None]
        columns = [list(column) for column in zip(*counted, strict=True)] if counted else [[], [], [], [], []]
    if held is not None and keys is not None:
        # The last column holds the papers' versions here: their entries come from `held`.
        columns[4] = _held_entries(conn, columns[0], columns[4], keys, held)
    window = Window(*columns)
    window.linked = [bool(value) for value in window.linked]
    # Papers stored by a version that did not count stems yet are counted now.
    if uncounted:
        raw: dict[str, str] = dict(
            conn.execute(
                select(paper_table.c.id, type_coerce(paper_table.c.published, String)).where(
                    paper_table.c.id.in_(uncounted)
                )
            ).all()
        )
        for paper in papers_by_ids(conn, uncounted):
            counted_now = paper_terms(paper)
            if keys is not None:
                counted_now = Terms(counted_now.length, only(counted_now.entries, keys))
            window.add(paper.id, raw[paper.id], paper.has_links, counted_now)
    return window


def _held_entries(conn: Connection, ids: list[str], versions: list[int], keys: np.ndarray, held: Held) -> list[bytes]:
    """Each paper's entries for `keys`, from `held` when it has the paper's version, else read
    (and kept in `held`)."""
    missing = [pid for pid, version in zip(ids, versions, strict=True) if held.get(pid, (None,))[0] != version]
    for start in range(0, len(missing), 500):
        chunk = missing[start : start + 500]
        query = select(terms_table.c.paper_id, terms_table.c.version, terms_table.c.entries).where(
            terms_table.c.paper_id.in_(chunk)
        )
        for paper_id, version, entries in conn.execute(query):
            held[paper_id] = (version, only(entries, keys))
    return [held[pid][1] for pid in ids]


def papers_by_ids(conn: Connection, paper_ids: list[str]) -> list[Paper]:
    """The stored papers of these ids, in the order given (unknown ids are left out)."""
    found: dict[str, Paper] = {}
    for start in range(0, len(paper_ids), 500):
        chunk = paper_ids[start : start + 500]
        for row in conn.execute(select(paper_table).where(paper_table.c.id.in_(chunk))).mappings():
            found[row["id"]] = paper_from_row(row)
    return [found[paper_id] for paper_id in paper_ids if paper_id in found]
