"""Queries on fetch_run: one row per topic per fetch, which the next fetch resumes from."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, insert, select, update
from sqlalchemy.engine import Connection

from service.model.states import RunStatus
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
    status: str  # a RunStatus
    new_count: int
    updated_count: int
    unchanged_count: int
    error: str | None


def start_run(conn: Connection, topic: str, window_start: datetime, window_end: datetime, now: datetime) -> int:
    """Record the start of a run and return its id."""
    run_id: int = conn.execute(
        insert(fetch_run)
        .values(
            topic=topic,
            window_start=window_start,
            window_end=window_end,
            started=now,
            status=RunStatus.RUNNING,
            new_count=0,
            updated_count=0,
            unchanged_count=0,
        )
        .returning(fetch_run.c.id)
    ).scalar_one()
    return run_id


def finish_run(
    conn: Connection,
    run_id: int,
    status: str,
    now: datetime,
    new: int = 0,
    updated: int = 0,
    unchanged: int = 0,
    error: str | None = None,
) -> None:
    conn.execute(
        update(fetch_run)
        .where(fetch_run.c.id == run_id)
        .values(
            status=status,
            finished=now,
            new_count=new,
            updated_count=updated,
            unchanged_count=unchanged,
            error=error,
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
    row = (
        conn.execute(
            select(fetch_run)
            .where(fetch_run.c.topic == topic, fetch_run.c.finished.is_not(None), fetch_run.c.status != SAMPLE)
            .order_by(fetch_run.c.id.desc())
            .limit(1)
        )
        .mappings()
        .first()
    )
    return FetchRun(**row) if row else None


def fetch_started_since(conn: Connection, moment: datetime) -> bool:
    """Whether a fetch of any topic (not a sample load) started at or after `moment`."""
    return (
        conn.execute(
            select(fetch_run.c.id).where(fetch_run.c.started >= moment, fetch_run.c.status != SAMPLE).limit(1)
        ).first()
        is not None
    )


def runs_for_topic(conn: Connection, topic: str) -> list[FetchRun]:
    """Every run of `topic`, oldest first."""
    rows = conn.execute(select(fetch_run).where(fetch_run.c.topic == topic).order_by(fetch_run.c.id)).mappings()
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


def set_window(conn: Connection, run_id: int, window_start: datetime, window_end: datetime) -> None:
    """Set the window of a run recorded before its topic's turn (it may have grown since)."""
    conn.execute(
        update(fetch_run).where(fetch_run.c.id == run_id).values(window_start=window_start, window_end=window_end)
    )


def close_unfinished_runs(
    conn: Connection, topic: str, now: datetime, reason: str, keep: int | None = None
) -> list[FetchRun]:
    """Mark `topic`'s runs still `running` (but run `keep`, this fetch's own) as interrupted, with
    `reason`; return them as they were.

    A process killed mid-run (or whose database failed) never finishes its row itself."""
    rows = (
        conn.execute(
            select(fetch_run).where(
                fetch_run.c.topic == topic, fetch_run.c.status == RunStatus.RUNNING, fetch_run.c.id != (keep or 0)
            )
        )
        .mappings()
        .all()
    )
    if rows:
        conn.execute(
            update(fetch_run)
            .where(fetch_run.c.id.in_([row["id"] for row in rows]), fetch_run.c.status == RunStatus.RUNNING)
            .values(status=RunStatus.INTERRUPTED, finished=now, error=reason)
        )
    return [FetchRun(**row) for row in rows]


@dataclass
class Coverage:
    """What `topic`'s runs so far asked arXiv for: where the next window has to start from."""

    first_start: datetime | None  # the earliest window any run asked for
    complete_end: datetime | None  # the end of the newest run that finished ok
    unfinished_start: datetime | None  # the earliest window of a run after it that did not


def coverage(conn: Connection, topic: str) -> Coverage:
    """The facts fetch windows are computed from; sample loads do not count."""
    asked = (fetch_run.c.topic == topic, fetch_run.c.status != SAMPLE)
    first = conn.execute(select(func.min(fetch_run.c.window_start)).where(*asked)).scalar()
    complete = conn.execute(
        select(fetch_run.c.id, fetch_run.c.window_end)
        .where(*asked, fetch_run.c.status == RunStatus.OK)
        .order_by(fetch_run.c.id.desc())
        .limit(1)
    ).first()
    later = asked + ((fetch_run.c.id > complete.id,) if complete else ())
    unfinished = conn.execute(
        select(func.min(fetch_run.c.window_start)).where(*later, fetch_run.c.status != RunStatus.OK)
    ).scalar()
    return Coverage(first, complete.window_end if complete else None, unfinished)
