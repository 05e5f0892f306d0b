"""Rendered pages and feeds kept in memory, once per change of what they show.

Feed readers poll often; a request costs a dict lookup for the topic's change stamp (read
from the store at most once per PAPERBOY_STAMP_SECONDS), a dict lookup for the bytes, and an
answer: 304 when the client holds them, gzip when it asks for it."""

from __future__ import annotations

import gzip
import hashlib
import threading
import time
from collections import OrderedDict
from dataclasses import dataclass
from datetime import datetime
from email.utils import format_datetime, parsedate_to_datetime
from typing import Callable

from flask import Request, Response

CACHE_CONTROL = "public, max-age=300"


@dataclass(frozen=True)
class Rendered:
    """One rendering: its bytes plain and gzipped, and the validators that name it."""

    body: bytes
    gzipped: bytes
    content_type: str
    etag: str  # quoted, for the plain bytes; the gzip bytes carry it with a "-gz" suffix
    last_modified: str | None  # an HTTP date


class RenderCache:
    """Renderings by key, each valid for one version; stamps by scope, each held briefly."""

    def __init__(self, capacity: int = 512):
        self.capacity = capacity
        self._stamps: dict[object, tuple[float, object]] = {}
        self._rendered: OrderedDict[object, tuple[str, object]] = OrderedDict()
        self._lock = threading.Lock()

    def stamp(self, scope: object, load: Callable[[], object], seconds: float) -> object:
        """The value of `load()` for `scope`, reloaded once it is older than `seconds`."""
        held = self._stamps.get(scope)
        now = time.monotonic()
        if held is not None and now < held[0]:
            return held[1]
        value = load()
        self._stamps[scope] = (now + seconds, value)
        return value

    def value(self, key: object, version: str, make: Callable[[], object]) -> object:
        """What `make()` gives for `key` at `version`, calling it only when it is not held."""
        held = self._rendered.get(key)
        if held is not None and held[0] == version:
            return held[1]
        result = make()
        with self._lock:
            self._rendered[key] = (version, result)
            self._rendered.move_to_end(key)
            while len(self._rendered) > self.capacity:
                self._rendered.popitem(last=False)
        return result


def etag_for(key: object, version: str) -> str:
    """A strong ETag (quoted) naming `key` at `version`."""
    return '"' + hashlib.sha1(f"{key!r}|{version}".encode()).hexdigest()[:24] + '"'


def http_date(moment: datetime | None) -> str | None:
    return format_datetime(moment.replace(microsecond=0), usegmt=True) if moment else None


def make_rendered(body: bytes, content_type: str, etag: str, last_modified: datetime | None) -> Rendered:
    # mtime=0: the same bytes give the same gzip bytes in every worker.
    return Rendered(body, gzip.compress(body, 6, mtime=0), content_type, etag, http_date(last_modified))


def not_modified(request: Request, etag: str, last_modified: str | None) -> bool:
    """Whether the client's conditional GET names what it would get (RFC 9110 13.2.2)."""
    if_none_match = request.headers.get("If-None-Match")
    if if_none_match is not None:
        if if_none_match.strip() == "*":
            return True
        tags = {tag.strip().removeprefix("W/") for tag in if_none_match.split(",")}
        return etag in tags or _gzip_etag(etag) in tags
    if_modified_since = request.headers.get("If-Modified-Since")
    if if_modified_since and last_modified:
        try:
            return parsedate_to_datetime(last_modified) <= parsedate_to_datetime(if_modified_since)
        except (TypeError, ValueError):
            return False
    return False


def respond_cached(request: Request, key: object, version: str, last_modified: datetime | None,
                   content_type: str, render: Callable[[], bytes], cache: RenderCache) -> Response:
    """The cached answer for `key` at `version`: 304, gzip or plain; renders once per version.

    For responses that are the same for everyone (feeds, Markdown): public caching."""
    etag = etag_for(key, version)
    modified = http_date(last_modified)
    headers = {"Cache-Control": CACHE_CONTROL, "Vary": "Accept-Encoding"}
    if modified:
        headers["Last-Modified"] = modified
    if not_modified(request, etag, modified):
        headers["ETag"] = etag
        return Response(status=304, headers=headers)
    rendered = cache.value(
        key, version, lambda: make_rendered(render(), content_type, etag, last_modified)
    )
    if accepts_gzip(request.headers.get("Accept-Encoding", "")):
        headers["ETag"] = _gzip_etag(etag)
        headers["Content-Encoding"] = "gzip"
        return Response(rendered.gzipped, headers=headers, content_type=rendered.content_type)
    headers["ETag"] = etag
    return Response(rendered.body, headers=headers, content_type=rendered.content_type)


def respond_page(request: Request, html: str, last_modified: datetime | None) -> Response:
    """An HTML page rendered for this request, with an ETag of its bytes, 304 and gzip.

    Pages may hold a form's CSRF token, which belongs to the visitor's session: they are
    private and revalidated each time (the costly part, the paper list, is cached upstream)."""
    body = html.encode()
    etag = '"' + hashlib.sha1(body).hexdigest()[:24] + '"'
    modified = http_date(last_modified)
    headers = {"Cache-Control": "private, no-cache", "Vary": "Accept-Encoding, Cookie", "ETag": etag}
    if modified:
        headers["Last-Modified"] = modified
    if not_modified(request, etag, modified):
        return Response(status=304, headers=headers)
    if accepts_gzip(request.headers.get("Accept-Encoding", "")) and len(body) > 1024:
        headers["Content-Encoding"] = "gzip"
        headers["ETag"] = _gzip_etag(etag)
        body = gzip.compress(body, 6, mtime=0)
    return Response(body, headers=headers, content_type="text/html; charset=utf-8")


def accepts_gzip(accept_encoding: str) -> bool:
    """Whether an Accept-Encoding header allows gzip ("gzip", "*", not "gzip;q=0")."""
    for part in accept_encoding.lower().split(","):
        coding, _, params = part.partition(";")
        if coding.strip() in ("gzip", "*"):
            quality = params.replace(" ", "").removeprefix("q=")
            try:
                return not params or float(quality) > 0
            except ValueError:
                return False
    return False


def _gzip_etag(etag: str) -> str:
    return etag[:-1] + '-gz"'
