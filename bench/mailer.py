"""Digest sending throughput against Postfix's smtp-sink, beside smtp-source on the same sink.

10,000 subscribers over 64 distinct topic sets (3 of 9 topics each), digests of about 100 KB
built from the arXiv responses in tests/data. Prints messages per second of smtp-source and of
paperboy's sender, their ratio, the render time of all topic sets, and peak memory of the
sender at 1,000 and at 10,000 subscribers (each in a fresh process). With --distinct-keywords
every subscriber has keyword filters of their own (so every message differs): a distinct word to
exclude, and for two in three a common word to include or exclude as well.

    sudo python bench/mailer.py [--subscribers 10000] [--concurrency 8] [--database-url URL] [--distinct-keywords]

Needs smtp-sink and smtp-source (Debian's postfix package) and root for `smtp-sink -u nobody`.
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import json
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
from tests.smtp_server import free_port  # noqa: E402

TOPICS = 9
PAPERS_PER_TOPIC = 10
WEEK = "2026-W05"
IN_WEEK = datetime(2026, 1, 28, 9, 30, tzinfo=UTC)
NOW = datetime(2026, 2, 4, 16, 50, tzinfo=UTC)
COMMON_WORDS = ("testing", "learning", "model", "data", "method", "results", "neural", "robot")
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


def keyword_filters(i: int):
    """Subscriber i's own filters: a distinct word to exclude; for two in three a common word too."""
    from service.model.preferences import DigestPreferences

    common = COMMON_WORDS[i % len(COMMON_WORDS)]
    own = f"unusedword{i}"
    if i % 3 == 1:
        return DigestPreferences(keywords_in=(common,), keywords_out=(own,))
    if i % 3 == 2:
        return DigestPreferences(keywords_out=(own, common))
    return DigestPreferences(keywords_out=(own,))


def prepare(database_url: str, topics_file: Path, subscribers: int, distinct_keywords: bool) -> None:
    """A store with one week of papers (12 per topic, neighbours sharing one) and the subscribers."""
    from service import store
    from service.arxiv.client import parse_feed
    from service.store.papers import link_topic_papers, upsert_papers
    from service.store.subscribers.imports import ImportRow
    from subscribers.imports import import_rows

    engine = store.connect(database_url)
    store.migrate(engine)
    papers = [p for name in FIXTURES for p in parse_feed((ROOT / "tests" / "data" / name).read_bytes()).papers]
    sets = topic_sets()
    with engine.begin() as conn:
        upsert_papers(conn, papers, IN_WEEK)
        step = PAPERS_PER_TOPIC - 1
        for n in range(TOPICS):
            chosen = papers[n * step : n * step + PAPERS_PER_TOPIC]
            link_topic_papers(conn, f"topic-{n}", [p.id for p in chosen], IN_WEEK)
        rows = [
            ImportRow(
                f"reader{i:06d}@bench.example",
                list(sets[i % len(sets)]),
                "active",
                keyword_filters(i) if distinct_keywords else None,
            )
            for i in range(subscribers)
        ]
        for start in range(0, len(rows), 2000):
            import_rows(conn, rows[start : start + 2000], NOW, "bench")
    engine.dispose()


def run_sender(database_url: str, topics_file: Path, smtp_url: str, concurrency: int) -> dict:
    """Queue and send the digest in this process; returns counts, timings and peak memory."""
    from service.config import Config
    from service.digest.queue import queue_digest
    from service.model.preferences import DEFAULT
    from service.outbound.engine import Sender
    from service.outbound.mime import PieceEncoder
    from service.runtime import Runtime
    from service.store.subscribers.preferences import preferences_of
    from service.store.subscribers.recipients import active_recipients

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
    started = time.perf_counter()
    queued = queue_digest(runtime, WEEK, NOW)
    queue_seconds = time.perf_counter() - started

    sender = Sender(runtime, queued.digest)
    writer = sender.letter_writer()
    started = time.perf_counter()
    for topic_set in queued.topic_sets:  # the MJML frames run() would render
        writer.frame(topic_set)
    render_seconds = time.perf_counter() - started
    # The mean message size, from the letters of the first 500 subscribers (for smtp-source's -l).
    with runtime.engine.connect() as conn:
        sample = list(itertools.islice(active_recipients(conn), 500))
        chosen = preferences_of(conn, [r.subscriber_id for r in sample])
    encoder, sizes = PieceEncoder(), []
    links = ("https://paperboy.example/unsubscribe/" + "x" * 40, "https://paperboy.example/preferences/" + "x" * 40)
    for recipient in sample:
        topic_set = queued.digest.topic_set(runtime.topics, recipient.topics)
        letter = writer.letter(topic_set, chosen.get(recipient.subscriber_id, DEFAULT), links)
        if letter is not None:
            sizes.append(encoder.body(letter.subject, letter.text_parts, letter.html_parts).size)

    started, cpu = time.perf_counter(), cpu_seconds(resource.RUSAGE_SELF)
    stats = asyncio.run(sender.run())
    send_seconds = time.perf_counter() - started
    cpu = cpu_seconds(resource.RUSAGE_SELF) - cpu
    return {
        "subscribers": queued.added,
        "sent": stats.sent,
        "failed": stats.failed,
        "topic_sets": len(queued.topic_sets),
        "queue_s": queue_seconds,
        "render_s": render_seconds,
        "send_s": send_seconds,
        "rate": stats.sent / send_seconds,
        "cpu_ms": cpu * 1000 / max(stats.sent, 1),
        "mean_body_bytes": sum(sizes) / len(sizes),
        "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
    }


def sender_in_subprocess(args, subscribers: int, smtp_url: str) -> dict:
    with tempfile.TemporaryDirectory() as folder:
        topics_file = Path(folder) / "topics.toml"
        write_topics(topics_file)
        database_url = args.database_url or f"sqlite:///{folder}/bench.sqlite3"
        if args.database_url:
            reset_postgres(args.database_url)
        prepare(database_url, topics_file, subscribers, args.distinct_keywords)
        output = subprocess.run(
            [
                sys.executable,
                __file__,
                "--child",
                "--database-url",
                database_url,
                "--topics-file",
                str(topics_file),
                "--smtp-url",
                smtp_url,
                "--concurrency",
                str(args.concurrency),
            ],
            check=True,
            capture_output=True,
            text=True,
        ).stdout
        return json.loads(output.strip().splitlines()[-1])


def reset_postgres(url: str) -> None:
    from sqlalchemy import create_engine, text

    engine = create_engine(url)
    with engine.begin() as conn:
        conn.execute(text("DROP SCHEMA public CASCADE; CREATE SCHEMA public"))
    engine.dispose()


def cpu_seconds(who: int) -> float:
    usage = resource.getrusage(who)
    return usage.ru_utime + usage.ru_stime


def smtp_source(port: int, concurrency: int, count: int, size: int) -> tuple[float, float]:
    """Messages per second smtp-source reaches against the sink, and its CPU ms per message."""
    started, cpu = time.perf_counter(), cpu_seconds(resource.RUSAGE_CHILDREN)
    subprocess.run(
        [
            "smtp-source",
            "-s",
            str(concurrency),
            "-m",
            str(count),
            "-l",
            str(size),
            "-f",
            "bench@paperboy.example",
            "-t",
            "reader@bench.example",
            f"127.0.0.1:{port}",
        ],
        check=True,
        stdout=subprocess.DEVNULL,
    )
    return count / (time.perf_counter() - started), (cpu_seconds(resource.RUSAGE_CHILDREN) - cpu) * 1000 / count


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--subscribers", type=int, default=10_000)
    parser.add_argument("--concurrency", type=int, default=8)
    parser.add_argument("--database-url", help="PostgreSQL URL of a scratch database (its schema is dropped)")
    parser.add_argument(
        "--distinct-keywords",
        action="store_true",
        help="every subscriber has keyword filters of their own, so every message differs",
    )
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
    port = free_port()
    sink = subprocess.Popen(["smtp-sink", "-u", "nobody", f"127.0.0.1:{port}", "1000"])
    try:
        time.sleep(0.5)
        smtp_url = f"smtp://127.0.0.1:{port}"
        small = sender_in_subprocess(args, 1_000, smtp_url)
        full = sender_in_subprocess(args, args.subscribers, smtp_url)
        size = int(full["mean_body_bytes"]) + 1_000  # the body plus about 1 KB of headers
        source_rate, source_cpu = smtp_source(port, args.concurrency, args.subscribers, size)
    finally:
        sink.terminate()
        sink.wait()
    print(
        f"database: {'PostgreSQL' if args.database_url else 'SQLite'}; concurrency {args.concurrency}; "
        f"mean message {size / 1024:.0f} KB; "
        f"{'distinct keyword filters per subscriber' if args.distinct_keywords else 'no keyword filters'}"
    )
    print(
        f"smtp-source: {args.subscribers} messages at {source_rate:.0f} msg/s "
        f"(smtp-source -s {args.concurrency} -m {args.subscribers} -l {size} 127.0.0.1:PORT)"
    )
    print(
        f"paperboy:    {full['sent']} messages at {full['rate']:.0f} msg/s "
        f"({full['send_s']:.1f} s after rendering; ledger written in {full['queue_s']:.2f} s); "
        f"failed {full['failed']}"
    )
    print(f"ratio paperboy / smtp-source: {full['rate'] / source_rate:.2f}")
    print(
        f"CPU per message: paperboy {full['cpu_ms']:.2f} ms (its whole process while sending), "
        f"smtp-source {source_cpu:.2f} ms (client only; the sink's CPU is not counted on either side)"
    )
    print(f"MJML frames of all {full['topic_sets']} topic sets: {full['render_s']:.2f} s")
    print(
        f"peak memory: {small['peak_rss_mb']:.0f} MB at {small['subscribers']} subscribers, "
        f"{full['peak_rss_mb']:.0f} MB at {full['subscribers']} subscribers"
    )


if __name__ == "__main__":
    main()
