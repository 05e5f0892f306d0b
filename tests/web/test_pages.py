"""Home and topic pages: the seed's structure, windows and weeks, bad input, escaping, caching."""

from __future__ import annotations

import gzip
import re
from datetime import timedelta

import pytest
from flask import template_rendered
from lxml import html

from service.store.runs import SAMPLE, finish_run, start_run
from tests.conftest import NOW
from tests.support.topic_data import fixture_papers, hostile_paper, load, load_testing_topic

# Pages and feeds see the frozen NOW, and every change in the store at once.
pytestmark = pytest.mark.app_options(clock=lambda: NOW, stamp_seconds=0)


def without_csrf_token(body: bytes) -> bytes:
    return re.sub(rb'name="csrf_token" value="[^"]*"', b'name="csrf_token"', body)


def page(client, url: str):
    response = client.get(url)
    assert response.status_code == 200, response.data[:300]
    return html.fromstring(response.data)


def article_of(doc, paper):
    return doc.cssselect(f"article[id='paper-{paper.id}']")[0]


def record_run(engine, topic: str, status: str, finished):
    with engine.begin() as conn:
        run = start_run(conn, topic, finished - timedelta(days=1), finished, finished - timedelta(minutes=1))
        finish_run(conn, run, status, finished, new=1)


def test_it_lists_every_topic_on_the_home_page(client, app_engine):
    recent, older = load_testing_topic(app_engine)
    record_run(app_engine, "testing", "ok", NOW - timedelta(hours=2))
    doc = page(client, "/")
    topics = doc.cssselect("li.topic")
    assert [t.cssselect("h2 a")[0].text for t in topics] == ["Vision-Language-Action Models", "Software Testing"]
    testing = topics[1]
    assert testing.cssselect("h2 a")[0].get("href") == "/topics/testing/"
    text = testing.text_content()
    assert "Testing, from unit tests to metamorphic testing." in text
    assert f"Papers:{len(recent) + len(older)}" in re.sub(r"\s+", "", text)
    newest = max(p.published for p in recent + older)
    assert newest.strftime("%Y-%m-%d") in text
    assert (NOW - timedelta(hours=2)).strftime("%Y-%m-%d %H:%M UTC") in text
    assert "never" in topics[0].text_content()  # vla was never fetched
    feeds = [a.get("href") for a in testing.cssselect("p.feeds a")]
    assert feeds == ["/topics/testing/feed.atom", "/topics/testing/feed.rss", "/topics/testing.md"]


def test_it_shows_a_topic_in_the_seed_structure(client, app_engine):
    recent, older = load_testing_topic(app_engine)
    doc = page(client, "/topics/testing/")
    assert doc.cssselect("h1")[0].text_content().strip() == "Software Testing"
    text = re.sub(r"\s+", " ", doc.text_content())
    assert "Last updated: 2026-02-03 16:50 UTC" in text  # no fetch run: the newest match
    assert f"Papers found: {len(recent)}" in text
    sections = doc.cssselect("section.papers")
    assert [s.cssselect("h2")[0].text for s in sections] == ["Papers with Project Pages / Code", "Other Recent Papers"]
    assert len(sections[0].cssselect("article.paper")) == 2
    assert len(sections[1].cssselect("article.paper")) == 10
    assert "Back to Home" in [a.text for a in doc.cssselect("main a[href='/']")]
    older_ids = {p.id for p in older}
    shown = {a.get("href").rsplit("/", 1)[1].split("v")[0] for a in doc.cssselect("article.paper h3 a")}
    assert not shown & older_ids  # matched 17 days ago: outside the default window


def test_it_says_last_updated_at_the_last_run_that_stored_papers(client, app_engine):
    load_testing_topic(app_engine)
    record_run(app_engine, "testing", "ok", NOW - timedelta(hours=3))
    record_run(app_engine, "testing", "failed", NOW - timedelta(hours=1))  # updated nothing
    record_run(app_engine, "vla", "ok", NOW - timedelta(minutes=30))  # another topic
    text = re.sub(r"\s+", " ", page(client, "/topics/testing/").text_content())
    assert "Last updated: 2026-02-04 13:50 UTC" in text
    assert "**Last updated:** 2026-02-04 13:50 UTC" in client.get("/topics/testing.md").text
    record_run(app_engine, "testing", "partial", NOW - timedelta(minutes=10))
    text = re.sub(r"\s+", " ", page(client, "/topics/testing/").text_content())
    assert "Last updated: 2026-02-04 16:40 UTC" in text


def test_it_shows_each_paper_like_the_seed(client, app_engine):
    recent, _ = load_testing_topic(app_engine)
    many_authors = next(p for p in fixture_papers() if len(p.authors) > 5)
    load(app_engine, "testing", [many_authors], matched=NOW - timedelta(hours=1))
    doc = page(client, "/topics/testing/")
    article = article_of(doc, many_authors)
    title = article.cssselect("h3 a")[0]
    assert title.text == many_authors.title and title.get("href") == many_authors.abs_url
    authors = article.cssselect("p.authors")[0].text_content()
    assert authors.endswith(f"et al. ({len(many_authors.authors)} authors)")
    assert ", ".join(many_authors.authors[:5]) in authors
    meta = article.cssselect("p.meta")[0].text_content()
    assert many_authors.published.strftime("%Y-%m-%d") in meta
    assert ", ".join(many_authors.categories) in meta
    assert [a.text for a in article.cssselect("p.links a")] == ["arXiv", "PDF"]
    code_paper = next(p for p in recent if p.code_urls)
    links = article_of(doc, code_paper).cssselect("p.links a")
    assert [(a.text, a.get("href")) for a in links] == [
        ("arXiv", code_paper.abs_url),
        ("PDF", code_paper.pdf_url),
        ("Code", code_paper.code_urls[0]),
    ]


def test_it_cuts_the_abstract_and_keeps_the_full_text_in_details(client, app_engine):
    recent, _ = load_testing_topic(app_engine)
    long = next(p for p in recent if len(p.abstract) > 600)
    doc = page(client, "/topics/testing/")
    article = article_of(doc, long)
    short = article.cssselect("p.abstract")[0].text
    assert short.endswith("...") and 400 <= len(short) <= 504
    assert long.abstract.startswith(short[:-3])
    assert article.cssselect("details summary")[0].text == "Full abstract"
    assert article.cssselect("details p")[0].text == long.abstract


def test_it_links_earlier_weeks_and_shows_one_week(client, app_engine):
    recent, older = load_testing_topic(app_engine)
    doc = page(client, "/topics/testing/")
    weeks = [(a.text, a.get("href")) for a in doc.cssselect("nav.weeks a")]
    assert weeks == [("2026-W06", "/topics/testing/2026-W06/"), ("2026-W03", "/topics/testing/2026-W03/")]
    week = page(client, "/topics/testing/2026-W03/")
    shown = {a.get("href") for a in week.cssselect("article.paper h3 a")}
    assert shown == {p.abs_url for p in older}
    assert "2026-W03" in week.cssselect("h1")[0].text_content()
    empty = page(client, "/topics/testing/2026-W01/")
    assert "No papers were new to this topic in 2026-W01." in empty.text_content()


def test_it_says_when_the_last_seven_days_are_empty(client, app_engine):
    load(app_engine, "testing", fixture_papers()[:3], matched=NOW - timedelta(days=30))
    doc = page(client, "/topics/testing/")
    empty = doc.cssselect("p.empty")[0]
    assert "No papers new to this topic in the last 7 days." in empty.text_content()
    assert empty.cssselect("a")[0].get("href") == "/topics/testing/2026-W02/"  # 2026-01-05
    assert not doc.cssselect("article.paper")


def test_it_answers_404_for_an_unknown_topic_or_week(client, app_engine):
    for url in (
        "/topics/nope/",
        "/topics/nope/2026-W05/",
        "/topics/nope.md",
        "/topics/testing/2026-W54/",
        "/topics/testing/2026-W30/",
        "/no/such/page",
    ):
        response = client.get(url)
        assert response.status_code == 404, url
        assert b"Back to Home" in response.data


def test_it_says_a_week_ends_on_its_sunday(client, app_engine):
    load_testing_topic(app_engine)
    facts = page(client, "/topics/testing/2026-W03/").cssselect("p.facts")[1].text_content()
    assert "first matched in week 2026-W03, 2026-01-12 to 2026-01-18" in " ".join(facts.split())


@pytest.mark.parametrize("path", ["/topics/testing/feed.json", "/topics/vla/feed.json", "/topics/testing/index.html"])
def test_it_answers_404_for_a_file_it_does_not_have_under_a_topic(client, app_engine, path):
    response = client.get(path)
    assert response.status_code == 404  # not a redirect to a 400 for a malformed week
    assert b"Back to Home" in response.data


@pytest.mark.parametrize("week", ["2026-5", "2026W05", "last-week", "2026-W5", "%00", "2026-W05x"])
def test_it_answers_400_for_a_malformed_week(client, app_engine, week):
    response = client.get(f"/topics/testing/{week}/")
    assert response.status_code == 400
    assert b"weeks look like 2026-W05" in response.data


def test_it_shows_a_banner_over_sample_data(client, app_engine):
    load(app_engine, "testing", fixture_papers()[:3], matched=NOW - timedelta(days=1))
    record_run(app_engine, "testing", SAMPLE, NOW - timedelta(days=1))
    for url in ("/", "/topics/testing/"):
        banner = page(client, url).cssselect("p.banner")
        assert banner and "Sample data" in banner[0].text_content()
    record_run(app_engine, "testing", "ok", NOW)
    for url in ("/", "/topics/testing/"):
        assert not page(client, url).cssselect("p.banner")


def test_it_shows_hostile_text_as_text(client, app_engine):
    paper = hostile_paper(fixture_papers()[0])
    load(app_engine, "testing", [paper], matched=NOW - timedelta(days=1))
    for url in ("/topics/testing/", "/topics/testing/2026-W06/", "/search?q=Robust"):
        body = client.get(url).data
        assert b"<script>alert" not in body and b"<img src=x" not in body and b"<b>Eve" not in body
        assert b"\x00" not in body and b"\x07" not in body
        doc = html.fromstring(body)
        article = doc.cssselect("article.paper")[0]
        assert article.cssselect("h3 a")[0].text == (
            'Robust <script>alert("t")</script> & Co ]]> [x](javascript:y) *bold* end'
        )
        assert "<img src=x onerror=alert(1)>" in article.cssselect("p.abstract")[0].text
        assert "<b>Eve</b> & Mallory" in article.cssselect("p.authors")[0].text_content()
        assert not [a for a in doc.cssselect("a") if a.get("href", "").startswith("javascript:")]


def test_it_links_its_feeds_for_autodiscovery(client, app_engine):
    doc = page(client, "/topics/testing/")
    alternates = {(l.get("type"), l.get("href")) for l in doc.cssselect("link[rel=alternate]")}
    assert ("application/atom+xml", "/topics/testing/feed.atom") in alternates
    assert ("application/rss+xml", "/topics/testing/feed.rss") in alternates
    assert ("application/atom+xml", "/feed.atom") in alternates
    home = {l.get("href") for l in page(client, "/").cssselect("link[rel=alternate]")}
    assert {"/feed.atom", "/topics/vla/feed.atom", "/topics/testing/feed.rss"} <= home


def test_it_renders_the_page_once_per_change(app, client, app_engine):
    load_testing_topic(app_engine)
    rendered = []

    def record(sender, template, context, **extra):
        rendered.append(template.name)

    with template_rendered.connected_to(record, app):
        client.get("/topics/testing/")
        client.get("/topics/testing/")
        assert rendered.count("topic.html") == 1
        load(app_engine, "testing", fixture_papers()[50:51], matched=NOW)
        client.get("/topics/testing/")
        assert rendered.count("topic.html") == 2


def test_it_answers_conditional_gets_and_gzip_on_pages(client, app_engine):
    load_testing_topic(app_engine)
    first = client.get("/topics/testing/")
    assert first.headers["Last-Modified"] and first.headers["ETag"]
    again = client.get("/topics/testing/", headers={"If-None-Match": first.headers["ETag"]})
    assert again.status_code == 304
    zipped = client.get("/topics/testing/", headers={"Accept-Encoding": "gzip"})
    # The subscribe form's CSRF token is signed with the current second, so it may differ.
    assert without_csrf_token(gzip.decompress(zipped.data)) == without_csrf_token(first.data)
    load(app_engine, "testing", fixture_papers()[50:51], matched=NOW)
    changed = client.get("/topics/testing/", headers={"If-None-Match": first.headers["ETag"]})
    assert changed.status_code == 200


def test_it_sends_the_etag_of_the_variant_it_would_send_with_a_304(client, app_engine):
    load_testing_topic(app_engine)
    zipped = client.get("/topics/testing/", headers={"Accept-Encoding": "gzip"})
    assert zipped.headers["Content-Encoding"] == "gzip"
    again = client.get("/topics/testing/", headers={"Accept-Encoding": "gzip", "If-None-Match": zipped.headers["ETag"]})
    assert again.status_code == 304
    assert again.headers["ETag"] == zipped.headers["ETag"]


def test_it_offers_the_subscribe_form_on_home_and_topic_pages(client, app_engine):
    home = page(client, "/").cssselect("form.subscribe-form")
    assert home and home[0].get("action") == "/subscribe"
    form = page(client, "/topics/testing/").cssselect("form.subscribe-form")[0]
    checked = [box.get("value") for box in form.cssselect("input[type=checkbox]") if box.get("checked") is not None]
    assert checked == ["testing"]
