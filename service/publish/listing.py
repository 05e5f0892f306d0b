"""One topic's papers as a page shows them: the window, its papers in the seed's sections (each
by relevance to the topic), and the facts around them. HTML pages and the Markdown export both
render a Listing."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, time, timedelta

from service.arxiv.sample import SAMPLE_SPAN
from service.model.paper import SECTION_OTHER, SECTION_WITH_LINKS, Paper
from service.model.terms import paper_stems
from service.model.topics import Topic
from service.ranking.relevance import RankedId, why

# arXiv announces a regular submission within three days (a weekend, a holiday); a paper
# first seen later than this after its submission was held, reclassified or indexed late.
# Much later than any hold means a backfill (--since, a new topic), which is not lateness.
LATE_AFTER = timedelta(days=4)
LATE_UNTIL = timedelta(days=31)

# The default topic page shows papers new to the topic in the last week, counted in whole
# UTC days so that the page (and its cached rendering) changes at most once a day by itself.
DEFAULT_DAYS = 7
# Papers on one HTML page: about 2.5 KB each, so a page stays near 300 KB however broad the
# topic's query (a week of 6,000 papers made a 14.5 MB page).
PAGE_SIZE = 100


def default_window_start(now: datetime) -> datetime:
    """Midnight UTC seven days before `now`'s day: the start of the default window."""
    return datetime.combine(now.date() - timedelta(days=DEFAULT_DAYS), time(0), tzinfo=now.tzinfo)


def window_start(now: datetime, sample: bool) -> datetime:
    """Where a topic's page and its export start: the default window; while the store holds only
    the bundled sample, the start of the sample's weeks too, so that a first look shows all of it
    (week pages show one week each)."""
    since = default_window_start(now)
    return since - SAMPLE_SPAN if sample else since


@dataclass
class Listing:
    """A topic's papers in a window, ranked once; the papers of the page shown are loaded by id
    (`load`), so a page costs the same however many papers the window holds."""

    topic: Topic
    ranked: Sequence[RankedId]  # every paper of the window, in section order, most relevant first
    load: Callable[[list[str]], list[Paper]]  # the stored papers of these ids, in their order
    since: datetime
    until: datetime | None  # None: up to now
    week: str | None  # the ISO week shown, or None for the default window
    last_updated: datetime | None  # the topic's last run that stored papers, or its newest match
    weeks: list[tuple[str, int]] = field(default_factory=list)  # weeks with papers, newest first
    sample: bool = False  # the store holds the bundled sample, not a fetch from arXiv
    page: int = 1
    page_size: int | None = None  # None: every paper on one page (the Markdown export)

    @property
    def total(self) -> int:
        """How many papers the window holds, on all pages."""
        return len(self.ranked)

    def sections(self) -> list[tuple[str, list[Paper]]]:
        """The seed's two sections, in its order, each most relevant first; none at all when the
        listing is empty. An empty section stays (saying so), so every page and export has the
        seed's structure. On one page of several, the papers of that page, in their sections."""
        if not self.ranked:
            return []
        start, end = self.shown
        shown = self.ranked[start:end]
        papers = {paper.id: paper for paper in self.load([entry.id for entry in shown])}
        groups = [
            (SECTION_WITH_LINKS, [papers[e.id] for e in shown if e.linked and e.id in papers]),
            (SECTION_OTHER, [papers[e.id] for e in shown if not e.linked and e.id in papers]),
        ]
        return groups if self.pages == 1 else [(name, part) for name, part in groups if part]

    @property
    def pages(self) -> int:
        """How many pages the papers fill (at least one)."""
        if not self.page_size or not self.ranked:
            return 1
        return -(-len(self.ranked) // self.page_size)

    @property
    def shown(self) -> tuple[int, int]:
        """[start, end) of the papers on this page, counted in section order."""
        if not self.page_size:
            return 0, len(self.ranked)
        start = (self.page - 1) * self.page_size
        return start, min(start + self.page_size, len(self.ranked))

    def page_links(self) -> list[int | None]:
        """Page numbers a pager shows: the first, the last and two either side of this one;
        None where numbers are left out."""
        near = {1, self.pages} | set(range(self.page - 2, self.page + 3))
        shown = sorted(n for n in near if 1 <= n <= self.pages)
        links: list[int | None] = []
        for previous, number in zip([None, *shown], shown):
            if previous is not None and number - previous > 1:
                links.append(None)
            links.append(number)
        return links

    def why(self, paper: Paper) -> tuple[str, ...]:
        """The topic's terms the paper matched, for a short "why" beside it."""
        return why(self.topic, paper_stems(paper))

    @property
    def last_day(self) -> datetime | None:
        """The last day the listing covers (a week's Sunday); None: up to now."""
        return self.until - timedelta(days=1) if self.until else None

    @property
    def newest_week(self) -> str | None:
        return self.weeks[0][0] if self.weeks else None


def format_moment(moment: datetime | None) -> str:
    """'2026-02-04 16:50 UTC', the seed's format; 'never' for None."""
    return moment.strftime("%Y-%m-%d %H:%M UTC") if moment else "never"


def paper_marks(paper: Paper) -> list[str]:
    """What a page or feed notes beside a paper: withdrawn, a newer version, listed late."""
    marks = []
    if paper.withdrawn:
        marks.append("withdrawn")
    if paper.version > 1:
        marks.append(f"v{paper.version}")
    if paper.first_seen is not None and LATE_AFTER <= paper.first_seen - paper.published <= LATE_UNTIL:
        marks.append(f"listed {(paper.first_seen - paper.published).days} days after submission")
    return marks
