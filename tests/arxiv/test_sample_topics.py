"""The bundled sample serves every shipped topic (topics.toml) with papers that belong to it, as
`make run` shows them when arXiv cannot be reached on the first start."""

import csv
from pathlib import Path

import pytest

from service.arxiv.fetch import initial_fetch
from service.model.topics import load_topics
from service.runtime import Runtime
from service.store import papers
from service.store.summaries import match_weeks
from tests.conftest import NOW

ROOT = Path(__file__).resolve().parents[2]
SHIPPED = ROOT / "topics.toml"
LABELS = ROOT / "bench" / "relevance_labels.csv"


@pytest.fixture
def shipped(config, database_url):
    """The shipped topics, arXiv on a closed port, the first start done."""
    runtime = Runtime(config.with_overrides(database_url=database_url, arxiv_retries=0, topics_file=SHIPPED))
    assert initial_fetch(runtime, now=NOW) == 2  # arXiv failed: the sample was loaded
    yield runtime
    runtime.engine.dispose()


def topic_papers(runtime, slug):
    with runtime.engine.connect() as conn:
        return papers.papers_for_topic(conn, slug)


def test_every_shipped_topic_gets_at_least_25_sample_papers_over_several_weeks(shipped):
    for topic in load_topics(SHIPPED):
        listed = topic_papers(shipped, topic.slug)
        assert len(listed) >= 25, topic.slug
        with shipped.engine.connect() as conn:
            weeks = {week for week, _count in match_weeks(conn, topic.slug)}
        assert len(weeks) >= 4, (topic.slug, weeks)


def test_nine_in_ten_of_the_vla_sample_papers_are_labelled_about_vla(shipped):
    with LABELS.open(newline="", encoding="utf-8") as file:
        relevant = {row["arxiv_id"] for row in csv.DictReader(file) if row["topic"] == "vla" and row["label"] == "1"}
    listed = topic_papers(shipped, "vla")
    labelled = [paper for paper in listed if paper.id in relevant]
    assert len(labelled) >= 0.9 * len(listed) and len(listed) >= 25


def test_sample_papers_keep_their_code_and_project_links(shipped):
    listed = topic_papers(shipped, "vla")
    with_links = [paper for paper in listed if paper.has_links]
    assert len(with_links) >= 10
    rdt2 = next(paper for paper in listed if paper.id == "2602.03310")
    assert rdt2.project_urls == ["https://rdt-robotics.github.io/rdt2/"]
