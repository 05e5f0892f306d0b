"""The bundled sample: real arXiv API responses shipped in service/sample/, loaded when arXiv
cannot be reached on the first start so that the pages show real papers.

Each topic gets the sample papers that pass its category filter and match its query, judged by
a small evaluator of arXiv's query syntax over title, abstract, authors and categories.
"""

from __future__ import annotations

import logging
from datetime import datetime
from functools import lru_cache
from pathlib import Path

from service.arxiv.client import parse_feed
from service.arxiv.query import matches_query
from service.model.paper import Paper
from service.model.topics import Topic
from service.store import papers, runs, write_transaction

log = logging.getLogger("paperboy.sample")

SAMPLE_DIR = Path(__file__).resolve().parent / "sample_feeds"
SAMPLE_FILES = (
    "api2025_search_cs.RO-neural_project-website.xml",
    "api2026_search_all-testing_100entries.xml",
)


def sample_papers() -> list[Paper]:
    """Every paper in the bundled responses, each id once."""
    found: dict[str, Paper] = {}
    for name in SAMPLE_FILES:
        body = (SAMPLE_DIR / name).read_bytes()
        for paper in parse_feed(body).papers:
            found.setdefault(paper.id, paper)
    return list(found.values())


@lru_cache(maxsize=1)
def _sample_ids() -> tuple[str, ...]:
    return tuple(paper.id for paper in sample_papers())


def sample_for_topic(topic: Topic, candidates: list[Paper]) -> tuple[list[Paper], str]:
    """The sample papers to show under `topic`, and how they were chosen (for the log)."""
    in_categories = [paper for paper in candidates if topic.accepts(paper.categories)]
    matching = [paper for paper in in_categories if matches_query(topic.query, paper)]
    if matching:
        return matching, "match its query"
    if in_categories and topic.categories:
        return in_categories, "match no query term, so all sample papers in its categories"
    return candidates, "match neither its query nor its categories, so every sample paper"


def load_sample(engine, topics: list[Topic], now: datetime) -> dict[str, int]:
    """Store the sample papers, link them to topics and record one "sample" fetch_run per topic.

    Returns how many papers each topic got. One transaction: all of it or nothing."""
    candidates = sample_papers()
    linked: dict[str, int] = {}
    with write_transaction(engine) as conn:
        papers.upsert_papers(conn, candidates, now)
        for topic in topics:
            chosen, how = sample_for_topic(topic, candidates)
            papers.link_topic_papers(conn, topic.slug, [paper.id for paper in chosen], now)
            start = min((paper.published for paper in chosen), default=now)
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
            log.warning("sample: %s: %d sample paper(s) that %s", topic.slug, len(chosen), how)
    return linked


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
