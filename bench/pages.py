"""Topic pages: the first page after a fetch at two store sizes, and pages served under load.

    .venv/bin/python bench/pages.py first [--sizes 1500,15000] [--runs 3]
    .venv/bin/python bench/pages.py serve [--papers 5100] [--duration 10] [--runs 3]

`first`: a topic holding N papers, all new to it this week (so all on the default window's pages,
ranked together); each run stores a fetch of 20 more papers, then times the first GET of the
topic page in process: the ranking and rendering a fetch costs. Targets: under 1 s at 15,000,
at most 3x the figure at 1,500.

`serve`: wrk -c16 -t2 against gunicorn (2 workers) for the topic page and the same topic's Atom
feed (target: the page at 0.5x the feed or better), then through deploy/nginx.conf against
nginx serving the page's bytes as a static file (target 0.8x), after checking that nginx answers
the page from its cache (X-Cache-Status: HIT).

Papers are the real ones of bench/corpus_papers.xml.gz under new ids, in a SQLite store in a
temporary folder. Every figure is 3 runs (min / median / max) with the load average."""

from __future__ import annotations

import argparse
import gzip
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
from bench.figures import load, spread  # noqa: E402

CORPUS = ROOT / "bench" / "corpus_papers.xml.gz"
TOPICS = """
[[topic]]
slug = "bench"
title = "Robot Learning"
description = "Imitation learning, reinforcement learning and policies for robots."
query = 'abs:"imitation learning" OR abs:"reinforcement learning" OR abs:robot'
"""
PAGE = "/topics/bench/"
FEED = "/topics/bench/feed.atom"


def require(tool: str, package: str) -> str:
    """The tool's path, or a one-line exit naming the Debian package that has it."""
    found = shutil.which(tool) or (f"/usr/sbin/{tool}" if Path(f"/usr/sbin/{tool}").exists() else None)
    if found is None:
        raise SystemExit(f"bench: {tool} is missing: apt-get install {package}")
    return found


def corpus_papers(count: int, start: int = 0, now: datetime | None = None):
    """`count` real papers under new ids 2601.<n>; published a minute apart, newest first."""
    from service.arxiv.client import parse_feed

    base = parse_feed(gzip.decompress(CORPUS.read_bytes())).papers
    now = now or datetime.now(UTC)
    return [
        replace(base[n % len(base)], id=f"2601.{n:05d}", published=now - timedelta(days=2, minutes=n - start))
        for n in range(start, start + count)
    ]


def fill_store(url: str, topics: Path, count: int, matched: datetime) -> None:
    """A migrated store whose topic holds `count` papers first matched at `matched`."""
    from service import store
    from service.store.papers import link_topic_papers, upsert_papers

    topics.write_text(TOPICS)
    engine = store.connect(url)
    store.migrate(engine)
    papers = corpus_papers(count, now=matched)
    for chunk in range(0, count, 1000):
        part = papers[chunk : chunk + 1000]
        with engine.begin() as conn:
            upsert_papers(conn, part, matched)
            link_topic_papers(conn, "bench", [p.id for p in part], matched)
    store.update_statistics(engine)  # as `paperboy fetch` does after storing
    engine.dispose()


def first_pages(sizes: list[int], runs: int) -> None:
    """The first topic page after a fetch, in process, at each size."""
    from service import store
    from service.config import Config
    from service.store.papers import link_topic_papers, upsert_papers
    from service.web import create_app
    from service.web.server import settle_heap

    results = {}
    for size in sizes:
        with tempfile.TemporaryDirectory() as tmp:
            folder = Path(tmp)
            now = datetime.now(UTC)
            url = f"sqlite:///{folder}/bench.sqlite3"
            fill_store(url, folder / "topics.toml", size, now - timedelta(days=1))
            config = Config(
                database_url=url,
                topics_file=folder / "topics.toml",
                base_url="https://example.org",
                secret_key="bench",
                outbox_dir=folder / "out",
            )
            app = create_app(config, stamp_seconds=0)
            engine = app.extensions["paperboy"].engine
            client = app.test_client()
            client.get(PAGE)  # templates compiled, connections open: a server that has run a while
            settle_heap()  # as each server process does once its app is loaded
            times, held = [], size
            for run in range(runs):
                fetched = corpus_papers(20, start=100_000 + run * 20, now=now)
                with engine.begin() as conn:
                    upsert_papers(conn, fetched, now)
                    link_topic_papers(conn, "bench", [p.id for p in fetched], now)
                store.update_statistics(engine)
                held += len(fetched)
                started = time.perf_counter()
                answer = client.get(PAGE)
                times.append((time.perf_counter() - started) * 1000)
                # The work named: this fetch's papers ranked with all the others.
                assert answer.status_code == 200, answer.status_code
                assert f"<strong>Papers found:</strong> {held}".encode() in answer.data, "page misses the fetch"
                assert answer.data.count(b'<article class="paper"') == 100, "page does not hold 100 papers"
            app.extensions["paperboy"].close()
        results[size] = times
        print(f"{size:>6} papers in the week: first page after a fetch {spread(times)} ms ({load()})")
    if len(sizes) == 2:
        small, large = (statistics.median(results[size]) for size in sizes)
        print(f"ratio {sizes[1]} / {sizes[0]}: {large / small:.1f}x (target at most 3x; {sizes[1]}: under 1000 ms)")


def wrk(url: str, duration: int, headers: list[str]) -> float:
    command = [require("wrk", "wrk"), "-c16", "-t2", f"-d{duration}s", "--timeout", "30s"]
    for header in headers:
        command += ["-H", header]
    output = subprocess.run(command + [url], capture_output=True, text=True, check=True).stdout
    errors = re.search(r"Non-2xx or 3xx responses: (\d+)", output)
    if errors:
        raise SystemExit(f"bench: {errors.group(1)} error responses from {url}")
    rate = float(re.search(r"Requests/sec:\s+([\d.]+)", output).group(1))
    if rate == 0:
        raise SystemExit(f"bench: no answer from {url} in {duration} s:\n{output}")
    return rate


def ratios(name: str, ours: Callable[[], float], theirs: Callable[[], float], runs: int, target: float) -> None:
    """`runs` pairs of measurements, each pair back to back; prints rates and ratios."""
    mine, other, ratio = [], [], []
    for _ in range(runs):
        a, b = ours(), theirs()
        mine.append(a)
        other.append(b)
        ratio.append(a / b)
    print(
        f"{name}: {spread(mine)} req/s against {spread(other)} req/s;"
        f" ratio {min(ratio):.2f} / {statistics.median(ratio):.2f} / {max(ratio):.2f} (target {target}x; {load()})"
    )


def serve(papers: int, duration: int, runs: int) -> None:
    import httpx

    from bench.feeds import start_gunicorn, stop
    from tests.support.nginx_front import nginx_front
    from tests.support.smtp_server import free_port

    require("wrk", "wrk")
    require("nginx", "nginx")
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        url = f"sqlite:///{folder}/bench.sqlite3"
        fill_store(url, folder / "topics.toml", papers, datetime.now(UTC) - timedelta(days=1))
        env = {
            "PAPERBOY_DATABASE_URL": url,
            "PAPERBOY_TOPICS_FILE": str(folder / "topics.toml"),
            "PAPERBOY_SECRET_KEY": "bench",
            "PAPERBOY_BASE_URL": "http://paperboy.example",
        }
        app, base = start_gunicorn("service.web:create_app()", env, PAGE)
        try:
            page = httpx.get(base + PAGE, timeout=120)
            assert page.status_code == 200 and f"{papers}".encode() in page.content
            assert "set-cookie" not in page.headers, "the page sets a cookie"
            assert httpx.get(base + FEED).content.count(b"<entry>") == 50
            print(f"topic page: {papers} papers in the week, page 1 of {-(-papers // 100)}, {len(page.content)} bytes")
            # Every worker renders the page once before the clock starts: a steady state, not
            # the first render, which `first` measures.
            for path in (PAGE, FEED):
                with ThreadPoolExecutor(16) as pool:
                    assert all(
                        r.status_code == 200
                        for r in pool.map(lambda _, path=path: httpx.get(base + path, timeout=120), range(32))
                    )
            for label, headers in (("plain", []), ("gzip", ["Accept-Encoding: gzip"])):
                ratios(
                    f"page vs feed, {label}",
                    lambda headers=headers: wrk(base + PAGE, duration, headers),
                    lambda headers=headers: wrk(base + FEED, duration, headers),
                    runs,
                    0.5,
                )
            (folder / "static").mkdir()
            (folder / "static" / "page.html").write_bytes(page.content)
            port = free_port()
            static = (
                f"server {{ listen 127.0.0.1:{port}; server_tokens off;\n"
                # A path ending in "/" names a directory to nginx: try_files serves the file instead.
                f"  location = {PAGE} {{ default_type text/html; root {folder}/static; try_files /page.html =404; }} }}\n"
            )
            with nginx_front(base, folder / "nginx", extra=static) as front:
                httpx.get(front + PAGE, timeout=120)
                hit = httpx.get(front + PAGE, timeout=30)
                # The work named: nginx answers from its cache, the same bytes paperboy sent.
                assert hit.headers.get("X-Cache-Status") == "HIT", f"not a cache hit: {hit.headers}"
                assert hit.content == page.content
                ratios(
                    "nginx cache vs nginx static, plain",
                    lambda: wrk(front + PAGE, duration, []),
                    lambda: wrk(f"http://127.0.0.1:{port}{PAGE}", duration, []),
                    runs,
                    0.8,
                )
        finally:
            stop(app)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("what", choices=("first", "serve"))
    parser.add_argument("--sizes", default="1500,15000", help="first: papers in the topic's week")
    parser.add_argument("--papers", type=int, default=5100, help="serve: papers in the topic's week")
    parser.add_argument("--duration", type=int, default=10, help="serve: seconds per wrk run")
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    if args.runs < 3:
        raise SystemExit("bench: at least 3 runs")
    if args.what == "first":
        first_pages([int(size) for size in args.sizes.split(",")], args.runs)
    else:
        serve(args.papers, args.duration, args.runs)


if __name__ == "__main__":
    main()
