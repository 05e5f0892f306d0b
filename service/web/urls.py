"""Absolute URLs for feeds, Markdown and mail: under PAPERBOY_BASE_URL, whatever host the request came to."""

from __future__ import annotations

from flask import url_for
from werkzeug.routing import BaseConverter

from service.web.extensions import current_runtime


class WeekConverter(BaseConverter):
    """A week's path segment: anything but a file name, so that /topics/x/feed.json is a plain 404
    rather than a redirect to /topics/x/feed.json/ and a 400 for a malformed week."""

    regex = r"[^/.]+"


def absolute_url(endpoint: str, **values) -> str:
    """The URL of `endpoint` under PAPERBOY_BASE_URL."""
    return current_runtime().config.base_url + url_for(endpoint, **values)
