"""One topic's papers as a page shows them: the window, its papers in the seed's sections (each
by relevance to the topic), and the facts around them. HTML pages and the Markdown export both
render a Listing."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, time, timedelta
from functools import cached_property

from service.paper import Paper, sections
from service.relevance import Ranked, rank
from service.topics import Topic

# The default topic page shows papers new to the topic in the last week, counted in whole
# UTC days so that the page (and its cached rendering) changes at most once a day by itself.
DEFAULT_DAYS = 7


def default_window_start(now: datetime) -> datetime:
    """Midnight UTC seven days before `now`'s day: the start of the default window."""
    return datetime.combine(now.date() - timedelta(days=DEFAULT_DAYS), time(0), tzinfo=now.tzinfo)


@dataclass
class Listing:
    topic: Topic
    papers: list[Paper]
    since: datetime
    until: datetime | None  # None: up to now
    week: str | None  # the ISO week shown, or None for the default window
    last_updated: datetime | None  # the topic's last run that stored papers, or its newest match
    weeks: list[tuple[str, int]] = field(default_factory=list)  # weeks with papers, newest first
    sample: bool = False  # the store holds the bundled sample, not a fetch from arXiv
    exemplars: list[Paper] = field(default_factory=list)  # the topic's exemplars the store holds

    @cached_property
    def ranking(self) -> dict[str, Ranked]:
        """Every paper's relevance to the topic by arXiv id, best first."""
        return {entry.paper.id: entry for entry in rank(self.topic, self.papers, self.exemplars)}

    def sections(self) -> list[tuple[str, list[Paper]]]:
        """The seed's two sections, in its order, each most relevant first; none at all when the
        listing is empty. An empty section stays (saying so), so every page and export has the
        seed's structure."""
        return sections([entry.paper for entry in self.ranking.values()]) if self.papers else []

    def why(self, paper: Paper) -> tuple[str, ...]:
        """The topic's terms the paper matched, for a short "why" beside it."""
        return self.ranking[paper.id].matched

    @property
    def newest_week(self) -> str | None:
        return self.weeks[0][0] if self.weeks else None


def format_moment(moment: datetime | None) -> str:
    """'2026-02-04 16:50 UTC', the seed's format; 'never' for None."""
    return moment.strftime("%Y-%m-%d %H:%M UTC") if moment else "never"
