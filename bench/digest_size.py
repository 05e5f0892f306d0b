"""Digest HTML size in a heavy week: every shipped topic (topics.toml) with 60 papers first
matched in one week, abstracts of arXiv's maximum length (tests/heavy_week.py). Prints the HTML
part's size for a subscriber to every topic with each digest length, the shortening level the
size check chose (0: none), and the time to fill one letter with a keyword filter of its own: each
filter leaves out one paper of the default letter (by a word only that paper carries), and the
bench checks that every such letter differs before it prints the time, 3 runs, min / median / max.

    python bench/digest_size.py [--per-topic 60] [--topics-file topics.toml]
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

NOW = datetime(2026, 2, 4, 16, 50, tzinfo=UTC)
LENGTHS = ("", "5", "full", "titles")


def main() -> None:
    from bench.figures import load, spread
    from bench.mailer import own_words
    from service import store
    from service.config import Config
    from service.digest.digest import build_digest
    from service.digest.letter import HTML_LIMIT, letter_writer
    from service.digest.selection import FULL_PER_TOPIC, TITLES_PER_TOPIC
    from service.model.preferences import DigestPreferences
    from service.model.topics import load_topics
    from tests.support.heavy_week import WEEK, load_heavy_week

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--per-topic", type=int, default=60)
    parser.add_argument("--topics-file", type=Path, default=ROOT / "topics.toml")
    args = parser.parse_args()
    topics = load_topics(args.topics_file)
    with tempfile.TemporaryDirectory() as scratch:
        config = Config(
            database_url=f"sqlite:///{scratch}/bench.sqlite3",
            topics_file=args.topics_file,
            base_url="https://paperboy.example.org",
            secret_key="bench",
        )
        engine = store.connect(config.database_url)
        store.migrate(engine)
        with store.write_transaction(engine) as conn:
            load_heavy_week(conn, [t.slug for t in topics], args.per_topic)
            digest = build_digest(conn, topics, WEEK, NOW)
            writer = letter_writer(conn, config, digest, topics)
        engine.dispose()
    every = tuple(t.slug for t in topics)
    links = (
        "https://paperboy.example.org/unsubscribe/" + "x" * 90,
        "https://paperboy.example.org/preferences/" + "y" * 90,
    )
    print(
        f"{len(topics)} topics x {args.per_topic} papers, abstracts 1920 characters; limit {HTML_LIMIT} bytes; "
        f"default {FULL_PER_TOPIC} in full + {TITLES_PER_TOPIC} titles per topic"
    )
    print("| digest length | papers in the mail | HTML bytes | text bytes | shortening level |")
    print("|---|---|---|---|---|")
    for length in LENGTHS:
        letter = writer.letter(every, DigestPreferences(length=length), links)
        print(
            f"| {length or 'default'} | {letter.selection.count} | {len(letter.html.encode()):,} | "
            f"{len(letter.text.encode()):,} | {letter.level} |"
        )
    writer.letter(every, DigestPreferences(keywords_in=("robot",)), links)  # warm the pieces
    filters = list(
        own_words([pick.paper for pick in _shown(writer.letter(every, DigestPreferences(), links))]).values()
    )
    times, cpus = [], []
    for _ in range(3):
        bodies = set()
        started, cpu = time.perf_counter(), time.process_time()
        for word in filters:
            letter = writer.letter(every, DigestPreferences(keywords_out=(word,)), links)
            bodies.add(letter.html)
        times.append((time.perf_counter() - started) / len(filters) * 1000)
        cpus.append((time.process_time() - cpu) / len(filters) * 1000)
        if len(bodies) != len(filters):
            sys.exit(f"bench: {len(bodies)} distinct letters from {len(filters)} distinct filters")
    print(
        f"fill one letter (all topics, a keyword filter of its own; {len(filters)} distinct letters, checked), "
        f"3 runs, min / median / max: {spread(times, 2)} ms, CPU {spread(cpus, 2)} ms; "
        f"{load()}"
    )


def _shown(letter) -> list:
    """The picks a letter shows in full or as a title."""
    selection = letter.selection
    picks = [*selection.followed, *selection.suggested]
    for block in selection.topics:
        picks += [*block.full, *block.titles]
    return picks


if __name__ == "__main__":
    main()
