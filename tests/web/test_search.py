"""/search?q=: full-text search on SQLite (FTS5) and PostgreSQL (tsvector), safe on any input."""

from __future__ import annotations

import sqlite3
from dataclasses import replace
from datetime import timedelta
from urllib.parse import quote_from_bytes

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from lxml import html
from sqlalchemy import event

from service import store
from service.store.papers import upsert_papers
from service.store.search import POSTGRES_DOCUMENT, fts5_query, search_papers
from service.web import create_app
from tests.conftest import NOW
from tests.support.topic_data import fixture_papers, hostile_paper, load, many_papers


@pytest.fixture
def search_app(config, database_url):
    """The app on SQLite and on PostgreSQL, holding the 100 papers of the testing fixture."""
    app = create_app(config.with_overrides(database_url=database_url))
    app.config["TESTING"] = True
    engine = app.extensions["paperboy"].engine
    load(engine, "testing", fixture_papers(), matched=NOW - timedelta(days=1))
    yield app
    engine.dispose()


def titles(response) -> list[str]:
    assert response.status_code == 200
    return [a.text for a in html.fromstring(response.data).cssselect("article.paper h3 a")]


def test_it_finds_papers_by_title_abstract_and_author(search_app):
    client = search_app.test_client()
    papers = fixture_papers()
    fuzzing = titles(client.get("/search?q=fuzzing cyber-physical"))
    assert "Active Fuzzing for Testing and Securing Cyber-Physical Systems" in fuzzing
    by_author = next(p for p in papers if p.authors and len(p.authors[0].split()) == 2)
    surname = by_author.authors[0].split()[-1]
    assert by_author.title in titles(client.get(f"/search?q={quote_from_bytes(surname.encode())}"))
    found = titles(client.get("/search?q=metamorphic"))
    assert found and all(
        "metamorph" in (p.title + p.abstract).lower() for p in papers if p.title in found
    )  # PostgreSQL stems
    assert titles(client.get("/search?q=zzzyxxqnotaword")) == []


def test_it_shows_results_in_the_paper_layout(search_app):
    doc = html.fromstring(search_app.test_client().get("/search?q=REST").data)
    article = doc.cssselect("article.paper")[0]
    assert article.cssselect("p.authors") and article.cssselect("p.meta") and article.cssselect("p.links a")
    assert doc.cssselect("input[name=q]")[0].get("value") == "REST"
    assert "Papers found:" in doc.text_content()


def test_it_keeps_the_index_in_step_with_new_versions(search_app):
    engine = search_app.extensions["paperboy"].engine
    paper = fixture_papers()[0]
    newer = replace(
        paper, version=paper.version + 1, title="Quokkas in continuous integration", abstract="Wombats, too."
    )
    with engine.connect() as conn:
        assert paper.id in [p.id for p in search_papers(conn, "comparative")]
    with engine.begin() as conn:
        upsert_papers(conn, [newer], now=NOW)
        assert [p.id for p in search_papers(conn, "quokkas")] == [paper.id]
        assert [p.id for p in search_papers(conn, "wombats")] == [paper.id]
        assert paper.id not in [p.id for p in search_papers(conn, "comparative")]


def test_it_ranks_a_word_in_the_title_above_the_same_word_in_an_abstract(search_app):
    engine = search_app.extensions["paperboy"].engine
    papers = fixture_papers()
    in_abstract = replace(
        papers[0],
        id="2601.00002",
        title="A study of marsupials",
        abstract="Quokkas, quokkas and more quokkas: " + papers[0].abstract,
    )
    in_title = replace(papers[1], id="2601.00003", title="Quokkas in continuous integration")
    load(engine, "testing", [in_abstract, in_title])
    with engine.connect() as conn:
        assert [p.id for p in search_papers(conn, "quokkas")] == [in_title.id, in_abstract.id]


def test_a_common_word_is_ranked_from_the_index_and_the_stored_vector_on_postgresql(postgres_url):
    # 30,000 papers of which a fifth hold "learning": the store where a common word matches about
    # 6,000 papers. For that share the planner on its own reads every row instead of the GIN index.
    engine = store.connect(postgres_url)
    store.migrate(engine)
    rows = many_papers(30_000)
    with engine.begin() as conn:
        for start in range(0, len(rows), 2000):
            upsert_papers(conn, rows[start : start + 2000], NOW)
        conn.exec_driver_sql("ANALYZE paper")
    plans = []

    @event.listens_for(engine, "before_cursor_execute")
    def explain(conn, cursor, statement, parameters, context, executemany):
        # The plan of the very statement search_papers runs, in its own transaction and settings.
        if "search_vector @@" in statement:
            cursor.execute("EXPLAIN " + statement, parameters)
            plans.append([row[0] for row in cursor.fetchall()])

    with engine.connect() as conn:
        matches = conn.exec_driver_sql(
            "SELECT count(*) FROM paper WHERE search_vector @@ websearch_to_tsquery('english', 'learning')"
        ).scalar()
        found = search_papers(conn, "learning")
        # The search's own settings end with it, though it ran inside this transaction.
        after = [conn.exec_driver_sql(f"SHOW {name}").scalar() for name in ("enable_seqscan", "statement_timeout")]
        stale = conn.exec_driver_sql(f"SELECT count(*) FROM paper WHERE search_vector <> {POSTGRES_DOCUMENT}").scalar()
    engine.dispose()
    assert matches >= 6000 and len(found) == 50
    assert after == ["on", "0"]
    plan = plans[-1]
    assert any("Bitmap Index Scan on ix_paper_search_vector" in line for line in plan), plan
    assert not any("Seq Scan" in line for line in plan), plan
    # Ranking reads the stored vector: no to_tsvector() left to run per matching row.
    assert not any("to_tsvector" in line for line in plan), plan
    # The stored column holds what the document expression computes, for every paper.
    assert stale == 0


@pytest.mark.parametrize(
    "query",
    [
        '"',
        '""',
        '"unbalanced',
        "a OR",
        "NOT",
        "AND AND",
        "(",
        ")",
        "NEAR(",
        "title:foo",
        "*",
        "-",
        "^",
        "foo*bar",
        "\x00",
        "'; DROP TABLE paper; --",
        "<script>alert(1)</script>",
        "x" * 5000,
        " ".join(["testing"] * 200),
        "€ 日本語 🚀",
        ":",
        "{abstract}: testing",
    ],
)
def test_it_answers_odd_queries_with_a_page(search_app, query):
    response = search_app.test_client().get("/search?q=" + quote_from_bytes(query.encode()))
    assert response.status_code == 200
    assert b"<script>alert" not in response.data


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(raw=st.binary(max_size=300))
def test_it_answers_any_bytes_with_a_page(search_app, raw):
    response = search_app.test_client().get("/search?q=" + quote_from_bytes(raw))
    assert response.status_code == 200


@pytest.fixture(scope="module")
def fts5():
    connection = sqlite3.connect(":memory:")
    connection.execute("CREATE VIRTUAL TABLE words USING fts5(body)")
    connection.execute("INSERT INTO words VALUES ('robots grasp \"quoted\" things')")
    yield connection
    connection.close()


@settings(max_examples=300, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(text=st.text(max_size=200))
def test_it_turns_any_text_into_valid_fts5(fts5, text):
    query = fts5_query(text)
    if query:
        fts5.execute("SELECT count(*) FROM words WHERE words MATCH ?", (query,)).fetchone()


def test_it_keeps_words_and_prefixes(fts5):
    assert fts5_query('robots "grasp" AND grasp* NOT ( ::') == '"robots" """grasp""" "AND" "grasp"* "NOT"'
    assert fts5.execute("SELECT count(*) FROM words WHERE words MATCH ?", (fts5_query("rob* GRASP"),)).fetchone() == (
        1,
    )


def test_it_finds_hostile_text_and_shows_it_as_text(search_app):
    engine = search_app.extensions["paperboy"].engine
    paper = hostile_paper(fixture_papers()[0])
    # PostgreSQL text cannot hold NUL at all (nor can arXiv's XML); the other controls stay.
    load(engine, "testing", [replace(paper, title=paper.title.replace("\x00", ""))])
    # PostgreSQL's parser skips what looks like an HTML tag, so search by the plain words.
    body = search_app.test_client().get("/search?q=Robust end").data
    assert b"<script>alert" not in body
    assert titles_of(body) == ['Robust <script>alert("t")</script> & Co ]]> [x](javascript:y) *bold* end']


def titles_of(body: bytes) -> list[str]:
    return [a.text for a in html.fromstring(body).cssselect("article.paper h3 a")]


def test_it_asks_for_words_without_a_query(search_app):
    body = search_app.test_client().get("/search").data
    assert b"Type words from a title" in body


def test_it_says_when_a_prefix_is_too_short_to_be_one(search_app):
    client = search_app.test_client()
    notes = html.fromstring(client.get("/search?q=ro*").data).cssselect("p.note")
    assert [" ".join(n.text_content().split()) for n in notes] == [
        "“ro*” was searched as the word “ro”: a * matches word beginnings of at least 3 letters (robo*)."
    ]
    assert not html.fromstring(client.get("/search?q=rob*").data).cssselect("p.note")
