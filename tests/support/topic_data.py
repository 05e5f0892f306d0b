"""Topic data for the page, feed and search tests: real arXiv responses from tests/data
loaded through the store, as a fetch would."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta

from service.arxiv.client import parse_feed
from service.model.paper import Paper
from service.store.papers import link_topic_papers, upsert_papers
from tests.conftest import NOW, data_file

HUNDRED = "api2026_search_all-testing_100entries.xml"
PROJECT_WEBSITE = "api2025_search_cs.RO-neural_project-website.xml"

# Title, abstract and author text that must come out as text everywhere.
HOSTILE_TITLE = 'Robust <script>alert("t")</script> & Co ]]> [x](javascript:y) *bold* \x00\x07\x1b end'
HOSTILE_ABSTRACT = (
    "We show <img src=x onerror=alert(1)> that a & b ]]> c hold; # not a heading \x0b\x0c "
    "and <b>bold</b> stays text. " * 4
)


def fixture_papers(name: str = HUNDRED) -> list[Paper]:
    return parse_feed(data_file(name)).papers


def load(engine, topic: str, papers: list[Paper], matched=NOW) -> list[Paper]:
    """Store `papers` and link them to `topic`, first matched at `matched`."""
    with engine.begin() as conn:
        upsert_papers(conn, papers, now=matched)
        link_topic_papers(conn, topic, [paper.id for paper in papers], now=matched)
    return papers


def load_testing_topic(engine) -> tuple[list[Paper], list[Paper]]:
    """Twelve papers new to "testing" yesterday (two with links, ten without, like the seed's
    mix) and eight more matched in week 2026-W03. Returns (recent, older)."""
    papers = fixture_papers()
    with_links = [p for p in papers if p.has_links]
    without = [p for p in papers if not p.has_links]
    recent = with_links + without[:10]
    older = without[10:18]
    load(engine, "testing", recent, matched=NOW - timedelta(days=1))
    load(engine, "testing", older, matched=NOW - timedelta(days=17))
    return recent, older


def hostile_paper(base: Paper) -> Paper:
    """`base` with a title, abstract and authors full of markup and control characters."""
    return replace(
        base,
        id="2601.00001",
        title=HOSTILE_TITLE,
        abstract=HOSTILE_ABSTRACT,
        authors=["<b>Eve</b> & Mallory", "Zoë \x01Null"],
        code_urls=["javascript:alert(1)"],
        project_urls=[],
    )


def many_papers(count: int) -> list[Paper]:
    """`count` papers with distinct ids, cycling the real fixtures' titles, authors and abstracts."""
    source = fixture_papers() + fixture_papers(PROJECT_WEBSITE)
    return [
        replace(
            source[n % len(source)],
            id=f"{2600 + n // 90000}.{n % 90000 + 10000:05d}",
            published=source[n % len(source)].published - timedelta(minutes=n),
        )
        for n in range(count)
    ]


def many_papers_with_code(count: int):
    """`count` distinct papers made from the real fixtures; every tenth has code."""
    base = fixture_papers()
    made = []
    for n in range(count):
        paper = base[n % len(base)]
        code = [f"https://github.com/example/repo{n}"] if n % 10 == 0 else []
        made.append(
            replace(
                paper,
                id=f"2601.{n:05d}",
                code_urls=code,
                project_urls=[],
                published=paper.published + timedelta(minutes=n),
            )
        )
    return made
