"""What ranking and the chart read from the store, on SQLite and PostgreSQL: each paper's stem
counts, kept with its newest version; a topic's window without the papers' text; papers per week
from one grouped query."""

from dataclasses import replace
from datetime import timedelta

from sqlalchemy import delete

from service.arxiv.client import parse_feed
from service.model.terms import Terms, paper_terms
from service.model.weeks import week_of
from service.ranking.relevance import rank, rank_window, ranking_keys
from service.store import papers
from service.store.schema import paper_terms as terms_table
from service.store.summaries import match_weeks
from tests.conftest import NOW, data_file
from tests.ranking.test_relevance import TESTING
from tests.support.arxiv_replay import HUNDRED


def stored(engine, fetched, days_apart=0):
    with engine.begin() as conn:
        papers.upsert_papers(conn, fetched, NOW)
        for n, paper in enumerate(fetched):
            papers.link_topic_papers(conn, "testing", [paper.id], NOW - timedelta(days=days_apart * n))


def test_a_window_ranks_as_the_papers_themselves_do(engine):
    fetched = parse_feed(data_file(HUNDRED)).papers
    stored(engine, fetched)
    with engine.connect() as conn:
        window = papers.topic_window(conn, "testing", NOW - timedelta(days=1), None)
    counted = dict(zip(window.ids, zip(window.lengths, window.entries, strict=True), strict=True))
    assert counted == {paper.id: (paper_terms(paper).length, paper_terms(paper).entries) for paper in fetched}
    assert dict(zip(window.ids, window.linked, strict=True)) == {paper.id: paper.has_links for paper in fetched}
    expected = rank(TESTING, fetched)
    with_links = [e.paper.id for e in expected if e.paper.has_links]
    assert [e.id for e in rank_window(TESTING, window)] == with_links + [
        e.paper.id for e in expected if not e.paper.has_links
    ]


def test_a_new_version_gets_new_counts_and_rows_without_counts_are_counted(engine):
    fetched = parse_feed(data_file(HUNDRED)).papers[:3]
    stored(engine, fetched)
    newer = replace(fetched[0], version=fetched[0].version + 1, abstract="Fuzzing compilers with grammars.")
    with engine.begin() as conn:
        papers.upsert_papers(conn, [newer], NOW)
        conn.execute(delete(terms_table).where(terms_table.c.paper_id == fetched[1].id))
    with engine.connect() as conn:
        found = papers.topic_window(conn, "testing", None, None)
    window = {
        paper_id: Terms(length, entries) for paper_id, length, entries in zip(found.ids, found.lengths, found.entries)
    }
    assert window[newer.id] == paper_terms(newer) != paper_terms(fetched[0])
    assert window[fetched[1].id] == paper_terms(fetched[1])
    # Every paper's date in one format, whether counted at storing or now.
    assert len({type(value) for value in found.published}) == 1


def test_papers_per_week_come_grouped_by_week(engine):
    fetched = parse_feed(data_file(HUNDRED)).papers[:30]
    stored(engine, fetched, days_apart=1)
    with engine.connect() as conn:
        weeks = match_weeks(conn, "testing")
    expected: dict[str, int] = {}
    for n in range(30):
        week = week_of(NOW - timedelta(days=n))
        expected[week] = expected.get(week, 0) + 1
    assert weeks == sorted(expected.items(), reverse=True)


def test_counts_held_for_a_topics_keys_rank_the_same_and_follow_new_versions(engine):
    fetched = parse_feed(data_file(HUNDRED)).papers
    stored(engine, fetched)
    keys, held = ranking_keys(TESTING), {}
    with engine.connect() as conn:
        everything = papers.topic_window(conn, "testing", None, None)
        kept = papers.topic_window(conn, "testing", None, None, keys, held)
    assert rank_window(TESTING, kept) == rank_window(TESTING, everything)
    assert len(held) == 100 and sum(map(len, kept.entries)) < sum(map(len, everything.entries)) / 3
    newer = replace(fetched[0], version=fetched[0].version + 1, title="Testing, testing", abstract="Unit tests.")
    with engine.begin() as conn:
        papers.upsert_papers(conn, [newer], NOW)
    with engine.connect() as conn:
        again = papers.topic_window(conn, "testing", None, None, keys, held)
        fresh = papers.topic_window(conn, "testing", None, None)
    assert held[newer.id][0] == newer.version
    assert rank_window(TESTING, again) == rank_window(TESTING, fresh)
