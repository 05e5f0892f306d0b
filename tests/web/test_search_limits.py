"""A search costs a bounded amount of work whatever it asks: repeated words count once, short
prefixes are whole words, terms are capped, SQLite's progress-handler budget stops the rest,
and each client may search only so often."""

from __future__ import annotations

import pytest
from lxml import html

from service import store
from service.store import search as search_module
from service.store.papers import upsert_papers
from service.store.search import MAX_TERMS, SearchTooBroad, fts5_query, search_papers, search_words
from service.web import create_app
from tests.conftest import NOW
from tests.support.topic_data import many_papers

THIRTY_TWO_PREFIXES = " ".join(["a*"] * 32)  # 95 characters: 1.7 s at 10k papers, 9.1 s at 50k, unbounded


def test_it_reads_each_word_once_short_prefixes_as_words_and_at_most_max_terms():
    assert search_words(THIRTY_TWO_PREFIXES) == ["a"]
    assert search_words("Robot robot ROBOT rob* ro* grasp") == ["Robot", "rob*", "ro", "grasp"]
    assert len(search_words(" ".join(f"word{n}" for n in range(100)))) == MAX_TERMS
    assert fts5_query("a* ab* abc* abc*") == '"a" "ab" "abc"*'


@pytest.fixture(scope="module")
def fifty_thousand(tmp_path_factory):
    """A SQLite store of 50,000 papers (real titles, authors and abstracts, distinct ids)."""
    engine = store.connect(f"sqlite:///{tmp_path_factory.mktemp('search')}/paperboy.sqlite3")
    store.migrate(engine)
    papers = many_papers(50_000)
    with engine.begin() as conn:
        for start in range(0, len(papers), 1000):
            upsert_papers(conn, papers[start : start + 1000], NOW)
    yield engine
    engine.dispose()


def test_the_32_prefix_query_answers_within_its_budget_at_50000_papers(fifty_thousand):
    with fifty_thousand.connect() as conn:
        assert len(search_papers(conn, THIRTY_TWO_PREFIXES)) == 50  # within the default budget
        # The budget is what bounds it: the same search on a budget a tenth of the work it needs
        # (ranking some 48,000 matches) is stopped, not left to run.
        with pytest.raises(SearchTooBroad):
            search_papers(conn, THIRTY_TWO_PREFIXES, budget=100)
        # A stopped search leaves the connection usable for the next one.
        assert len(search_papers(conn, "metamorphic")) > 0


def test_a_search_stopped_by_its_budget_answers_with_a_page_saying_so(config, monkeypatch):
    app = create_app(config)
    engine = app.extensions["paperboy"].engine
    store.migrate(engine)
    with engine.begin() as conn:
        upsert_papers(conn, many_papers(3000), NOW)
    monkeypatch.setattr(search_module, "SQLITE_BUDGET", 1)  # less than any search of 3,000 abstracts
    answer = app.test_client().get("/search", query_string={"q": "testing"})
    engine.dispose()
    assert answer.status_code == 200
    assert "matches too much to rank in time" in html.fromstring(answer.data).text_content()


def test_each_client_may_search_only_so_often(config):
    app = create_app(config.with_overrides(rate_limits=True))
    store.migrate(app.extensions["paperboy"].engine)
    client = app.test_client()
    statuses = [client.get("/search", query_string={"q": f"robot{n}"}).status_code for n in range(31)]
    other = (
        app.test_client()
        .get("/search", query_string={"q": "robot"}, environ_base={"REMOTE_ADDR": "127.0.0.2"})
        .status_code
    )
    app.extensions["paperboy"].engine.dispose()
    assert statuses == [200] * 30 + [429]
    assert other == 200
