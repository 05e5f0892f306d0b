"""`paperboy export DIR`: the public site as static files in the seed's format.

README.md lists the topics (the seed's home), topics/<slug>.md is each topic page and
topics/<slug>/<YYYY-Www>.md each week, all linked relatively so they work on GitHub and in a
local folder. Feeds and the OPML are the bytes the web app serves, at the same paths, with
PAPERBOY_BASE_URL in their links. Every Markdown page also gets an index.html at the page's
URL (/, /topics/<slug>/, /topics/<slug>/<week>/) for hosts that do not render Markdown.
A file whose bytes did not change is not rewritten, so its mtime stays."""

from __future__ import annotations

import logging
import posixpath
from dataclasses import dataclass, field
from pathlib import Path

from flask import render_template
from markdown_it import MarkdownIt
from markupsafe import Markup

from service.clock import utc_now
from service.config import Config
from service.errors import PaperboyError
from service.model.text import markdown_text
from service.model.weeks import week_bounds
from service.publish.listing import PAGE_SIZE, format_moment, window_start
from service.publish.markdown import topic_markdown
from service.store.runs import is_sample_data
from service.store.summaries import topic_summaries
from service.web import create_app
from service.web.public.pages import load_listing

log = logging.getLogger("paperboy.export")

STYLESHEET = Path(__file__).resolve().parent / "static" / "paperboy.css"
CSS_PATH = "static/paperboy.css"
HOME_TITLE = "paperboy: arXiv topics"
HOME_LEAD = "New papers on arXiv, by topic: pages, Atom/RSS feeds and a weekly email."


class ExportError(PaperboyError):
    """The export folder cannot be written; the message names it."""


@dataclass
class ExportReport:
    written: list[str] = field(default_factory=list)  # paths relative to the folder
    unchanged: int = 0


def export_site(config: Config, directory: Path, clock=None) -> ExportReport:
    """Write the site into `directory` (created if missing); only files whose bytes changed.

    `clock`: what "now" is (default: the real time), which sets the topic pages' window."""
    directory = Path(directory)
    if directory.exists() and not directory.is_dir():
        raise ExportError(f"export: {directory} is not a folder")
    app = create_app(config, clock=clock or utc_now, stamp_seconds=0)
    try:
        files = _site_files(app)
    finally:
        app.extensions["paperboy"].close()
    report = ExportReport()
    for path, body in files.items():
        if write_if_changed(directory / path, body):
            report.written.append(path)
        else:
            report.unchanged += 1
    return report


def write_if_changed(path: Path, body: bytes) -> bool:
    """Write `body` to `path` unless it already holds exactly that; True when written."""
    try:
        if path.is_file() and path.read_bytes() == body:
            return False
        path.parent.mkdir(parents=True, exist_ok=True)
        partial = path.with_name(path.name + ".partial")
        partial.write_bytes(body)
        partial.replace(path)  # readers of the folder never see half a file
    except OSError as error:
        raise ExportError(f"export: cannot write {path}: {error.strerror or error}") from error
    return True


def _site_files(app) -> dict[str, bytes]:
    """Every file of the site: relative path -> bytes."""
    runtime = app.extensions["paperboy"]
    pages: dict[str, tuple[str, str]] = {}  # Markdown path -> (title, Markdown)
    feeds = ["feed.atom", "feeds.opml"]
    with app.test_request_context("/"):
        with runtime.engine.connect() as conn:
            summaries = topic_summaries(conn)
            since = window_start(runtime.clock(), is_sample_data(conn))
        rows = []
        alternates: dict[str, list[Alternate]] = {"README.md": [ALL_TOPICS_FEED]}
        for topic in runtime.topics:
            slug = topic.slug
            listing = load_listing(topic, since, None, None, page_size=PAGE_SIZE)
            rows.append((topic, summaries.get(slug), listing.last_updated))
            weeks = [(f"{week} ({count})", f"topics/{slug}/{week}.md") for week, count in listing.weeks]
            topic_pages = _paged(
                f"topics/{slug}.md",
                topic.title,
                listing,
                lambda link, page_url, listing=listing, weeks=weeks, topic=topic: topic_markdown(
                    listing,
                    link("README.md"),
                    page_url=page_url,
                    nav=[("Back to Home", link("README.md")), *_feed_links(topic, link)],
                    weeks=[(label, link(path)) for label, path in weeks],
                ),
            )
            for week, _ in listing.weeks:
                start, end = week_bounds(week)
                week_listing = load_listing(topic, start, end, week, page_size=PAGE_SIZE)
                topic_pages |= _paged(
                    f"topics/{slug}/{week}.md",
                    f"{topic.title}: {week}",
                    week_listing,
                    lambda link, page_url, listing=week_listing, topic=topic: topic_markdown(
                        listing,
                        link("README.md"),
                        page_url=page_url,
                        nav=[
                            ("Back to Home", link("README.md")),
                            (topic.title, link(f"topics/{topic.slug}.md")),
                            *_feed_links(topic, link),
                        ],
                    ),
                )
            pages |= topic_pages
            alternates |= {path: topic_alternates(topic) for path in topic_pages}
            feeds += [f"topics/{slug}/{name}" for name in ("feed.atom", "feed.rss", "code.atom", "code.rss")]
            log.info("export: %s: topic page and %d week pages", slug, len(listing.weeks))
        pages["README.md"] = (HOME_TITLE, home_markdown(rows))
        files = {path: text.encode() for path, (_, text) in pages.items()}
        for path, (title, text) in pages.items():
            files[html_path(path)] = page_html(path, title, text, alternates.get(path, [])).encode()
    client = app.test_client()
    for path in feeds:
        response = client.get("/" + path)
        if response.status_code != 200:
            raise ExportError(f"export: /{path} answered {response.status_code}")
        files[path] = response.data
    files[CSS_PATH] = STYLESHEET.read_bytes()
    return files


@dataclass(frozen=True)
class Alternate:
    """A feed a page announces with <link rel="alternate">; `path` is from the site's root."""

    type: str
    title: str
    path: str


ALL_TOPICS_FEED = Alternate("application/atom+xml", "paperboy: all topics", "feed.atom")


def topic_alternates(topic) -> list[Alternate]:
    """The feeds of a topic, as its pages announce them (templates/_feed_links.html on the web)."""
    folder = f"topics/{topic.slug}"
    return [
        Alternate("application/atom+xml", f"{topic.title} (Atom)", f"{folder}/feed.atom"),
        Alternate("application/rss+xml", f"{topic.title} (RSS)", f"{folder}/feed.rss"),
        Alternate("application/atom+xml", f"{topic.title}: papers with code (Atom)", f"{folder}/code.atom"),
        ALL_TOPICS_FEED,
    ]


def _feed_links(topic, link) -> list[tuple[str, str]]:
    """The topic's feeds for a page's link line, as (label, relative URL)."""
    folder = f"topics/{topic.slug}"
    return [
        ("Atom", link(f"{folder}/feed.atom")),
        ("RSS", link(f"{folder}/feed.rss")),
        ("Papers with code (Atom)", link(f"{folder}/code.atom")),
    ]


def _paged(first: str, title: str, listing, render) -> dict[str, tuple[str, str]]:
    """Every page of `listing` as Markdown: page 1 at `first` ("topics/x.md"), page n at
    "topics/x/page-n.md". `render(link, page_url)` renders the listing's current page, where
    link(path) is a path from the site's root made relative to that page."""

    def path(number: int) -> str:
        return first if number == 1 else first.removesuffix(".md") + f"/page-{number}.md"

    found = {}
    for number in range(1, listing.pages + 1):
        listing.page = number
        here = posixpath.dirname(path(number))

        def link(target: str, here: str = here) -> str:
            return posixpath.relpath(target, here)

        suffix = f" (page {number})" if number > 1 else ""
        found[path(number)] = (title + suffix, render(link, lambda n, link=link: link(path(n))))
    return found


def home_markdown(rows) -> str:
    """The site's README.md: every topic with its counts, pages and feeds, linked relatively.

    `rows`: (topic, its TopicSummary or None, when its papers were last updated)."""
    lines = [f"# {HOME_TITLE}", "", HOME_LEAD, ""]
    for topic, found, updated in rows:
        newest = found.newest_published.strftime("%Y-%m-%d") if found and found.newest_published else "none yet"
        slug = topic.slug
        lines += [f"## [{markdown_text(topic.title)}](topics/{slug}.md)", ""]
        if topic.description:
            lines += [markdown_text(topic.description), ""]
        lines += [
            f"**Papers:** {found.papers if found else 0} | **Newest paper:** {newest}"
            f" | **Last updated:** {format_moment(updated)}",
            "",
            f"**Feeds:** [Atom](topics/{slug}/feed.atom) | [RSS](topics/{slug}/feed.rss)"
            f" | [Papers with code (Atom)](topics/{slug}/code.atom) | [Papers with code (RSS)](topics/{slug}/code.rss)",
            "",
            "---",
            "",
        ]
    lines += ["**All topics:** [Atom feed](feed.atom) | [OPML of every feed](feeds.opml)", ""]
    return "\n".join(lines)


def html_path(markdown_path: str) -> str:
    """Where a Markdown page's index.html goes: the page's URL on the web app."""
    if markdown_path == "README.md":
        return "index.html"
    return markdown_path.removesuffix(".md") + "/index.html"


# CommonMark with raw HTML on: the seed's pages use <details>; everything from arXiv in them
# is escaped by service.markdown already.
_MARKDOWN = MarkdownIt("commonmark", {"html": True})


def page_html(markdown_path: str, title: str, text: str, alternates: list[Alternate] | None = None) -> str:
    """A small HTML page of one Markdown page, its relative links pointing at the HTML pages;
    `alternates` are the feeds it announces to browsers and feed readers."""
    here = posixpath.dirname(html_path(markdown_path))
    tokens = _MARKDOWN.parse(text)
    for token in tokens:
        for child in token.children or []:
            if child.type == "link_open":
                child.attrSet("href", _html_href(markdown_path, here, str(child.attrGet("href"))))
    body = _MARKDOWN.renderer.render(tokens, _MARKDOWN.options, {})
    css = posixpath.relpath(CSS_PATH, here or ".")
    feeds = [(feed.type, feed.title, posixpath.relpath(feed.path, here or ".")) for feed in alternates or []]
    return render_template("export_page.html", title=title, body=Markup(body), css=css, feeds=feeds)


def _html_href(markdown_path: str, here: str, href: str) -> str:
    if ":" in href.split("/", 1)[0] or href.startswith(("/", "#")):
        return href  # absolute: arXiv, PDF, code
    target = posixpath.normpath(posixpath.join(posixpath.dirname(markdown_path), href))
    if target.endswith(".md"):
        target = html_path(target)
    return posixpath.relpath(target, here or ".")
