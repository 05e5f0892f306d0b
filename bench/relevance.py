"""Relevance ranking candidates on the labelled pool (bench/relevance_labels.csv: every real paper
in tests/data and the seed page, labelled for each topic of topics.toml): precision at 10 and
nDCG@10 per method and topic, then per method the import and load time, the time to rank a heavy
week (150 papers x 5 topics) and the peak memory, each in a fresh process.

    .venv/bin/pip install -e '.[bench]'    # bm25s ships with paperboy; scikit-learn, wordllama
    .venv/bin/python bench/relevance.py

The shipped method is `bm25s` (service/ranking/relevance.py); the others are candidates measured here."""

from __future__ import annotations

import argparse
import json
import logging
import math
import re
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from relevance_pool import load_labels, load_pool  # noqa: E402

from service.model.topics import load_topics  # noqa: E402

K = 10
HEAVY_WEEK = 150


class QueryTerms:
    """Baseline: how many of the topic's search terms the paper holds, twice for its title."""

    def __init__(self):
        from service.ranking import relevance

        self.relevance = relevance

    def scores(self, topic, papers):
        r = self.relevance
        terms = [" ".join(r.stem_words(term)) for term in r.query_terms(topic.query)]
        result = []
        for paper in papers:
            title = " " + " ".join(r.stem_words(paper.title)) + " "
            abstract = " " + " ".join(r.stem_words(paper.abstract)) + " "
            result.append(sum(2 * (f" {t} " in title) + (f" {t} " in abstract) for t in terms))
        return result


class Bm25Words:
    """bm25s as its README uses it: its tokenizer (English stop words, Snowball stems), one word
    per token; the query is the topic's search terms, title and description."""

    def __init__(self):
        import bm25s
        import Stemmer

        self.bm25s, self.stemmer = bm25s, Stemmer.Stemmer("english")

    def scores(self, topic, papers):
        from service.ranking.relevance import query_terms

        corpus = self.bm25s.tokenize(
            [f"{p.title}. {p.abstract}" for p in papers], stopwords="en", stemmer=self.stemmer, show_progress=False
        )
        retriever = self.bm25s.BM25()
        retriever.index(corpus, show_progress=False)
        query = " ".join(query_terms(topic.query) + [topic.title, topic.description])
        stems = self.bm25s.tokenize(query, stopwords="en", stemmer=self.stemmer, return_ids=False, show_progress=False)[
            0
        ]
        known = [corpus.vocab[s] for s in stems if s in corpus.vocab]
        return list(retriever.get_scores_from_ids(known)) if known else [0.0] * len(papers)


class Bm25Shipped:
    """service/ranking/relevance.py: bm25s over stemmed words; the \"why\" terms matched as phrases."""

    def __init__(self):
        from service.ranking.relevance import rank

        self.rank = rank

    def scores(self, topic, papers, exemplars=()):
        by_id = {entry.paper.id: entry.score for entry in self.rank(topic, papers, exemplars)}
        return [by_id[p.id] for p in papers]


class TfIdf:
    """scikit-learn TfidfVectorizer (words and word pairs, sublinear tf), cosine to the topic."""

    def __init__(self):
        from sklearn.feature_extraction.text import TfidfVectorizer
        from sklearn.metrics.pairwise import linear_kernel

        self.vectorizer, self.kernel = TfidfVectorizer, linear_kernel

    def scores(self, topic, papers):
        from service.ranking.relevance import query_terms

        vectorizer = self.vectorizer(stop_words="english", sublinear_tf=True, ngram_range=(1, 2))
        documents = vectorizer.fit_transform([f"{p.title}. {p.abstract}" for p in papers])
        query = " ".join(query_terms(topic.query) * 2 + [topic.title, topic.description])
        return list(self.kernel(vectorizer.transform([query]), documents)[0])


class WordLlama:
    """wordllama's 256-dim model shipped in its wheel, cosine of the topic to title + abstract."""

    def __init__(self):
        import wordllama
        from wordllama import WordLlama as Model

        # The wheel ships the tokenizer in tokenizers/, where load() looks only for a cache.
        self.model = Model.load(cache_dir=Path(wordllama.__file__).parent, disable_download=True)

    def scores(self, topic, papers):
        import numpy as np

        from service.ranking.relevance import query_terms

        query = " ".join(query_terms(topic.query) + [topic.title, topic.description])
        vectors = self.model.embed([query] + [f"{p.title}. {p.abstract}" for p in papers], norm=True)
        return [float(s) for s in np.asarray(vectors[1:]) @ np.asarray(vectors[0])]


METHODS = {
    "query terms": QueryTerms,
    "bm25s words": Bm25Words,
    "bm25s (shipped)": Bm25Shipped,
    "tf-idf": TfIdf,
    "wordllama": WordLlama,
}


def ordered(papers, scores):
    """Papers by score, ties newest first then by id, as service.relevance orders them."""
    pairs = sorted(zip(papers, scores), key=lambda pair: pair[0].id, reverse=True)
    pairs.sort(key=lambda pair: (round(float(pair[1]), 6), pair[0].published), reverse=True)
    return [paper for paper, _ in pairs]


def precision_at(ranking, relevant, k=K):
    return sum(relevant[p.id] for p in ranking[:k]) / k


def ndcg_at(ranking, relevant, k=K):
    gains = [relevant[p.id] for p in ranking[:k]]
    dcg = sum(gain / math.log2(i + 2) for i, gain in enumerate(gains))
    ideal = sum(1 / math.log2(i + 2) for i in range(min(k, sum(relevant.values()))))
    return dcg / ideal if ideal else 0.0


def quality(topics, pool, labels):
    """{method: {topic: (P@10, nDCG@10)}} for every method on the whole pool."""
    table = {}
    for name, method in METHODS.items():
        scorer = method()
        for topic in topics:
            ranking = ordered(pool, scorer.scores(topic, pool))
            relevant = labels[topic.slug]
            table.setdefault(name, {})[topic.slug] = (precision_at(ranking, relevant), ndcg_at(ranking, relevant))
    return table


def exemplar_quality(topics, pool, labels, count=1):
    """The shipped method without and with exemplars: each topic's first `count` relevant papers
    serve as exemplars and leave its pool. Returns the table and each topic's remaining pool."""
    scorer, table, pools = Bm25Shipped(), {}, {}
    for topic in topics:
        relevant = labels[topic.slug]
        exemplars = [p for p in pool if relevant[p.id]][:count]
        papers = pools[topic.slug] = [p for p in pool if p not in exemplars]
        for name, given in (("bm25s (shipped), no exemplar", ()), (f"bm25s (shipped), {count} exemplar", exemplars)):
            ranking = ordered(papers, scorer.scores(topic, papers, given))
            table.setdefault(name, {})[topic.slug] = (precision_at(ranking, relevant), ndcg_at(ranking, relevant))
    return table, pools


def print_quality(table, topics, labels, pools, title):
    print(f"\n{title}")
    slugs = [t.slug for t in topics]
    best = {s: min(K, sum(labels[s][p.id] for p in pools[s])) / K for s in slugs}
    print("| method | " + " | ".join(slugs) + " | mean |")
    print("|---|" + "---|" * (len(slugs) + 1))
    print(
        "| best possible P@10 | "
        + " | ".join(f"{best[s]:.2f}" for s in slugs)
        + f" | {sum(best.values()) / len(slugs):.2f} |"
    )
    for name, row in table.items():
        cells = [f"{row[s][0]:.2f} / {row[s][1]:.2f}" for s in slugs]
        mean_p = sum(row[s][0] for s in slugs) / len(slugs)
        mean_n = sum(row[s][1] for s in slugs) / len(slugs)
        print(f"| {name} | " + " | ".join(cells) + f" | {mean_p:.2f} / {mean_n:.2f} |")


def measure_one(name):
    """In a fresh process: import and load, then rank a heavy week; print JSON."""
    if name == "none":
        return print(json.dumps({"peak": peak_rss()}))
    started = time.perf_counter()
    scorer = METHODS[name]()
    loaded = time.perf_counter() - started
    topics = load_topics(ROOT / "topics.toml")
    pool = load_pool()
    week = (pool * 2)[:HEAVY_WEEK]
    runs = []
    for _ in range(3):
        started = time.perf_counter()
        for topic in topics:
            ordered(week, scorer.scores(topic, week))
        runs.append(time.perf_counter() - started)
    peak = peak_rss()
    print(json.dumps({"load": loaded, "week": sorted(runs)[1], "first": runs[0], "peak": peak}))


def peak_rss() -> float:
    """This process's peak resident memory in MiB (VmHWM: unlike ru_maxrss, not inherited from
    the parent that started it)."""
    status = Path("/proc/self/status").read_text()
    return int(re.search(r"^VmHWM:\s+(\d+) kB", status, re.MULTILINE)[1]) / 1024


def measure(topics):
    base = subprocess.run([sys.executable, __file__, "--one", "none"], capture_output=True, text=True)
    print(
        f"\nHeavy week: {HEAVY_WEEK} papers x {len(topics)} topics, each method in a fresh process "
        f"(the same process importing nothing: peak RSS {json.loads(base.stdout)['peak']:.0f} MiB)"
    )
    print("| method | import + load | rank a heavy week (first / median of 3) | peak RSS |")
    print("|---|---|---|---|")
    for name in METHODS:
        run = subprocess.run([sys.executable, __file__, "--one", name], capture_output=True, text=True)
        if run.returncode:
            print(f"| {name} | failed: {run.stderr.strip().splitlines()[-1]} |")
            continue
        figures = json.loads(run.stdout)
        print(
            f"| {name} | {figures['load']:.2f} s | {figures['first']:.3f} / {figures['week']:.3f} s "
            f"| {figures['peak']:.0f} MiB |"
        )


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--one", help=argparse.SUPPRESS)
    args = parser.parse_args()
    logging.disable(logging.INFO)  # bm25s and wordllama log every index and load
    if args.one:
        return measure_one(args.one)
    missing = [m for m in ("bm25s", "Stemmer", "sklearn", "wordllama") if not _importable(m)]
    if missing:
        sys.exit(f"bench/relevance.py: missing {', '.join(missing)}: .venv/bin/pip install -e '.[bench]'")
    topics = load_topics(ROOT / "topics.toml")
    pool, labels = load_pool(), load_labels()
    for topic in topics:
        if set(labels.get(topic.slug, {})) != {p.id for p in pool}:
            sys.exit(f"bench/relevance.py: labels for {topic.slug!r} do not cover the pool exactly")
    counts = ", ".join(f"{t.slug} {sum(labels[t.slug].values())}" for t in topics)
    print(f"Pool: {len(pool)} papers, each labelled for {len(topics)} topics; relevant: {counts}")
    print_quality(
        quality(topics, pool, labels),
        topics,
        labels,
        {t.slug: pool for t in topics},
        "P@10 / nDCG@10 per topic (binary labels)",
    )
    table, pools = exemplar_quality(topics, pool, labels)
    print_quality(
        table, topics, labels, pools, "Exemplars: each topic's first relevant paper as exemplar, left out of its pool"
    )
    measure(topics)


def _importable(module):
    try:
        __import__(module)
    except ImportError:
        return False
    return True


if __name__ == "__main__":
    main()
