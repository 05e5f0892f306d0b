"""The labelled set of bench/relevance.py and bench/links.py: real arXiv papers of 2026-W03..W07
(bench/corpus_papers.xml.gz, copied from the shared arXiv corpus by bench/corpus_subset.py), judged
by hand from title and abstract.

- bench/relevance_labels.csv: topic, arxiv_id, label (1 relevant, 0 hard negative: shares the
  topic's words or categories but is not about it), reason (one line).
- bench/link_labels.csv: arxiv_id, code, project: the code and project-page URLs that the paper's
  abstract and comment give (space-separated; empty when none); bench/link_labels_heldout.csv the
  same for 60 more papers, labelled after the fixes that the first 200 showed."""

from __future__ import annotations

import csv
import gzip
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from service.arxiv.client import parse_feed  # noqa: E402
from service.model.paper import Paper  # noqa: E402

PAPERS = ROOT / "bench" / "corpus_papers.xml.gz"
LABELS = ROOT / "bench" / "relevance_labels.csv"
LINK_LABELS = ROOT / "bench" / "link_labels.csv"
# 60 more papers with links, labelled after find_links was fixed on LINK_LABELS: a check it never saw.
LINK_LABELS_HELD_OUT = ROOT / "bench" / "link_labels_heldout.csv"


def load_papers() -> dict[str, Paper]:
    """Every labelled paper by arXiv id, parsed as the fetch job parses arXiv's answers."""
    return {paper.id: paper for paper in parse_feed(gzip.decompress(PAPERS.read_bytes())).papers}


def load_labels() -> dict[str, dict[str, bool]]:
    """topic slug -> {arXiv id: relevant}."""
    labels: dict[str, dict[str, bool]] = {}
    with LABELS.open(newline="", encoding="utf-8") as file:
        for row in csv.DictReader(file):
            labels.setdefault(row["topic"], {})[row["arxiv_id"]] = row["label"] == "1"
    return labels


def load_link_labels(path: Path = LINK_LABELS) -> dict[str, tuple[list[str], list[str]]]:
    """arXiv id -> (code URLs, project page URLs) as the paper gives them."""
    with path.open(newline="", encoding="utf-8") as file:
        return {row["arxiv_id"]: (row["code"].split(), row["project"].split()) for row in csv.DictReader(file)}
