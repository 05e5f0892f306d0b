"""A heavy week of papers for the digest size tests and bench/digest_size.py: real arXiv entries
from tests/data, each reused under new ids with the longest abstracts arXiv allows, so that every
topic gets 50 or more papers first matched in one week."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

from service.arxiv.client import parse_feed
from service.model.paper import Paper
from service.store.papers import link_topic_papers, upsert_papers

DATA = Path(__file__).resolve().parents[1] / "data"
WEEK = "2026-W05"
IN_WEEK = datetime(2026, 1, 28, 9, 30, tzinfo=UTC)
ABSTRACT = 1920  # arXiv's longest abstract, in characters
FIXTURES = ("api2026_search_all-testing_100entries.xml", "api2025_search_cs.RO-neural_project-website.xml")


def real_papers() -> list[Paper]:
    papers = []
    for name in FIXTURES:
        papers += parse_feed((DATA / name).read_bytes()).papers
    return papers


def heavy_papers(topic_number: int, count: int) -> list[Paper]:
    """`count` papers for one topic: real entries under ids 2601.<topic><n>, abstracts padded to ABSTRACT."""
    source = real_papers()
    made = []
    for n in range(count):
        paper = source[(n * 7 + topic_number * 13) % len(source)]
        abstract = paper.abstract
        while len(abstract) < ABSTRACT:
            abstract += " " + paper.abstract
        made.append(
            replace(
                paper,
                id=f"2601.{topic_number}{n:04d}",
                version=1,
                title=f"{paper.title} (study {topic_number}.{n})",
                abstract=abstract[:ABSTRACT],
                published=IN_WEEK - timedelta(hours=n),
                updated=IN_WEEK - timedelta(hours=n),
            )
        )
    return made


def load_heavy_week(conn, slugs: list[str], per_topic: int = 60) -> dict[str, list[Paper]]:
    """Store `per_topic` papers per topic, first matched in WEEK; returns slug -> papers."""
    papers = {slug: heavy_papers(number, per_topic) for number, slug in enumerate(slugs, start=1)}
    for slug, chosen in papers.items():
        upsert_papers(conn, chosen, IN_WEEK)
        link_topic_papers(conn, slug, [p.id for p in chosen], IN_WEEK)
    return papers
