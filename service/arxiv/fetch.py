"""The fetch job: for each topic, ask arXiv again for a trailing window and store what is new.

arXiv announces papers held for moderation, reclassified or cross-listed days after their
submission date, so each run asks for everything updated in the last few weeks, not only
since the newest paper held. Each topic's run is one fetch_run row. Every page of results is
stored in its own transaction, so a run that fails keeps the pages before the failing one and
nothing of it; the next run asks for the failed run's whole window again. A fetch of several
topics records every topic's run, with its window, before it asks for the first: a process
killed before it reached a topic leaves that topic's run unfinished too, so the next fetch asks
for its whole window (a `--since` backfill included), not a first run's 14 days.
"""

from __future__ import annotations

import logging
import sys
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import TextIO

from service import store
from service.arxiv.client import LAST_UPDATED, ArxivClient, ArxivError, ArxivUnreachable
from service.arxiv.exemplars import fetch_exemplars
from service.arxiv.sample import load_sample, retire_sample
from service.clock import utc_now
from service.model.states import RunStatus
from service.model.topics import Topic
from service.store import papers, runs, write_transaction
from service.store.papers import UpsertCounts

log = logging.getLogger("paperboy.fetch")

FIRST_RUN_DAYS = 14

OK, PARTIAL, FAILED, SKIPPED = RunStatus.OK, RunStatus.PARTIAL, RunStatus.FAILED, RunStatus.SKIPPED


@dataclass
class TopicResult:
    topic: str
    status: str  # ok | partial (failed after storing some pages) | failed | skipped
    window_start: datetime | None = None
    window_end: datetime | None = None
    counts: UpsertCounts = field(default_factory=UpsertCounts)
    pages: int = 0
    error: str | None = None
    unreachable: bool = False  # arXiv could not be reached at all: later topics would fail too

    def summary(self) -> str:
        counts = f"{self.counts.new} new, {self.counts.updated} updated, {self.counts.unchanged} unchanged"
        if self.status == OK:
            return f"{self.topic}: {counts}"
        if self.status == SKIPPED:
            return f"{self.topic}: skipped: {self.error}"
        if not self.pages:
            return f"{self.topic}: failed: {self.error}"
        return f"{self.topic}: failed after {self.pages} stored page(s) ({counts}): {self.error}"


@dataclass
class FetchReport:
    results: list[TopicResult]

    @property
    def exit_code(self) -> int:
        """0 every topic fetched, 1 some failed, 2 all failed."""
        ok = sum(1 for result in self.results if result.status == OK)
        if ok == len(self.results):
            return 0
        return 1 if ok else 2


class Progress:
    """A live line per page on a terminal; one log line per step otherwise."""

    def __init__(self, stream: TextIO | None = None):
        self.stream = stream if stream is not None else sys.stderr
        self.live = bool(getattr(self.stream, "isatty", lambda: False)())

    def page(self, result: TopicResult, total: int | None, fetched: int) -> None:
        c = result.counts
        of = f" of {total}" if total is not None else ""
        line = (
            f"{result.topic}: page {result.pages}, {fetched}{of} entries, "
            f"{c.new} new, {c.updated} updated, {c.unchanged} unchanged"
        )
        if self.live:
            self.stream.write(f"\r\x1b[K{line}")
            self.stream.flush()
        else:
            log.info("fetch: %s", line)

    def done(self, result: TopicResult) -> None:
        if self.live:
            self.stream.write("\r\x1b[K")
            self.stream.flush()
        if result.status == OK:
            log.info("fetch: %s", result.summary())
        else:
            log.error("fetch: %s", result.summary())


def fetch_window(
    conn, topic: str, now: datetime, lookback_days: int, since: datetime | None = None
) -> tuple[datetime, datetime]:
    """The window of arXiv's lastUpdatedDate to ask for.

    --since wins; a first run goes back 14 days; later runs go back `lookback_days` behind the
    end of the last complete run (arXiv announces held papers days after their submission date),
    and to the start of every run since that did not finish; never before the first run's window."""
    if since is not None:
        return min(since, now), now
    covered = runs.coverage(conn, topic)
    if covered.first_start is None:
        return now - timedelta(days=FIRST_RUN_DAYS), now
    if covered.complete_end is None:
        return min(covered.first_start, now), now
    start = max(covered.complete_end - timedelta(days=lookback_days), covered.first_start)
    if covered.unfinished_start is not None:
        start = min(start, covered.unfinished_start)
    return min(start, now), now


def fetch_topics(
    runtime,
    topics: list[Topic],
    now: datetime | None = None,
    since: datetime | None = None,
    client: ArxivClient | None = None,
    progress: Progress | None = None,
) -> FetchReport:
    """Fetch every topic in turn, then the topics' exemplar papers the store lacks; stop at once
    when arXiv cannot be reached at all."""
    now = now or utc_now()
    progress = progress or Progress()
    engine = runtime.engine
    lookback = runtime.config.fetch_lookback_days
    own_client = client is None
    client = client or ArxivClient.from_config(runtime.config)
    results: list[TopicResult] = []
    planned = _plan_runs(engine, topics, now, since, lookback)
    try:
        for index, topic in enumerate(topics):
            result = fetch_topic(engine, client, topic, now, since, progress, lookback, planned[topic.slug])
            results.append(result)
            if result.unreachable:
                for rest in topics[index + 1 :]:
                    skipped = TopicResult(rest.slug, SKIPPED, error="arXiv cannot be reached")
                    with write_transaction(engine) as conn:
                        # Not asked at all: the next run asks for this window again.
                        runs.finish_run(conn, planned[rest.slug], FAILED, now, error="skipped: arXiv cannot be reached")
                    progress.done(skipped)
                    results.append(skipped)
                break
        else:
            fetch_exemplars(engine, client, topics, now)
    finally:
        if own_client:
            client.close()
    store.update_statistics(engine)  # a window of thousands is read through the right index
    return FetchReport(results)


def _plan_runs(engine, topics: list[Topic], now: datetime, since: datetime | None, lookback: int) -> dict[str, int]:
    """Record each topic's run (running, with its window) before any is fetched; by topic slug."""
    planned = {}
    with write_transaction(engine) as conn:
        for topic in topics:
            start, end = fetch_window(conn, topic.slug, now, lookback, since)
            planned[topic.slug] = runs.start_run(conn, topic.slug, start, end, now)
    return planned


def fetch_topic(
    engine,
    client: ArxivClient,
    topic: Topic,
    now: datetime,
    since: datetime | None,
    progress: Progress,
    lookback_days: int,
    planned: int | None = None,
) -> TopicResult:
    """One topic's run: one fetch_run row (`planned`, when fetch_topics recorded it), one
    transaction per page; the row is finished whatever fails, or closed as interrupted by the
    next run when the process dies."""
    reason = (
        f"interrupted: the run stopped before it finished (the process died or lost its "
        f"database); the run of {now:%Y-%m-%d %H:%M} UTC asked for its window again"
    )
    with write_transaction(engine) as conn:
        closed = runs.close_unfinished_runs(conn, topic.slug, now, reason, keep=planned)
        start, end = fetch_window(conn, topic.slug, now, lookback_days, since)
        first = runs.coverage(conn, topic.slug).first_start
        if planned is None:
            run_id = runs.start_run(conn, topic.slug, start, end, now)
        else:
            run_id = planned
            runs.set_window(conn, run_id, start, end)
    for stale in closed:
        log.warning(
            "fetch: %s: run %d (started %s) never finished; closed as interrupted",
            topic.slug,
            stale.id,
            f"{stale.started:%Y-%m-%d %H:%M}",
        )
    # The papers the topic follows: first submitted since its first window. A newer version
    # of an older paper updates the store but is not new to the topic.
    follows_from = min(first or start, start)
    result = TopicResult(topic.slug, OK, start, end)
    log.info(
        "fetch: %s: asking arXiv for papers updated %s to %s",
        topic.slug,
        f"{start:%Y-%m-%d %H:%M}",
        f"{end:%Y-%m-%d %H:%M}",
    )
    fetched = 0
    stored_ids: set[str] = set()
    try:
        for page in client.search(topic.query, start, end, LAST_UPDATED):
            fetched += len(page.papers)
            accepted = [paper for paper in page.papers if topic.accepts(paper.categories)]
            outside = [paper for paper in page.papers if not topic.accepts(paper.categories)]
            ids = {paper.id for paper in accepted}
            followed = sorted(paper.id for paper in accepted if paper.version == 1 or paper.published >= follows_from)
            with write_transaction(engine) as conn:
                stored = papers.upsert_papers(conn, accepted, now)
                # Papers outside the topic's categories are kept in the store, where search
                # finds them, but the topic does not list them and its counts leave them out.
                papers.upsert_papers(conn, outside, now)
                linked = papers.link_topic_papers(conn, topic.slug, followed, now)
            # Counts are the topic's: "new" is new to the topic, even if another topic had it.
            updated = [paper_id for paper_id in stored.updated_ids if paper_id not in linked]
            counts = UpsertCounts(
                new=len(linked), updated=len(updated), unchanged=len(ids) - len(linked) - len(updated)
            )
            stored_ids.update(ids)
            result.counts.add(counts)
            result.pages += 1
            progress.page(result, page.total_results, fetched)
    except ArxivError as error:
        result.status = PARTIAL if result.pages else FAILED
        result.error = str(error)
        result.unreachable = isinstance(error, ArxivUnreachable)
    except store.DatabaseError as error:
        result.status = PARTIAL if result.pages else FAILED
        result.error = store.describe(error)
    except Exception as error:  # a bug: the run row must still say the run failed
        result.status = PARTIAL if result.pages else FAILED
        result.error = f"fetch: {type(error).__name__}: {error}"
        log.exception("fetch: %s: the run failed", topic.slug)
    try:
        with write_transaction(engine) as conn:
            c = result.counts
            runs.finish_run(
                conn,
                run_id,
                result.status,
                now,
                new=c.new,
                updated=c.updated,
                unchanged=c.unchanged,
                error=result.error,
            )
            if result.status == OK:
                retire_sample(conn, topic.slug, stored_ids)
    except store.DatabaseError as error:
        # The row stays `running`; the next run closes it as interrupted and asks again.
        result.status = PARTIAL if result.pages else FAILED
        result.error = f"{result.error + '; ' if result.error else ''}cannot record the run: {store.describe(error)}"
    progress.done(result)
    return result


def initial_fetch(runtime, now: datetime | None = None) -> int:
    """Fetch every topic; if that fails and the store is still empty, load the bundled sample.

    Returns the fetch's exit code (0, 1 or 2) whether or not the sample was loaded."""
    report = fetch_topics(runtime, runtime.topics, now=now)
    if report.exit_code == 0:
        return 0
    with runtime.engine.connect() as conn:
        empty = papers.count_papers(conn) == 0
    if empty:
        reason = next((r.error for r in report.results if r.error), "the fetch failed")
        log.warning(
            "sample: arXiv could not be reached (%s); loading the bundled sample papers "
            "so the pages have something to show",
            reason,
        )
        load_sample(runtime.engine, runtime.topics, now or utc_now())
    return report.exit_code
