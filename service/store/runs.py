"""Queries on fetch_run: one row per topic per fetch, which the next fetch resumes from."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, insert, select, update
from sqlalchemy.engine import Connection

from service.states import RunStatus
from service.store.schema import fetch_run

# A run that loaded the bundled sample instead of asking arXiv.
SAMPLE = RunStatus.SAMPLE


@dataclass
class FetchRun:
    id: int
    topic: str
    window_start: datetime
    window_end: datetime
    started: datetime
    finished: datetime | None
    status: str  # running | ok | partial | failed | sample
    new_count: int
    updated_count: int
    unchanged_count: int
    error: str | None


def start_run(conn: Connection, topic: str, window_start: datetime, window_end: datetime, now: datetime) -> int:
    """Record the start of a run and return its id."""
    return conn.execute(
        insert(fetch_run)
        .values(topic=topic, window_start=window_start, window_end=window_end, started=now,
                status=RunStatus.RUNNING, new_count=0, updated_count=0, unchanged_count=0)
        .returning(fetch_run.c.id)
    ).scalar_one()


def finish_run(
    conn: Connection, run_id: int, status: str, now: datetime,
    new: int = 0, updated: int = 0, unchanged: int = 0, error: str | None = None,
) -> None:
    conn.execute(
        update(fetch_run).where(fetch_run.c.id == run_id).values(
            status=status, finished=now, new_count=new, updated_count=updated,
            unchanged_count=unchanged, error=error,
        )
    )


def latest_runs(conn: Connection) -> dict[str, FetchRun]:
    """The most recent finished run of each topic, by topic slug."""
    newest = (
        select(fetch_run.c.topic, func.max(fetch_run.c.id).label("id"))
        .where(fetch_run.c.finished.is_not(None))
        .group_by(fetch_run.c.topic)
        .subquery()
    )
    rows = conn.execute(select(fetch_run).join(newest, newest.c.id == fetch_run.c.id)).mappings()
    return {row["topic"]: FetchRun(**row) for row in rows}


def last_fetch(conn: Connection, topic: str) -> FetchRun | None:
    """The most recent finished run of `topic` that asked arXiv (sample loads do not count)."""
    row = conn.execute(
        select(fetch_run)
        .where(fetch_run.c.topic == topic, fetch_run.c.finished.is_not(None),
               fetch_run.c.status != SAMPLE)
        .order_by(fetch_run.c.id.desc())
        .limit(1)
    ).mappings().first()
    return FetchRun(**row) if row else None


def runs_for_topic(conn: Connection, topic: str) -> list[FetchRun]:
    """Every run of `topic`, oldest first."""
    rows = conn.execute(
        select(fetch_run).where(fetch_run.c.topic == topic).order_by(fetch_run.c.id)
    ).mappings()
    return [FetchRun(**row) for row in rows]


def sample_loaded_at(conn: Connection, topic: str) -> datetime | None:
    """When the bundled sample was loaded for `topic`, or None if it never was."""
    return conn.execute(
        select(func.max(fetch_run.c.started)).where(fetch_run.c.topic == topic, fetch_run.c.status == SAMPLE)
    ).scalar()


def is_sample_data(conn: Connection) -> bool:
    """True while the store holds the bundled sample and no fetch from arXiv has succeeded."""
    sample = conn.execute(select(func.count()).where(fetch_run.c.status == SAMPLE)).scalar_one()
    if not sample:
        return False
    real = conn.execute(
        select(func.count()).where(fetch_run.c.status.in_((RunStatus.OK, RunStatus.PARTIAL)))
    ).scalar_one()
    return real == 0
