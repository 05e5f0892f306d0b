"""The bundled sample: real arXiv API responses shipped in service/sample/, loaded when arXiv
cannot be reached on the first start so that the pages show real papers.

Each topic gets the sample papers that pass its category filter and match its query, judged by
a small evaluator of arXiv's query syntax over title, abstract, authors and categories.
"""

from __future__ import annotations

import logging
import re
from datetime import datetime
from functools import lru_cache
from pathlib import Path

from service.arxiv import parse_feed
from service.paper import Paper
from service.store import papers, runs
from service.store import write_transaction
from service.topics import Topic

log = logging.getLogger("paperboy.sample")

SAMPLE_DIR = Path(__file__).resolve().parent / "sample"
SAMPLE_FILES = (
    "api2025_search_cs.RO-neural_project-website.xml",
    "api2026_search_all-testing_100entries.xml",
)


def sample_papers() -> list[Paper]:
    """Every paper in the bundled responses, each id once."""
    found: dict[str, Paper] = {}
    for name in SAMPLE_FILES:
        body = (SAMPLE_DIR / name).read_bytes()
        for paper in parse_feed(body).papers:
            found.setdefault(paper.id, paper)
    return list(found.values())


@lru_cache(maxsize=1)
def _sample_ids() -> tuple[str, ...]:
    return tuple(paper.id for paper in sample_papers())


def papers_for_topic(topic: Topic, candidates: list[Paper]) -> tuple[list[Paper], str]:
    """The sample papers to show under `topic`, and how they were chosen (for the log)."""
    in_categories = [paper for paper in candidates if topic.accepts(paper.categories)]
    matching = [paper for paper in in_categories if matches_query(topic.query, paper)]
    if matching:
        return matching, "match its query"
    if in_categories and topic.categories:
        return in_categories, "match no query term, so all sample papers in its categories"
    return candidates, "match neither its query nor its categories, so every sample paper"


def load_sample(engine, topics: list[Topic], now: datetime) -> dict[str, int]:
    """Store the sample papers, link them to topics and record one "sample" fetch_run per topic.

    Returns how many papers each topic got. One transaction: all of it or nothing."""
    candidates = sample_papers()
    linked: dict[str, int] = {}
    with write_transaction(engine) as conn:
        papers.upsert_papers(conn, candidates, now)
        for topic in topics:
            chosen, how = papers_for_topic(topic, candidates)
            papers.link_topic_papers(conn, topic.slug, [paper.id for paper in chosen], now)
            start = min((paper.published for paper in chosen), default=now)
            run_id = runs.start_run(conn, topic.slug, start, now, now)
            runs.finish_run(conn, run_id, runs.SAMPLE, now, new=len(chosen),
                            error="arXiv could not be reached; bundled sample papers shown")
            linked[topic.slug] = len(chosen)
            log.warning("sample: %s: %d sample paper(s) that %s", topic.slug, len(chosen), how)
    return linked


def retire_sample(conn, topic: str, kept_ids: set[str]) -> int:
    """After `topic`'s first complete fetch, drop the sample papers it showed that arXiv did not
    return (`kept_ids`), and sample papers no topic shows any more. Returns links removed."""
    loaded = runs.sample_loaded_at(conn, topic)
    if loaded is None:
        return 0
    sample_ids = list(_sample_ids())
    removed = papers.unlink_papers(conn, topic, [i for i in sample_ids if i not in kept_ids], loaded)
    papers.delete_unlinked_papers(conn, sample_ids)
    if removed:
        log.info("sample: %s: removed %d sample paper(s) now that arXiv answered", topic, removed)
    return removed


# --- arXiv query syntax, enough to judge the sample: field:term, field:"phrase", AND, OR,
# ANDNOT and parentheses (https://info.arxiv.org/help/api/user-manual.html#query_details).

TOKEN = re.compile(r'\s*(\(|\)|(?:[a-z_]+:)?"[^"]*"|[^\s()]+)')
FIELDS = {
    "ti": ("title",), "abs": ("abstract",), "au": ("authors",), "co": ("comment",),
    "cat": ("categories",), "jr": ("journal_ref",),
    "all": ("title", "abstract", "authors", "comment", "categories"),
}


def matches_query(query: str, paper: Paper) -> bool:
    """Whether `paper` satisfies the arXiv search `query` (terms match at word starts)."""
    tokens = [t for t in TOKEN.findall(query) if t]
    position, result = _parse_or(tokens, 0, paper)
    return result


def _parse_or(tokens, position, paper):
    position, result = _parse_and(tokens, position, paper)
    while position < len(tokens) and tokens[position] == "OR":
        position, right = _parse_and(tokens, position + 1, paper)
        result = result or right
    return position, result


def _parse_and(tokens, position, paper):
    position, result = _parse_term(tokens, position, paper)
    while position < len(tokens) and tokens[position] in ("AND", "ANDNOT"):
        negate = tokens[position] == "ANDNOT"
        position, right = _parse_term(tokens, position + 1, paper)
        result = result and (not right if negate else right)
    return position, result


def _parse_term(tokens, position, paper):
    if position >= len(tokens):
        return position, False
    token = tokens[position]
    if token == "(":
        position, result = _parse_or(tokens, position + 1, paper)
        if position < len(tokens) and tokens[position] == ")":
            position += 1
        return position, result
    return position + 1, _term_matches(token, paper)


def _term_matches(token: str, paper: Paper) -> bool:
    prefix, _, term = token.partition(":") if re.match(r"[a-z_]+:", token) else ("all", "", token)
    term = term.strip('"').rstrip("*").lower()
    if not term:
        return False
    if prefix == "cat":
        return any(category.lower().startswith(term) for category in paper.categories)
    text = " ".join(_field_text(paper, name) for name in FIELDS.get(prefix, FIELDS["all"])).lower()
    return re.search(r"(?<![a-z0-9])" + re.escape(term), text) is not None


def _field_text(paper: Paper, name: str) -> str:
    value = getattr(paper, name)
    if isinstance(value, list):
        return " ".join(value)
    return value or ""
