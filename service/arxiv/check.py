"""`paperboy fetch --check`: per topic, how many papers arXiv lists for the last N days against
how many the store holds, and any window a fetch asked for and never finished (a killed
backfill), so an operator sees a gap instead of trusting the fetch."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from service.arxiv.client import ArxivClient, ArxivError
from service.model.topics import Topic
from service.store import papers, runs

CHECK_DAYS = 14


@dataclass
class TopicCheck:
    topic: str
    start: datetime
    end: datetime
    listed: int | None = None  # arXiv's totalResults for the window
    held: int = 0  # papers the store holds for the topic, submitted in the window
    error: str | None = None
    unfinished: datetime | None = None  # start of a window a fetch asked for and never finished

    @property
    def gap(self) -> int:
        return 0 if self.listed is None else self.listed - self.held

    @property
    def missing(self) -> bool:
        return self.gap > 0 or self.unfinished is not None

    def summary(self) -> str:
        return self._counts() + (
            f"; the fetch of papers updated since {self.unfinished:%Y-%m-%d %H:%M} UTC never finished "
            "(the next fetch asks for all of it again)"
            if self.unfinished is not None
            else ""
        )

    def _counts(self) -> str:
        window = f"submitted {self.start:%Y-%m-%d %H:%M} to {self.end:%Y-%m-%d %H:%M} UTC"
        if self.error is not None:
            return f"{self.topic}: check failed: {self.error}"
        counts = f"arXiv lists {self.listed}, the store holds {self.held} ({window})"
        if self.gap > 0:
            return f"{self.topic}: {counts}: {self.gap} missing"
        if self.gap < 0:
            return f"{self.topic}: {counts}: {-self.gap} more than arXiv lists"
        return f"{self.topic}: {counts}: no gap"


def check_query(topic: Topic) -> str:
    """The topic's query with its category filter, so arXiv counts what the topic would list."""
    if not topic.categories:
        return topic.query
    categories = " OR ".join(f"cat:{category}" for category in topic.categories)
    return f"({topic.query}) AND ({categories})"


def check_topics(
    engine, client: ArxivClient, topics: list[Topic], now: datetime, days: int = CHECK_DAYS
) -> list[TopicCheck]:
    """One arXiv request per topic: its totalResults for papers submitted in the last `days` days."""
    start = now - timedelta(days=days)
    checks = []
    for topic in topics:
        check = TopicCheck(topic.slug, start, now)
        try:
            check.listed = client.count(check_query(topic), start, now)
        except ArxivError as error:
            check.error = str(error)
        with engine.connect() as conn:
            check.held = papers.count_topic_papers_submitted(conn, topic.slug, start, now)
            check.unfinished = runs.coverage(conn, topic.slug).unfinished_start
        checks.append(check)
    return checks


def exit_code(checks: list[TopicCheck]) -> int:
    """0 no gap, 1 some topic misses papers, 2 arXiv could not be asked."""
    if any(check.error for check in checks):
        return 2
    return 1 if any(check.missing for check in checks) else 0
