"""Per-app state the cached views share: the render cache, topic summaries held briefly,
the clock, and absolute URLs."""

from __future__ import annotations

from datetime import datetime, timezone

from flask import current_app, url_for

from service.store.summaries import TopicSummary, topic_summary
from service.web_extensions import current_runtime
from service.web.cache import CachedAnswers, RenderCache

# How long a worker trusts a topic's change stamp before asking the store again. A fetch
# shows up on pages and feeds at most this late; tests set 0 to see every change at once.
STAMP_SECONDS = 2.0


def install(app) -> None:
    """Give `app` its render cache and put CachedAnswers in front of it (once per app)."""
    if "paperboy_render_cache" not in app.extensions:
        cache = app.extensions["paperboy_render_cache"] = RenderCache()
        app.wsgi_app = CachedAnswers(app.wsgi_app, cache)


def render_cache() -> RenderCache:
    return current_app.extensions["paperboy_render_cache"]


def summary_scope(slug: str | None) -> tuple[str, str | None]:
    return ("summary", slug)


def summary(slug: str | None) -> TopicSummary:
    """The summary of topic `slug` (None: all topics), from the store at most every few seconds."""
    runtime = current_runtime()

    def load() -> TopicSummary:
        with runtime.engine.connect() as conn:
            return topic_summary(conn, slug)

    seconds = current_app.config.get("PAPERBOY_STAMP_SECONDS", STAMP_SECONDS)
    return render_cache().stamp(summary_scope(slug), load, seconds)


def now() -> datetime:
    """The current time; tests freeze it with app.config["PAPERBOY_CLOCK"] = lambda: NOW."""
    clock = current_app.config.get("PAPERBOY_CLOCK")
    return clock() if clock else datetime.now(timezone.utc)


def absolute_url(endpoint: str, **values) -> str:
    """An absolute URL under PAPERBOY_BASE_URL, whatever host the request came to."""
    return current_runtime().config.base_url + url_for(endpoint, **values)
