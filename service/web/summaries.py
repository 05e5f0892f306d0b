"""Topic summaries as the cached views read them: held in the app's render cache for a few
seconds, so a busy feed asks the store at most that often whether anything changed."""

from __future__ import annotations

from flask import Flask, current_app

from service.store.summaries import TopicSummary, topic_summary
from service.web.cache import CachedAnswers, RenderCache
from service.web.extensions import current_runtime

# How long a worker trusts a topic's change stamp before asking the store again. A fetch
# shows up on pages and feeds at most this late; tests pass 0 to see every change at once.
STAMP_SECONDS = 2.0


def install_render_cache(app: Flask, stamp_seconds: float) -> None:
    """Give `app` its render cache and put CachedAnswers in front of it."""
    cache = app.extensions["paperboy_render_cache"] = RenderCache(stamp_seconds=stamp_seconds)
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

    return render_cache().stamp(summary_scope(slug), load)
