"""Feeds as feed readers read them: feedparser on every feed, the abstract word for word, the
whole author list, and the W3C feed validator's rules on these points checked one by one
(the validator itself is not on PyPI)."""

from __future__ import annotations

import shutil
import sqlite3
import subprocess
from dataclasses import replace
from urllib.parse import urlsplit

import feedparser
import lxml.html
import pytest
from lxml import etree

from tests.conftest import DATA, NOW, REQUIRE_BROWSER
from tests.support.topic_data import fixture_papers, load, load_testing_topic

# Pages and feeds see the frozen NOW, and every change in the store at once.
pytestmark = pytest.mark.app_options(clock=lambda: NOW, stamp_seconds=0)

ATOM_NS = "http://www.w3.org/2005/Atom"
DC_NS = "http://purl.org/dc/elements/1.1/"
BASE = "http://paperboy.test"
# What arXiv abstracts hold and HTML readers used to eat: math with "<", "&", markup-like text, "]]>".
TRICKY_ABSTRACT = (
    "For every $k<n$ and $n>2$ we show that A & B <b>bold</b> claims hold, "
    "unlike x<y; the CDATA end ]]> and &amp; stay text."
)
FEEDS = [
    "/topics/testing/feed.atom",
    "/topics/testing/feed.rss",
    "/topics/testing/code.atom",
    "/topics/testing/code.rss",
    "/feed.atom",
]


@pytest.fixture
def tricky(app_engine):
    """The testing topic plus one paper with code, many authors and a tricky abstract."""
    load_testing_topic(app_engine)
    base = next(p for p in fixture_papers() if p.code_urls)
    paper = replace(
        base,
        id="2601.09999",
        abstract=TRICKY_ABSTRACT,
        updated=NOW,
        published=NOW,
        authors=[
            "Ada Lovelace",
            "Alan Turing",
            "Grace Hopper",
            "Edsger W. Dijkstra",
            "Barbara Liskov",
            "Donald E. Knuth",
            "Frances Allen",
        ],
    )
    load(app_engine, "testing", [paper])
    return paper


def entry_for(parsed, paper):
    return next(e for e in parsed.entries if e.id == f"https://arxiv.org/abs/{paper.id}")


@pytest.mark.parametrize("path", FEEDS)
def test_it_serves_feeds_feedparser_reads_cleanly(client, tricky, path):
    parsed = feedparser.parse(client.get(path).data)
    assert not parsed.bozo, parsed.get("bozo_exception")
    assert parsed.version == ("rss20" if path.endswith(".rss") else "atom10")
    entry = entry_for(parsed, tricky)
    # Readers that show one author show them all, in order.
    assert (
        entry.author == "Ada Lovelace, Alan Turing, Grace Hopper, Edsger W. Dijkstra, "
        "Barbara Liskov, Donald E. Knuth, Frances Allen"
    )


@pytest.mark.parametrize("path", ["/topics/testing/feed.atom", "/feed.atom", "/topics/testing/code.atom"])
def test_it_keeps_the_abstract_word_for_word_in_atom(client, tricky, path):
    entry = entry_for(feedparser.parse(client.get(path).data), tricky)
    assert entry.summary_detail.type == "text/plain"
    assert entry.summary == TRICKY_ABSTRACT


@pytest.mark.parametrize("path", ["/topics/testing/feed.rss", "/topics/testing/code.rss"])
def test_it_keeps_the_abstract_word_for_word_in_rss_html(client, tricky, path):
    entry = entry_for(feedparser.parse(client.get(path).data), tricky)
    assert entry.summary_detail.type == "text/html"
    html = lxml.html.fragment_fromstring(entry.summary, create_parent="div")
    paragraphs = html.findall("p")
    assert paragraphs[0].text_content() == TRICKY_ABSTRACT
    links = {a.text: a.get("href") for a in paragraphs[1].findall("a")}
    assert links == {"arXiv": tricky.abs_url, "PDF": tricky.pdf_url, "Code": tricky.code_urls[0]}


def rss_items(client, path):
    return etree.fromstring(client.get(path).data).find("channel").findall("item")


def test_it_follows_the_validators_rules_on_rss_descriptions(client, tricky):
    """HTML that parses into known elements only, no relative URL, nothing a validator calls a
    security risk (script, iframe, on* attributes, style), and the text of the abstract intact."""
    items = rss_items(client, "/topics/testing/feed.rss")
    assert items
    for item in items:
        description = item.findtext("description")
        fragment = lxml.html.fragment_fromstring(description, create_parent="div")
        elements = [element for element in fragment.iter() if element is not fragment]
        assert {element.tag for element in elements} <= {"p", "a"}
        for element in elements:
            assert not any(name.startswith("on") or name == "style" for name in element.attrib)
        for anchor in fragment.iter("a"):
            assert urlsplit(anchor.get("href")).scheme in ("http", "https")  # absolute
            assert urlsplit(anchor.get("href")).netloc
    # The abstract is text inside the HTML: the first paragraph's text, exactly.
    mine = next(i for i in items if i.findtext("guid") == f"https://arxiv.org/abs/{tricky.id}")
    fragment = lxml.html.fragment_fromstring(mine.findtext("description"), create_parent="div")
    assert fragment.find("p").text_content() == TRICKY_ABSTRACT


def test_it_follows_the_validators_rules_on_rss_items(client, tricky):
    for path in ("/topics/testing/feed.rss", "/topics/testing/code.rss"):
        for item in rss_items(client, path):
            guid = item.find("guid")
            # isPermaLink defaults to true, and then the guid must be a full URL.
            assert guid.get("isPermaLink", "true") == "true"
            assert urlsplit(guid.text).scheme == "https" and urlsplit(guid.text).netloc == "arxiv.org"
            assert urlsplit(item.findtext("link")).scheme == "https"
            # One dc:creator holding the list, and no <author> (which needs an email) beside it.
            assert len(item.findall(f"{{{DC_NS}}}creator")) == 1
            assert item.find("author") is None
            assert "@" not in item.findtext(f"{{{DC_NS}}}creator")
            assert item.findtext("title")


@pytest.mark.parametrize("path", FEEDS)
def test_it_links_each_feed_to_itself(client, tricky, path):
    document = etree.fromstring(client.get(path).data)
    scope = document.find("channel") if path.endswith(".rss") else document
    selfs = [link for link in scope.findall(f"{{{ATOM_NS}}}link") if link.get("rel") == "self"]
    assert len(selfs) == 1
    assert selfs[0].get("href") == BASE + path  # the validator: self must match the location
    assert selfs[0].get("type") == ("application/rss+xml" if path.endswith(".rss") else "application/atom+xml")


@pytest.mark.parametrize("path", ["/topics/testing/code.atom", "/topics/testing/feed.atom"])
def test_it_validates_atom_against_the_schema(client, tricky, path):
    schema = etree.RelaxNG(etree.parse(str(DATA / "atom.rng")))
    document = etree.fromstring(client.get(path).data)
    assert schema.validate(document), schema.error_log


def test_it_puts_only_papers_with_code_or_a_project_page_in_the_code_feeds(client, tricky):
    recent = [p for p in fixture_papers() if p.has_links]
    for path in ("/topics/testing/code.atom", "/topics/testing/code.rss"):
        parsed = feedparser.parse(client.get(path).data)
        ids = {entry.id for entry in parsed.entries}
        assert ids == {f"https://arxiv.org/abs/{p.id}" for p in recent + [tricky]}
        assert parsed.feed.title == "Software Testing: papers with code (paperboy)"
    everything = feedparser.parse(client.get("/topics/testing/feed.atom").data)
    assert len(everything.entries) > len(recent) + 1


def test_it_answers_404_for_the_code_feed_of_an_unknown_topic(client, app_engine):
    for path in ("/topics/nope/code.atom", "/topics/nope/code.rss"):
        response = client.get(path)
        assert response.status_code == 404 and b"There is no topic" in response.data


@pytest.mark.parametrize("path", ["/topics/testing/feed.atom", "/feed.atom", "/topics/testing/code.atom"])
def test_it_gives_atom_readers_the_abstract_and_links_as_html(client, tricky, path):
    entry = entry_for(feedparser.parse(client.get(path).data), tricky)
    [content] = entry.content
    assert content.type == "text/html"
    html = lxml.html.fragment_fromstring(content.value, create_parent="div")
    assert html.find("p").text_content() == TRICKY_ABSTRACT
    assert {a.text for a in html.iter("a")} == {"arXiv", "PDF", "Code"}


def test_newsboat_shows_no_tags_as_text_in_atom_entries(client, tricky, httpserver, tmp_path):
    """newsboat keeps each entry's content as the HTML it renders; typed text would be escaped into
    visible "<p>" tags there."""
    newsboat = shutil.which("newsboat")
    if newsboat is None:
        reason = "the feed reader test needs newsboat (apt-get install newsboat)"
        if REQUIRE_BROWSER:
            pytest.fail(f"PAPERBOY_REQUIRE_BROWSER=1 but {reason}")
        pytest.skip(reason)
    httpserver.expect_request("/feed.atom").respond_with_data(
        client.get("/topics/testing/feed.atom").data, content_type="application/atom+xml"
    )
    (tmp_path / "urls").write_text(httpserver.url_for("/feed.atom") + "\n")
    (tmp_path / "config").write_text("")
    subprocess.run(
        [newsboat, "-u", "urls", "-c", "cache.db", "-C", "config", "-x", "reload"],
        cwd=tmp_path,
        env={"HOME": str(tmp_path), "PATH": "/usr/bin:/bin"},
        capture_output=True,
        timeout=60,
        check=True,
    )
    with sqlite3.connect(tmp_path / "cache.db") as cache:
        content = cache.execute(
            "SELECT content FROM rss_item WHERE guid = ?", (f"https://arxiv.org/abs/{tricky.id}",)
        ).fetchone()[0]
    shown = lxml.html.fragment_fromstring(content, create_parent="div")
    assert shown.find("p").text_content() == TRICKY_ABSTRACT  # "<b>" of the abstract stays text
    assert "<p>" not in shown.text_content()
    assert [a.text for a in shown.iter("a")] == ["arXiv", "PDF", "Code"]
