"""The arXiv API: building queries and parsing its Atom responses (current and pre-2025 formats).

The HTTP client with delays, retries and paging comes in ArxivClient below.
"""

from __future__ import annotations

import calendar
from dataclasses import dataclass
from datetime import datetime, timezone

import feedparser

from service.links import find_links
from service.paper import Paper, split_arxiv_id


class ArxivError(Exception):
    """arXiv answered with something paperboy cannot use; the message says what, in one line."""


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
        raise ArxivError(f"arxiv: the response is not an Atom feed (starts {snippet!r})")
    if parsed.get("bozo"):
        raise ArxivError(f"arxiv: malformed XML in the response: {parsed.get('bozo_exception')}")
    entries = parsed.entries
    if len(entries) == 1 and "/api/errors" in entries[0].get("id", ""):
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
        raise ArxivError(f"arxiv: entry {entry.get('id', '?')!r} is incomplete: {error}") from None
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
    """arXiv wraps titles and abstracts at 80 columns; join the lines into one."""
    return " ".join(str(text).split())


def _utc(parsed_time) -> datetime:
    if parsed_time is None:
        raise ValueError("missing date")
    return datetime.fromtimestamp(calendar.timegm(parsed_time), tz=timezone.utc)
