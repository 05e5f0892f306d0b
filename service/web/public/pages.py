"""HTML pages: home, topic pages (default window and one ISO week), the Markdown export,
and the error pages.

What costs queries and rendering (a topic's papers, the home page's counts) is cached once
per change of the topic; the page around it renders per request, because it may hold the
subscribe form and its CSRF token, which belong to the visitor's session."""

from __future__ import annotations

from collections import Counter
from datetime import datetime, timedelta

from flask import Blueprint, abort, render_template, request
from markupsafe import Markup
from werkzeug.exceptions import HTTPException

from service.arxiv.exemplars import exemplar_papers
from service.arxiv.sample import SAMPLE_SPAN
from service.model.paper import paper_links
from service.model.text import one_line
from service.model.topics import Topic
from service.model.weeks import WEEK, week_bounds, week_of
from service.publish.charts import papers_per_week_chart
from service.publish.listing import DEFAULT_DAYS, PAGE_SIZE, Listing, default_window_start, format_moment, paper_marks
from service.publish.markdown import topic_markdown
from service.store.papers import papers_for_topic
from service.store.runs import is_sample_data, latest_runs
from service.store.summaries import last_updated, match_times, topic_summaries
from service.web.cache import respond_cached, respond_page
from service.web.extensions import current_runtime
from service.web.summaries import render_cache, summary
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
    rows, sample = render_cache().value(("home",), state.page_stamp, _load_home)
    runtime = current_runtime()
    html = render_template("home.html", rows=rows, sample=sample, topics=runtime.topics)
    return respond_page(request, html, state.changed)


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
    version = f"{state.page_stamp}|{since.date()}"
    number = _page_number()
    return _topic_page(
        found, ("topic", slug, number), version, since, None, None, _latest(state.changed, since), number
    )


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
    number = _page_number()
    return _topic_page(found, ("week", slug, week, number), state.page_stamp, start, end, week, state.changed, number)


def _page_number() -> int:
    raw = request.args.get("page", "1")
    if not (raw.isascii() and raw.isdigit()) or len(raw) > 9 or int(raw) < 1:
        abort(400, description=f"{raw[:40]!r} is not a page number; pages are numbered from 1.")
    return int(raw)


def _topic_page(
    topic: Topic,
    key,
    version: str,
    since: datetime,
    until: datetime | None,
    week: str | None,
    last_modified: datetime | None,
    number: int,
):
    def make():
        listing = load_listing(topic, since, until, week, page=number, page_size=PAGE_SIZE)
        if number > listing.pages:
            return listing, None
        papers_html = Markup(render_template("_papers.html", listing=listing))
        return listing, papers_html

    listing, papers_html = render_cache().value(key, version, make)
    if papers_html is None:
        abort(404, description=f"This list has {listing.pages} page(s); there is no page {number}.")
    runtime = current_runtime()
    html = render_template(
        "topic.html",
        listing=listing,
        papers_html=papers_html,
        days=DEFAULT_DAYS,
        topic=topic,
        topics=runtime.topics,
        chart=papers_per_week_chart(listing.weeks, runtime.clock()),
    )
    return respond_page(request, html, last_modified)


@blueprint.get("/topics/<slug>.md")
def topic_markdown_export(slug: str):
    """The topic page as Markdown, in the seed page's format."""
    found = _topic_or_404(slug)
    state = summary(slug)
    since = _window_start(slug, state.page_stamp)

    def render() -> bytes:
        # The first page's papers; the others are on the HTML pages it links.
        listing = load_listing(found, since, None, None, page=1, page_size=PAGE_SIZE)
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
    )


def load_listing(
    topic: Topic, since: datetime, until: datetime | None, week: str | None, page: int = 1, page_size: int | None = None
) -> Listing:
    """The topic's papers first matched in [since, until), with the facts a page shows;
    `page_size` papers on page `page` (None: all on one)."""
    runtime = current_runtime()
    with runtime.engine.connect() as conn:
        papers = papers_for_topic(conn, topic.slug, since=since, until=until)
        updated = last_updated(conn, topic.slug)
        times = match_times(conn, topic.slug)
        sample = is_sample_data(conn)
        exemplars = exemplar_papers(conn, topic)
    counts = Counter(week_of(moment) for moment in times)
    return Listing(
        topic=topic,
        papers=papers,
        since=since,
        until=until,
        week=week,
        last_updated=updated or (times[0] if times else None),
        weeks=sorted(counts.items(), reverse=True),
        sample=sample,
        exemplars=exemplars,
        page=page,
        page_size=page_size,
    )


def _window_start(slug: str, stamp: str) -> datetime:
    """Midnight seven days ago; while the store holds only the bundled sample, the start of its
    five weeks too, so that a first look shows all of it (week pages show one week each)."""
    runtime = current_runtime()
    since = default_window_start(runtime.clock())

    def holds_sample() -> bool:
        with runtime.engine.connect() as conn:
            return is_sample_data(conn)

    return since - SAMPLE_SPAN if render_cache().value(("sample", slug), stamp, holds_sample) else since


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
