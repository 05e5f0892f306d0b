"""HTML pages: home, topic pages (default window and one ISO week), the Markdown export,
and the error pages.

Every visitor gets the same bytes (the subscribe form carries no token; see subscribe.py), so
a page is rendered once per change of its topic and answered like a feed: from memory, with
ETag, 304, gzip and public caching that a front such as deploy/nginx.conf honours. A topic's
ranking is computed once per change too, and serves all of its pages."""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import replace
from datetime import datetime, timedelta
from functools import partial
from typing import cast

import numpy as np
from flask import Blueprint, Response, abort, current_app, render_template, request
from sqlalchemy.engine import Engine
from werkzeug.exceptions import HTTPException

from service.arxiv.exemplars import exemplar_papers
from service.model.paper import Paper, paper_links
from service.model.text import one_line
from service.model.topics import Topic
from service.model.weeks import WEEK, week_bounds
from service.publish.charts import papers_per_week_chart
from service.publish.listing import DEFAULT_DAYS, PAGE_SIZE, Listing, format_moment, paper_marks, window_start
from service.publish.markdown import topic_markdown
from service.ranking.relevance import rank_window, ranking_keys
from service.store.digests import list_digests
from service.store.papers import Held, papers_by_ids, topic_window
from service.store.runs import is_sample_data, latest_runs
from service.store.summaries import TopicSummary, last_updated, match_weeks, newest_match, topic_summaries
from service.web.cache import PAGE_CACHE_CONTROL, respond_cached
from service.web.extensions import current_runtime
from service.web.summaries import render_cache, summary, summary_scope
from service.web.urls import absolute_url

blueprint = Blueprint("pages", __name__)

MARKDOWN = "text/markdown; charset=utf-8"


@blueprint.app_template_filter("clean")
def clean_filter(text: str | None) -> str:
    """Outside text on one line without control characters (Jinja still escapes it)."""
    return one_line(text)


@blueprint.app_template_filter("moment")
def moment_filter(moment: datetime | None) -> str:
    return format_moment(moment)


blueprint.add_app_template_global(paper_links, "paper_links")
blueprint.add_app_template_global(paper_marks, "paper_marks")


@blueprint.get("/")
def home():
    """Every topic with its description, counts, newest paper and last fetch."""
    state = summary(None)
    runtime = current_runtime()
    with runtime.engine.connect() as conn:
        # The page lists past digests too; a new one is a change of the page.
        digests = list_digests(conn, HOME_DIGESTS)
    version = (
        f"{state.page_stamp}|{runtime.clock().date()}|{[(row.id, papers) for row, papers in digests]}"
        f"|{topics_fingerprint()}"
    )

    def render() -> bytes:
        rows, sample = _load_home()
        return render_template("home.html", rows=rows, sample=sample, topics=runtime.topics).encode()

    return _respond(("home",), version, state.changed, render, None, state)


def topics_fingerprint() -> str:
    """The live topics as a short digest: pages that list them change when an admin edits one."""
    return hashlib.sha1(",".join(t.fingerprint for t in current_runtime().topics).encode()).hexdigest()[:12]


HOME_DIGESTS = 12  # as service/web/admin/digests.py lists them
HTML = "text/html; charset=utf-8"


def _respond(
    key: tuple[object, ...],
    version: str,
    last_modified: datetime | None,
    render: Callable[[], bytes],
    slug: str | None,
    state: TopicSummary,
) -> Response:
    return respond_cached(
        request,
        key,
        version,
        last_modified,
        HTML,
        render,
        render_cache(),
        stamp=(summary_scope(slug), state),
        cache_control=PAGE_CACHE_CONTROL,
    )


def _load_home():
    runtime = current_runtime()
    with runtime.engine.connect() as conn:
        summaries = topic_summaries(conn)
        runs = latest_runs(conn)
        sample = is_sample_data(conn)
    rows = [(topic, summaries.get(topic.slug), runs.get(topic.slug)) for topic in runtime.topics]
    return rows, sample


@blueprint.get("/topics/<slug>/")
def topic(slug: str):
    """Papers new to the topic in the last seven days (all of the bundled sample while it is all
    the store holds)."""
    found = _topic_or_404(slug)
    state = summary(slug)
    since = _window_start(slug, state.page_stamp)
    listing = _listing(found, since, None, None, state.page_stamp)
    return _topic_page(listing, ("topic", slug), _latest(state.changed, since), state)


@blueprint.get("/topics/<slug>/<week:week>/")
def topic_week(slug: str, week: str):
    """Papers first matched by the topic in one ISO week ("2026-W05")."""
    found = _topic_or_404(slug)
    if not WEEK.match(week):
        abort(400, description=f"{week!r} is not a week; weeks look like 2026-W05.")
    try:
        start, end = week_bounds(week)
    except ValueError:  # well formed, but not in the calendar: 2026-W54
        abort(404, description=f"There is no ISO week {week}.")
    if start > current_runtime().clock():
        abort(404, description=f"Week {week} has not started yet.")
    state = summary(slug)
    listing = _listing(found, start, end, week, state.page_stamp)
    return _topic_page(listing, ("week", slug, week), state.changed, state)


def _page_number() -> int:
    raw = request.args.get("page", "1")
    if not (raw.isascii() and raw.isdigit()) or len(raw) > 9 or int(raw) < 1:
        abort(400, description=f"{raw[:40]!r} is not a page number; pages are numbered from 1.")
    return int(raw)


def _listing(topic: Topic, since: datetime, until: datetime | None, week: str | None, stamp: str) -> Listing:
    """The window's listing, ranked once per change of the topic (and per day: the chart and
    the default window move at midnight) for all of its pages."""
    version = f"{stamp}|{current_runtime().clock().date()}|{topic.fingerprint}"
    key = ("listing", topic.slug, since, until)
    made = render_cache().value(key, version, lambda: load_listing(topic, since, until, week, page_size=PAGE_SIZE))
    return cast(Listing, made)


def _topic_page(
    listing: Listing, key: tuple[str, ...], last_modified: datetime | None, state: TopicSummary
) -> Response:
    number = _page_number()
    if number > listing.pages:
        abort(404, description=f"This list has {listing.pages} page(s); there is no page {number}.")
    listing = replace(listing, page=number)
    runtime = current_runtime()
    # The page's menu lists every live topic: an admin's change to any of them is a new version.
    version = f"{state.page_stamp}|{runtime.clock().date()}|{listing.topic.fingerprint}|{topics_fingerprint()}"

    def render() -> bytes:
        html = render_template(
            "topic.html",
            listing=listing,
            days=DEFAULT_DAYS,
            topic=listing.topic,
            topics=runtime.topics,
            chart=papers_per_week_chart(listing.weeks, runtime.clock()),
        )
        return html.encode()

    return _respond((*key, number), version, last_modified, render, listing.topic.slug, state)


@blueprint.get("/topics/<slug>.md")
def topic_markdown_export(slug: str):
    """The topic page as Markdown, in the seed page's format."""
    found = _topic_or_404(slug)
    state = summary(slug)
    since = _window_start(slug, state.page_stamp)

    def render() -> bytes:
        # The first page's papers; the others are on the HTML pages it links.
        listing = replace(_listing(found, since, None, None, state.page_stamp), page=1)
        more = lambda number: absolute_url("pages.topic", slug=slug, page=number)  # noqa: E731
        return topic_markdown(listing, absolute_url("pages.home"), page_url=more).encode()

    return respond_cached(
        request,
        ("markdown", slug),
        f"{state.page_stamp}|{since.date()}",
        _latest(state.changed, since),
        MARKDOWN,
        render,
        render_cache(),
        stamp=(summary_scope(slug), state),
        cache_control=PAGE_CACHE_CONTROL,
    )


def load_listing(
    topic: Topic, since: datetime, until: datetime | None, week: str | None, page: int = 1, page_size: int | None = None
) -> Listing:
    """The topic's papers first matched in [since, until), ranked, with the facts a page shows;
    `page_size` papers on page `page` (None: all on one)."""
    runtime = current_runtime()
    with runtime.engine.connect() as conn:
        exemplars = exemplar_papers(conn, topic)
        keys = ranking_keys(topic, exemplars)
        window = topic_window(conn, topic.slug, since, until, keys, _held(topic.slug, keys))
        updated = last_updated(conn, topic.slug)
        newest = newest_match(conn, topic.slug)
        weeks = match_weeks(conn, topic.slug)
        sample = is_sample_data(conn)
    return Listing(
        topic=topic,
        ranked=rank_window(topic, window, exemplars),
        load=partial(_load_papers, runtime.engine),
        since=since,
        until=until,
        week=week,
        last_updated=updated or newest,
        weeks=weeks,
        sample=sample,
        page=page,
        page_size=page_size,
    )


def _held(slug: str, keys: np.ndarray) -> Held:
    """The counts this process holds for the topic's ranking keys (kept across changes: after a
    fetch, only the fetch's papers are read); a new set of keys starts afresh."""
    held: dict[str, tuple[bytes, Held]] = current_app.extensions.setdefault("paperboy_held_terms", {})
    signature = keys.tobytes()
    if slug not in held or held[slug][0] != signature:
        held[slug] = (signature, {})
    return held[slug][1]


def _load_papers(engine: Engine, paper_ids: list[str]) -> list[Paper]:
    with engine.connect() as conn:
        return papers_by_ids(conn, paper_ids)


def _window_start(slug: str, stamp: str) -> datetime:
    """Where the topic's page starts (window_start), asking the store whether it holds only the
    sample once per change of the topic."""
    runtime = current_runtime()

    def holds_sample() -> bool:
        with runtime.engine.connect() as conn:
            return is_sample_data(conn)

    return window_start(runtime.clock(), render_cache().value(("sample", slug), stamp, holds_sample))


def _topic_or_404(slug: str) -> Topic:
    found = current_runtime().topic(slug)
    if found is None:
        abort(404, description=f"There is no topic {slug!r}.")
    return found


def _latest(changed: datetime | None, since: datetime) -> datetime:
    # The default window moves at midnight UTC, so the page changes then too.
    today = since + timedelta(days=DEFAULT_DAYS)
    return max(changed, today) if changed else today


@blueprint.app_errorhandler(400)
@blueprint.app_errorhandler(404)
@blueprint.app_errorhandler(405)
def error_page(error: HTTPException):
    return render_template("error.html", error=error), error.code
