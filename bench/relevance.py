"""Relevance ranking candidates on the labelled set (bench/relevance_labels.csv: real papers of five
weeks of 2026, judged by hand per topic of topics.toml, relevant or a hard negative). Each topic's
labelled papers are ranked by each method; per topic P@10, nDCG@10 and average precision (their
mean over topics: MAP), with a paired bootstrap of each method's MAP minus the shipped method's.
Then per method the import and load time, the time to rank a heavy week (HEAVY_WEEK papers x 5
topics, 3 runs: min / median / max) and the peak memory, each in a fresh process.

    .venv/bin/pip install -e '.[bench]'    # bm25s, scikit-learn, wordllama: candidates paperboy does not ship
    .venv/bin/python bench/relevance.py

Exemplars: each topic's topics.toml exemplars (or, when it lists none, its first 3 relevant papers
by id) are given to the "+ exemplars" methods and left out of that topic's ranked papers for every
method. The shipped method is BM25 over stems and stem pairs (service/ranking/relevance.py), with
the exemplars that topics.toml lists; differences are paired against it."""

from __future__ import annotations

import argparse
import json
import logging
import math
import os
import random
import re
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from relevance_methods import METHODS  # noqa: E402
from relevance_pool import load_labels, load_papers  # noqa: E402

from service.model.topics import load_topics  # noqa: E402

K = 10
HEAVY_WEEK = 300
# The shipped ranking with the shipped topics and their exemplars: what a change must beat.
SHIPPED = "bm25 (shipped) + exemplars"
BOOTSTRAP = 2000


def ordered(papers, scores):
    """Papers by score, ties newest first then by id, as service.ranking.relevance orders them."""
    pairs = sorted(zip(papers, scores), key=lambda pair: pair[0].id, reverse=True)
    pairs.sort(key=lambda pair: (round(float(pair[1]), 6), pair[0].published), reverse=True)
    return [paper for paper, _ in pairs]


def precision_at(gains, k=K):
    return sum(gains[:k]) / k


def ndcg_at(gains, k=K):
    dcg = sum(gain / math.log2(i + 2) for i, gain in enumerate(gains[:k]))
    ideal = sum(1 / math.log2(i + 2) for i in range(min(k, sum(gains))))
    return dcg / ideal if ideal else 0.0


def average_precision(gains):
    hits, total = 0, 0.0
    for i, gain in enumerate(gains):
        if gain:
            hits += 1
            total += hits / (i + 1)
    return total / hits if hits else 0.0


def topic_sets(topics, papers, labels):
    """{slug: (exemplar papers, ranked papers)}: exemplars leave the ranked papers."""
    sets = {}
    for topic in topics:
        judged = labels[topic.slug]
        chosen = list(topic.exemplars) or sorted(i for i, relevant in judged.items() if relevant)[:3]
        exemplars = [papers[i] for i in chosen if i in papers]
        ranked = [papers[i] for i in sorted(judged) if i not in chosen]
        sets[topic.slug] = (exemplars, ranked)
    return sets


def quality(topics, sets, labels):
    """{method: {slug: [(arXiv id, gain), ...] in ranked order}}."""
    table = {}
    for name, method in METHODS.items():
        scorer = method()
        for topic in topics:
            exemplars, ranked = sets[topic.slug]
            order = ordered(ranked, scorer.scores(topic, ranked, exemplars))
            table.setdefault(name, {})[topic.slug] = [(p.id, int(labels[topic.slug][p.id])) for p in order]
    return table


def gains(ranked):
    return [gain for _, gain in ranked]


def bootstrap(ranked_a, ranked_b, rng):
    """95% interval of mean-over-topics AP(a) - AP(b), resampling each topic's papers with
    replacement (a resample keeps each method's order of the drawn papers)."""
    diffs = []
    for _ in range(BOOTSTRAP):
        total = 0.0
        for slug, ranked in ranked_a.items():
            ids = [paper_id for paper_id, _ in ranked]
            counts = dict.fromkeys(ids, 0)
            for _ in ids:
                counts[ids[rng.randrange(len(ids))]] += 1
            total += _ap_resampled(ranked, counts) - _ap_resampled(ranked_b[slug], counts)
        diffs.append(total / len(ranked_a))
    diffs.sort()
    return diffs[int(0.025 * BOOTSTRAP)], diffs[int(0.975 * BOOTSTRAP) - 1]


def _ap_resampled(ranked, counts):
    return average_precision([gain for paper_id, gain in ranked for _ in range(counts[paper_id])])


def print_quality(table, topics, sets, labels):
    slugs = [t.slug for t in topics]
    relevant = {s: sum(labels[s][p.id] for p in sets[s][1]) for s in slugs}
    sizes = ", ".join(f"{s} {relevant[s]}/{len(sets[s][1])}" for s in slugs)
    print(f"Ranked per topic (relevant/labelled, exemplars left out): {sizes}")
    print("P@10 / nDCG@10 / AP per topic; mean over topics (MAP in the last figure)")
    print("| method | " + " | ".join(slugs) + " | mean |")
    print("|---|" + "---|" * (len(slugs) + 1))
    for name, row in table.items():
        figures = {
            s: (precision_at(gains(row[s])), ndcg_at(gains(row[s])), average_precision(gains(row[s]))) for s in slugs
        }
        cells = [" / ".join(f"{x:.2f}" for x in figures[s]) for s in slugs]
        mean = [sum(figures[s][j] for s in slugs) / len(slugs) for j in range(3)]
        print(f"| {name} | " + " | ".join(cells) + " | " + " / ".join(f"{x:.3f}" for x in mean) + " |")
    rng = random.Random(19)
    print(f"\nMAP minus {SHIPPED}'s, 95% paired bootstrap interval ({BOOTSTRAP} resamples of each topic's papers)")
    print("| method | difference | interval |")
    print("|---|---|---|")
    shipped_map = sum(average_precision(gains(table[SHIPPED][s])) for s in slugs) / len(slugs)
    for name, row in table.items():
        if name == SHIPPED:
            continue
        low, high = bootstrap(row, table[SHIPPED], rng)
        diff = sum(average_precision(gains(row[s])) for s in slugs) / len(slugs) - shipped_map
        print(f"| {name} | {diff:+.3f} | [{low:+.3f}, {high:+.3f}] |")


def measure_one(name):
    """In a fresh process: import and load, then rank a heavy week 3 times; print JSON."""
    if name == "none":
        return print(json.dumps({"peak": peak_rss()}))
    started = time.perf_counter()
    scorer = METHODS[name]()
    loaded = time.perf_counter() - started
    topics = load_topics(ROOT / "topics.toml")
    papers = load_papers()
    week = sorted(papers.values(), key=lambda p: p.id)[:HEAVY_WEEK]
    sets = topic_sets(topics, papers, load_labels())
    runs = []
    for _ in range(3):
        started = time.perf_counter()
        for topic in topics:
            ordered(week, scorer.scores(topic, week, sets[topic.slug][0]))
        runs.append(time.perf_counter() - started)
    print(json.dumps({"load": loaded, "runs": sorted(runs), "peak": peak_rss()}))


def peak_rss() -> float:
    """This process's peak resident memory in MiB (VmHWM: unlike ru_maxrss, not inherited from
    the parent that started it)."""
    status = Path("/proc/self/status").read_text()
    return int(re.search(r"^VmHWM:\s+(\d+) kB", status, re.MULTILINE)[1]) / 1024


def measure(topics):
    def run(name):
        done = subprocess.run([sys.executable, __file__, "--one", name], capture_output=True, text=True)
        if done.returncode:
            raise RuntimeError(done.stderr.strip().splitlines()[-1])
        return json.loads(done.stdout)

    print(
        f"\nHeavy week: {HEAVY_WEEK} papers x {len(topics)} topics, each method in a fresh process, 3 times "
        f"(a process importing nothing: peak RSS {run('none')['peak']:.0f} MiB); load average "
        + " ".join(f"{x:.2f}" for x in os.getloadavg())
    )
    print("| method | import + load (min / median / max) | rank a heavy week (min / median / max) | peak RSS |")
    print("|---|---|---|---|")
    for name in METHODS:
        try:
            figures = [run(name) for _ in range(3)]
        except RuntimeError as error:
            print(f"| {name} | failed: {error} |")
            continue
        loads = sorted(f["load"] for f in figures)
        weeks = sorted(f["runs"][1] for f in figures)
        peak = max(f["peak"] for f in figures)
        print(
            f"| {name} | {' / '.join(f'{x:.2f}' for x in loads)} s | {' / '.join(f'{x:.3f}' for x in weeks)} s "
            f"| {peak:.0f} MiB |"
        )


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--one", help=argparse.SUPPRESS)
    parser.add_argument("--no-cost", action="store_true", help="quality only")
    args = parser.parse_args()
    logging.disable(logging.INFO)  # bm25s and wordllama log every index and load
    if args.one:
        return measure_one(args.one)
    missing = [m for m in ("bm25s", "Stemmer", "sklearn", "wordllama") if not _importable(m)]
    if missing:
        sys.exit(f"bench/relevance.py: missing {', '.join(missing)}: .venv/bin/pip install -e '.[bench]'")
    topics = load_topics(ROOT / "topics.toml")
    papers, labels = load_papers(), load_labels()
    for topic in topics:
        judged = labels.get(topic.slug, {})
        if not judged or not set(judged) <= set(papers):
            sys.exit(f"bench/relevance.py: {topic.slug!r} has no labels or labels papers missing from the set")
    sets = topic_sets(topics, papers, labels)
    print_quality(quality(topics, sets, labels), topics, sets, labels)
    if not args.no_cost:
        measure(topics)


def _importable(module):
    try:
        __import__(module)
    except ImportError:
        return False
    return True


if __name__ == "__main__":
    main()
