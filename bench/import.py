"""Subscriber CSV import rate: parse and write N rows on SQLite and PostgreSQL, printing rows per second.

    .venv/bin/python bench/import.py --rows 100000 --postgres postgresql+psycopg://postgres@127.0.0.1/test

Three passes per database: a fresh import (all new), the same file again (all unchanged) and a file
where every row changes (all updated). PostgreSQL runs in a scratch database that is dropped afterwards.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.scratch import scratch_postgres  # noqa: E402
from service import store as service_store  # noqa: E402
from subscribers import csv_io  # noqa: E402
from subscribers.imports import import_rows  # noqa: E402

TOPICS = ["vla", "testing", "robotics"]


def make_csv(rows: int, changed: bool) -> bytes:
    lines = ["email,topics,status"]
    for n in range(rows):
        topics = " ".join(TOPICS[: 1 + (n + changed) % 3])
        status = ("unsubscribed" if changed else "active") if n % 10 == 0 else "active"
        lines.append(f"reader{n:07d}@example.org,{topics},{status}")
    return ("\n".join(lines) + "\n").encode()


def run_pass(engine, data: bytes, label: str) -> None:
    started = time.perf_counter()
    parsed = csv_io.parse(data, TOPICS)
    parsed_at = time.perf_counter()
    assert parsed.ok, parsed.errors[:3]
    with engine.begin() as conn:
        result = import_rows(conn, parsed.rows, datetime.now(UTC), "bench")
    finished = time.perf_counter()
    rows = len(parsed.rows)
    print(
        f"  {label:<10} {rows} rows ({result.created} new, {result.updated} updated, {result.unchanged} unchanged): "
        f"parse {parsed_at - started:.2f} s, write {finished - parsed_at:.2f} s, "
        f"total {finished - started:.2f} s = {rows / (finished - started):,.0f} rows/s"
    )


def bench(name: str, url: str, rows: int) -> None:
    engine = service_store.connect(url)
    service_store.migrate(engine)
    print(f"{name}:")
    try:
        first = make_csv(rows, changed=False)
        run_pass(engine, first, "new")
        run_pass(engine, first, "unchanged")
        run_pass(engine, make_csv(rows, changed=True), "updated")
    finally:
        engine.dispose()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--postgres", metavar="URL", help="a PostgreSQL server to create a scratch database on")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        bench("SQLite", f"sqlite:///{folder}/bench.sqlite3", args.rows)
    if args.postgres:
        with scratch_postgres(args.postgres) as url:
            bench("PostgreSQL", url, args.rows)


if __name__ == "__main__":
    main()
