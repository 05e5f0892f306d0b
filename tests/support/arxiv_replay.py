"""Responses for a local arXiv stand-in, rewritten from the real ones in tests/data with lxml:
entries get other ids, versions or dates, and opensearch:startIndex/totalResults are set per page."""

from __future__ import annotations

import copy
from datetime import UTC, datetime, timedelta
from urllib.parse import parse_qs

from lxml import etree

from tests.conftest import data_file

ATOM = "{http://www.w3.org/2005/Atom}"
OPENSEARCH = "{http://a9.com/-/spec/opensearch/1.1/}"
HUNDRED = "api2026_search_all-testing_100entries.xml"
CS_RO_2025 = "api2025_search_cs.RO-neural_project-website.xml"


def load(name: str = HUNDRED) -> etree._Element:
    return etree.fromstring(data_file(name))


def entries(name: str = HUNDRED) -> list[etree._Element]:
    return load(name).findall(f"{ATOM}entry")


def entry_id(entry: etree._Element) -> str:
    return entry.findtext(f"{ATOM}id")


def rewrite_entry(
    entry: etree._Element,
    *,
    arxiv_id: str | None = None,
    version: int | None = None,
    published: datetime | None = None,
    title: str | None = None,
) -> etree._Element:
    """A copy of a real entry with another id, version, submission date or title."""
    entry = copy.deepcopy(entry)
    id_element = entry.find(f"{ATOM}id")
    old = id_element.text.rsplit("/abs/", 1)[1]
    old_id, _, old_version = old.rpartition("v")
    new = f"{arxiv_id or old_id}v{version or old_version}"
    id_element.text = f"http://arxiv.org/abs/{new}"
    for link in entry.findall(f"{ATOM}link"):
        link.set("href", link.get("href").replace(old, new))
    if published is not None:
        stamp = published.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
        entry.find(f"{ATOM}published").text = stamp
        entry.find(f"{ATOM}updated").text = stamp
    if version is not None and version > 1:
        base = datetime.fromisoformat(entry.findtext(f"{ATOM}published").replace("Z", "+00:00"))
        entry.find(f"{ATOM}updated").text = (base + timedelta(days=version)).strftime("%Y-%m-%dT%H:%M:%SZ")
    if title is not None:
        entry.find(f"{ATOM}title").text = title
    return entry


def feed(page_entries: list[etree._Element], *, start: int = 0, total: int | None = None, name: str = HUNDRED) -> bytes:
    """A real feed's head with `page_entries` as its entries and the given opensearch figures."""
    root = load(name)
    for old in root.findall(f"{ATOM}entry"):
        root.remove(old)
    root.find(f"{OPENSEARCH}startIndex").text = str(start)
    root.find(f"{OPENSEARCH}totalResults").text = str(len(page_entries) if total is None else total)
    root.find(f"{OPENSEARCH}itemsPerPage").text = str(len(page_entries))
    for entry in page_entries:
        root.append(copy.deepcopy(entry))
    return etree.tostring(root, xml_declaration=True, encoding="UTF-8")


def dated_entries(
    count: int, newest: datetime, *, prefix: str = "2602", step: timedelta = timedelta(minutes=7), name: str = HUNDRED
) -> list[etree._Element]:
    """`count` real entries (cycled) with distinct new-style ids, newest first, `step` apart."""
    source = entries(name)
    return [
        rewrite_entry(
            source[i % len(source)], arxiv_id=f"{prefix}.{i + 10000:05d}", version=1, published=newest - i * step
        )
        for i in range(count)
    ]


def paged_responses(all_entries: list[etree._Element], page_size: int) -> dict[int, bytes]:
    """start index -> response body, as arXiv would page `all_entries`."""
    total = len(all_entries)
    return {
        start: feed(all_entries[start : start + page_size], start=start, total=total)
        for start in range(0, total, page_size)
    }


def start_of(request) -> int:
    return int(parse_qs(request.query_string.decode()).get("start", ["0"])[0])
