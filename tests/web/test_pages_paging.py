"""Topic and week pages of broad topics: a bounded page, every paper one click away."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from lxml import html

from service.publish.listing import PAGE_SIZE
from tests.conftest import NOW
from tests.support.topic_data import load, many_papers_with_code

# Pages and feeds see the frozen NOW, and every change in the store at once.
pytestmark = pytest.mark.app_options(clock=lambda: NOW, stamp_seconds=0)

IN_W05 = NOW - timedelta(days=7)  # 2026-01-28, in ISO week 2026-W05
PAGE_BYTES = 400_000


def get(client, url: str):
    response = client.get(url)
    assert response.status_code == 200, (url, response.data[:300])
    return response, html.fromstring(response.data)


def article_ids(doc) -> list[str]:
    return [a.get("id").removeprefix("paper-") for a in doc.cssselect("article.paper")]


def test_it_keeps_a_week_of_6000_papers_to_pages_of_a_few_hundred_kb(client, app_engine):
    load(app_engine, "testing", many_papers_with_code(6000), matched=IN_W05)
    pages = -(-6000 // PAGE_SIZE)
    for number in (1, 2, pages):
        response, doc = get(client, f"/topics/testing/2026-W05/?page={number}")
        assert len(response.data) < PAGE_BYTES, (number, len(response.data))
        assert len(article_ids(doc)) == PAGE_SIZE
        text = re.sub(r"\s+", " ", doc.text_content())
        assert "Papers found: 6000" in text
        first = (number - 1) * PAGE_SIZE + 1
        assert f"Showing {first}–{first + PAGE_SIZE - 1} (page {number} of {pages})." in text
    last = html.fromstring(client.get(f"/topics/testing/2026-W05/?page={pages}").data)
    assert not last.cssselect("nav.pager a[rel=next]")
    assert client.get(f"/topics/testing/2026-W05/?page={pages + 1}").status_code == 404


def test_it_shows_every_paper_once_across_the_pages_in_the_seeds_order(client, app_engine):
    papers = load(app_engine, "testing", many_papers_with_code(PAGE_SIZE * 2 + 50), matched=NOW - timedelta(days=1))
    seen, headings = [], []
    url = "/topics/testing/"
    while url:
        _, doc = get(client, url)
        seen += article_ids(doc)
        headings += [(len(seen), h.text) for h in doc.cssselect("section.papers h2")]
        following = doc.cssselect("nav.pager a[rel=next]")
        url = following[0].get("href") if following else None
    assert sorted(seen) == sorted(p.id for p in papers) and len(seen) == len(set(seen))
    with_code = {p.id for p in papers if p.code_urls}
    # Papers with code first (25 of them, all on page 1), then the others.
    assert set(seen[: len(with_code)]) == with_code
    assert [name for _, name in headings] == [
        "Papers with Project Pages / Code",
        "Other Recent Papers",
        "Other Recent Papers",
        "Other Recent Papers",
    ]


def test_it_links_each_page_from_the_pager(client, app_engine):
    load(app_engine, "testing", many_papers_with_code(PAGE_SIZE * 9), matched=IN_W05)
    _, doc = get(client, "/topics/testing/2026-W05/?page=5")
    pager = doc.cssselect("nav.pager")[0]
    labels = [a.text for a in pager.cssselect("a")]
    assert labels == ["Previous", "1", "3", "4", "5", "6", "7", "9", "Next"]
    assert pager.cssselect("a[aria-current=page]")[0].get("href") == "/topics/testing/2026-W05/?page=5"
    assert pager.cssselect("a[rel=prev]")[0].get("href") == "/topics/testing/2026-W05/?page=4"


def test_it_shows_one_page_without_a_pager_when_the_papers_fit(client, app_engine):
    load(app_engine, "testing", many_papers_with_code(PAGE_SIZE), matched=IN_W05)
    _, doc = get(client, "/topics/testing/2026-W05/")
    assert len(article_ids(doc)) == PAGE_SIZE
    assert not doc.cssselect("nav.pager") and "Showing" not in doc.text_content()


@pytest.mark.parametrize("raw", ["0", "-1", "abc", "1.5", "²", "", "9" * 12])
def test_it_answers_400_for_a_bad_page_number(client, raw):
    for url in (f"/topics/testing/?page={raw}", f"/topics/testing/2026-W05/?page={raw}"):
        response = client.get(url)
        assert response.status_code == 400, url
        assert b"pages are numbered from 1" in response.data


def test_it_answers_404_past_the_last_page(client, app_engine):
    load(app_engine, "testing", many_papers_with_code(10), matched=NOW - timedelta(days=1))
    assert client.get("/topics/testing/?page=1").status_code == 200
    response = client.get("/topics/testing/?page=2")
    assert response.status_code == 404 and b"there is no page 2" in response.data
