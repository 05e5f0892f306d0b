"""Requests per second for a 50-entry topic feed under gunicorn (2 workers), measured with wrk
(16 connections, 2 threads): full 200 responses, gzip responses and 304s, side by side with a
bare Flask app under the same gunicorn returning the same bytes from memory. Then the same feed
through deploy/nginx.conf's cache in front of paperboy, against nginx serving the same bytes as
a static file (needs Debian's nginx).

    .venv/bin/python bench/feeds.py [--duration 10] [--runs 3]
    .venv/bin/python bench/feeds.py --rebuild 1000,10000,50000 [--runs 3]

The targets: the feed endpoint at 90% or more of the bare-Flask figure; through nginx's cache at
80% or more of nginx's static file. Before it measures, the bench checks each answer it names:
the feed's bytes, a gzip body for the gzip rows, 304 for the 304 row, an nginx cache HIT with
paperboy's bytes; each row is run --runs times and printed as min / median / max with the load
average. `--rebuild`: the first feed request after a fetch of 20 papers, in process, with the
topic holding each number of papers: the same at every size."""

from __future__ import annotations

import argparse
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
from bench.figures import load, spread  # noqa: E402
from tests.support.smtp_server import free_port  # noqa: E402

SAMPLE = ROOT / "tests" / "data" / "api2026_search_all-testing_100entries.xml"
GUNICORN = Path(sys.executable).with_name("gunicorn")
FEED_PATH = "/topics/bench/feed.atom"
ENTRIES = 50
TOPICS = """
[[topic]]
slug = "bench"
title = "Software Testing"
description = "Fifty papers for the feed benchmark."
query = 'all:testing'
"""


def bare_app():
    """A Flask app answering like the feed endpoint with bytes held in memory."""
    from flask import Flask, Response, request

    folder = Path(os.environ["BENCH_FEED_DIR"])
    plain, zipped = (folder / "feed.xml").read_bytes(), (folder / "feed.xml.gz").read_bytes()
    etag = (folder / "etag").read_text()
    app = Flask(__name__)
    headers = {"Cache-Control": "public, max-age=300", "Vary": "Accept-Encoding", "ETag": etag}

    @app.get(FEED_PATH)
    def feed():
        if request.headers.get("If-None-Match") == etag:
            return Response(status=304, headers=headers)
        if "gzip" in request.headers.get("Accept-Encoding", ""):
            return Response(
                zipped,
                headers={**headers, "Content-Encoding": "gzip"},
                content_type="application/atom+xml; charset=utf-8",
            )
        return Response(plain, headers=headers, content_type="application/atom+xml; charset=utf-8")

    return app


def start_gunicorn(app: str, env: dict, probe: str = FEED_PATH) -> tuple[subprocess.Popen, str]:
    port = free_port()
    process = subprocess.Popen(
        [str(GUNICORN), "--workers", "2", "--bind", f"127.0.0.1:{port}", app],
        cwd=ROOT,
        env={**os.environ, **env},
        stdout=subprocess.DEVNULL,
        # A file, not a pipe: a pipe nobody reads fills up with the workers' log lines and then
        # stops every worker in the middle of a request.
        stderr=tempfile.TemporaryFile(),
    )
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 30
    while True:
        try:
            httpx.get(base + probe, timeout=120)
            return process, base
        except httpx.TransportError:
            if process.poll() is not None or time.monotonic() > deadline:
                process.stderr.seek(0)
                raise SystemExit(f"bench: gunicorn {app} did not start: {process.stderr.read().decode()[-2000:]}")
            time.sleep(0.1)


def stop(process: subprocess.Popen) -> None:
    process.send_signal(signal.SIGTERM)
    process.wait(timeout=30)


def wrk(url: str, duration: int, headers: list[str]) -> float:
    command = ["wrk", "-c16", "-t2", f"-d{duration}s", "--latency"]
    for header in headers:
        command += ["-H", header]
    output = subprocess.run(command + [url], capture_output=True, text=True, check=True).stdout
    errors = re.search(r"Non-2xx or 3xx responses: (\d+)", output)
    if errors:
        raise SystemExit(f"bench: {errors.group(1)} error responses from {url}:\n{output}")
    return float(re.search(r"Requests/sec:\s+([\d.]+)", output).group(1))


def prepare_store(folder: Path) -> dict:
    """A SQLite store holding one topic with fifty real papers; returns the app's environment."""
    from service import store
    from service.arxiv.client import parse_feed
    from service.store.papers import link_topic_papers, upsert_papers

    (folder / "topics.toml").write_text(TOPICS)
    url = f"sqlite:///{folder}/bench.sqlite3"
    engine = store.connect(url)
    store.migrate(engine)
    papers = parse_feed(SAMPLE.read_bytes()).papers[:ENTRIES]
    now = datetime.now(UTC)
    with engine.begin() as conn:
        upsert_papers(conn, papers, now=now)
        link_topic_papers(conn, "bench", [p.id for p in papers], now=now)
    engine.dispose()
    return {
        "PAPERBOY_DATABASE_URL": url,
        "PAPERBOY_TOPICS_FILE": str(folder / "topics.toml"),
        "PAPERBOY_SECRET_KEY": "bench",
        "PAPERBOY_BASE_URL": "http://paperboy.example",
    }


def rebuilds(sizes: list[int], runs: int) -> None:
    """The first feed request after a fetch, in process, at each size of the topic."""
    from datetime import timedelta

    from bench.pages import corpus_papers, fill_store
    from service import store
    from service.config import Config
    from service.store.papers import link_topic_papers, upsert_papers
    from service.web import create_app

    for size in sizes:
        with tempfile.TemporaryDirectory() as tmp:
            folder = Path(tmp)
            now = datetime.now(UTC)
            url = f"sqlite:///{folder}/bench.sqlite3"
            fill_store(url, folder / "topics.toml", size, now - timedelta(days=30))
            config = Config(database_url=url, topics_file=folder / "topics.toml", secret_key="bench")
            app = create_app(config, stamp_seconds=0)
            engine, client = app.extensions["paperboy"].engine, app.test_client()
            client.get(FEED_PATH)
            times = []
            for run in range(runs):
                fetched = corpus_papers(20, start=100_000 + run * 20, now=now + timedelta(days=1 + run))
                with engine.begin() as conn:
                    upsert_papers(conn, fetched, now)
                    link_topic_papers(conn, "bench", [p.id for p in fetched], now)
                store.update_statistics(engine)  # as `paperboy fetch` does after storing
                started = time.perf_counter()
                answer = client.get(FEED_PATH)
                times.append((time.perf_counter() - started) * 1000)
                # The work named: a new feed whose newest entries are this fetch's papers.
                assert answer.status_code == 200 and answer.data.count(b"<entry>") == ENTRIES
                assert f"https://arxiv.org/abs/{fetched[0].id}".encode() in answer.data, "feed misses the fetch"
            app.extensions["paperboy"].close()
        print(f"{size:>6} papers in the topic: feed rebuilt after a fetch {spread(times)} ms ({load()})")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--duration", type=int, default=10, help="seconds per wrk run")
    parser.add_argument("--rebuild", help="papers in the topic, e.g. 1000,10000,50000")
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    if args.rebuild:
        rebuilds([int(size) for size in args.rebuild.split(",")], max(args.runs, 3))
        return
    if not shutil.which("wrk"):
        raise SystemExit("bench: wrk is missing: apt-get install wrk")
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        env = prepare_store(folder)
        paperboy, base = start_gunicorn("service.web:create_app()", env)
        try:
            plain = httpx.get(base + FEED_PATH)
            etag = plain.headers["ETag"]
            entries = plain.text.count("<entry>")
            assert entries == ENTRIES, f"bench: the feed holds {entries} entries, not {ENTRIES}"
            with httpx.stream("GET", base + FEED_PATH, headers={"Accept-Encoding": "gzip"}) as zipped:
                gzip_bytes = b"".join(zipped.iter_raw())  # as sent, not decoded
            (folder / "feed.xml").write_bytes(plain.content)
            (folder / "feed.xml.gz").write_bytes(gzip_bytes)
            (folder / "etag").write_text(etag)
            bare, bare_base = start_gunicorn("bench.feeds:bare_app()", {"BENCH_FEED_DIR": str(folder)})
            try:
                modes = [
                    ("200 plain", []),
                    ("200 gzip", ["Accept-Encoding: gzip"]),
                    ("304", [f"If-None-Match: {etag}"]),
                ]
                for _, headers in modes:
                    for url in (base, bare_base):
                        check_answer(url + FEED_PATH, headers, plain.content, gzip_bytes)
                rows = []
                for name, headers in modes:
                    runs = [
                        (
                            wrk(base + FEED_PATH, args.duration, headers),
                            wrk(bare_base + FEED_PATH, args.duration, headers),
                        )
                        for _ in range(args.runs)
                    ]
                    rows.append((name, runs, load()))
            finally:
                stop(bare)
            nginx_rows = through_nginx(base, folder, args.duration, args.runs, plain.content)
        finally:
            stop(paperboy)
    print(f"feed: {ENTRIES} entries, {len(plain.content)} bytes plain, {len(gzip_bytes)} bytes gzip")
    print("checked first: every answer as named (entries, gzip body, 304), nginx's a cache HIT with paperboy's bytes")
    print(f"{args.runs} runs of wrk -c16 -t2 -d{args.duration}s per figure, min / median / max:")
    for name, runs, at in rows:
        report(name, "paperboy", "bare Flask", runs, at)
    for name, runs, at in nginx_rows:
        report(name, "nginx cache", "nginx static", runs, at)


def check_answer(url: str, headers: list[str], plain: bytes, gzip_bytes: bytes) -> None:
    """Stop with one line unless `url` answers as the row named by `headers` says."""
    fields = {"Accept-Encoding": "identity", **dict(header.split(": ", 1) for header in headers)}
    with httpx.stream("GET", url, headers=fields) as answer:
        body = b"".join(answer.iter_raw())
    if "If-None-Match" in fields:
        good = answer.status_code == 304
    elif fields["Accept-Encoding"] == "gzip":
        good = answer.status_code == 200 and answer.headers.get("Content-Encoding") == "gzip" and body == gzip_bytes
    else:
        good = answer.status_code == 200 and body == plain
    if not good:
        raise SystemExit(f"bench: {url} with {headers or 'no headers'} answered {answer.status_code}, not the feed")


def report(name: str, ours: str, theirs: str, runs: list[tuple[float, float]], at: str) -> None:
    print(
        f"  {name:<9} {ours} {spread([r[0] for r in runs], 0)} req/s, {theirs} {spread([r[1] for r in runs], 0)} req/s, "
        f"ratio {spread([r[0] / r[1] for r in runs], 2)} ({at})"
    )


def through_nginx(
    upstream: str, folder: Path, duration: int, runs: int, plain: bytes
) -> list[tuple[str, list[tuple[float, float]], str]]:
    """The feed through deploy/nginx.conf's cache, and the same bytes as nginx's static file."""
    from tests.support.nginx_front import nginx_front

    if not shutil.which("nginx") and not Path("/usr/sbin/nginx").exists():
        raise SystemExit("bench: nginx is missing: apt-get install nginx")
    port = free_port()
    static = (
        f"server {{ listen 127.0.0.1:{port}; server_tokens off; gzip_static on;\n"
        f"  location = {FEED_PATH} {{ default_type application/atom+xml; alias {folder}/feed.xml; }} }}\n"
    )
    rows = []
    with nginx_front(upstream, folder / "nginx", extra=static) as front:
        for name, headers in (("200 plain", []), ("200 gzip", ["Accept-Encoding: gzip"])):
            fields = {"Accept-Encoding": "identity", **dict(h.split(": ") for h in headers)}  # as wrk asks
            httpx.get(front + FEED_PATH, headers=fields)  # into the cache
            cached = httpx.get(front + FEED_PATH, headers=fields)
            if cached.headers.get("X-Cache-Status") != "HIT" or cached.content != plain:
                raise SystemExit(
                    f"bench: nginx answered {cached.headers.get('X-Cache-Status')}, not a HIT with the feed"
                )
            measured = [
                (
                    wrk(front + FEED_PATH, duration, headers),
                    wrk(f"http://127.0.0.1:{port}{FEED_PATH}", duration, headers),
                )
                for _ in range(runs)
            ]
            rows.append((name, measured, load()))
    return rows


if __name__ == "__main__":
    main()
