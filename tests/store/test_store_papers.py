"""The paper store on SQLite and PostgreSQL: dedup by arXiv id, version updates, topic links."""

from dataclasses import replace
from datetime import timedelta

from service.arxiv.client import parse_feed
from service.store import papers, runs
from tests.conftest import NOW, data_file
from tests.support.arxiv_replay import HUNDRED

LATER = NOW + timedelta(days=1)


def real_papers():
    return parse_feed(data_file(HUNDRED)).papers


def test_it_stores_each_paper_once_with_everything_it_was_given(engine):
    fetched = real_papers()
    with engine.begin() as conn:
        counts = papers.upsert_papers(conn, fetched, NOW)
    assert (counts.new, counts.updated, counts.unchanged) == (100, 0, 0)
    with engine.connect() as conn:
        assert papers.count_papers(conn) == 100
        stored = papers.get_paper(conn, "2202.12139")
        old_style = papers.get_paper(conn, "cs/0503050")
    assert stored == replace(fetched[0], first_seen=NOW)
    assert stored.authors == ["Mohit Kumar Ahuja", "Arnaud Gotlieb", "Helge Spieker"]
    assert old_style is not None and old_style.version == 1


def test_it_updates_a_paper_on_a_newer_version_only(engine):
    v1 = real_papers()[0]
    v2 = replace(
        v1,
        version=2,
        title="A new title",
        abstract="New abstract.",
        authors=["B", "A"],
        comment="Code: https://github.com/a/b",
        code_urls=["https://github.com/a/b"],
        updated=v1.updated + timedelta(days=3),
    )
    with engine.begin() as conn:
        papers.upsert_papers(conn, [v1], NOW)
    with engine.begin() as conn:
        counts = papers.upsert_papers(conn, [v2], LATER)
    assert (counts.new, counts.updated, counts.unchanged) == (0, 1, 0)
    with engine.begin() as conn:
        again = papers.upsert_papers(conn, [v1, v2], LATER + timedelta(days=1))
    assert (again.new, again.updated, again.unchanged) == (0, 0, 1)
    with engine.connect() as conn:
        stored = papers.get_paper(conn, v1.id)
    assert stored == replace(v2, first_seen=NOW, published=v1.published)


def test_it_keeps_the_newest_version_when_one_batch_holds_two(engine):
    v1 = real_papers()[0]
    v3 = replace(v1, version=3, title="Third")
    with engine.begin() as conn:
        counts = papers.upsert_papers(conn, [v3, v1], NOW)
        assert papers.get_paper(conn, v1.id).title == "Third"
    assert (counts.new, counts.unchanged) == (1, 0)


def test_it_links_one_paper_to_two_topics(engine):
    paper = real_papers()[0]
    with engine.begin() as conn:
        papers.upsert_papers(conn, [paper], NOW)
        assert papers.link_topic_papers(conn, "testing", [paper.id], NOW) == {paper.id}
        assert papers.link_topic_papers(conn, "vla", [paper.id], LATER) == {paper.id}
        assert papers.link_topic_papers(conn, "vla", [paper.id], LATER + timedelta(days=1)) == set()
    with engine.connect() as conn:
        assert papers.count_papers(conn) == 1
        assert papers.topics_of_paper(conn, paper.id) == ["testing", "vla"]
        assert [p.id for p in papers.papers_for_topic(conn, "vla", since=LATER)] == [paper.id]


def test_it_knows_the_newest_paper_of_a_topic(engine):
    fetched = real_papers()[:10]
    with engine.begin() as conn:
        assert papers.newest_published(conn, "testing") is None
        papers.upsert_papers(conn, fetched, NOW)
        papers.link_topic_papers(conn, "testing", [p.id for p in fetched], NOW)
        assert papers.newest_published(conn, "testing") == max(p.published for p in fetched)


def test_it_rolls_back_a_failed_transaction(engine):
    fetched = real_papers()[:5]
    try:
        with engine.begin() as conn:
            papers.upsert_papers(conn, fetched, NOW)
            raise RuntimeError("the page failed")
    except RuntimeError:
        pass
    with engine.connect() as conn:
        assert papers.count_papers(conn) == 0


def test_it_records_runs_and_finds_the_last_real_one(engine):
    with engine.begin() as conn:
        sample = runs.start_run(conn, "vla", NOW - timedelta(days=30), NOW, NOW)
        runs.finish_run(conn, sample, runs.SAMPLE, NOW, new=3)
        assert runs.last_fetch(conn, "vla") is None
        assert runs.is_sample_data(conn)
        real = runs.start_run(conn, "vla", NOW - timedelta(days=14), LATER, LATER)
        runs.finish_run(conn, real, "failed", LATER, error="arxiv: unreachable")
        unfinished = runs.start_run(conn, "vla", NOW, LATER, LATER)
        last = runs.last_fetch(conn, "vla")
        assert (last.id, last.status, last.error) == (real, "failed", "arxiv: unreachable")
        assert unfinished > real
        assert runs.is_sample_data(conn)
        ok = runs.start_run(conn, "vla", NOW, LATER, LATER)
        runs.finish_run(conn, ok, "ok", LATER, new=1)
        assert not runs.is_sample_data(conn)
        assert [r.status for r in runs.runs_for_topic(conn, "vla")] == ["sample", "failed", "running", "ok"]


def test_it_unlinks_and_deletes_papers_nothing_refers_to(engine):
    from service.store import digests

    fetched = real_papers()[:4]
    ids = [p.id for p in fetched]
    with engine.begin() as conn:
        papers.upsert_papers(conn, fetched, NOW)
        papers.link_topic_papers(conn, "vla", ids, NOW)
        papers.link_topic_papers(conn, "testing", ids[:1], NOW)
        digests.create_digest(conn, "2026-W06", {"vla": [ids[1]]}, NOW)
    with engine.begin() as conn:
        assert papers.unlink_papers(conn, "vla", ids, matched_by=NOW - timedelta(seconds=1)) == 0
        assert papers.unlink_papers(conn, "vla", ids, matched_by=NOW) == 4
        # ids[0] is still in "testing", ids[1] in a digest: only the other two go.
        assert papers.delete_unlinked_papers(conn, ids) == 2
    with engine.connect() as conn:
        assert {p.id for p in fetched if papers.get_paper(conn, p.id)} == set(ids[:2])
        assert papers.count_topic_papers(conn, "vla") == 0


def test_it_lists_only_papers_with_code_or_a_project_page_when_asked(engine):
    fetched = real_papers()
    with engine.begin() as conn:
        papers.upsert_papers(conn, fetched, NOW)
        papers.link_topic_papers(conn, "testing", [p.id for p in fetched], NOW)
    with engine.connect() as conn:
        linked = papers.papers_for_topic(conn, "testing", with_links=True)
        every = papers.papers_for_topic(conn, "testing")
    assert {p.id for p in linked} == {p.id for p in fetched if p.has_links}
    assert 0 < len(linked) < len(every) == len(fetched)
