"""A paper as paperboy keeps it: one arXiv id, its latest version and what we show of it."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import datetime

# New-style ids ("2602.03310", "0704.0001") and old-style ones ("cs/0503050", "math.GT/0309136"),
# each optionally followed by a version.
ARXIV_ID = re.compile(
    r"(?P<id>\d{4}\.\d{4,5}|[a-z][a-z\-]*(?:\.[A-Z]{2})?/\d{7})(?:v(?P<version>\d+))?$"
)


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
        return f"https://arxiv.org/pdf/{self.id}v{self.version}"

    @property
    def has_links(self) -> bool:
        """Whether the paper belongs in "Papers with Project Pages / Code"."""
        return bool(self.code_urls or self.project_urls)
