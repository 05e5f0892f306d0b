"""Build the bundled sample (service/arxiv/sample_feeds/) from the shared arXiv corpus: for each
topic of topics.toml, up to PER_WEEK papers of each corpus week that the topic lists and that were
judged relevant to it (bench/relevance_labels.csv, bench/topic_precision_sample.csv), papers with
code or project links first, plus every topic's exemplars. A paper is left out when another topic
would list it though judged not about that topic, or when it would reach the VLA topic unjudged.

    .venv/bin/python bench/sample_build.py [--corpus ../shared/fixtures/arxiv-corpus]"""

from __future__ import annotations

import argparse
import hashlib
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from corpus_subset import CORPUS, corpus_entries, write_feed  # noqa: E402
from topic_precision import corpus_weeks, judgements  # noqa: E402

from service.arxiv.query import matches_query  # noqa: E402
from service.arxiv.sample import SAMPLE_DIR, SAMPLE_FILE  # noqa: E402
from service.model.topics import load_topics  # noqa: E402

PER_WEEK = 8
STRICT = {"vla"}  # topics whose sample papers must all have been judged


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--corpus", type=Path, default=CORPUS)
    args = parser.parse_args()
    topics = load_topics(ROOT / "topics.toml")
    judged = judgements()
    weeks = corpus_weeks(args.corpus)

    def lists(topic, paper):
        return topic.accepts(paper.categories) and matches_query(topic.query, paper)

    def welcome(paper):
        """No topic would list it against a judgement."""
        for topic in topics:
            if lists(topic, paper):
                verdict = judged.get(topic.slug, {}).get(paper.id)
                if verdict is False or (verdict is None and topic.slug in STRICT):
                    return False
        return True

    chosen: dict[str, None] = {}
    for topic in topics:
        chosen.update(dict.fromkeys(topic.exemplars))
        for papers in weeks.values():
            fits = [p for p in papers if lists(topic, p) and judged.get(topic.slug, {}).get(p.id) and welcome(p)]
            fits.sort(key=lambda p: (not p.has_links, hashlib.sha1(p.id.encode()).hexdigest()))
            chosen.update(dict.fromkeys(p.id for p in fits[:PER_WEEK]))
    header, entries = corpus_entries(args.corpus)
    out = SAMPLE_DIR / SAMPLE_FILE
    write_feed(out, header, [entries[i] for i in sorted(chosen, reverse=True)])
    print(f"{out.relative_to(ROOT)}: {len(chosen)} papers, {out.stat().st_size} bytes")


if __name__ == "__main__":
    main()
