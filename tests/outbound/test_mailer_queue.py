"""Building a week's digest (queueing its ledger, a dry run, a preview) while another process
writes to the same SQLite database."""

from __future__ import annotations

import sqlite3
import threading

import pytest

from service.digest.digest import preview
from service.digest.queue import dry_run, queue_digest
from tests.conftest import NOW
from tests.support.digest_data import ALICE, BOB, CAROL, WEEK, add_subscribers, load_week, runtime_for

BUILDERS = {
    "queue": lambda runtime: queue_digest(runtime, WEEK, NOW).added,
    "dry run": lambda runtime: dry_run(runtime, WEEK, NOW).messages,
    "preview": lambda runtime: len(
        preview(runtime.engine, runtime.config, runtime.topics, WEEK, None, NOW).rendered.topic_set
    ),
}


@pytest.mark.parametrize("builder", BUILDERS)
def test_it_builds_the_week_while_another_writer_commits(config, builder):
    runtime = runtime_for(config)
    with runtime.engine.begin() as conn:
        load_week(conn)
        add_subscribers(conn, [ALICE, BOB, CAROL], NOW)
    # Another process (the web app taking a subscription, a sender) is in the middle of a write.
    other = sqlite3.connect(
        config.database_url.removeprefix("sqlite:///"), isolation_level=None, check_same_thread=False
    )
    other.execute("BEGIN IMMEDIATE")
    other.execute("UPDATE subscriber SET status = status")
    done = threading.Event()

    def commit_soon():
        # The build has read what it needs by now; with a deferred BEGIN its first write (the
        # digest row) would fail at once, as its snapshot predates this commit.
        done.wait(0.5)
        other.execute("COMMIT")

    committer = threading.Thread(target=commit_soon)
    committer.start()
    try:
        result = BUILDERS[builder](runtime)
    finally:
        done.set()
        committer.join()
        other.close()

    assert result == {"queue": 3, "dry run": 3, "preview": 2}[builder]
