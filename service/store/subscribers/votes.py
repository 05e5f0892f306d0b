"""Readers' votes on papers: "More like this" (+1) and "Fewer like this" (-1), one per subscriber
and paper, changed by voting again and undone by clearing. Their digests rank by them
(service/ranking/reader.py); nobody else sees them, and the CSV export leaves them out."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import delete, func, select
from sqlalchemy.engine import Connection

from service.model.paper import Paper
from service.store.papers import paper_from_row
from service.store.schema import paper as paper_table
from service.store.schema import reader_vote

MORE = 1
FEWER = -1


@dataclass(frozen=True)
class Vote:
    paper: Paper
    vote: int  # MORE or FEWER
    voted: datetime


def record_vote(conn: Connection, subscriber_id: int, paper_id: str, vote: int, now: datetime) -> None:
    """Set the subscriber's vote on a paper, replacing one they gave before."""
    if vote not in (MORE, FEWER):
        raise ValueError(f"votes: {vote!r} is neither {MORE} nor {FEWER}")
    # Delete-then-insert is one statement pair on both databases; the caller's transaction makes it atomic.
    clear_vote(conn, subscriber_id, paper_id)
    conn.execute(reader_vote.insert().values(subscriber_id=subscriber_id, paper_id=paper_id, vote=vote, voted=now))


def clear_vote(conn: Connection, subscriber_id: int, paper_id: str) -> bool:
    """Undo the subscriber's vote on a paper; False when there was none."""
    deleted = conn.execute(
        delete(reader_vote).where(reader_vote.c.subscriber_id == subscriber_id, reader_vote.c.paper_id == paper_id)
    )
    return deleted.rowcount > 0


def vote_of(conn: Connection, subscriber_id: int, paper_id: str) -> int | None:
    """The subscriber's vote on a paper, or None."""
    vote: int | None = conn.execute(
        select(reader_vote.c.vote).where(
            reader_vote.c.subscriber_id == subscriber_id, reader_vote.c.paper_id == paper_id
        )
    ).scalar()
    return vote


def votes_of(conn: Connection, subscriber_id: int) -> list[Vote]:
    """The subscriber's votes with their papers, newest first."""
    return votes_of_subscribers(conn, [subscriber_id]).get(subscriber_id, [])


def votes_of_subscribers(conn: Connection, subscriber_ids: list[int]) -> dict[int, list[Vote]]:
    """Each subscriber's votes with their papers, newest first; subscribers without votes left out."""
    found: dict[int, list[Vote]] = {}
    for start in range(0, len(subscriber_ids), 500):
        chunk = subscriber_ids[start : start + 500]
        rows = conn.execute(
            select(reader_vote.c.subscriber_id, reader_vote.c.vote, reader_vote.c.voted, paper_table)
            .join(paper_table, paper_table.c.id == reader_vote.c.paper_id)
            .where(reader_vote.c.subscriber_id.in_(chunk))
            .order_by(reader_vote.c.subscriber_id, reader_vote.c.voted.desc(), reader_vote.c.paper_id)
        ).mappings()
        for row in rows:
            found.setdefault(row["subscriber_id"], []).append(Vote(paper_from_row(row), row["vote"], row["voted"]))
    return found


def vote_count(conn: Connection, subscriber_id: int) -> int:
    """How many votes the subscriber gave: what an admin may see of them."""
    count: int = conn.execute(
        select(func.count()).select_from(reader_vote).where(reader_vote.c.subscriber_id == subscriber_id)
    ).scalar_one()
    return count


def erase_votes(conn: Connection, subscriber_id: int) -> int:
    """Forget every vote of the subscriber (their row stays when they are erased, so no cascade does it)."""
    return conn.execute(delete(reader_vote).where(reader_vote.c.subscriber_id == subscriber_id)).rowcount
