"""Benchmark of `paperboy fetch`: the real command against a local arXiv stand-in.

The real 100-entry API response is replayed as 30 pages of distinct ids (3000 entries, newest
first, all inside the fetch window), and `paperboy fetch` stores them in a fresh SQLite database.
A second run with --since reads the same 3000 entries again, all unchanged. Before printing,
it checks the work: every entry stored once, linked to the topic, its stems counted (paper_terms).
Prints entries per second and the peak memory (ru_maxrss) of each fetch process, min / median /
max of 3 or more rounds (each a fresh database), with the load average.

    .venv/bin/python bench/fetch.py [--pages 30] [--runs 3]
"""

from __future__ import annotations

import argparse
import copy
import os
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

from lxml import etree

ROOT = Path(__file__).resolve().parent.parent
FIXTURE = ROOT / "tests" / "data" / "api2026_search_all-testing_100entries.xml"
ATOM = "{http://www.w3.org/2005/Atom}"
OPENSEARCH = "{http://a9.com/-/spec/opensearch/1.1/}"


def build_pages(pages: int, now: datetime) -> dict[int, bytes]:
    """start -> response: the fixture's entries with new ids and dates, totalResults set."""
    root = etree.fromstring(FIXTURE.read_bytes())
    entries = root.findall(f"{ATOM}entry")
    for entry in entries:
        root.remove(entry)
    per_page = len(entries)
    total = pages * per_page
    root.find(f"{OPENSEARCH}totalResults").text = str(total)
    bodies = {}
    for page in range(pages):
        head = copy.deepcopy(root)
        head.find(f"{OPENSEARCH}startIndex").text = str(page * per_page)
        for offset, source in enumerate(entries):
            number = page * per_page + offset
            entry = copy.deepcopy(source)
            old = entry.findtext(f"{ATOM}id").rsplit("/abs/", 1)[1]
            new = f"2602.{number + 10000:05d}v1"
            entry.find(f"{ATOM}id").text = f"http://arxiv.org/abs/{new}"
            for link in entry.findall(f"{ATOM}link"):
                link.set("href", link.get("href").replace(old, new))
            stamp = (now - timedelta(minutes=3 * number + 10)).strftime("%Y-%m-%dT%H:%M:%SZ")
            entry.find(f"{ATOM}published").text = stamp
            entry.find(f"{ATOM}updated").text = stamp
            head.append(entry)
        bodies[page * per_page] = etree.tostring(head, xml_declaration=True, encoding="UTF-8")
    return bodies


def serve(bodies: dict[int, bytes]) -> ThreadingHTTPServer:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"  # keep-alive, as arXiv

        def do_GET(self):
            start = int(parse_qs(urlsplit(self.path).query).get("start", ["0"])[0])
            body = bodies.get(start, bodies[0][:0])
            self.send_response(200)
            self.send_header("Content-Type", "application/atom+xml")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


def run_fetch(env: dict[str, str], *args: str) -> tuple[float, int, str]:
    """Wall seconds, peak RSS in KiB and stdout of one `paperboy fetch` process."""
    paperboy = Path(sys.executable).parent / "paperboy"
    started = time.perf_counter()
    process = subprocess.Popen(
        [str(paperboy), "fetch", *args],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
        cwd=env["HOME"],
    )
    _, status, usage = os.wait4(process.pid, 0)
    elapsed = time.perf_counter() - started
    output = process.stdout.read()
    if os.waitstatus_to_exitcode(status) != 0:
        raise SystemExit(f"bench: paperboy fetch failed: {output}")
    return elapsed, usage.ru_maxrss, output.strip()


def stored_counts(database: Path) -> tuple[int, int, int]:
    """Papers, papers with counted stems and topic links in the store."""
    with sqlite3.connect(database) as conn:
        return tuple(
            conn.execute(f"SELECT count(*) FROM {table}").fetchone()[0]
            for table in ("paper", "paper_terms", "topic_paper")
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pages", type=int, default=30)
    parser.add_argument("--runs", type=int, default=3)
    options = parser.parse_args()
    now = datetime.now(UTC)
    bodies = build_pages(options.pages, now)
    entries = 100 * options.pages
    server = serve(bodies)
    figures: dict[str, list[tuple[float, int]]] = {"first run (all new)": [], "second run (all unchanged)": []}
    print(f"fetch: {entries} entries in {options.pages} pages of the real 100-entry response, fresh SQLite database")
    for _ in range(max(options.runs, 3)):
        with tempfile.TemporaryDirectory() as work:
            topics = Path(work) / "topics.toml"
            topics.write_text('[[topic]]\nslug = "bench"\ntitle = "Bench"\nquery = "all:testing"\n')
            env = {
                "PATH": os.environ.get("PATH", ""),
                "HOME": work,
                "PAPERBOY_DATABASE_URL": f"sqlite:///{work}/paperboy.sqlite3",
                "PAPERBOY_TOPICS_FILE": str(topics),
                "PAPERBOY_ARXIV_API_URL": f"http://127.0.0.1:{server.server_port}/api/query",
                "PAPERBOY_ARXIV_DELAY": "0",
                "PAPERBOY_ARXIV_RETRIES": "0",
                "PAPERBOY_SECRET_KEY": "bench",
            }
            since = (now - timedelta(days=30)).strftime("%Y-%m-%d")
            for figure in figures.values():
                elapsed, rss, _ = run_fetch(env, "--since", since)
                counts = stored_counts(Path(work) / "paperboy.sqlite3")
                # The work named: every entry stored once, its stems counted, linked to the topic.
                assert counts == (entries, entries, entries), f"bench: stored {counts}, not {entries} of each"
                figure.append((elapsed, rss))
    server.shutdown()
    for label, figure in figures.items():
        rates = sorted(entries / elapsed for elapsed, _ in figure)
        rss = max(kib for _, kib in figure) / 1024
        print(
            f"  {label}: {rates[0]:.0f} / {statistics.median(rates):.0f} / {rates[-1]:.0f} entries/s"
            f" (min / median / max of {len(figure)}), peak RSS {rss:.1f} MiB, load average {os.getloadavg()[0]:.1f}"
        )


if __name__ == "__main__":
    main()
