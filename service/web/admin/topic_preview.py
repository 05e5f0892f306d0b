"""What a topic's query lists for the last 7 days, before an admin saves it: asked of arXiv, or
of the store when arXiv does not answer; the count and the first 20 in their ranking order."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from service.arxiv.client import ArxivClient, ArxivError
from service.arxiv.query import matches_query
from service.model.paper import Paper
from service.model.topics import Topic
from service.ranking.relevance import Ranked, rank
from service.runtime import Runtime
from service.store import papers as paper_store

DAYS = 7
SHOWN = 20
# Papers read from arXiv for the ranking; the count is arXiv's own total beyond this.
MAX_READ = 300


@dataclass
class Preview:
    count: int
    ranked: list[Ranked]
    source: str  # where the papers came from, said on the page


def preview(runtime: Runtime, topic: Topic) -> Preview:
    end = runtime.clock()
    start = end - timedelta(days=DAYS)
    try:
        found, total = _from_arxiv(runtime, topic, start, end)
        source = "arXiv"
    except ArxivError as error:
        with runtime.engine.connect() as conn:
            candidates = paper_store.papers_published(conn, start, end)
        found = [p for p in candidates if topic.accepts(p.categories) and matches_query(topic.query, p)]
        total = len(found)
        source = f"the store, as arXiv did not answer ({error})"
    with runtime.engine.connect() as conn:
        exemplars = [p for p in (paper_store.get_paper(conn, i) for i in topic.exemplars) if p is not None]
    return Preview(total, rank(topic, found, exemplars)[:SHOWN], source)


def _from_arxiv(runtime: Runtime, topic: Topic, start, end) -> tuple[list[Paper], int]:
    found: list[Paper] = []
    total = 0
    # One try, no retries: the admin is waiting, and the store answers when arXiv does not.
    with ArxivClient.from_config(runtime.config, retries=0, timeout=15.0) as client:
        for page in client.search(topic.query, start, end):
            found += [p for p in page.papers if start <= p.published <= end and topic.accepts(p.categories)]
            total = max(total, page.total_results or 0)
            if len(found) >= MAX_READ:
                break
    # arXiv's total counts before the category filter; with one, only what was read is known.
    return found, (len(found) if topic.categories or len(found) < MAX_READ else total)
