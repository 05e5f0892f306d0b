"""Rendered pages and feeds kept in memory, once per change of what they show.

Feed readers and visitors of public pages come often; a request costs a dict lookup for the topic's change stamp (read
from the store at most once per stamp_seconds), a dict lookup for the bytes, and an
answer: 304 when the client holds them, gzip when it asks for it. While a feed's rendering
is current, CachedAnswers serves it in front of Flask, skipping its per-request machinery
(sessions, rate-limit and CSRF hooks) that feeds and public pages do not use."""

from __future__ import annotations

import gzip
import hashlib
import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from email.utils import format_datetime, parsedate_to_datetime
from typing import TypeVar, cast

from flask import Request, Response

CACHE_CONTROL = "public, max-age=300"
# Public pages (home, topic, week) show a fetch within a minute; a front cache may answer with
# its copy for five more minutes while it asks paperboy for the new one.
PAGE_CACHE_CONTROL = "public, max-age=60, stale-while-revalidate=300"
# Feeds, pages and exports are compressed once per change, so as tightly as is cheap.
STORED_GZIP_LEVEL = 6


T = TypeVar("T")


@dataclass(frozen=True)
class Rendered:
    """One rendering: its bytes plain and gzipped, and the headers of each answer, built once."""

    body: bytes
    gzipped: bytes
    etag: str  # quoted, for the plain bytes; the gzip bytes carry it with a "-gz" suffix
    last_modified: str | None  # an HTTP date
    plain_headers: list[tuple[str, str]]
    gzip_headers: list[tuple[str, str]]
    # A 304 carries the ETag the 200 would have carried (RFC 9110 15.4.5): one per variant.
    not_modified_headers: list[tuple[str, str]]
    not_modified_gzip_headers: list[tuple[str, str]]


class RenderCache:
    """Renderings by key, each valid for one version; stamps by scope, each held briefly."""

    def __init__(self, capacity: int = 512, stamp_seconds: float = 2.0):
        self.capacity = capacity
        self.stamp_seconds = stamp_seconds
        self._stamps: dict[object, tuple[float, object]] = {}
        self._rendered: OrderedDict[object, tuple[str, object]] = OrderedDict()
        # URL path and query -> (stamp scope, stamp value, rendering) for CachedAnswers.
        self._by_path: dict[str, tuple[object, object, Rendered]] = {}
        self._lock = threading.Lock()
        self._making: dict[object, threading.Lock] = {}  # keys being rendered, one lock each

    def stamp(self, scope: object, load: Callable[[], T]) -> T:
        """The value of `load()` for `scope`, reloaded once it is older than stamp_seconds."""
        held = self._stamps.get(scope)
        now = time.monotonic()
        if held is not None and now < held[0]:
            return cast(T, held[1])  # what load() gave for this scope before
        value = load()
        self._stamps[scope] = (now + self.stamp_seconds, value)
        return value

    def value(self, key: object, version: str, make: Callable[[], T]) -> T:
        """What `make()` gives for `key` at `version`, calling it only when it is not held."""
        held = self._rendered.get(key)
        if held is not None and held[0] == version:
            return cast(T, held[1])  # what make() gave for this key before
        # One thread renders; the others asking for the same key meanwhile wait for its result
        # instead of each rendering the same page at once (16 of them made a 5,000-paper page
        # take longer than any client waits).
        with self._lock:
            making = self._making.setdefault(key, threading.Lock())
        with making:
            held = self._rendered.get(key)
            if held is not None and held[0] == version:
                return cast(T, held[1])
            result = make()
            self._keep(key, version, result)
        with self._lock:
            self._making.pop(key, None)
        return result

    def _keep(self, key: object, version: str, result: object) -> None:
        with self._lock:
            self._rendered[key] = (version, result)
            self._rendered.move_to_end(key)
            while len(self._rendered) > self.capacity:
                self._rendered.popitem(last=False)

    def remember_path(self, path: str, scope: object, stamp: object, rendered: Rendered) -> None:
        """Let CachedAnswers serve `path` while `scope`'s stamp is still `stamp` and fresh."""
        if len(self._by_path) >= self.capacity and path not in self._by_path:
            self._by_path.clear()  # only an unusual number of topics gets here
        self._by_path[path] = (scope, stamp, rendered)

    def current_for_path(self, path: str) -> Rendered | None:
        """The rendering remembered for `path` if its stamp has neither expired nor moved."""
        entry = self._by_path.get(path)
        if entry is None:
            return None
        scope, stamp, rendered = entry
        held = self._stamps.get(scope)
        if held is None or held[1] is not stamp or time.monotonic() >= held[0]:
            return None
        return rendered


class CachedAnswers:
    """WSGI layer in front of Flask: a GET for a remembered, current rendering is answered
    from memory; everything else goes to Flask, which renders and remembers."""

    def __init__(self, wsgi_app, cache: RenderCache):
        self.wsgi_app = wsgi_app
        self.cache = cache

    def __call__(self, environ, start_response):
        if environ.get("REQUEST_METHOD") == "GET":
            rendered = self.cache.current_for_path(path_and_query(environ))
            if rendered is not None:
                return self._answer(rendered, environ, start_response)
        return self.wsgi_app(environ, start_response)

    @staticmethod
    def _answer(rendered: Rendered, environ, start_response):
        zipped = accepts_gzip(environ.get("HTTP_ACCEPT_ENCODING", ""))
        if not_modified(
            environ.get("HTTP_IF_NONE_MATCH"),
            environ.get("HTTP_IF_MODIFIED_SINCE"),
            rendered.etag,
            rendered.last_modified,
        ):
            start_response(
                "304 NOT MODIFIED", rendered.not_modified_gzip_headers if zipped else rendered.not_modified_headers
            )
            return []
        if zipped:
            start_response("200 OK", rendered.gzip_headers)
            return [rendered.gzipped]
        start_response("200 OK", rendered.plain_headers)
        return [rendered.body]


def path_and_query(environ) -> str:
    """What CachedAnswers looks answers up by: pages of a topic differ only by "?page=2"."""
    query = environ.get("QUERY_STRING", "")
    return environ.get("PATH_INFO", "") + ("?" + query if query else "")


def etag_for(key: object, version: str) -> str:
    """A strong ETag (quoted) naming `key` at `version`."""
    return '"' + hashlib.sha1(f"{key!r}|{version}".encode()).hexdigest()[:24] + '"'


def http_date(moment: datetime | None) -> str | None:
    return format_datetime(moment.replace(microsecond=0), usegmt=True) if moment else None


def make_rendered(
    body: bytes, content_type: str, etag: str, last_modified: datetime | None, cache_control: str = CACHE_CONTROL
) -> Rendered:
    modified = http_date(last_modified)
    common = [("Cache-Control", cache_control), ("Vary", "Accept-Encoding")]
    if modified:
        common.append(("Last-Modified", modified))
    # mtime=0: the same bytes give the same gzip bytes in every worker.
    gzipped = gzip.compress(body, STORED_GZIP_LEVEL, mtime=0)
    return Rendered(
        body=body,
        gzipped=gzipped,
        etag=etag,
        last_modified=modified,
        plain_headers=[*common, ("ETag", etag), ("Content-Type", content_type), ("Content-Length", str(len(body)))],
        gzip_headers=[
            *common,
            ("ETag", _gzip_etag(etag)),
            ("Content-Type", content_type),
            ("Content-Encoding", "gzip"),
            ("Content-Length", str(len(gzipped))),
        ],
        not_modified_headers=[*common, ("ETag", etag)],
        not_modified_gzip_headers=[*common, ("ETag", _gzip_etag(etag))],
    )


def not_modified(
    if_none_match: str | None, if_modified_since: str | None, etag: str, last_modified: str | None
) -> bool:
    """Whether a conditional GET names what it would get (RFC 9110 13.2.2): If-None-Match
    decides when present, else If-Modified-Since."""
    if if_none_match is not None:
        if if_none_match.strip() == "*":
            return True
        tags = {tag.strip().removeprefix("W/") for tag in if_none_match.split(",")}
        return etag in tags or _gzip_etag(etag) in tags
    if if_modified_since and last_modified:
        try:
            return parsedate_to_datetime(last_modified) <= parsedate_to_datetime(if_modified_since)
        except (TypeError, ValueError):
            return False
    return False


def respond_cached(
    request: Request,
    key: object,
    version: str,
    last_modified: datetime | None,
    content_type: str,
    render: Callable[[], bytes],
    cache: RenderCache,
    stamp: tuple[object, object] | None = None,
    cache_control: str = CACHE_CONTROL,
) -> Response:
    """The cached answer for `key` at `version`: 304, gzip or plain; renders once per version.

    For responses that are the same for everyone (feeds, pages, Markdown): public caching.
    `stamp`, the (scope, value) the version came from, lets CachedAnswers serve the path until
    it moves."""
    rendered = cache.value(
        key,
        version,
        lambda: make_rendered(render(), content_type, etag_for(key, version), last_modified, cache_control),
    )
    if stamp is not None:
        cache.remember_path(path_and_query(request.environ), stamp[0], stamp[1], rendered)
    zipped = accepts_gzip(request.headers.get("Accept-Encoding", ""))
    if not_modified(
        request.headers.get("If-None-Match"),
        request.headers.get("If-Modified-Since"),
        rendered.etag,
        rendered.last_modified,
    ):
        return Response(
            status=304, headers=rendered.not_modified_gzip_headers if zipped else rendered.not_modified_headers
        )
    if zipped:
        return Response(rendered.gzipped, headers=rendered.gzip_headers)
    return Response(rendered.body, headers=rendered.plain_headers)


def accepts_gzip(accept_encoding: str) -> bool:
    """Whether an Accept-Encoding header allows gzip (RFC 9110 12.5.3): a "gzip" entry
    decides, else "*"; "q=0" refuses."""
    wildcard = None
    for part in accept_encoding.lower().split(","):
        coding, _, params = part.partition(";")
        coding = coding.strip()
        if coding in ("gzip", "x-gzip"):
            return _quality(params) > 0
        if coding == "*" and wildcard is None:
            wildcard = _quality(params) > 0
    return bool(wildcard)


def _quality(params: str) -> float:
    for param in params.split(";"):
        name, _, value = param.partition("=")
        if name.strip() == "q":
            try:
                return float(value.strip())
            except ValueError:
                return 0.0
    return 1.0


def _gzip_etag(etag: str) -> str:
    return etag[:-1] + '-gz"'
