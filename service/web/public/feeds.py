"""Atom and RSS feeds per topic, one Atom feed of all topics, and the OPML list of feeds.

A feed renders once per change of its topic's papers; between changes a request costs a
dict lookup (see service/web/cache.py)."""

from __future__ import annotations

from flask import Blueprint, abort, request

from service.model.paper import paper_links
from service.model.topics import Topic
from service.publish.feeds import FEED_SIZE, FeedSpec, atom_feed, opml, rss_feed
from service.store.papers import papers_for_topic
from service.store.summaries import recent_papers_with_topics
from service.web.cache import respond_cached
from service.web.extensions import current_runtime
from service.web.summaries import render_cache, summary, summary_scope
from service.web.urls import absolute_url

blueprint = Blueprint("feeds", __name__)

ATOM = "application/atom+xml; charset=utf-8"
RSS = "application/rss+xml; charset=utf-8"
OPML = "text/x-opml; charset=utf-8"
CODE_SUFFIX = ": papers with code"


@blueprint.get("/topics/<slug>/feed.atom")
def topic_atom(slug: str):
    return _topic_feed(slug, "atom")


@blueprint.get("/topics/<slug>/feed.rss")
def topic_rss(slug: str):
    return _topic_feed(slug, "rss")


@blueprint.get("/topics/<slug>/code.atom")
def code_atom(slug: str):
    """The topic's newest papers with code or a project page."""
    return _topic_feed(slug, "atom", code=True)


@blueprint.get("/topics/<slug>/code.rss")
def code_rss(slug: str):
    return _topic_feed(slug, "rss", code=True)


def _topic_feed(slug: str, kind: str, code: bool = False):
    runtime = current_runtime()
    topic = runtime.topic(slug)
    if topic is None:
        abort(404, description=f"There is no topic {slug!r}.")
    state = summary(slug)

    def render() -> bytes:
        with runtime.engine.connect() as conn:
            papers = papers_for_topic(conn, slug, limit=FEED_SIZE, with_links=code)
        spec = FeedSpec(
            title=f"{topic.title}{CODE_SUFFIX if code else ''} (paperboy)",
            description=topic.description or topic.title,
            page_url=absolute_url("pages.topic", slug=slug),
            self_url=absolute_url(f"feeds.{'code' if code else 'topic'}_{kind}", slug=slug),
            updated=state.papers_changed,
        )
        build = atom_feed if kind == "atom" else rss_feed
        return build(spec, [(paper, []) for paper in papers if not code or _links_beyond_arxiv(paper)])

    return respond_cached(
        request,
        (kind, slug, code),
        f"{state.papers_stamp}|{topic.fingerprint}",
        state.papers_changed,
        ATOM if kind == "atom" else RSS,
        render,
        render_cache(),
        stamp=(summary_scope(slug), state),
    )


def _links_beyond_arxiv(paper) -> bool:
    # The store keeps any URL a paper names; only web URLs become links (javascript: does not).
    return any(label not in ("arXiv", "PDF") for label, _ in paper_links(paper))


@blueprint.get("/feed.atom")
def all_atom():
    """The newest papers of every topic; each entry names its topics as categories."""
    runtime = current_runtime()
    state = summary(None)
    titles = {topic.slug: topic.title for topic in runtime.topics}

    def render() -> bytes:
        with runtime.engine.connect() as conn:
            papers = recent_papers_with_topics(conn, FEED_SIZE)
        entries = [(paper, [(slug, titles.get(slug, slug)) for slug in slugs]) for paper, slugs in papers]
        spec = FeedSpec(
            title="paperboy: all topics",
            description="New arXiv papers in every topic paperboy follows.",
            page_url=absolute_url("pages.home"),
            self_url=absolute_url("feeds.all_atom"),
            updated=state.papers_changed,
            topic_scheme=absolute_url("pages.home") + "topics/",
        )
        return atom_feed(spec, entries)

    return respond_cached(
        request,
        ("atom", None),
        state.papers_stamp,
        state.papers_changed,
        ATOM,
        render,
        render_cache(),
        stamp=(summary_scope(None), state),
    )


@blueprint.get("/feeds.opml")
def feeds_opml():
    """The all-topics feed, then each topic's feed and code feed (Atom), to import at once."""
    topics: list[Topic] = current_runtime().topics

    def render() -> bytes:
        outlines = [("paperboy: all topics", absolute_url("feeds.all_atom"), absolute_url("pages.home"))]
        for topic in topics:
            page = absolute_url("pages.topic", slug=topic.slug)
            outlines.append((topic.title, absolute_url("feeds.topic_atom", slug=topic.slug), page))
            outlines.append((topic.title + CODE_SUFFIX, absolute_url("feeds.code_atom", slug=topic.slug), page))
        return opml("paperboy topics", outlines)

    # The list changes only with topics.toml, which is read once per process.
    return respond_cached(request, ("opml",), "topics", None, OPML, render, render_cache())
