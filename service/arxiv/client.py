"""The arXiv API: building queries, parsing its Atom responses (current and pre-2025 formats),
and ArxivClient, which pages through a search politely: one connection, a delay between
requests, retries with exponential backoff.
"""

from __future__ import annotations

import calendar
import logging
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from importlib.metadata import PackageNotFoundError
from importlib.metadata import version as package_version
from urllib.parse import urlencode, urlsplit

import feedparser
import httpx

from service.clock import utc_now
from service.errors import PaperboyError
from service.model.links import find_links
from service.model.paper import Paper, split_arxiv_id
from service.model.text import one_line

log = logging.getLogger("paperboy.arxiv")

PAGE_SIZE = 100
# Backoff doubles from BACKOFF seconds per retry and never waits longer than MAX_WAIT.
BACKOFF = 1.0
MAX_WAIT = 120.0
CONNECT_TIMEOUT = 10.0


class ArxivError(PaperboyError):
    """arXiv answered with something paperboy cannot use; the message says what, in one line."""


class ArxivUnreachable(ArxivError):
    """arXiv could not be reached at all (connection refused, DNS) even after retries."""


class ArxivMalformed(ArxivError):
    """A response that is not a whole Atom feed: truncated, cut off by a proxy, an HTML page."""


# The date fields arXiv's search_query can restrict and sortBy can order by. submittedDate is
# the first version's submission; lastUpdatedDate the latest version's (equal for a v1).
SUBMITTED = "submittedDate"
LAST_UPDATED = "lastUpdatedDate"


@dataclass
class FeedPage:
    total_results: int | None
    start_index: int
    papers: list[Paper]


def parse_feed(body: bytes) -> FeedPage:
    """Parse one API response into papers; raise ArxivError on an error feed or a broken body."""
    parsed = feedparser.parse(body)
    if parsed.get("version") != "atom10":
        snippet = " ".join(body[:80].decode("utf-8", "replace").split())
        raise ArxivMalformed(f"arxiv: the response is not an Atom feed (starts {snippet!r})")
    if parsed.get("bozo") and not isinstance(parsed.get("bozo_exception"), feedparser.CharacterEncodingOverride):
        raise ArxivMalformed(f"arxiv: malformed XML in the response: {parsed.get('bozo_exception')}")
    entries = parsed.entries
    if len(entries) == 1 and ("/api/errors" in entries[0].get("id", "") or entries[0].get("title") == "Error"):
        message = _clean(entries[0].get("summary", "")) or entries[0].get("id")
        raise ArxivError(f"arxiv: the API refused the query: {message}")
    feed = parsed.feed
    total = feed.get("opensearch_totalresults")
    start = feed.get("opensearch_startindex")
    papers = [_paper(entry) for entry in entries]
    return FeedPage(
        total_results=int(total) if total not in (None, "") else None,
        start_index=int(start) if start not in (None, "") else 0,
        papers=papers,
    )


def _paper(entry) -> Paper:
    try:
        paper_id, version = split_arxiv_id(entry["id"])
        title = _clean(entry["title"])
        abstract = _clean(entry.get("summary", ""))
        categories = [tag["term"] for tag in entry.get("tags", []) if tag.get("term")]
        primary = (entry.get("arxiv_primary_category") or {}).get("term") or (categories or [""])[0]
        if primary and primary not in categories:
            categories.insert(0, primary)
        comment = _clean(entry.get("arxiv_comment", "")) or None
        raw_comment = entry.get("arxiv_comment")
        code_urls, project_urls = find_links(raw_comment, entry.get("summary"))
        published = _utc(entry["published_parsed"])
        updated = _utc(entry.get("updated_parsed") or entry["published_parsed"])
    except (KeyError, TypeError, ValueError) as error:
        raise ArxivMalformed(f"arxiv: entry {entry.get('id', '?')!r} is incomplete: {error}") from None
    return Paper(
        id=paper_id,
        version=version,
        title=title,
        authors=[_clean(a.get("name", "")) for a in entry.get("authors", []) if a.get("name")],
        abstract=abstract,
        categories=categories,
        primary_category=primary,
        published=published,
        updated=updated,
        comment=comment,
        journal_ref=_clean(entry.get("arxiv_journal_ref", "")) or None,
        doi=_clean(entry.get("arxiv_doi", "")) or None,
        code_urls=code_urls,
        project_urls=project_urls,
    )


def _clean(text: str) -> str:
    """arXiv wraps titles and abstracts at 80 columns; join the lines into one.

    Control characters go too: XML output cannot carry them and PostgreSQL refuses NUL."""
    return one_line(str(text))


def _utc(parsed_time) -> datetime:
    if parsed_time is None:
        raise ValueError("missing date")
    return datetime.fromtimestamp(calendar.timegm(parsed_time), tz=UTC)


def user_agent(contact: str) -> str:
    """The User-Agent arXiv sees: paperboy, its version and the operator's URL and mail address."""
    try:
        release = package_version("paperboy")
    except PackageNotFoundError:
        release = "dev"
    return f"paperboy/{release} ({contact})"


def search_query(query: str, start: datetime, end: datetime, field: str = SUBMITTED) -> str:
    """The topic's query restricted to papers whose `field` date is in [start, end] (UTC, minutes)."""
    window = f"{field}:[{_minute(start)} TO {_minute(end)}]"
    return f"({query}) AND {window}"


def _minute(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y%m%d%H%M")


class _Retry(Exception):
    """One attempt failed in a way that is worth another try."""

    def __init__(self, reason: str, wait: float | None = None, unreachable: bool = False, timed_out: bool = False):
        super().__init__(reason)
        self.wait = wait
        self.unreachable = unreachable
        self.timed_out = timed_out


class ArxivClient:
    """Searches the arXiv API over one HTTP connection, `delay` seconds between requests.

    `sleep` and `clock` are injectable so tests neither wait nor depend on timing."""

    def __init__(
        self,
        api_url: str,
        *,
        delay: float = 3.0,
        timeout: float = 30.0,
        retries: int = 4,
        page_size: int = PAGE_SIZE,
        contact: str = "mailto:paperboy@localhost",
        sleep: Callable[[float], None] = time.sleep,
        clock: Callable[[], float] = time.monotonic,
        backoff: float = BACKOFF,
    ):
        self.api_url = api_url
        self.delay = delay
        self.retries = retries
        self.page_size = page_size
        self.sleep = sleep
        self.clock = clock
        self.backoff = backoff
        self._last_request: float | None = None
        self._http = httpx.Client(
            # A silent network should not hold each attempt for the full read timeout.
            timeout=httpx.Timeout(timeout, connect=min(timeout, CONNECT_TIMEOUT)),
            headers={"User-Agent": user_agent(contact), "Accept": "application/atom+xml"},
            follow_redirects=True,
        )

    @classmethod
    def from_config(cls, config, **overrides) -> ArxivClient:
        address = config.mail_from_address
        options = dict(
            delay=config.arxiv_delay,
            timeout=config.arxiv_timeout,
            retries=config.arxiv_retries,
            contact=f"+{config.base_url}; mailto:{address}",
        )
        options.update(overrides)
        return cls(config.arxiv_api_url, **options)

    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> ArxivClient:
        return self

    def __exit__(self, *exc_info) -> None:
        self.close()

    def search(self, query: str, start: datetime, end: datetime, field: str = SUBMITTED) -> Iterator[FeedPage]:
        """Pages of papers whose `field` date is in [start, end], newest first.

        Stops at totalResults, at a page that reaches past `start`, or when arXiv repeats itself."""
        params = {
            "search_query": search_query(query, start, end, field),
            "sortBy": field,
            "sortOrder": "descending",
            "max_results": str(self.page_size),
        }
        offset = 0
        seen: set[str] = set()
        while True:
            page = self.fetch_page({**params, "start": str(offset)}, offset)
            if not page.papers:
                return
            if all(paper.id in seen for paper in page.papers):
                return  # the server repeats a page it sent: paging no longer advances
            seen.update(paper.id for paper in page.papers)
            yield page
            offset += len(page.papers)
            if page.total_results is not None and offset >= page.total_results:
                return
            dates = [paper.updated if field == LAST_UPDATED else paper.published for paper in page.papers]
            if min(dates) < start:
                return

    def count(self, query: str, start: datetime, end: datetime, field: str = SUBMITTED) -> int:
        """arXiv's totalResults for the papers whose `field` date is in [start, end]: one request."""
        params = {"search_query": search_query(query, start, end, field), "max_results": "1", "start": "0"}
        page = self.fetch_page(params)
        if page.total_results is None:
            raise ArxivMalformed("arxiv: the response has no opensearch:totalResults")
        return page.total_results

    def fetch_page(self, params: dict[str, str], offset: int = 0) -> FeedPage:
        """One page of results, retried with exponential backoff; raise ArxivError when it fails."""
        attempt = 0
        silent = True  # every attempt so far timed out: an arXiv that accepts and never answers
        while True:
            try:
                return self._attempt(params, offset)
            except _Retry as retry:
                silent = silent and retry.timed_out
                if attempt >= self.retries:
                    message = f"arxiv: {retry} (gave up after {attempt + 1} attempts)"
                    # Silent through every retry is as good as unreachable: the next topics would
                    # each wait as long again.
                    if retry.unreachable or silent:
                        raise ArxivUnreachable(message) from None
                    raise ArxivError(message) from None
                wait = min(self.backoff * 2**attempt, MAX_WAIT)
                if retry.wait is not None:
                    wait = min(max(wait, retry.wait), MAX_WAIT)
                attempt += 1
                log.warning("arxiv: %s; retry %d of %d in %.0f s", retry, attempt, self.retries, wait)
                self.sleep(wait)

    def _attempt(self, params: dict[str, str], offset: int) -> FeedPage:
        self._keep_delay()
        try:
            # Encoded as arXiv's manual shows: "+" for spaces, %28/%29 for parentheses, %22 for quotes.
            response = self._http.get(f"{self.api_url}?{urlencode(params)}")
        except httpx.TimeoutException as error:
            raise _Retry(
                f"timed out ({type(error).__name__})",
                unreachable=isinstance(error, httpx.ConnectTimeout),
                timed_out=True,
            ) from None
        except httpx.ConnectError as error:
            host = urlsplit(self.api_url).netloc
            raise _Retry(f"cannot connect to {host}: {error}", unreachable=True) from None
        except httpx.TransportError as error:
            raise _Retry(f"connection failed: {type(error).__name__}: {error}") from None
        finally:
            self._last_request = self.clock()
        status = response.status_code
        if status == 429 or status >= 500:
            raise _Retry(f"HTTP {status} from {self.api_url}", wait=_retry_after(response))
        if status == 400:
            parse_feed(response.content)  # an error feed raises ArxivError with arXiv's message
            raise ArxivError(f"arxiv: HTTP 400 from {self.api_url}")
        if status != 200:
            raise ArxivError(f"arxiv: HTTP {status} from {self.api_url}")
        try:
            page = parse_feed(response.content)
        except ArxivMalformed as error:
            # A cut-off or garbled body is a transport accident, like a 5xx: ask again.
            raise _Retry(str(error).removeprefix("arxiv: ")) from None
        if not page.papers and page.total_results is not None and page.total_results > offset:
            # arXiv sporadically answers with an empty page although more results exist.
            raise _Retry(f"empty page at start={offset} although totalResults={page.total_results}")
        return page

    def _keep_delay(self) -> None:
        if self._last_request is None or self.delay <= 0:
            return
        remaining = self._last_request + self.delay - self.clock()
        if remaining > 0:
            self.sleep(remaining)


def _retry_after(response: httpx.Response) -> float | None:
    value = response.headers.get("Retry-After")
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - utc_now()).total_seconds())
