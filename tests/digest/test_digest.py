"""The digest of a week: its papers by topic, the seed's sections, one entry per paper per email."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from service.digest.digest import DigestError, build_digest, last_complete_week
from service.model.paper import SECTION_OTHER, SECTION_WITH_LINKS
from service.store import digests as digest_store
from tests.conftest import NOW
from tests.support.digest_data import WEEK, load_week


def test_it_holds_the_papers_first_matched_in_the_week(runtime, engine):
    with engine.begin() as conn:
        testing, vla = load_week(conn)
        digest = build_digest(conn, runtime.topics, WEEK, NOW)

    assert {p.id for p in digest.papers["testing"]} == {p.id for p in testing}
    assert {p.id for p in digest.papers["vla"]} == {p.id for p in vla}
    published = [p.published for p in digest.papers["testing"]]
    assert published == sorted(published, reverse=True)


def test_it_puts_papers_with_links_first_in_the_seed_sections(runtime, engine):
    with engine.begin() as conn:
        testing, _ = load_week(conn)
        digest = build_digest(conn, runtime.topics, WEEK, NOW)

    [block] = digest.compose(runtime.topics, ("testing",))
    names = [name for name, _ in block.sections]
    with_links, other = (entries for _, entries in block.sections)
    assert names == [SECTION_WITH_LINKS, SECTION_OTHER]
    assert {e.paper.id for e in with_links} == {p.id for p in testing if p.has_links} != set()
    assert {e.paper.id for e in other} == {p.id for p in testing if not p.has_links}


def test_it_shows_a_paper_in_several_topics_once_under_the_first(runtime, engine):
    with engine.begin() as conn:
        testing, vla = load_week(conn)
        digest = build_digest(conn, runtime.topics, WEEK, NOW)
    shared = {p.id for p in testing} & {p.id for p in vla}

    blocks = digest.compose(runtime.topics, digest.topic_set(runtime.topics, ["testing", "vla"]))

    assert [b.topic.slug for b in blocks] == ["vla", "testing"]  # topics.toml order, not the subscriber's
    entries = {b.topic.slug: [e for _, es in b.sections for e in es] for b in blocks}
    assert len(shared) == 2
    assert {e.paper.id for e in entries["vla"]} >= shared
    assert not shared & {e.paper.id for e in entries["testing"]}
    also = {e.paper.id: e.also_in for e in entries["vla"] if e.also_in}
    assert also == {paper_id: ("Software Testing",) for paper_id in shared}
    assert sum(b.count for b in blocks) == len({p.id for p in testing + vla})


def test_it_has_no_topic_set_for_topics_without_papers(runtime, engine):
    with engine.begin() as conn:
        load_week(conn)
        digest = build_digest(conn, runtime.topics, WEEK, NOW)

    assert digest.topic_set(runtime.topics, ["no-such-topic"]) == ()
    assert digest.topic_set(runtime.topics, ["testing", "no-such-topic"]) == ("testing",)


def test_it_keeps_one_digest_per_week(runtime, engine):
    with engine.begin() as conn:
        load_week(conn)
        first = build_digest(conn, runtime.topics, WEEK, NOW)
        again = build_digest(conn, runtime.topics, WEEK, NOW)
        listed = digest_store.list_digests(conn)

    assert again.id == first.id
    assert [(row.week, papers) for row, papers in listed] == [(WEEK, 22)]


def test_it_refuses_a_week_that_is_not_over(runtime, engine):
    with engine.begin() as conn, pytest.raises(DigestError, match="not over yet"):
        build_digest(conn, runtime.topics, "2026-W06", NOW)


def test_it_defaults_to_the_last_complete_iso_week():
    assert last_complete_week(NOW) == "2026-W05"
    assert last_complete_week(datetime(2026, 1, 1, tzinfo=UTC)) == "2025-W52"
