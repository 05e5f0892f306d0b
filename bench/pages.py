"""Size and render time of a topic's week page when the week holds thousands of papers, and
the time `paperboy export` takes for that store.

    .venv/bin/python bench/pages.py [--papers 6000]

Papers are the bundled sample's, copied under new ids, first matched in one ISO week, in a
SQLite store in a temporary folder. Pages are fetched through the Flask app in process."""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
SAMPLE = ROOT / "service" / "sample" / "api2026_search_all-testing_100entries.xml"
WEEK = "2026-W05"
MATCHED = datetime(2026, 1, 28, 9, 30, tzinfo=UTC)
NOW = datetime(2026, 2, 4, 16, 50, tzinfo=UTC)
TOPICS = """
[[topic]]
slug = "bench"
title = "Software Testing"
description = "A broad topic for the page benchmark."
query = 'all:testing'
"""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--papers", type=int, default=6000)
    args = parser.parse_args()

    from service.arxiv.client import parse_feed
    from service.config import Config
    from service.store.papers import link_topic_papers, upsert_papers
    from service.web import create_app
    from service.web.static_site import export_site

    base = parse_feed(SAMPLE.read_bytes()).papers
    papers = [
        replace(
            base[n % len(base)],
            id=f"2601.{n:05d}",
            code_urls=[f"https://github.com/example/r{n}"] if n % 10 == 0 else [],
        )
        for n in range(args.papers)
    ]
    with tempfile.TemporaryDirectory() as folder:
        topics = Path(folder) / "topics.toml"
        topics.write_text(TOPICS)
        config = Config(
            database_url=f"sqlite:///{folder}/bench.sqlite3",
            topics_file=topics,
            base_url="https://example.org",
            secret_key="bench",
            outbox_dir=Path(folder) / "out",
        )
        app = create_app(config, clock=lambda: NOW)
        engine = app.extensions["paperboy"].engine
        with engine.begin() as conn:
            upsert_papers(conn, papers, MATCHED)
            link_topic_papers(conn, "bench", [p.id for p in papers], MATCHED)
        client = app.test_client()
        print(f"{args.papers} papers first matched in {WEEK}")
        pages = -(-args.papers // 100)
        for number in (1, 2, pages):
            url = f"/topics/bench/{WEEK}/?page={number}"
            started = time.perf_counter()
            body = client.get(url).data
            cold = time.perf_counter() - started
            started = time.perf_counter()
            client.get(url)
            warm = time.perf_counter() - started
            print(
                f"page {number:>3} of {pages}: {len(body) / 1000:7.1f} kB,"
                f" first render {cold * 1000:6.0f} ms, cached {warm * 1000:5.1f} ms"
            )
        # Each answer of a page is built for its visitor (the form token): the paper list comes
        # from the cache, the rest and its gzip are per request. Mean of 50, plain and gzip.
        url = f"/topics/bench/{WEEK}/?page=1"
        for label, headers in (("plain", {}), ("gzip", {"Accept-Encoding": "gzip"})):
            started = time.perf_counter()
            for _ in range(50):
                answer = client.get(url, headers=headers)
            each = (time.perf_counter() - started) / 50
            print(f"page 1, {label}: {len(answer.data) / 1000:.1f} kB sent, {each * 1000:.2f} ms per request")
        markdown = client.get("/topics/bench.md").data
        print(f"/topics/bench.md (its first page): {len(markdown) / 1000:.1f} kB")
        out = Path(folder) / "site"
        for run in ("first", "again"):
            started = time.perf_counter()
            report = export_site(config, out, clock=lambda: NOW)
            print(
                f"export ({run}): {len(report.written)} files written, {report.unchanged} unchanged,"
                f" {time.perf_counter() - started:.1f} s"
            )
        biggest = max((p for p in out.rglob("*") if p.is_file()), key=lambda p: p.stat().st_size)
        print(f"largest exported file: {biggest.relative_to(out)}, {biggest.stat().st_size / 1000:.1f} kB")
        app.extensions["paperboy"].close()


if __name__ == "__main__":
    main()
