"""Marks on topic pages and feeds: a paper listed late (held by arXiv), a newer version, a
withdrawn paper. The week a late paper is first matched in lists it; its digest does too,
a withdrawn paper's does not."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta

import feedparser
import pytest
from lxml import html

from service.digest.digest import build_digest
from tests.conftest import NOW
from tests.support.topic_data import fixture_papers, load

pytestmark = pytest.mark.app_options(clock=lambda: NOW, stamp_seconds=0)
WITHDRAWN = "This paper has been withdrawn by the author due to a crucial error in Lemma 2"


@pytest.fixture
def marked(app_engine):
    """Four papers matched by "testing" yesterday: on time, submitted 9 days earlier, v2, withdrawn."""
    engine = app_engine
    base = [p for p in fixture_papers() if p.version == 1][:4]
    matched = NOW - timedelta(days=1)
    on_time, late, revised, withdrawn = (
        replace(
            paper, published=matched - timedelta(days=days, hours=3), updated=matched - timedelta(days=days, hours=3)
        )
        for paper, days in zip(base, (1, 9, 2, 3))
    )
    revised = replace(revised, version=2, updated=matched - timedelta(hours=5))
    withdrawn = replace(withdrawn, version=2, comment=WITHDRAWN)
    papers = [on_time, late, revised, withdrawn]
    load(engine, "testing", papers, matched=matched)
    return dict(zip(("on_time", "late", "revised", "withdrawn"), papers)), engine


def marks_on_page(client, url):
    doc = html.fromstring(client.get(url).data)
    return {
        article.get("id").removeprefix("paper-"): [m.text for m in article.cssselect("p.marks .mark")]
        for article in doc.cssselect("article.paper")
    }


def test_the_topic_page_marks_late_revised_and_withdrawn_papers(client, marked):
    papers, _ = marked
    expected = {
        papers["on_time"].id: [],
        papers["late"].id: ["listed 9 days after submission"],
        papers["revised"].id: ["v2"],
        papers["withdrawn"].id: ["withdrawn", "v2"],
    }
    assert marks_on_page(client, "/topics/testing/") == expected
    # The late paper belongs to the week it was first matched in, not the week it was submitted.
    assert marks_on_page(client, "/topics/testing/2026-W06/") == expected
    assert papers["late"].id not in marks_on_page(client, "/topics/testing/2026-W05/")


def test_the_feeds_mark_them_in_the_title_and_carry_the_new_version_as_updated(client, marked):
    papers, _ = marked
    for url in ("/topics/testing/feed.atom", "/topics/testing/feed.rss"):
        parsed = feedparser.parse(client.get(url).data)
        titles = {entry.id if "atom" in url else entry.link.rsplit("v", 1)[0]: entry.title for entry in parsed.entries}
        titles = {key.rsplit("/", 1)[1]: title for key, title in titles.items()}
        assert titles[papers["on_time"].id] == papers["on_time"].title
        assert titles[papers["late"].id] == f"{papers['late'].title} [listed 9 days after submission]"
        assert titles[papers["revised"].id] == f"{papers['revised'].title} [v2]"
        assert titles[papers["withdrawn"].id] == f"{papers['withdrawn'].title} [withdrawn; v2]"
    atom = feedparser.parse(client.get("/topics/testing/feed.atom").data)
    revised = next(e for e in atom.entries if e.id.endswith(papers["revised"].id))
    assert revised.updated_parsed[:6] == papers["revised"].updated.timetuple()[:6]
    assert revised.published_parsed[:6] == papers["revised"].published.timetuple()[:6]


def test_the_digest_lists_the_late_paper_and_leaves_the_withdrawn_one_out(marked, runtime):
    papers, engine = marked
    with engine.begin() as conn:
        digest = build_digest(conn, runtime.topics, "2026-W06", NOW + timedelta(days=7))
    assert {p.id for p in digest.papers["testing"]} == {papers["on_time"].id, papers["late"].id, papers["revised"].id}
