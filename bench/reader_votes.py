"""A ranking of one's own, measured: simulated readers with a narrower interest inside a topic
vote on the first corpus week's papers, and their next weeks' digests are ranked by those votes.

Each reader follows one shipped topic (topics.toml) but wants one sub-area of it, labelled by a
rule over each paper's title and abstract (SUB_AREAS; `--show-labels` prints them to check by eye).
In the first week (2026-W03) the reader goes down the topic's digest order and marks each paper
"More like this" when it is in their sub-area, "Fewer like this" when not; after 0, 1, 3 and 10
votes, their digests of 2026-W04..W07 are ranked (service/digest/selection.py, the shipped path)
and scored against the sub-area: P@5 and nDCG@10, mean over the weeks with a paper in the sub-area.
The votes go through the store (SQLite) and are read back as a send reads them; the bench checks
that each was recorded and that voted digests differ from the plain ones before it prints.

    .venv/bin/python bench/reader_votes.py                # the corpus at ../shared/fixtures/arxiv-corpus
    .venv/bin/python bench/reader_votes.py --weights 0.02,0.05,0.1,0.2   # the topic order's weight
"""

from __future__ import annotations

import argparse
import math
import os
import re
import statistics
import sys
import tempfile
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from service import store  # noqa: E402
from service.arxiv.client import parse_feed  # noqa: E402
from service.arxiv.query import matches_query  # noqa: E402
from service.digest import selection  # noqa: E402
from service.digest.selection import NO_VOTES, WeekPapers  # noqa: E402
from service.model.paper import Paper  # noqa: E402
from service.model.preferences import DigestPreferences  # noqa: E402
from service.model.topics import Topic, load_topics  # noqa: E402
from service.outbound.digests import reader_votes  # noqa: E402
from service.ranking import reader  # noqa: E402
from service.store.papers import upsert_papers  # noqa: E402
from service.store.subscribers import votes  # noqa: E402
from service.store.subscribers.imports import ImportRow  # noqa: E402
from service.store.subscribers.records import subscriber_by_email  # noqa: E402
from subscribers.imports import import_rows  # noqa: E402

CORPUS = ROOT.parent / "shared" / "fixtures" / "arxiv-corpus"
WEEKS = ("2026-W03", "2026-W04", "2026-W05", "2026-W06", "2026-W07")
VOTES = (0, 1, 3, 10)
NOW = datetime(2026, 2, 16, tzinfo=UTC)
EVERYTHING = DigestPreferences(length="full", suggestions=False)  # every paper of the topic, ranked


@dataclass(frozen=True)
class SubArea:
    name: str
    topic: str
    rule: re.Pattern[str]  # over the lower-cased title and abstract


SUB_AREAS = (
    SubArea("VLA with diffusion or flow-matching action heads", "vla", re.compile(r"diffusion|flow[- ]matching")),
    SubArea("humanoid and legged world models", "world-models", re.compile(r"humanoid|legged|quadruped|locomotion")),
    SubArea("multi-agent LLM reasoning", "llm-reasoning", re.compile(r"multi-agent|multiagent|\bdebate")),
    SubArea("dexterous hands", "robot-learning", re.compile(r"dexterous|in-hand|multi-finger")),
    SubArea("vision-language navigation", "embodied-agents", re.compile(r"vision-language navigation|\bvln\b")),
)


def wanted(area: SubArea, paper: Paper) -> bool:
    return bool(area.rule.search(f"{paper.title} {paper.abstract}".lower()))


def corpus_weeks(corpus: Path) -> dict[str, list[Paper]]:
    weeks = {}
    for week in WEEKS:
        path = corpus / f"api_2026_corpus_{week}.xml"
        if not path.exists():
            sys.exit(f"bench/reader_votes.py: {path} is missing (pass --corpus)")
        weeks[week] = parse_feed(path.read_bytes()).papers
    return weeks


def topic_papers(topic: Topic, papers: list[Paper]) -> list[Paper]:
    return [p for p in papers if topic.accepts(p.categories) and matches_query(topic.query, p)]


def ranked_ids(week: WeekPapers, slug: str, votes_given=NO_VOTES) -> list[str]:
    selection = week.select((slug,), EVERYTHING, votes_given)
    return [pick.paper.id for block in selection.topics for pick in block.full]


def gain(results) -> float:
    """P@5 after 3 votes against the topic's own order, as a change."""
    base = results[0][2]
    return (results[3][0] - base) / base if base else float("inf")


def precision_at(order: list[str], relevant: set[str], k: int) -> float:
    return sum(1 for paper_id in order[:k] if paper_id in relevant) / k


def ndcg_at(order: list[str], relevant: set[str], k: int) -> float:
    gain = sum(1 / math.log2(place + 2) for place, paper_id in enumerate(order[:k]) if paper_id in relevant)
    best = sum(1 / math.log2(place + 2) for place in range(min(k, len(relevant))))
    return gain / best if best else 0.0


def simulate(area, topic, weeks, engine, subscriber_id):
    """{votes given: (P@5, nDCG@10, P@5 of the topic order, nDCG@10 of the topic order)}."""
    first = topic_papers(topic, weeks[WEEKS[0]])
    plain_first = WeekPapers([topic], {topic.slug: first}, first, lambda slug: "", {})
    to_vote = [paper_id for paper_id in ranked_ids(plain_first, topic.slug)]
    by_id = {p.id: p for p in first}
    results = {}
    for count in VOTES:
        with store.write_transaction(engine) as conn:
            votes.erase_votes(conn, subscriber_id)
            for paper_id in to_vote[:count]:
                vote = votes.MORE if wanted(area, by_id[paper_id]) else votes.FEWER
                votes.record_vote(conn, subscriber_id, paper_id, vote, NOW)
        with engine.connect() as conn:
            given = reader_votes(conn, [subscriber_id]).get(subscriber_id, NO_VOTES)
            recorded = votes.vote_count(conn, subscriber_id)
        if recorded != min(count, len(to_vote)):
            sys.exit(f"bench/reader_votes.py: {recorded} votes recorded for {area.name}, expected {count}")
        scores, plain_scores, moved = [], [], 0
        for week in WEEKS[1:]:
            papers = topic_papers(topic, weeks[week])
            relevant = {p.id for p in papers if wanted(area, p)}
            if not relevant:
                continue
            week_papers = WeekPapers([topic], {topic.slug: papers}, papers, lambda slug: "", {})
            plain = ranked_ids(week_papers, topic.slug)
            mine = ranked_ids(week_papers, topic.slug, given)
            moved += mine != plain
            scores.append((precision_at(mine, relevant, 5), ndcg_at(mine, relevant, 10)))
            plain_scores.append((precision_at(plain, relevant, 5), ndcg_at(plain, relevant, 10)))
        if given and not moved:
            sys.exit(f"bench/reader_votes.py: {count} votes of {area.name} re-ordered no digest")
        results[count] = (
            statistics.mean(s[0] for s in scores),
            statistics.mean(s[1] for s in scores),
            statistics.mean(s[0] for s in plain_scores),
            statistics.mean(s[1] for s in plain_scores),
            len(scores),
        )
    return results


def rocchio(papers, liked, rejected, vectors):
    """The candidate method: Rocchio's centroid of the liked papers less that of the rejected ones."""
    if not liked and not rejected:
        return [reader.Reordered(paper, "") for paper in papers]
    centroid: dict[str, float] = {}
    for group, sign in ((liked, 1.0), (rejected, -0.5)):
        for paper in group:
            for stem, weight in vectors.vector(paper).items():
                centroid[stem] = centroid.get(stem, 0.0) + sign * weight / len(group)
    count = len(papers)
    keyed = [
        (-(reader.TOPIC_WEIGHT * (1 - place / count) + reader.cosine(vectors.vector(paper), centroid)), place, paper)
        for place, paper in enumerate(papers)
    ]
    keyed.sort(key=lambda entry: (entry[0], entry[1]))
    return [reader.Reordered(paper, "") for _, _, paper in keyed]


METHODS = {"nearest liked paper (shipped)": reader.reorder, "Rocchio centroid": rocchio}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--corpus", type=Path, default=CORPUS)
    parser.add_argument("--weights", default=str(reader.TOPIC_WEIGHT), help="topic-order weights to compare")
    parser.add_argument("--show-labels", action="store_true", help="print each sub-area's papers and stop")
    args = parser.parse_args()
    weeks = corpus_weeks(args.corpus)
    topics = {t.slug: t for t in load_topics(ROOT / "topics.toml")}
    if args.show_labels:
        for area in SUB_AREAS:
            print(f"== {area.name}")
            for week in WEEKS:
                for paper in topic_papers(topics[area.topic], weeks[week]):
                    print(f"{week} {'+' if wanted(area, paper) else '-'} {paper.id} {paper.title[:100]}")
        return
    with tempfile.TemporaryDirectory() as folder:
        engine = store.connect(f"sqlite:///{folder}/bench.sqlite3")
        store.migrate(engine)
        with store.write_transaction(engine) as conn:
            upsert_papers(conn, [p for papers in weeks.values() for p in papers], NOW)
            people = [ImportRow(f"reader{n}@example.org", [a.topic], "active") for n, a in enumerate(SUB_AREAS)]
            import_rows(conn, people, NOW, "bench")
            ids = [subscriber_by_email(conn, row.email).id for row in people]
        print(f"load average {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
        runs = [(name, float(w)) for name in METHODS for w in args.weights.split(",")]
        for name, weight in runs:
            reader.TOPIC_WEIGHT = weight
            selection.reorder = METHODS[name]  # the digest's own selection, with the method under test
            started = time.perf_counter()
            print(f"\n{name}, topic order weight {weight}: P@5 / nDCG@10 over the next weeks")
            print("| reader | weeks | 0 votes | 1 vote | 3 votes | 10 votes | P@5 gain after 3 |")
            print("|---|---|---|---|---|---|---|")
            everyone = []
            for area, subscriber_id in zip(SUB_AREAS, ids, strict=True):
                results = simulate(area, topics[area.topic], weeks, engine, subscriber_id)
                everyone.append(results)
                cells = [f"{r[0]:.2f} / {r[1]:.2f}" for r in (results[c] for c in VOTES)]
                print(f"| {area.name} | {results[0][4]} | " + " | ".join(cells) + f" | {gain(results):+.0%} |")
            mean = {c: tuple(statistics.mean(r[c][i] for r in everyone) for i in range(5)) for c in VOTES}
            cells = [f"{m[0]:.2f} / {m[1]:.2f}" for m in (mean[c] for c in VOTES)]
            print("| mean of the readers | | " + " | ".join(cells) + f" | {gain(mean):+.0%} |")
            print(f"({time.perf_counter() - started:.1f} s)")
        engine.dispose()


if __name__ == "__main__":
    main()
