"""Absolute URLs for feeds, Markdown and mail: under PAPERBOY_BASE_URL, whatever host the request came to."""

from __future__ import annotations

from flask import url_for

from service.web.extensions import current_runtime


def absolute_url(endpoint: str, **values) -> str:
    """The URL of `endpoint` under PAPERBOY_BASE_URL."""
    return current_runtime().config.base_url + url_for(endpoint, **values)
