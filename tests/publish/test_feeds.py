"""Atom and RSS feeds, the all-topics feed and OPML: valid documents, stable entries,
conditional GETs and gzip."""

from __future__ import annotations

import gzip
from dataclasses import replace
from datetime import timedelta

import feedparser
import pytest
from lxml import etree

from service.store.papers import upsert_papers
from tests.conftest import DATA, NOW
from tests.support.topic_data import fixture_papers, hostile_paper, load, load_testing_topic

ATOM_NS = {"a": "http://www.w3.org/2005/Atom"}


@pytest.fixture(scope="module")
def atom_schema():
    return etree.RelaxNG(etree.parse(str(DATA / "atom.rng")))


# Pages and feeds see the frozen NOW, and every change in the store at once.
pytestmark = pytest.mark.app_options(clock=lambda: NOW, stamp_seconds=0)


def assert_valid_atom(body: bytes, schema) -> etree._Element:
    document = etree.fromstring(body)
    assert schema.validate(document), schema.error_log
    parsed = feedparser.parse(body)
    assert not parsed.bozo, parsed.get("bozo_exception")
    assert parsed.version == "atom10"
    return document


def test_it_serves_a_valid_atom_feed_of_a_topic(client, app_engine, atom_schema):
    recent, older = load_testing_topic(app_engine)
    response = client.get("/topics/testing/feed.atom")
    assert response.status_code == 200
    assert response.content_type.startswith("application/atom+xml")
    document = assert_valid_atom(response.data, atom_schema)
    entries = document.findall("a:entry", ATOM_NS)
    assert len(entries) == len(recent) + len(older)
    self_link = document.find("a:link[@rel='self']", ATOM_NS).get("href")
    assert self_link == "http://paperboy.test/topics/testing/feed.atom"


def test_it_carries_each_paper_into_its_entry(client, app_engine):
    recent, _ = load_testing_topic(app_engine)
    parsed = feedparser.parse(client.get("/topics/testing/feed.atom").data)
    by_id = {entry.id: entry for entry in parsed.entries}
    code_paper = next(p for p in recent if p.code_urls)
    entry = by_id[f"https://arxiv.org/abs/{code_paper.id}"]
    # A newer version is marked in the title, so a reader sees why the entry changed.
    assert code_paper.version == 3
    assert entry.title == f"{code_paper.title} [v3]"
    # One author holding the whole list: feedparser's single `author` shows every name.
    assert entry.author == ", ".join(code_paper.authors)
    assert [a.name for a in entry.authors] == [", ".join(code_paper.authors)]
    assert [t.term for t in entry.tags] == code_paper.categories
    assert entry.summary == code_paper.abstract
    assert entry.updated_parsed[:6] == code_paper.updated.timetuple()[:6]
    links = {(link.rel, link.get("title")): link.href for link in entry.links}
    assert links[("alternate", None)] == code_paper.abs_url
    assert links[("related", "PDF")] == code_paper.pdf_url
    assert links[("related", "Code")] == code_paper.code_urls[0]
    project_paper = next(p for p in recent if p.project_urls)
    entry = by_id[f"https://arxiv.org/abs/{project_paper.id}"]
    assert {link.get("title"): link.href for link in entry.links}["Project Page"] == project_paper.project_urls[0]


def test_it_keeps_an_entry_id_across_versions(client, app_engine):
    recent, _ = load_testing_topic(app_engine)
    first = feedparser.parse(client.get("/topics/testing/feed.atom").data)
    paper = recent[3]
    newer = replace(
        paper, version=paper.version + 1, title=paper.title + " (revised)", updated=NOW + timedelta(hours=1)
    )
    with app_engine.begin() as conn:
        upsert_papers(conn, [newer], now=NOW + timedelta(hours=1))
    second = feedparser.parse(client.get("/topics/testing/feed.atom").data)
    assert [e.id for e in first.entries] == [e.id for e in second.entries]
    entry = next(e for e in second.entries if e.id == f"https://arxiv.org/abs/{paper.id}")
    assert entry.title == f"{paper.title} (revised) [v{newer.version}]"
    assert entry.updated_parsed[:6] == newer.updated.timetuple()[:6]
    assert entry.link == newer.abs_url


def test_it_serves_rss_2(client, app_engine):
    recent, older = load_testing_topic(app_engine)
    response = client.get("/topics/testing/feed.rss")
    assert response.content_type.startswith("application/rss+xml")
    parsed = feedparser.parse(response.data)
    assert not parsed.bozo, parsed.get("bozo_exception")
    assert parsed.version == "rss20"
    assert len(parsed.entries) == len(recent) + len(older)
    entry = parsed.entries[0]
    assert entry.id.startswith("https://arxiv.org/abs/")
    assert entry.summary
    assert entry.get("author") or entry.get("authors")


def test_it_links_the_rss_channel_to_the_topic_page(client, app_engine):
    load_testing_topic(app_engine)
    channel = etree.fromstring(client.get("/topics/testing/feed.rss").data).find("channel")
    # RSS 2.0: the channel's <link> is the web site the channel corresponds to, not the feed.
    assert channel.findtext("link") == "http://paperboy.test/topics/testing/"
    self_link = channel.find("{http://www.w3.org/2005/Atom}link")
    assert self_link.get("rel") == "self"
    assert self_link.get("href") == "http://paperboy.test/topics/testing/feed.rss"


def test_it_serves_all_topics_in_one_feed(client, app_engine, atom_schema):
    recent, _ = load_testing_topic(app_engine)
    load(app_engine, "vla", fixture_papers("api2025_search_cs.RO-neural_project-website.xml"))
    load(app_engine, "vla", recent[:1])  # a paper in two topics appears once
    document = assert_valid_atom(client.get("/feed.atom").data, atom_schema)
    parsed = feedparser.parse(etree.tostring(document))
    ids = [entry.id for entry in parsed.entries]
    assert len(ids) == len(set(ids))
    shared = next(e for e in parsed.entries if e.id == f"https://arxiv.org/abs/{recent[0].id}")
    assert {"testing", "vla"} <= {tag.term for tag in shared.tags}
    topics = {tag.term: tag for tag in shared.tags if tag.scheme == "http://paperboy.test/topics/"}
    assert sorted(topics) == ["testing", "vla"]  # each topic a category in paperboy's scheme
    assert topics["testing"].label == "Software Testing"
    assert topics["vla"].label == "Vision-Language-Action Models"


def test_it_validates_with_no_papers(client, app_engine, atom_schema):
    assert_valid_atom(client.get("/topics/vla/feed.atom").data, atom_schema)
    assert not feedparser.parse(client.get("/topics/vla/feed.rss").data).bozo


def test_it_keeps_hostile_text_as_text(client, app_engine, atom_schema):
    paper = hostile_paper(fixture_papers()[0])
    load(app_engine, "testing", [paper])
    for url in ("/topics/testing/feed.atom", "/feed.atom"):
        body = client.get(url).data
        assert b"<script>" not in body and b"<img" not in body
        assert_valid_atom(body, atom_schema)
        entry = feedparser.parse(body).entries[0]
        assert entry.title == 'Robust <script>alert("t")</script> & Co ]]> [x](javascript:y) *bold* end'
        assert "<img src=x onerror=alert(1)>" in entry.summary
        assert "javascript:" not in {link.href[:11] for link in entry.links}
    rss = feedparser.parse(client.get("/topics/testing/feed.rss").data)
    assert not rss.bozo, rss.get("bozo_exception")
    assert rss.entries[0].title.startswith("Robust <script>")


def test_it_lists_every_topic_feed_in_opml(client, app_engine):
    response = client.get("/feeds.opml")
    document = etree.fromstring(response.data)
    outlines = document.findall("body/outline")
    assert [o.get("xmlUrl") for o in outlines] == [
        "http://paperboy.test/feed.atom",
        "http://paperboy.test/topics/vla/feed.atom",
        "http://paperboy.test/topics/vla/code.atom",
        "http://paperboy.test/topics/testing/feed.atom",
        "http://paperboy.test/topics/testing/code.atom",
    ]
    assert outlines[1].get("text") == "Vision-Language-Action Models"
    assert outlines[2].get("text") == "Vision-Language-Action Models: papers with code"
    assert outlines[3].get("htmlUrl") == "http://paperboy.test/topics/testing/"
    for outline in outlines:  # every feed listed answers with a feed
        path = outline.get("xmlUrl").removeprefix("http://paperboy.test")
        assert not feedparser.parse(client.get(path).data).bozo, path


def test_it_answers_conditional_gets_with_304(client, app_engine):
    load_testing_topic(app_engine)
    first = client.get("/topics/testing/feed.atom")
    etag, modified = first.headers["ETag"], first.headers["Last-Modified"]
    assert "max-age" in first.headers["Cache-Control"]
    assert "Accept-Encoding" in first.headers["Vary"]
    by_etag = client.get("/topics/testing/feed.atom", headers={"If-None-Match": etag})
    assert by_etag.status_code == 304 and by_etag.data == b""
    assert by_etag.headers["ETag"] == etag
    by_date = client.get("/topics/testing/feed.atom", headers={"If-Modified-Since": modified})
    assert by_date.status_code == 304
    stale = client.get("/topics/testing/feed.atom", headers={"If-None-Match": '"something-else"'})
    assert stale.status_code == 200 and stale.data == first.data


def test_it_changes_the_validators_when_the_topic_changes(client, app_engine):
    load_testing_topic(app_engine)
    first = client.get("/topics/testing/feed.atom")
    newcomer = fixture_papers()[40]
    load(app_engine, "testing", [newcomer], matched=NOW + timedelta(minutes=5))
    again = client.get("/topics/testing/feed.atom", headers={"If-None-Match": first.headers["ETag"]})
    assert again.status_code == 200
    assert again.headers["ETag"] != first.headers["ETag"]
    assert f"https://arxiv.org/abs/{newcomer.id}".encode() in again.data


def test_it_gzips_when_asked(client, app_engine):
    load_testing_topic(app_engine)
    plain = client.get("/topics/testing/feed.atom")
    zipped = client.get("/topics/testing/feed.atom", headers={"Accept-Encoding": "br, gzip;q=0.8"})
    assert zipped.headers["Content-Encoding"] == "gzip"
    assert gzip.decompress(zipped.data) == plain.data
    assert len(zipped.data) < len(plain.data)
    assert "Content-Encoding" not in plain.headers
    refused = client.get("/topics/testing/feed.atom", headers={"Accept-Encoding": "gzip;q=0"})
    assert "Content-Encoding" not in refused.headers
    # RFC 9110 12.5.3: "*" stands for the codings not named; a named one decides for itself.
    for accepted in ("*;q=0, gzip", "identity, *", "gzip; q=0.5; x=y", "deflate, GZIP;Q=1"):
        response = client.get("/topics/testing/feed.atom", headers={"Accept-Encoding": accepted})
        assert response.headers.get("Content-Encoding") == "gzip", accepted
    for refused_by in ("gzip;q=0, *", "*;q=0", "identity", "gzip;q=0.000", "br"):
        response = client.get("/topics/testing/feed.atom", headers={"Accept-Encoding": refused_by})
        assert "Content-Encoding" not in response.headers, refused_by
    revalidated = client.get(
        "/topics/testing/feed.atom", headers={"Accept-Encoding": "gzip", "If-None-Match": zipped.headers["ETag"]}
    )
    assert revalidated.status_code == 304


@pytest.mark.parametrize(
    "stamp_seconds",
    [
        pytest.param(0, id="from-the-app"),
        pytest.param(600, id="from-memory", marks=pytest.mark.app_options(clock=lambda: NOW, stamp_seconds=600)),
    ],
)
def test_it_sends_the_etag_of_the_variant_it_would_send_with_a_304(app, client, app_engine, stamp_seconds):
    assert app.extensions["paperboy_render_cache"].stamp_seconds == stamp_seconds
    load_testing_topic(app_engine)
    plain = client.get("/topics/testing/feed.atom")
    zipped = client.get("/topics/testing/feed.atom", headers={"Accept-Encoding": "gzip"})
    assert zipped.headers["ETag"] != plain.headers["ETag"]
    # RFC 9110 15.4.5: a 304 carries the ETag that a 200 to the same request would carry.
    for etag in (zipped.headers["ETag"], plain.headers["ETag"]):
        again = client.get("/topics/testing/feed.atom", headers={"Accept-Encoding": "gzip", "If-None-Match": etag})
        assert again.status_code == 304
        assert again.headers["ETag"] == zipped.headers["ETag"]
    unzipped = client.get("/topics/testing/feed.atom", headers={"If-None-Match": plain.headers["ETag"]})
    assert unzipped.status_code == 304 and unzipped.headers["ETag"] == plain.headers["ETag"]


def test_it_answers_404_for_an_unknown_topic(client, app_engine):
    for url in ("/topics/nope/feed.atom", "/topics/nope/feed.rss"):
        response = client.get(url)
        assert response.status_code == 404
        assert b"There is no topic" in response.data


@pytest.mark.app_options(clock=lambda: NOW, stamp_seconds=600)
def test_it_answers_from_memory_while_the_stamp_is_fresh(app, client, app_engine):
    load_testing_topic(app_engine)
    first = client.get("/topics/testing/feed.atom")
    newcomer = fixture_papers()[40]
    load(app_engine, "testing", [newcomer], matched=NOW + timedelta(minutes=5))
    # Within the stamp's lifetime the store is not asked again: same bytes, same headers.
    again = client.get("/topics/testing/feed.atom")
    assert again.data == first.data
    assert {k: v for k, v in again.headers.items()} == {k: v for k, v in first.headers.items()}
    zipped = client.get("/topics/testing/feed.atom", headers={"Accept-Encoding": "gzip"})
    assert gzip.decompress(zipped.data) == first.data
    assert zipped.headers["Content-Length"] == str(len(zipped.data))
    assert client.get("/topics/testing/feed.atom", headers={"If-None-Match": first.headers["ETag"]}).status_code == 304
    # Other topics, and requests other than GET, still go through the app.
    assert client.get("/topics/vla/feed.atom").status_code == 200
    assert client.post("/topics/testing/feed.atom").status_code in (400, 405)
