"""Exemplar papers: the topics' `exemplars` (topics.toml) are fetched by id once, when the store
lacks them, so that ranking (service.relevance) can compare every paper with them."""

from __future__ import annotations

import logging
from datetime import datetime

from service.arxiv.client import ArxivClient, ArxivError
from service.model.paper import Paper
from service.model.topics import Topic
from service.store import papers, write_transaction

log = logging.getLogger("paperboy.fetch")


def exemplar_papers(conn, topic: Topic) -> list[Paper]:
    """The topic's exemplar papers that the store holds, in the topics file's order."""
    found = (papers.get_paper(conn, paper_id) for paper_id in topic.exemplars)
    return [paper for paper in found if paper is not None]


def fetch_exemplars(engine, client: ArxivClient, topics: list[Topic], now: datetime) -> int:
    """Store the exemplar papers the store lacks, asked for in one id_list request; returns how
    many were stored. They join no topic. A failure is logged and tried again at the next fetch."""
    wanted = list(dict.fromkeys(paper_id for topic in topics for paper_id in topic.exemplars))
    with engine.connect() as conn:
        missing = [paper_id for paper_id in wanted if papers.get_paper(conn, paper_id) is None]
    if not missing:
        return 0
    try:
        page = client.fetch_page({"id_list": ",".join(missing), "max_results": str(len(missing))})
    except ArxivError as error:
        log.warning("fetch: exemplars not fetched (%s); the next fetch tries again", error)
        return 0
    found = [paper for paper in page.papers if paper.id in missing]
    with write_transaction(engine) as conn:
        papers.upsert_papers(conn, found, now)
    unknown = sorted(set(missing) - {paper.id for paper in found})
    if unknown:
        log.warning("fetch: arXiv has no paper %s listed as an exemplar in the topics file", ", ".join(unknown))
    log.info("fetch: stored %d exemplar paper(s)", len(found))
    return len(found)
