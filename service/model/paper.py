"""A paper as paperboy keeps it: one arXiv id, its latest version and what we show of it."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import datetime

from service.model.text import is_web_url

# New-style ids ("2602.03310", "0704.0001") and old-style ones ("cs/0503050", "math.GT/0309136"),
# each optionally followed by a version.
# How arXiv says a paper is withdrawn: in the comment of the withdrawing version ("This paper
# has been withdrawn by the author"), sometimes in place of the abstract.
WITHDRAWN = re.compile(
    r"\b(?:paper|submission|article|manuscript|version|preprint)\s+(?:has\s+been|is|was)\s+withdrawn\b"
    r"|^\s*withdrawn\b",
    re.IGNORECASE,
)
ARXIV_ID = re.compile(r"(?P<id>\d{4}\.\d{4,5}|[a-z][a-z\-]*(?:\.[A-Z]{2})?/\d{7})(?:v(?P<version>\d+))?$")


def split_arxiv_id(text: str) -> tuple[str, int]:
    """'http://arxiv.org/abs/2602.03310v2' -> ('2602.03310', 2); no version means 1."""
    tail = text.strip().rstrip("/")
    for marker in ("/abs/", "/pdf/"):
        if marker in tail:
            tail = tail.split(marker, 1)[1]
    match = ARXIV_ID.search(tail)
    if match is None or not tail.endswith(match.group(0)) or match.start() != 0:
        raise ValueError(f"not an arXiv id: {text!r}")
    return match.group("id"), int(match.group("version") or 1)


@dataclass
class Paper:
    id: str
    version: int
    title: str
    authors: list[str]
    abstract: str
    categories: list[str]
    primary_category: str
    published: datetime
    updated: datetime
    comment: str | None = None
    journal_ref: str | None = None
    doi: str | None = None
    code_urls: list[str] = field(default_factory=list)
    project_urls: list[str] = field(default_factory=list)
    first_seen: datetime | None = None

    @property
    def abs_url(self) -> str:
        return f"https://arxiv.org/abs/{self.id}v{self.version}"

    @property
    def pdf_url(self) -> str:
        # With ".pdf", as the seed's links are: arXiv serves both, some readers go by the suffix.
        return f"https://arxiv.org/pdf/{self.id}v{self.version}.pdf"

    @property
    def withdrawn(self) -> bool:
        """Whether arXiv's latest version withdraws the paper."""
        return any(WITHDRAWN.search(text or "") for text in (self.comment, self.abstract[:300]))

    @property
    def has_links(self) -> bool:
        """Whether the paper belongs in "Papers with Project Pages / Code"."""
        return bool(self.code_urls or self.project_urls)

    @property
    def author_line(self) -> str:
        """The first five authors, then "et al. (N authors)" when there are more."""
        if len(self.authors) <= AUTHORS_SHOWN:
            return ", ".join(self.authors)
        shown = ", ".join(self.authors[:AUTHORS_SHOWN])
        return f"{shown} et al. ({len(self.authors)} authors)"

    @property
    def short_abstract(self) -> str:
        """The abstract cut at about 500 characters, on a word boundary, with "..." when cut."""
        return shorten(self.abstract, ABSTRACT_SHOWN)


AUTHORS_SHOWN = 5
ABSTRACT_SHOWN = 500

SECTION_WITH_LINKS = "Papers with Project Pages / Code"
SECTION_OTHER = "Other Recent Papers"


def shorten(text: str, limit: int) -> str:
    if len(text) <= limit:
        return text
    cut = text[:limit]
    if " " in cut[limit // 2 :]:
        cut = cut[: cut.rindex(" ")]
    return cut.rstrip(" ,;:.-") + "..."


def sections(papers: list[Paper]) -> list[tuple[str, list[Paper]]]:
    """The seed page's two sections, in order, each keeping the papers' order."""
    return [
        (SECTION_WITH_LINKS, [p for p in papers if p.has_links]),
        (SECTION_OTHER, [p for p in papers if not p.has_links]),
    ]


def paper_links(paper: Paper) -> list[tuple[str, str]]:
    """(label, URL) of the seed's links line: arXiv | PDF | Project Page | Code, as present."""
    links = [("arXiv", paper.abs_url), ("PDF", paper.pdf_url)]
    project = next((url for url in paper.project_urls if is_web_url(url)), None)
    code = next((url for url in paper.code_urls if is_web_url(url)), None)
    if project:
        links.append(("Project Page", project))
    if code:
        links.append(("Code", code))
    return links
