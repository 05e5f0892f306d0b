"""Digest sending throughput against Postfix's smtp-sink, beside smtp-source on the same sink.

10,000 subscribers over 64 distinct topic sets (3 of 9 topics each), digests of about 100 KB
built from the arXiv responses in tests/data. Each run queues and sends the week's digest in a
fresh process and store, then smtp-source sends as many messages of the same mean size to the
same sink; --runs rounds of both, each figure printed as min / median / max with the load average.

With --distinct-keywords every subscriber's mail differs: each subscriber leaves out a set of
papers of their own (by keywords that only those papers carry), so no two letters hold the same
papers. Before it prints a figure the bench checks its work: every delivery of the run is marked
sent, the sink counted every message (smtp-sink -c), and the letters really differ (distinct
bodies, links aside: 64, one per topic set, without filters; one per subscriber with them).

    sudo .venv/bin/python bench/mailer.py [--subscribers 10000] [--concurrency 8] [--runs 3] [--distinct-keywords]

Needs smtp-sink and smtp-source (Debian's postfix package), and root for `smtp-sink -u nobody`.
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import itertools
import json
import os
import re
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
from bench.figures import spread  # noqa: E402
from tests.support.smtp_server import free_port  # noqa: E402

TOPICS = 9
PAPERS_PER_TOPIC = 10
WEEK = "2026-W05"
IN_WEEK = datetime(2026, 1, 28, 9, 30, tzinfo=UTC)
NOW = datetime(2026, 2, 4, 16, 50, tzinfo=UTC)
FIXTURES = [
    "api2026_search_all-testing_100entries.xml",
    "api2025_search_cs.RO-neural_project-website.xml",
    "api2026_idlist_astro-ph-0601001_affiliations.xml",
    "api2026_idlist_two-ids_one-missing.xml",
]


def topic_sets() -> list[tuple[str, ...]]:
    slugs = [f"topic-{n}" for n in range(TOPICS)]
    return list(itertools.combinations(slugs, 3))[:64]


def write_topics(path: Path) -> None:
    path.write_text(
        "".join(
            f'[[topic]]\nslug = "topic-{n}"\ntitle = "Benchmark Topic {n}"\ndescription = "d"\nquery = "all:x{n}"\n\n'
            for n in range(TOPICS)
        )
    )


def own_words(papers) -> dict[str, str]:
    """For each paper a word of its title and abstract that no other paper carries."""
    from subscribers.preferences import fold

    words = {p.id: set(fold(f"{p.title} {p.abstract}").split()) for p in papers}
    counts = Counter(word for found in words.values() for word in found)
    return {
        paper_id: max((w for w in found if counts[w] == 1 and not w.isdigit()), key=lambda w: (len(w), w))
        for paper_id, found in words.items()
        if any(counts[w] == 1 and not w.isdigit() for w in found)
    }


def prepare(database_url: str, subscribers: int, distinct_keywords: bool) -> None:
    """A store with one week of papers (10 per topic, neighbours sharing one) and the subscribers."""
    from service import store
    from service.arxiv.client import parse_feed
    from service.model.preferences import DigestPreferences
    from service.store.papers import link_topic_papers, upsert_papers
    from service.store.subscribers.imports import ImportRow
    from subscribers.imports import import_rows

    engine = store.connect(database_url)
    store.migrate(engine)
    papers = [p for name in FIXTURES for p in parse_feed((ROOT / "tests" / "data" / name).read_bytes()).papers]
    sets = topic_sets()
    step = PAPERS_PER_TOPIC - 1
    in_topic = {f"topic-{n}": papers[n * step : n * step + PAPERS_PER_TOPIC] for n in range(TOPICS)}
    words = own_words([p for chosen in in_topic.values() for p in chosen])

    def preferences(i: int) -> DigestPreferences | None:
        # Subscriber i of topic set i % 64 leaves out the papers picked by the bits of i // 64.
        if not distinct_keywords:
            return None
        held = sorted({p.id for slug in sets[i % len(sets)] for p in in_topic[slug] if p.id in words})
        left_out = [words[paper_id] for bit, paper_id in enumerate(held) if (i // len(sets)) >> bit & 1]
        return DigestPreferences(keywords_out=tuple(left_out))

    with engine.begin() as conn:
        upsert_papers(conn, papers, IN_WEEK)
        for slug, chosen in in_topic.items():
            link_topic_papers(conn, slug, [p.id for p in chosen], IN_WEEK)
        rows = [
            ImportRow(f"reader{i:06d}@bench.example", list(sets[i % len(sets)]), "active", preferences(i))
            for i in range(subscribers)
        ]
        for start in range(0, len(rows), 2000):
            import_rows(conn, rows[start : start + 2000], NOW, "bench")
    engine.dispose()


def run_sender(database_url: str, topics_file: Path, smtp_url: str, concurrency: int) -> dict:
    """Queue and send the digest in this process; returns counts, timings, peak memory and checks."""
    from service.config import Config
    from service.digest.queue import queue_digest
    from service.outbound.digests import DigestLedger
    from service.outbound.engine import Engine
    from service.runtime import Runtime
    from service.store import deliveries

    config = Config(
        database_url=database_url,
        topics_file=topics_file,
        smtp_url=smtp_url,
        smtp_concurrency=concurrency,
        base_url="https://paperboy.example",
        secret_key="bench",
        mail_from="paperboy <digest@paperboy.example>",
    )
    runtime = Runtime(config)
    queued = queue_digest(runtime, WEEK, NOW)
    ledger = DigestLedger(runtime, queued.digest)
    started, cpu = time.perf_counter(), cpu_seconds(resource.RUSAGE_SELF)
    stats = asyncio.run(Engine(runtime, ledger).run())  # renders the MJML frames too, as a real send does
    send_seconds = time.perf_counter() - started
    cpu = cpu_seconds(resource.RUSAGE_SELF) - cpu
    peak_rss_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    with runtime.engine.connect() as conn:
        counts = deliveries.delivery_counts(conn, queued.digest.id)
    distinct, mean_size = check_letters(runtime, ledger, queued.digest)
    return {
        "queued": queued.added,
        "sent": stats.sent,
        "ledger_sent": counts["sent"],
        "send_s": send_seconds,
        "rate": stats.sent / send_seconds,
        "cpu_ms": cpu * 1000 / max(stats.sent, 1),
        "peak_rss_mb": peak_rss_mb,
        "distinct_bodies": distinct,
        "mean_message_bytes": mean_size,
    }


def check_letters(runtime, ledger, digest) -> tuple[int, int]:
    """Distinct letters of the subscribers (links left as slots, so only papers and counts tell
    two apart), and the mean size of 500 messages as the sender builds them."""
    from service.model.preferences import DEFAULT
    from service.store.deliveries import Claimed
    from service.store.subscribers.preferences import preferences_of
    from service.store.subscribers.recipients import active_recipients

    with runtime.engine.connect() as conn:
        recipients = list(active_recipients(conn))
        chosen = preferences_of(conn, [r.subscriber_id for r in recipients])
    writer = ledger.letter_writer()
    bodies, sizes = set(), []
    for n, recipient in enumerate(recipients):
        topics = digest.topic_set(runtime.topics, recipient.topics)
        preferences = chosen.get(recipient.subscriber_id, DEFAULT)
        letter = writer.letter(topics, preferences)
        bodies.add(hashlib.blake2b((letter.html + letter.text).encode()).digest())
        if n < 500:
            ledger.preferences[recipient.subscriber_id] = preferences
            job = Claimed(n + 1, recipient.subscriber_id, recipient.email, topics, 1, NOW)
            sizes.append(len(ledger.message(job, recipient.email, NOW)))
    return len(bodies), int(sum(sizes) / len(sizes))


def cpu_seconds(who: int) -> float:
    usage = resource.getrusage(who)
    return usage.ru_utime + usage.ru_stime


class Sink:
    """smtp-sink on a free port, counting the messages it received (-c prints its counters)."""

    def __init__(self, folder: Path):
        self.port = free_port()
        self.output = folder / "smtp-sink.out"
        with self.output.open("wb") as out:
            self.process = subprocess.Popen(
                ["smtp-sink", "-c", "-u", "nobody", f"127.0.0.1:{self.port}", "1000"], stdout=out
            )
        time.sleep(0.5)
        if self.process.poll() is not None:
            sys.exit(f"bench: smtp-sink exited with {self.process.returncode} (run as root for -u nobody)")

    def received(self) -> int:
        counters = re.findall(rb"mesg=(\d+)", self.output.read_bytes())
        return int(counters[-1]) if counters else 0

    def stop(self) -> None:
        self.process.terminate()
        self.process.wait()


def smtp_source(port: int, concurrency: int, count: int, size: int) -> float:
    """Messages per second smtp-source reaches against the sink."""
    started = time.perf_counter()
    subprocess.run(
        ["smtp-source", "-s", str(concurrency), "-m", str(count), "-l", str(size)]
        + ["-f", "bench@paperboy.example", "-t", "reader@bench.example", f"127.0.0.1:{port}"],
        check=True,
        stdout=subprocess.DEVNULL,
    )
    return count / (time.perf_counter() - started)


def paperboy_run(args, folder: Path, template: Path | None, smtp_url: str) -> dict:
    """One send in a fresh process over a fresh store (a copy of the prepared SQLite file)."""
    topics_file = folder / "topics.toml"
    if args.database_url:
        reset_postgres(args.database_url)
        prepare(args.database_url, args.subscribers, args.distinct_keywords)
        database_url = args.database_url
    else:
        shutil.copy(template, folder / "run.sqlite3")
        database_url = f"sqlite:///{folder}/run.sqlite3"
    command = [sys.executable, __file__, "--child", "--database-url", database_url]
    command += ["--topics-file", str(topics_file), "--smtp-url", smtp_url, "--concurrency", str(args.concurrency)]
    output = subprocess.run(command, check=True, capture_output=True, text=True).stdout
    return json.loads(output.strip().splitlines()[-1])


def reset_postgres(url: str) -> None:
    from sqlalchemy import create_engine, text

    engine = create_engine(url)
    with engine.begin() as conn:
        conn.execute(text("DROP SCHEMA public CASCADE; CREATE SCHEMA public"))
    engine.dispose()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--subscribers", type=int, default=10_000)
    parser.add_argument("--concurrency", type=int, default=8)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--database-url", help="PostgreSQL URL of a scratch database (its schema is dropped)")
    parser.add_argument("--distinct-keywords", action="store_true", help="every subscriber's mail differs")
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--topics-file", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--smtp-url", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        print(json.dumps(run_sender(args.database_url, args.topics_file, args.smtp_url, args.concurrency)))
        return
    for tool in ("smtp-sink", "smtp-source"):
        if shutil.which(tool) is None:
            sys.exit(f"bench: {tool} not found (apt-get install postfix)")
    with tempfile.TemporaryDirectory() as name:
        folder = Path(name)
        os.chmod(folder, 0o755)
        write_topics(folder / "topics.toml")
        template = None
        if not args.database_url:
            template = folder / "prepared.sqlite3"
            prepare(f"sqlite:///{template}", args.subscribers, args.distinct_keywords)
        sink = Sink(folder)
        rounds = []
        try:
            for number in range(1, args.runs + 1):
                load_before = os.getloadavg()[0]
                before = sink.received()
                run = paperboy_run(args, folder, template, f"smtp://127.0.0.1:{sink.port}")
                received = sink.received() - before
                before = sink.received()
                size = run["mean_message_bytes"]
                source_rate = smtp_source(sink.port, args.concurrency, args.subscribers, size)
                source_received = sink.received() - before
                run.update(source_rate=source_rate, load=(load_before, os.getloadavg()[0]))
                check(args, run, received, source_received)
                rounds.append(run)
                print(
                    f"run {number}: paperboy {run['rate']:.0f} msg/s, smtp-source {source_rate:.0f} msg/s, "
                    f"ratio {run['rate'] / source_rate:.2f}; load average {load_before:.2f} -> {run['load'][1]:.2f}",
                    flush=True,
                )
        finally:
            sink.stop()
    report(args, rounds)


def check(args, run: dict, received: int, source_received: int) -> None:
    """Stop with one line when the run did not do the work its figures claim."""
    wanted = args.subscribers
    if not run["queued"] == run["sent"] == run["ledger_sent"] == received == wanted:
        sys.exit(
            f"bench: {wanted} subscribers, {run['queued']} queued, {run['sent']} sent, {run['ledger_sent']} "
            f"marked sent, {received} received by smtp-sink: not every message went out"
        )
    if source_received != wanted:
        sys.exit(f"bench: smtp-sink received {source_received} of smtp-source's {wanted} messages")
    expected = wanted if args.distinct_keywords else min(len(topic_sets()), wanted)
    if run["distinct_bodies"] != expected:
        sys.exit(f"bench: {run['distinct_bodies']} distinct letters among {wanted} subscribers, expected {expected}")


def report(args, rounds: list[dict]) -> None:
    first = rounds[0]
    loads = [load for run in rounds for load in run["load"]]
    print(
        f"database: {'PostgreSQL' if args.database_url else 'SQLite'}; {args.subscribers} subscribers; "
        f"concurrency {args.concurrency}; mean message {first['mean_message_bytes'] / 1024:.0f} KB; "
        f"{first['distinct_bodies']} distinct letters (links aside); "
        f"{'distinct keyword filters per subscriber' if args.distinct_keywords else 'no keyword filters'}"
    )
    print(f"checked: every run's {args.subscribers} messages marked sent and counted by smtp-sink")
    print(f"{len(rounds)} runs, min / median / max:")
    print(f"  paperboy:    {spread([r['rate'] for r in rounds], 0)} msg/s")
    print(
        f"  smtp-source: {spread([r['source_rate'] for r in rounds], 0)} msg/s "
        f"(smtp-source -s {args.concurrency} -m {args.subscribers} -l {first['mean_message_bytes']} 127.0.0.1:PORT)"
    )
    print(
        f"  ratio:       {spread([r['rate'] / r['source_rate'] for r in rounds], 2)} (each run against its own smtp-source)"
    )
    print(f"  CPU per message (sender process, MJML frames included): {spread([r['cpu_ms'] for r in rounds], 2)} ms")
    print(f"  peak RSS of the sender: {spread([r['peak_rss_mb'] for r in rounds], 0)} MB")
    print(f"load average (1 min) around the runs: {min(loads):.2f} to {max(loads):.2f} on {os.cpu_count()} CPUs")


if __name__ == "__main__":
    main()
