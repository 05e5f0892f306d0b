"""Queries on digests: one per ISO week, and the papers each topic contributed to it."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, insert, select
from sqlalchemy.engine import Connection
from sqlalchemy.exc import IntegrityError

from service.model.paper import Paper
from service.store.papers import paper_from_row
from service.store.schema import digest as digest_table
from service.store.schema import digest_paper
from service.store.schema import paper as paper_table


@dataclass(frozen=True)
class DigestRow:
    id: int
    week: str
    created: datetime


def get_digest(conn: Connection, digest_id: int) -> DigestRow | None:
    row = conn.execute(select(digest_table).where(digest_table.c.id == digest_id)).first()
    return DigestRow(row.id, row.week, row.created) if row else None


def get_digest_for_week(conn: Connection, week: str) -> DigestRow | None:
    row = conn.execute(select(digest_table).where(digest_table.c.week == week)).first()
    return DigestRow(row.id, row.week, row.created) if row else None


def create_digest(conn: Connection, week: str, papers_by_topic: dict[str, list[str]], now: datetime) -> DigestRow:
    """Store the digest of `week` with its papers; an existing digest of that week is kept as is.

    The unique week makes two concurrent builders agree on one digest."""
    existing = get_digest_for_week(conn, week)
    if existing is not None:
        return existing
    try:
        with conn.begin_nested():
            digest_id = conn.execute(
                insert(digest_table).values(week=week, created=now).returning(digest_table.c.id)
            ).scalar_one()
    except IntegrityError:
        winner = get_digest_for_week(conn, week)
        if winner is None:
            raise  # not the unique week (another builder's digest): some other constraint failed
        return winner
    rows = [
        {"digest_id": digest_id, "topic": topic, "paper_id": paper_id}
        for topic, paper_ids in papers_by_topic.items()
        for paper_id in paper_ids
    ]
    if rows:
        conn.execute(insert(digest_paper), rows)
    return DigestRow(digest_id, week, now)


def digest_papers(conn: Connection, digest_id: int) -> dict[str, list[Paper]]:
    """The papers of a digest by topic slug, newest published first."""
    query = (
        select(digest_paper.c.topic, paper_table)
        .join(paper_table, paper_table.c.id == digest_paper.c.paper_id)
        .where(digest_paper.c.digest_id == digest_id)
        .order_by(digest_paper.c.topic, paper_table.c.published.desc(), paper_table.c.id.desc())
    )
    result: dict[str, list[Paper]] = {}
    for row in conn.execute(query).mappings():
        result.setdefault(row["topic"], []).append(paper_from_row(row))
    return result


def list_digests(conn: Connection, limit: int | None = None) -> list[tuple[DigestRow, int]]:
    """Digests, newest week first, each with how many distinct papers it holds."""
    papers = (
        select(digest_paper.c.digest_id, func.count(func.distinct(digest_paper.c.paper_id)).label("n"))
        .group_by(digest_paper.c.digest_id)
        .subquery()
    )
    query = (
        select(digest_table, func.coalesce(papers.c.n, 0).label("papers"))
        .outerjoin(papers, papers.c.digest_id == digest_table.c.id)
        .order_by(digest_table.c.week.desc())
    )
    if limit is not None:
        query = query.limit(limit)
    return [(DigestRow(row.id, row.week, row.created), row.papers) for row in conn.execute(query)]
