"""Search cost at 50,000 papers on SQLite and (with --postgres) PostgreSQL: a common word with
thousands of matches, and the 32 one-letter prefixes that took 9.1 s before search was bounded.
Prints the matches and, for each query (search_papers, 50 results), 3 runs of its median over 5
queries as min / median / max with the load average; before it prints a time it checks the search
did its work (50 results for the common and the rare word, matches in the thousands).

    .venv/bin/python bench/search.py [--papers 50000] [--postgres postgresql+psycopg://postgres@127.0.0.1/test]"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


from sqlalchemy import text  # noqa: E402

from bench.figures import load, spread  # noqa: E402
from bench.scratch import scratch_postgres  # noqa: E402
from service import store  # noqa: E402
from service.store.papers import upsert_papers  # noqa: E402
from service.store.search import POSTGRES_DOCUMENT, SearchTooBroad, search_papers  # noqa: E402
from tests.conftest import NOW  # noqa: E402
from tests.support.topic_data import many_papers  # noqa: E402

RUNS = 3
QUERIES = {"common word": "learning", "32 prefixes": " ".join(["a*"] * 32), "rare word": "metamorphic"}


def count_matches(conn, query: str) -> int:
    if conn.dialect.name == "sqlite":
        return conn.execute(
            text("SELECT count(*) FROM paper_search WHERE paper_search MATCH :q"), {"q": f'"{query}"'}
        ).scalar()
    return conn.execute(
        text("SELECT count(*) FROM paper WHERE search_vector @@ websearch_to_tsquery('english'::regconfig, :q)"),
        {"q": query},
    ).scalar()


def run(label: str, url: str, papers: int) -> None:
    engine = store.connect(url)
    store.migrate(engine)
    rows = many_papers(papers)
    with engine.begin() as conn:
        for start in range(0, len(rows), 1000):
            upsert_papers(conn, rows[start : start + 1000], NOW)
    if engine.dialect.name == "postgresql":
        with engine.begin() as conn:
            conn.exec_driver_sql("ANALYZE paper")
    print(f"\n{label}, {papers} papers")
    for name, query in QUERIES.items():
        medians, found = [], "?"
        for _ in range(RUNS):
            times = []
            for _ in range(5):
                with engine.connect() as conn:
                    start = time.perf_counter()
                    try:
                        found = len(search_papers(conn, query))
                    except SearchTooBroad:
                        found = "refused (budget)"
                    times.append(time.perf_counter() - start)
            medians.append(statistics.median(times) * 1000)
        with engine.connect() as conn:
            matches = count_matches(conn, query) if name == "common word" else "-"
        if name != "32 prefixes" and found != 50 or name == "common word" and matches < 1000:
            sys.exit(f"bench: {name} {query!r} gave {found} results of {matches} matches, not a full page")
        print(
            f"  {name:<12} {query[:24]!r:<28} matches {matches!s:>6}  results {found!s:>4}  "
            f"{spread(medians)} ms ({load()})"
        )
    if engine.dialect.name == "postgresql":
        print(
            f"  common word through the planner's own choice, a sequential scan of the stored vectors "
            f"(as before the search turned them off): median {sequential_ms(engine, QUERIES['common word']):.0f} ms"
        )
        print(
            f"  common word ranked by recomputing each vector (as before migration 0004): "
            f"median {recomputed_ms(engine, QUERIES['common word']):.0f} ms"
        )
    engine.dispose()


def sequential_ms(engine, word: str) -> float:
    """The search's statement with sequential scans allowed, the planner's pick for a common word."""
    statement = text(
        "SELECT id FROM paper, websearch_to_tsquery('english'::regconfig, :q) AS query"
        " WHERE search_vector @@ query ORDER BY ts_rank(search_vector, query) DESC,"
        " published DESC LIMIT 50"
    )
    return median_ms(engine, statement, word, runs=5)


def recomputed_ms(engine, word: str) -> float:
    """The same search ranked over the document expression instead of the stored column."""
    statement = text(
        f"SELECT id FROM paper, websearch_to_tsquery('english'::regconfig, :q) AS query"
        f" WHERE {POSTGRES_DOCUMENT} @@ query ORDER BY ts_rank({POSTGRES_DOCUMENT}, query) DESC,"
        " published DESC LIMIT 50"
    )
    return median_ms(engine, statement, word, runs=3)


def median_ms(engine, statement, word: str, runs: int) -> float:
    times = []
    with engine.connect() as conn:
        for _ in range(runs):
            start = time.perf_counter()
            conn.execute(statement, {"q": word}).all()
            times.append(time.perf_counter() - start)
    return statistics.median(times) * 1000


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--papers", type=int, default=50_000)
    parser.add_argument("--postgres", metavar="URL")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        run("SQLite", f"sqlite:///{tmp}/search.sqlite3", args.papers)
    if args.postgres:
        with scratch_postgres(args.postgres) as url:
            run("PostgreSQL", url, args.papers)


if __name__ == "__main__":
    main()
