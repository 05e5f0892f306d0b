"""Atom and RSS feeds of topics (feedgen), and the OPML list of every topic feed.

Everything from arXiv passes through printable() first: lxml refuses strings holding
characters XML cannot carry, and one bad abstract must not take a feed down."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

from feedgen.feed import FeedGenerator
from lxml import etree
from markupsafe import Markup

from service.model.paper import Paper, paper_links
from service.model.text import one_line, printable
from service.publish.listing import paper_marks

FEED_SIZE = 50
ATOM = "http://www.w3.org/2005/Atom"
ARXIV_SCHEME = "https://arxiv.org/category_taxonomy"
# An empty topic has never changed; feeds still need an `updated`.
NEVER = datetime(1970, 1, 1, tzinfo=UTC)


@dataclass
class FeedSpec:
    """What a feed says about itself; URLs are absolute."""

    title: str
    description: str
    page_url: str  # the HTML page the feed mirrors
    self_url: str
    updated: datetime | None
    # The scheme of the topic categories of the all-topics feed: the topic pages' URL prefix.
    topic_scheme: str | None = None


def atom_feed(spec: FeedSpec, entries: list[tuple[Paper, list[tuple[str, str]]]]) -> bytes:
    """An Atom 1.0 document; each entry is a paper with its topics as (slug, title) categories."""
    body = _generator(spec, entries, "atom").atom_str(pretty=False, encoding="UTF-8")
    return _restore_entry_link_attributes(body, entries)


def rss_feed(spec: FeedSpec, entries: list[tuple[Paper, list[tuple[str, str]]]]) -> bytes:
    """An RSS 2.0 document with the same entries as atom_feed."""
    return _generator(spec, entries, "rss").rss_str(pretty=False, encoding="UTF-8")


def _generator(spec: FeedSpec, entries: list[tuple[Paper, list[tuple[str, str]]]], kind: str) -> FeedGenerator:
    feed = FeedGenerator()
    feed.load_extension("dc", atom=False, rss=True)  # RSS authors need an email; dc:creator does not
    feed.id(spec.page_url)
    feed.title(one_line(spec.title) or "paperboy")
    feed.subtitle(one_line(spec.description) or one_line(spec.title) or "paperboy")
    # Self first: feedgen makes the last link added RSS's <channel><link>, which must be the page.
    feed.link(href=spec.self_url, rel="self", type="application/atom+xml" if kind == "atom" else "application/rss+xml")
    feed.link(href=spec.page_url, rel="alternate", type="text/html")
    feed.author({"name": "paperboy"})  # Atom needs an author where an entry lists none
    feed.generator("paperboy")
    feed.language("en")
    feed.updated(spec.updated or NEVER)
    for paper, topics in entries:
        _add_entry(feed, paper, topics, spec.topic_scheme)
    return feed


def _add_entry(feed: FeedGenerator, paper: Paper, topics: list[tuple[str, str]], topic_scheme: str | None) -> None:
    entry = feed.add_entry(order="append")
    # The versionless abstract URL: the same entry whatever version arrives later.
    entry.guid(f"https://arxiv.org/abs/{paper.id}", permalink=True)
    title = one_line(paper.title) or paper.id
    marks = paper_marks(paper)
    entry.title(f"{title} [{'; '.join(marks)}]" if marks else title)
    entry.updated(paper.updated)
    entry.published(paper.published)
    names = author_list(paper)
    if names:
        # One author holding the whole list, as arXiv's own RSS does: readers that show one
        # author (feedparser's `author`, newsboat) would otherwise show only the last.
        entry.author({"name": names})
        entry.dc.dc_creator(names)
    for attributes in entry_links(paper):
        entry.link(**attributes)
    for term in paper.categories:
        if one_line(term):
            entry.category(term=one_line(term), scheme=ARXIV_SCHEME)
    for slug, title in topics:
        topic = {"term": one_line(slug), "label": one_line(title) or one_line(slug)}
        entry.category(**topic, **({"scheme": topic_scheme} if topic_scheme else {}))
    entry.summary(printable(paper.abstract) or one_line(paper.title))
    # Readers take RSS descriptions for HTML, so the abstract goes in escaped, with its links.
    entry.description(rss_description(paper))
    # feedgen also stores the description as Atom content, without a type (text): readers then
    # show its tags as text. The same HTML, typed, is what Atom readers render.
    entry.content(rss_description(paper), type="html")


def author_list(paper: Paper) -> str:
    """Every author, in the paper's order, on one line: "Ada Lovelace, Alan Turing"."""
    return ", ".join(one_line(name) for name in paper.authors if one_line(name))


def rss_description(paper: Paper) -> str:
    """The abstract as an HTML paragraph, then its links (arXiv | PDF | Project Page | Code).

    Every URL is absolute and every character of the abstract escaped, so readers that render
    the description as HTML show the text as it is ("$k<n$" stays)."""
    abstract = printable(paper.abstract) or one_line(paper.title)
    links = Markup(" | ").join(
        Markup('<a href="{}">{}</a>').format(one_line(url), label) for label, url in paper_links(paper)
    )
    return str(Markup("<p>{}</p>\n<p>{}</p>").format(abstract, links))


def entry_links(paper: Paper) -> list[dict[str, str]]:
    """The abstract (alternate), then PDF, project page and code (related), as Atom links."""
    links = []
    for label, url in paper_links(paper):
        if label == "arXiv":
            links.append({"href": one_line(url), "rel": "alternate", "type": "text/html"})
        else:
            kind = "application/pdf" if label == "PDF" else "text/html"
            links.append({"href": one_line(url), "rel": "related", "type": kind, "title": label})
    return links


def _restore_entry_link_attributes(body: bytes, entries: list[tuple[Paper, list[tuple[str, str]]]]) -> bytes:
    # feedgen 1.0.0 writes an entry's <link> with href only (its atom_entry() shadows the
    # link dict with the new element), so every link reads as rel="alternate". Put the
    # attributes back, in the order the links were added.
    root = etree.fromstring(body)
    for element, (paper, _) in zip(root.findall(f"{{{ATOM}}}entry"), entries):
        for link, attributes in zip(element.findall(f"{{{ATOM}}}link"), entry_links(paper)):
            for name, value in attributes.items():
                link.set(name, value)
    return etree.tostring(root, xml_declaration=True, encoding="UTF-8")


def opml(title: str, outlines: list[tuple[str, str, str]]) -> bytes:
    """An OPML 2.0 subscription list; outlines are (title, feed URL, page URL)."""
    root = etree.Element("opml", version="2.0")
    head = etree.SubElement(root, "head")
    etree.SubElement(head, "title").text = one_line(title)
    body = etree.SubElement(root, "body")
    for text, feed_url, page_url in outlines:
        etree.SubElement(
            body,
            "outline",
            type="rss",
            text=one_line(text),
            title=one_line(text),
            xmlUrl=feed_url,
            htmlUrl=page_url,
        )
    return etree.tostring(root, xml_declaration=True, encoding="UTF-8")
