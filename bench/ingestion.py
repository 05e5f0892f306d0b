"""Benchmark of ingestion against arXiv's schedule: papers missed and API requests per topic per day.

Six weeks of arXiv are simulated (tests/arxiv_days.py: weekday cutoffs, Sunday-to-Thursday
announcements, two holidays, one paper in eight held 2 to 15 days, new versions, withdrawals, an
index that sometimes lags a day or two) for a small topic and a large one, and paperboy's own
fetch_topics runs once a day at 06:00 UTC against it, in a fresh SQLite database per strategy:

- `main`: the code of another revision (default: main), unpacked with `git archive` and put
  first on PYTHONPATH: its window went back to the newest stored paper minus a day;
- `lookback N`: this checkout with PAPERBOY_FETCH_LOOKBACK_DAYS=N.

It prints, per strategy and topic, the papers announced, those never stored, the stored papers
left at an older version, and the API requests per day (mean and max).

    .venv/bin/python bench/ingestion.py [--old main] [--lookbacks 7,14,21]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tarfile
import tempfile
from collections import Counter
from datetime import UTC, date, datetime, timedelta
from io import BytesIO
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
FIRST = datetime(2026, 1, 5, 6, 0, tzinfo=UTC)  # a Monday
DAYS = 42
TOPICS = {  # slug -> (query, papers per weekday)
    "small": ('ti:"vision-language-action"', 4),
    "large": ('abs:"language model"', 40),
}
HOLIDAYS = {date(2026, 1, 19), date(2026, 1, 20)}


def simulation():
    from tests.support.arxiv_days import Schedule, Simulation

    sim = Simulation(Schedule(HOLIDAYS), seed=6)
    for query, per_day in TOPICS.values():
        # Submissions from the first run's window (14 days back) to the last fetch.
        sim.generate(query, FIRST - timedelta(days=14), DAYS + 14, per_day)
    return sim


def drive(clock_url: str, times: list[str]) -> None:
    """Run in the child: one fetch_topics a day with whatever `service` PYTHONPATH gives."""
    import io

    import httpx

    import service
    from service.config import load_config

    try:
        from service.arxiv.client import ArxivClient
        from service.arxiv.fetch import Progress, fetch_topics
    except ImportError:  # code from before paperboy had one package per part
        from service.arxiv import ArxivClient
        from service.fetch import Progress, fetch_topics
    from service.runtime import Runtime

    print(f"code: {list(service.__path__)}", file=sys.stderr)
    runtime = Runtime(load_config())
    for at in times:
        httpx.get(clock_url, params={"at": at}).raise_for_status()
        with ArxivClient.from_config(runtime.config, sleep=lambda seconds: None) as client:
            fetch_topics(
                runtime, runtime.topics, now=datetime.fromisoformat(at), client=client, progress=Progress(io.StringIO())
            )


def run_strategy(name: str, code: Path, lookback: int | None, sim, workdir: Path) -> dict:
    from tests.support.arxiv_days import ArxivDaysServer

    times = [(FIRST + timedelta(days=day)).isoformat() for day in range(DAYS)]
    database = workdir / f"{name.replace(' ', '-')}.sqlite3"
    topics = workdir / "topics.toml"
    topics.write_text(
        "".join(
            f'[[topic]]\nslug = "{slug}"\ntitle = "{slug}"\nquery = \'{query}\'\n\n'
            for slug, (query, _) in TOPICS.items()
        )
    )
    with ArxivDaysServer(sim) as server:
        env = {
            **os.environ,
            "PYTHONPATH": str(code),
            "PAPERBOY_DATABASE_URL": f"sqlite:///{database}",
            "PAPERBOY_TOPICS_FILE": str(topics),
            "PAPERBOY_ARXIV_API_URL": server.url,
            "PAPERBOY_ARXIV_DELAY": "0",
            "PAPERBOY_SECRET_KEY": "bench",
        }
        if lookback is not None:
            env["PAPERBOY_FETCH_LOOKBACK_DAYS"] = str(lookback)
        done = subprocess.run(
            [sys.executable, __file__, "--drive", server.clock_url, json.dumps(times)],
            env=env,
            cwd=workdir,
            capture_output=True,
            text=True,
        )
        if done.returncode != 0:
            sys.exit(f"bench: the {name} run failed:\n{done.stderr[-2000:]}")
        requests = list(server.requests)
    code_line = next(line for line in done.stderr.splitlines() if line.startswith("code: "))
    print(f"<!-- {name}: {code_line} -->", flush=True)
    return measure(sim, database, requests, datetime.fromisoformat(times[-1]))


def measure(sim, database: Path, requests, last: datetime) -> dict:
    from sqlalchemy import text

    from service import store

    engine = store.connect(f"sqlite:///{database}")
    figures = {}
    with engine.connect() as conn:
        for slug, (query, _) in TOPICS.items():
            announced = sim.visible(query, last)
            # In SQL that stores of every version read: the old code's store has another schema.
            held = dict(
                conn.execute(
                    text(
                        "SELECT paper.id, paper.version FROM paper JOIN topic_paper ON topic_paper.paper_id = paper.id"
                        " WHERE topic_paper.topic = :slug"
                    ),
                    {"slug": slug},
                ).all()
            )
            missed = [p for p in announced if p.id not in held]
            stale = [p for p in announced if p.id in held and held[p.id] < p.at(last).number]
            per_day = Counter(
                at.date() for at, params in requests if params.get("search_query", "").startswith(f"({query})")
            )
            counts = [per_day.get((FIRST + timedelta(days=d)).date(), 0) for d in range(DAYS)]
            figures[slug] = {
                "announced": len(announced),
                "missed": len(missed),
                "missed_held": sum(p.held_days > 0 for p in missed),
                "stale": len(stale),
                "requests_mean": sum(counts) / len(counts),
                "requests_max": max(counts),
            }
    engine.dispose()
    return figures


def old_code(revision: str, workdir: Path) -> Path:
    archive = subprocess.run(["git", "archive", revision, "service"], cwd=ROOT, capture_output=True, check=True).stdout
    target = workdir / f"code-{revision.replace('/', '-')}"
    with tarfile.open(fileobj=BytesIO(archive)) as tar:
        tar.extractall(target, filter="data")
    return target


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--old", default="main", help="the revision to compare with (default: main)")
    parser.add_argument("--lookbacks", default="7,14,21", help="lookback days to measure")
    parser.add_argument("--drive", nargs=2, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.drive:
        drive(args.drive[0], json.loads(args.drive[1]))
        return
    sys.path.insert(0, str(ROOT))
    sim = simulation()
    with tempfile.TemporaryDirectory() as tmp:
        workdir = Path(tmp)
        strategies = [(f"{args.old} (newest stored paper - 1 day)", old_code(args.old, workdir), None)]
        strategies += [(f"lookback {days} days", ROOT, int(days)) for days in args.lookbacks.split(",")]
        print(f"{DAYS} daily fetches at 06:00 UTC from {FIRST:%Y-%m-%d}; page size 100")
        print("| strategy | topic | announced | never stored (held) | older version kept | requests/day mean | max |")
        print("|---|---|---|---|---|---|---|")
        for name, code, lookback in strategies:
            for slug, f in run_strategy(name, code, lookback, sim, workdir).items():
                print(
                    f"| {name} | {slug} | {f['announced']} | {f['missed']} ({f['missed_held']}) | {f['stale']} "
                    f"| {f['requests_mean']:.1f} | {f['requests_max']} |",
                    flush=True,
                )


if __name__ == "__main__":
    main()
