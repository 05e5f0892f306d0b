"""initial_fetch: when arXiv cannot be reached and the store is empty, the bundled sample
(real arXiv papers shipped in service/arxiv/sample_feeds/) is loaded and marked as such."""

import re
from datetime import timedelta
from urllib.parse import parse_qs

import pytest
from werkzeug import Response

from service.arxiv.fetch import initial_fetch
from service.arxiv.query import matches_query
from service.arxiv.sample import sample_papers
from service.model.paper import Paper
from service.runtime import Runtime
from service.store import papers, runs
from tests.conftest import NOW
from tests.support.arxiv_replay import dated_entries, feed


@pytest.fixture
def offline(config, database_url):
    """arXiv on a closed port, no retries, on SQLite and PostgreSQL."""
    runtime = Runtime(config.with_overrides(database_url=database_url, arxiv_retries=0))
    yield runtime
    runtime.engine.dispose()


def linked(runtime, topic):
    with runtime.engine.connect() as conn:
        return {p.id: p for p in papers.papers_for_topic(conn, topic)}


def test_it_loads_the_sample_when_arxiv_cannot_be_reached(offline, caplog):
    caplog.set_level("WARNING")
    assert initial_fetch(offline, now=NOW) == 2
    with offline.engine.connect() as conn:
        assert papers.count_papers(conn) == len(sample_papers()) == 184
        assert runs.is_sample_data(conn)
        latest = runs.latest_runs(conn)
    assert {slug: run.status for slug, run in latest.items()} == {"vla": "sample", "testing": "sample"}
    assert latest["vla"].new_count == len(linked(offline, "vla"))
    assert any(
        "sample: arXiv could not be reached" in r.getMessage() and "cannot connect" in r.getMessage()
        for r in caplog.records
    )


WORLD_MODELS = """
[[topic]]
slug = "world-models"
title = "World Models"
query = 'ti:"world model" OR ti:"world models" OR abs:"world model" OR abs:"world models"'
categories = ["cs.RO", "cs.AI", "cs.CV", "cs.LG"]
"""


def test_it_gives_each_topic_the_sample_papers_matching_its_query(offline, tmp_path):
    topics = tmp_path / "two.toml"
    topics.write_text(offline.config.topics_file.read_text().split('[[topic]]\nslug = "testing"')[0] + WORLD_MODELS)
    runtime = Runtime(offline.config.with_overrides(topics_file=topics))
    initial_fetch(runtime, now=NOW)
    vla = linked(runtime, "vla")
    assert "2602.03310" in vla and "2602.06949" not in vla  # RDT2, a VLA; DreamDojo, a world model
    assert all(re.search(r"vision-language-action|\bVLA", p.title + " " + p.abstract, re.I) for p in vla.values())
    world_models = linked(runtime, "world-models")
    assert "2602.06949" in world_models and len(world_models) > 25
    assert all(re.search(r"\bworld models?\b", p.title + " " + p.abstract, re.I) for p in world_models.values())
    runtime.engine.dispose()


def test_a_topic_the_sample_cannot_serve_gets_no_papers_and_says_so(config, database_url, tmp_path, caplog):
    topics = tmp_path / "quantum.toml"
    topics.write_text('[[topic]]\nslug = "q"\ntitle = "Q"\nquery = "ti:quantum"\ncategories = ["cs.RO"]\n')
    runtime = Runtime(config.with_overrides(database_url=database_url, arxiv_retries=0, topics_file=topics))
    caplog.set_level("WARNING")
    initial_fetch(runtime, now=NOW)
    assert {p.id for p in sample_papers() if "cs.RO" in p.categories}  # papers in its category, none on quantum
    assert linked(runtime, "q") == {}
    assert "sample: q: no sample paper matches its query; its pages stay empty until arXiv answers" in [
        r.getMessage() for r in caplog.records
    ]
    runtime.engine.dispose()


def test_it_leaves_a_store_with_papers_alone(offline, httpserver):
    online = Runtime(offline.config.with_overrides(arxiv_api_url=httpserver.url_for("/api/query")))
    httpserver.expect_request("/api/query").respond_with_data(
        feed(dated_entries(3, NOW - timedelta(hours=1))), content_type="application/atom+xml"
    )
    assert initial_fetch(online, now=NOW) == 0
    online.engine.dispose()
    assert initial_fetch(offline, now=NOW + timedelta(days=1)) == 2
    with offline.engine.connect() as conn:
        assert papers.count_papers(conn) == 3
        assert not runs.is_sample_data(conn)


def test_it_fetches_for_real_once_arxiv_is_back(offline, httpserver):
    initial_fetch(offline, now=NOW)
    online = Runtime(offline.config.with_overrides(arxiv_api_url=httpserver.url_for("/api/query")))
    seen = []
    body = feed(dated_entries(4, NOW - timedelta(hours=1)))

    def handler(request):
        seen.append(request)
        return Response(body, content_type="application/atom+xml")

    httpserver.expect_request("/api/query").respond_with_handler(handler)
    assert initial_fetch(online, now=NOW) == 0
    # The sample does not count as a run: the first real fetch goes back the usual 14 days.
    windows = {parse_qs(r.query_string.decode())["search_query"][0].rsplit(":", 1)[1] for r in seen}
    assert windows == {"[202601211650 TO 202602041650]"}
    with online.engine.connect() as conn:
        assert not runs.is_sample_data(conn)
        # The sample papers leave the topics and the store once arXiv has answered for each topic.
        assert papers.count_papers(conn) == 4
    assert (
        set(linked(online, "vla"))
        == set(linked(online, "testing"))
        == {"2602.10000", "2602.10001", "2602.10002", "2602.10003"}
    )
    online.engine.dispose()


def test_it_keeps_the_sample_of_topics_arxiv_has_not_answered_for(offline, httpserver):
    initial_fetch(offline, now=NOW)
    vla_sample = set(linked(offline, "vla"))
    online = Runtime(offline.config.with_overrides(arxiv_api_url=httpserver.url_for("/api/query")))
    pages = {0: feed(dated_entries(100, NOW - timedelta(hours=1), prefix="2699"), total=150)}
    httpserver.expect_request("/api/query").respond_with_handler(
        lambda request: Response(
            pages.get(int(parse_qs(request.query_string.decode())["start"][0]), b"<html>"),
            content_type="application/atom+xml",
        )
    )
    assert initial_fetch(online, now=NOW + timedelta(hours=1)) == 2  # both topics fail on page 2
    assert vla_sample < set(linked(online, "vla"))
    with online.engine.connect() as conn:
        assert papers.count_papers(conn) == 184 + 100
    online.engine.dispose()


def paper(title="", abstract="", categories=("cs.RO",)):
    return Paper(
        id="2602.00001",
        version=1,
        title=title,
        authors=["A. Author"],
        abstract=abstract,
        categories=list(categories),
        primary_category=categories[0],
        published=NOW,
        updated=NOW,
    )


@pytest.mark.parametrize(
    "query, candidate, expected",
    [
        ("ti:VLA", paper(title="A VLA for cooking"), True),
        ("ti:VLA", paper(abstract="A VLA for cooking"), False),
        ('abs:"world model"', paper(abstract="We learn world models of kitchens."), True),
        ('abs:"world model"', paper(abstract="A model of the world."), False),
        (
            'cat:cs.RO AND (abs:"imitation learning" OR abs:"diffusion policy")',
            paper(abstract="A diffusion policy for grasping."),
            True,
        ),
        (
            'cat:cs.RO AND (abs:"imitation learning" OR abs:"diffusion policy")',
            paper(abstract="A diffusion policy.", categories=("cs.LG",)),
            False,
        ),
        ("all:robot ANDNOT ti:survey", paper(title="Robot survey"), False),
        ("all:robot ANDNOT ti:survey", paper(title="Robot hands"), True),
        ("cat:cs.*", paper(categories=("cs.CV",)), True),
    ],
)
def test_it_judges_sample_papers_by_arxiv_query_syntax(query, candidate, expected):
    assert matches_query(query, candidate) is expected
