"""The labelled pool for bench/relevance.py: every real paper in tests/data (the API responses, the
quant-ph RSS listing and the seed topic page) and the labels in bench/relevance_labels.csv."""

from __future__ import annotations

import csv
import re
import sys
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from pathlib import Path

import feedparser

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from service.arxiv.client import parse_feed  # noqa: E402
from service.model.paper import Paper, split_arxiv_id  # noqa: E402

DATA = ROOT / "tests" / "data"
LABELS = ROOT / "bench" / "relevance_labels.csv"
API_RESPONSES = [
    "api2026_search_all-testing_100entries.xml",
    "api2025_search_cs.RO-neural_project-website.xml",
    "api2026_idlist_astro-ph-0601001_affiliations.xml",
    "api2026_idlist_two-ids_one-missing.xml",
]
RSS = "rss_quant-ph_2025-04-28.xml"
SEED = "seed-topic-page.md"


def load_pool() -> list[Paper]:
    """Every distinct paper in the fixtures, in file order."""
    papers: dict[str, Paper] = {}
    for name in API_RESPONSES:
        for paper in parse_feed((DATA / name).read_bytes()).papers:
            papers.setdefault(paper.id, paper)
    for paper in rss_papers(DATA / RSS) + seed_papers(DATA / SEED):
        papers.setdefault(paper.id, paper)
    return list(papers.values())


def rss_papers(path: Path) -> list[Paper]:
    """The papers of an arXiv RSS listing (its description is "arXiv:... Abstract: <text>")."""
    papers = []
    for entry in feedparser.parse(path.read_bytes()).entries:
        paper_id, version = split_arxiv_id(entry.id.removeprefix("oai:arXiv.org:"))
        abstract = entry.summary.split("Abstract:", 1)[-1]
        published = parsedate_to_datetime(entry.published).astimezone(UTC)
        categories = [tag.term for tag in entry.tags]
        papers.append(
            Paper(
                id=paper_id,
                version=version,
                title=" ".join(entry.title.split()),
                authors=[author.name for author in entry.get("authors", [])],
                abstract=" ".join(abstract.split()),
                categories=categories,
                primary_category=categories[0],
                published=published,
                updated=published,
            )
        )
    return papers


SEED_PAPER = re.compile(
    r"^### \[(?P<title>.+)\]\(https://arxiv\.org/abs/(?P<id>[^)]+)\)\n\n"
    r"\*\*Authors:\*\* (?P<authors>.+)\n\n"
    r"\*\*Published:\*\* (?P<published>\S+) \| \*\*Categories:\*\* (?P<categories>.+)\n\n"
    r"(?:.*\n)*?<summary>Abstract</summary>\n\n(?P<abstract>.+)\n",
    re.MULTILINE,
)


def seed_papers(path: Path) -> list[Paper]:
    """The papers of the seed topic page (abstracts as cut there, about 300 characters)."""
    papers = []
    for match in SEED_PAPER.finditer(path.read_text(encoding="utf-8")):
        paper_id, version = split_arxiv_id(match["id"])
        published = datetime.strptime(match["published"], "%Y-%m-%d").replace(tzinfo=UTC)
        categories = match["categories"].split(", ")
        papers.append(
            Paper(
                id=paper_id,
                version=version,
                title=match["title"],
                authors=match["authors"].split(", "),
                abstract=match["abstract"].removesuffix("..."),
                categories=categories,
                primary_category=categories[0],
                published=published,
                updated=published,
            )
        )
    return papers


def load_labels() -> dict[str, dict[str, bool]]:
    """topic slug -> {arXiv id: relevant}."""
    labels: dict[str, dict[str, bool]] = {}
    with LABELS.open(newline="", encoding="utf-8") as file:
        for row in csv.DictReader(file):
            labels.setdefault(row["topic"], {})[row["arxiv_id"]] = row["label"] == "relevant"
    return labels
