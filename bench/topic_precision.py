"""What each topic of topics.toml lists on the five corpus weeks (2026-W03..W07 of the shared arXiv
corpus): how many papers, per week, and the precision of a fixed sample of 50 of them, judged by
hand (bench/relevance_labels.csv, then bench/topic_precision_sample.csv). A sampled paper judged in
neither file is printed for judging and counts as not relevant.

    .venv/bin/python bench/topic_precision.py [--corpus ../shared/fixtures/arxiv-corpus]"""

from __future__ import annotations

import argparse
import csv
import hashlib
import sys
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from corpus_subset import CORPUS  # noqa: E402
from relevance_pool import load_labels  # noqa: E402

from service.arxiv.client import parse_feed  # noqa: E402
from service.arxiv.query import matches_query  # noqa: E402
from service.model.topics import load_topics  # noqa: E402

SAMPLE = 50
JUDGED = ROOT / "bench" / "topic_precision_sample.csv"


def corpus_weeks(corpus: Path) -> dict[str, list]:
    """ISO week -> the papers of that week's corpus response."""
    files = sorted(corpus.glob("api_2026_corpus_2026-W*.xml"))
    if not files:
        sys.exit(f"bench/topic_precision.py: no api_2026_corpus_*.xml in {corpus} (pass --corpus)")
    return {path.stem.rsplit("_", 1)[1]: parse_feed(path.read_bytes()).papers for path in files}


def judgements() -> dict[str, dict[str, bool]]:
    judged = load_labels()
    with JUDGED.open(newline="", encoding="utf-8") as file:
        for row in csv.DictReader(file):
            judged.setdefault(row["topic"], {}).setdefault(row["arxiv_id"], row["label"] == "1")
    return judged


def sampled(papers: list, size: int = SAMPLE) -> list:
    """A fixed pseudo-random sample: the same papers for the same list."""
    return sorted(papers, key=lambda p: hashlib.sha1(f"p50{p.id}".encode()).hexdigest())[:size]


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--corpus", type=Path, default=CORPUS)
    args = parser.parse_args()
    weeks = corpus_weeks(args.corpus)
    judged = judgements()
    print("| topic | papers listed | per week (W03..W07) | relevant in a sample of 50 |")
    print("|---|---|---|---|")
    unjudged = []
    for topic in load_topics(ROOT / "topics.toml"):
        listed = [
            (week, p)
            for week, papers in weeks.items()
            for p in papers
            if topic.accepts(p.categories) and matches_query(topic.query, p)
        ]
        per_week = Counter(week for week, _ in listed)
        sample = sampled([p for _, p in listed])
        verdicts = judged.get(topic.slug, {})
        unjudged += [(topic.slug, p) for p in sample if p.id not in verdicts]
        relevant = sum(verdicts.get(p.id, False) for p in sample)
        counts = " / ".join(str(per_week[w]) for w in sorted(weeks))
        print(f"| {topic.slug} | {len(listed)} | {counts} | {relevant}/{len(sample)} ({relevant / len(sample):.0%}) |")
    for slug, paper in unjudged:
        print(f"not judged ({slug}): {paper.id} {paper.title}")


if __name__ == "__main__":
    main()
