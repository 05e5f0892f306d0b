"""The bundled sample: real arXiv papers of five weeks of 2026 (2026-W03..W07), about the shipped
topics, in one gzipped arXiv API response in service/arxiv/sample_feeds/ (bench/sample_build.py
picks them from a corpus of real papers). Loaded when arXiv cannot be reached on the first start
so that the pages show real papers.

Each topic gets the sample papers that pass its category filter and match its query, judged by
a small evaluator of arXiv's query syntax over title, abstract, authors and categories. A topic
the sample cannot serve gets none and the log says so.
"""

from __future__ import annotations

import gzip
import logging
from collections import defaultdict
from datetime import datetime, timedelta
from functools import lru_cache
from pathlib import Path

from service.arxiv.client import parse_feed
from service.arxiv.query import matches_query
from service.model.paper import Paper
from service.model.topics import Topic
from service.store import papers, runs, write_transaction

log = logging.getLogger("paperboy.sample")

SAMPLE_DIR = Path(__file__).resolve().parent / "sample_feeds"
SAMPLE_FILE = "arxiv_sample_2026-W03-W07.xml.gz"
# The sample's five weeks, so that pages can show all of it while it is all there is.
SAMPLE_SPAN = timedelta(weeks=5)


def sample_papers() -> list[Paper]:
    """Every paper in the bundled response, each id once."""
    body = gzip.decompress((SAMPLE_DIR / SAMPLE_FILE).read_bytes())
    return list({paper.id: paper for paper in parse_feed(body).papers}.values())


@lru_cache(maxsize=1)
def _sample_ids() -> tuple[str, ...]:
    return tuple(paper.id for paper in sample_papers())


def sample_for_topic(topic: Topic, candidates: list[Paper]) -> list[Paper]:
    """The sample papers to show under `topic`: those in its categories matching its query."""
    return [p for p in candidates if topic.accepts(p.categories) and matches_query(topic.query, p)]


def seen_at(candidates: list[Paper], now: datetime) -> dict[str, datetime]:
    """When each sample paper counts as first seen: its weeks keep their spacing and the newest
    lands on `now`, so week pages, charts and the digest preview have recent weeks to show."""
    newest = max(paper.published for paper in candidates)
    return {paper.id: now - (newest - paper.published) for paper in candidates}


def load_sample(engine, topics: list[Topic], now: datetime) -> dict[str, int]:
    """Store the sample papers, link them to topics and record one "sample" fetch_run per topic.

    Returns how many papers each topic got. One transaction: all of it or nothing."""
    candidates = sample_papers()
    moments = seen_at(candidates, now)
    linked: dict[str, int] = {}
    with write_transaction(engine) as conn:
        for moment, group in _by_moment(candidates, moments).items():
            papers.upsert_papers(conn, group, moment)
        for topic in topics:
            chosen = sample_for_topic(topic, candidates)
            for moment, group in _by_moment(chosen, moments).items():
                papers.link_topic_papers(conn, topic.slug, [paper.id for paper in group], moment)
            start = min((moments[paper.id] for paper in chosen), default=now)
            run_id = runs.start_run(conn, topic.slug, start, now, now)
            runs.finish_run(
                conn,
                run_id,
                runs.SAMPLE,
                now,
                new=len(chosen),
                error="arXiv could not be reached; bundled sample papers shown",
            )
            linked[topic.slug] = len(chosen)
            if chosen:
                log.warning("sample: %s: %d sample paper(s) that match its query", topic.slug, len(chosen))
            else:
                log.warning(
                    "sample: %s: no sample paper matches its query; its pages stay empty until arXiv answers",
                    topic.slug,
                )
    return linked


def _by_moment(chosen: list[Paper], moments: dict[str, datetime]) -> dict[datetime, list[Paper]]:
    groups: dict[datetime, list[Paper]] = defaultdict(list)
    for paper in chosen:
        groups[moments[paper.id]].append(paper)
    return groups


def retire_sample(conn, topic: str, kept_ids: set[str]) -> int:
    """After `topic`'s first complete fetch, drop the sample papers it showed that arXiv did not
    return (`kept_ids`), and sample papers no topic shows any more. Returns links removed."""
    loaded = runs.sample_loaded_at(conn, topic)
    if loaded is None:
        return 0
    sample_ids = list(_sample_ids())
    removed = papers.unlink_papers(conn, topic, [i for i in sample_ids if i not in kept_ids], loaded)
    papers.delete_unlinked_papers(conn, sample_ids)
    if removed:
        log.info("sample: %s: removed %d sample paper(s) now that arXiv answered", topic, removed)
    return removed
