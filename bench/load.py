"""A busy site: wrk on a topic page, a feed and a search (64 connections, 60 s each) against
`paperboy serve` while a fetch, a 50,000-row subscriber import and a digest send write the same
store, on SQLite and (with --postgres) on PostgreSQL. The three jobs run together in rounds, one
round after another for as long as wrk runs, each round with new work: 2,000 new papers from a
local arXiv stand-in, 50,000 new subscribers, and the digest of one more past week to 5,000
subscribers. Prints requests per second, p50 and p99 latency and the count of answers that were
not 2xx/3xx (the target: 0), and how every job of every round ended; stops first when a job that
ended well did not do its round's work (as its own summary counts it).

    .venv/bin/python bench/load.py [--duration 60] [--postgres postgresql+psycopg://postgres@127.0.0.1/test]

Needs wrk (apt-get install wrk). Rate limits are off: wrk is one client."""

from __future__ import annotations

import argparse
import re
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


from bench.fetch import serve  # noqa: E402
from bench.scratch import scratch_postgres  # noqa: E402
from service import store  # noqa: E402
from service.arxiv.sample import load_sample  # noqa: E402
from service.model.topics import load_topics  # noqa: E402
from service.model.weeks import week_of  # noqa: E402
from service.store.papers import link_topic_papers, upsert_papers  # noqa: E402
from service.store.subscribers.imports import ImportRow  # noqa: E402
from subscribers.imports import import_rows  # noqa: E402
from tests.support.arxiv_replay import dated_entries, paged_responses  # noqa: E402
from tests.support.helpers import PAPERBOY  # noqa: E402
from tests.support.server_process import paperboy_server, server_environment  # noqa: E402
from tests.support.topic_data import many_papers  # noqa: E402

TOPICS = """
[[topic]]
slug = "testing"
title = "Software Testing"
description = "Testing, from unit tests to metamorphic testing."
query = 'all:testing'

[[topic]]
slug = "imported"
title = "Imported lists"
description = "The imported subscribers' topic: no papers in the weeks the digests are sent for."
query = 'all:imported'
categories = ["cs.XX"]
"""
PATHS = {"topic page": "/topics/testing/", "feed": "/topics/testing/feed.atom", "search": "/search?q=testing+model"}
IMPORT_ROWS = 50_000
FETCHED = 2000  # new papers a round's fetch finds
READERS = 5000  # subscribers each round's digest goes to
# Rounds of jobs at most: each sends one more past week, and new paper ids need a month of their own.
ROUNDS = 12


def arxiv_stand_in(now: datetime, round_number: int):
    """A local arXiv answering with 2,000 real entries (rewritten ids and dates), 100 a page; each
    round's ids are new (2601.x, 2602.x, ...)."""
    return serve(paged_responses(dated_entries(FETCHED, now, prefix=f"{2601 + round_number}"), 100))


def prepare(url: str, folder: Path, now: datetime) -> list[str]:
    """A store with the sample, 5,000 more papers and 5,000 subscribers to "testing"; returns the
    past weeks that hold papers for them, last week first, one for each round's digest."""
    engine = store.connect(url)
    store.migrate(engine)
    topics_file = folder / "topics.toml"
    topics_file.write_text(TOPICS)

    load_sample(engine, load_topics(topics_file), now)
    papers = many_papers(5000)
    weeks = []
    with engine.begin() as conn:
        upsert_papers(conn, papers, now)
        for round_number in range(ROUNDS):
            matched = now - timedelta(days=7 * (round_number + 1))
            chosen = papers[300 * round_number : 300 * (round_number + 1)]
            link_topic_papers(conn, "testing", [p.id for p in chosen], matched)
            weeks.append(week_of(matched))
        import_rows(
            conn, [ImportRow(f"reader{n}@example.org", ["testing"], "active") for n in range(READERS)], now, "cli"
        )
    engine.dispose()
    return weeks


def import_file(folder: Path, round_number: int) -> Path:
    """50,000 new addresses for one round's import, on a topic with no papers in the digest weeks
    (so that each round's digest goes to the same 5,000 readers, not to every imported row)."""
    path = folder / f"import-{round_number}.csv"
    path.write_text(
        "email,topics,status\n"
        + "".join(f"imported{round_number}-{n}@example.org,imported,active\n" for n in range(IMPORT_ROWS))
    )
    return path


def wrk(url: str, duration: int, connections: int) -> dict:
    output = subprocess.run(
        ["wrk", f"-c{connections}", "-t2", f"-d{duration}s", "--timeout", "30s", "--latency", url],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    errors = re.search(r"Non-2xx or 3xx responses: (\d+)", output)
    socket_errors = re.search(r"Socket errors: (.*)", output)
    return {
        "rps": float(re.search(r"Requests/sec:\s+([\d.]+)", output).group(1)),
        # The latency distribution's lines; "50%" alone would also match the Stdev column.
        "p50": re.search(r"^\s+50%\s+(\S+)", output, re.MULTILINE).group(1),
        "p99": re.search(r"^\s+99%\s+(\S+)", output, re.MULTILINE).group(1),
        "bad": int(errors.group(1)) if errors else 0,
        "socket": socket_errors.group(1).strip() if socket_errors else "none",
    }


def run_job(name: str, command: list[str], environ: dict, folder: Path, ended: list) -> None:
    """Run one job to its end; record its exit code, how long it took, its last line and whether
    its output says it did the round's work."""
    start = time.monotonic()
    process = subprocess.run(command, env=environ, cwd=folder, capture_output=True, text=True, timeout=1800)
    last = (process.stdout.strip().splitlines() or process.stderr.strip().splitlines() or [""])[-1][:100]
    ended.append((name, process.returncode, time.monotonic() - start, last, did_its_work(name, process.stdout)))


def did_its_work(name: str, output: str) -> bool:
    """The round's work, as the job's own summary counts it: 2,000 new papers over the topics, the
    50,000 new subscribers, the digest sent to the 5,000 readers."""
    if name == "fetch":
        return sum(int(n) for n in re.findall(r"(\d+) new,", output)) == FETCHED
    if name == "import":
        return f"imported {IMPORT_ROWS} rows: {IMPORT_ROWS} new" in output
    return re.search(rf"\b{READERS} sent, 0 failed", output) is not None


def run_rounds(
    environ: dict, folder: Path, weeks: list[str], now: datetime, stop: threading.Event, ended: list
) -> None:
    """Rounds of the three jobs at once, one after another, until `stop` (or ROUNDS)."""
    for round_number, week in enumerate(weeks):
        if stop.is_set():
            return
        arxiv = arxiv_stand_in(now, round_number)
        jobs = {
            "fetch": [str(PAPERBOY), "fetch", "--since", f"{now - timedelta(days=30):%Y-%m-%d}"],
            "import": [str(PAPERBOY), "subscribers", "import", str(import_file(folder, round_number))],
            "digest send": [str(PAPERBOY), "digest", "send", "--week", week],
        }
        job_environ = {**environ, "PAPERBOY_ARXIV_API_URL": f"http://127.0.0.1:{arxiv.server_port}/api/query"}
        threads = [
            threading.Thread(target=run_job, args=(name, command, job_environ, folder, ended))
            for name, command in jobs.items()
        ]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        arxiv.shutdown()


def run_database(label: str, url: str, duration: int, connections: int) -> None:
    now = datetime.now(UTC)
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        weeks = prepare(url, folder, now)
        environ = server_environment(
            url, folder / "topics.toml", PAPERBOY_RATE_LIMITS="false", PAPERBOY_OUTBOX_DIR=str(folder / "outbox")
        )
        with paperboy_server("serve", environ, folder) as base:
            ended: list = []
            stop = threading.Event()
            rounds = threading.Thread(target=run_rounds, args=(environ, folder, weeks, now, stop, ended))
            rounds.start()
            results = {name: wrk(base + path, duration, connections) for name, path in PATHS.items()}
            busy = len(ended)  # jobs ended while wrk ran; the round under way still finishes
            stop.set()
            rounds.join()
    idle = [(job, last) for job, code, _, last, worked in ended if code == 0 and not worked]
    if idle:
        sys.exit(f"bench: {label}: a {idle[0][0]} job did not do its round's work: {idle[0][1]}")
    print(f"\n{label}: wrk {connections} connections, {duration} s per path, while the jobs ran")
    print(f"{'path':<12} {'req/s':>8} {'p50':>9} {'p99':>9} {'non-2xx/3xx':>12}  socket errors")
    for name, r in results.items():
        print(f"{name:<12} {r['rps']:>8.1f} {r['p50']:>9} {r['p99']:>9} {r['bad']:>12}  {r['socket']}")
    print(f"{busy} jobs ended while wrk ran, {len(ended)} in all ({len(ended) // 3} rounds)")
    for name in ("fetch", "import", "digest send"):
        runs = [(code, seconds, last) for job, code, seconds, last, _ in ended if job == name]
        codes = sorted({code for code, _, _ in runs})
        print(
            f"job {name:<12} {len(runs)} runs, exit codes {codes}, "
            f"{min(s for _, s, _ in runs):.0f} to {max(s for _, s, _ in runs):.0f} s each; last: {runs[-1][2]}"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--duration", type=int, default=60, help="seconds of wrk per path")
    parser.add_argument("--connections", type=int, default=64)
    parser.add_argument("--postgres", metavar="URL", help="also run on a scratch database of this server")
    args = parser.parse_args()
    if not shutil.which("wrk"):
        raise SystemExit("bench: wrk is missing: apt-get install wrk")
    with tempfile.TemporaryDirectory() as tmp:
        run_database("SQLite", f"sqlite:///{tmp}/load.sqlite3", args.duration, args.connections)
    if args.postgres:
        with scratch_postgres(args.postgres) as url:
            run_database("PostgreSQL", url, args.duration, args.connections)


if __name__ == "__main__":
    main()
