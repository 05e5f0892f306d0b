"""What the web pages and feeds need to know about topics without loading their papers:
counts, newest dates, and stamps that move whenever what they render would change."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime
from functools import cached_property
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.engine import Connection
from sqlalchemy.sql import ColumnElement

from service.model.paper import Paper
from service.model.states import RunStatus
from service.model.weeks import week_of
from service.store.papers import paper_from_row
from service.store.schema import fetch_run, topic_paper
from service.store.schema import paper as paper_table


@dataclass(frozen=True)
class TopicSummary:
    papers: int = 0
    newest_match: datetime | None = None  # the latest topic_paper.first_matched
    newest_update: datetime | None = None  # the latest paper.updated among its papers
    newest_published: datetime | None = None
    # The sum of the papers' versions: it grows whenever one of them gets a new version.
    version_total: int = 0
    # When the newest fetch run of any topic finished (pages show fetch times and the
    # sample-data banner, so they change with it); None before the first run.
    last_run: datetime | None = None

    @property
    def papers_changed(self) -> datetime | None:
        """When the topic's papers last changed, as near as the store knows."""
        return _latest(self.newest_match, self.newest_update)

    @property
    def changed(self) -> datetime | None:
        """When anything a page shows last changed: papers or fetch runs."""
        return _latest(self.newest_match, self.newest_update, self.last_run)

    @cached_property
    def papers_stamp(self) -> str:
        """Moves whenever a paper joins the topic or one of its papers gets a new version."""
        changed = self.papers_changed.isoformat() if self.papers_changed else "-"
        return f"{self.papers}.{self.version_total}.{changed}"

    @cached_property
    def page_stamp(self) -> str:
        """Moves with the papers and with every finished fetch run."""
        run = self.last_run.isoformat() if self.last_run else "-"
        return f"{self.papers_stamp}.{run}"


def _summary_columns() -> tuple[ColumnElement[Any], ...]:
    return (
        func.count(),
        func.max(topic_paper.c.first_matched),
        func.max(paper_table.c.updated),
        func.max(paper_table.c.published),
        func.coalesce(func.sum(paper_table.c.version), 0),
    )


def _summary(row: Sequence[Any], last_run: datetime | None = None) -> TopicSummary:
    papers, match, update, published, versions = row
    return TopicSummary(
        papers=papers,
        newest_match=_aware(match),
        newest_update=_aware(update),
        newest_published=_aware(published),
        version_total=int(versions),
        last_run=_aware(last_run),
    )


def topic_summary(conn: Connection, topic: str | None) -> TopicSummary:
    """One topic's summary in one query; `topic=None` summarizes every topic together
    (a paper in several topics counts once per topic)."""
    last_run = (select(func.max(fetch_run.c.finished)).where(fetch_run.c.finished.is_not(None))).scalar_subquery()
    query = select(*_summary_columns(), last_run).select_from(
        topic_paper.join(paper_table, paper_table.c.id == topic_paper.c.paper_id)
    )
    if topic is not None:
        query = query.where(topic_paper.c.topic == topic)
    row = conn.execute(query).one()
    return _summary(row[:5], row[5])


def topic_summaries(conn: Connection) -> dict[str, TopicSummary]:
    """Every topic that holds papers, by slug, in one query (without last_run)."""
    query = (
        select(topic_paper.c.topic, *_summary_columns())
        .select_from(topic_paper.join(paper_table, paper_table.c.id == topic_paper.c.paper_id))
        .group_by(topic_paper.c.topic)
    )
    return {row[0]: _summary(row[1:]) for row in conn.execute(query)}


def last_updated(conn: Connection, topic: str) -> datetime | None:
    """When the topic's papers were last brought up to date: its newest run that stored
    papers (ok, partial or the sample). A failed run updated nothing."""
    query = select(func.max(fetch_run.c.finished)).where(
        fetch_run.c.topic == topic,
        fetch_run.c.status.in_((RunStatus.OK, RunStatus.PARTIAL, RunStatus.SAMPLE)),
    )
    return _aware(conn.execute(query).scalar())


def match_weeks(conn: Connection, topic: str) -> list[tuple[str, int]]:
    """How many papers the topic first matched in each ISO week, newest week first: one grouped
    query by day, whose rows (a few hundred a year) are added up by week here."""
    column = topic_paper.c.first_matched
    # The day in UTC: SQLite holds UTC text; PostgreSQL's date() would use the session's zone.
    day = func.date(column) if conn.dialect.name == "sqlite" else func.date(func.timezone("UTC", column))
    query = select(day, func.count()).where(topic_paper.c.topic == topic).group_by(day)
    weeks: dict[str, int] = {}
    for moment, count in conn.execute(query):
        week = week_of(moment if isinstance(moment, date) else date.fromisoformat(moment))
        weeks[week] = weeks.get(week, 0) + count
    return sorted(weeks.items(), reverse=True)


def newest_match(conn: Connection, topic: str) -> datetime | None:
    """When the topic last matched a paper."""
    return _aware(
        conn.execute(select(func.max(topic_paper.c.first_matched)).where(topic_paper.c.topic == topic)).scalar()
    )


def recent_papers_with_topics(conn: Connection, limit: int) -> list[tuple[Paper, list[str]]]:
    """The newest published papers of any topic, each with the topics that hold it."""
    papers = [
        paper_from_row(row)
        for row in conn.execute(
            select(paper_table)
            .where(paper_table.c.id.in_(select(topic_paper.c.paper_id)))
            .order_by(paper_table.c.published.desc(), paper_table.c.id.desc())
            .limit(limit)
        ).mappings()
    ]
    topics: dict[str, list[str]] = {paper.id: [] for paper in papers}
    if topics:
        for topic, paper_id in conn.execute(
            select(topic_paper.c.topic, topic_paper.c.paper_id)
            .where(topic_paper.c.paper_id.in_(list(topics)))
            .order_by(topic_paper.c.topic)
        ):
            topics[paper_id].append(topic)
    return [(paper, topics[paper.id]) for paper in papers]


def _latest(*moments: datetime | None) -> datetime | None:
    present = [moment for moment in moments if moment is not None]
    return max(present) if present else None


def _aware(value: datetime | str | None) -> datetime | None:
    """Aggregates may bypass the UTC column type on SQLite; make them aware UTC datetimes."""
    if value is None:
        return None
    if isinstance(value, str):
        value = datetime.fromisoformat(value)
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value
