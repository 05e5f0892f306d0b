"""Writing the send ledger while another process writes to the same SQLite database."""

from __future__ import annotations

import sqlite3
import threading

from service.mailer import queue_digest
from tests.conftest import NOW
from tests.digest_data import dispose_runtimes, runtime_for  # noqa: F401 (fixture)
from tests.digest_data import ALICE, BOB, CAROL, WEEK, add_subscribers, load_week


def test_it_writes_the_ledger_while_another_writer_commits(config):
    runtime = runtime_for(config)
    with runtime.engine.begin() as conn:
        load_week(conn)
        add_subscribers(conn, [ALICE, BOB, CAROL], NOW)
    # Another process (the web app taking a subscription, a sender) is in the middle of a write.
    other = sqlite3.connect(config.database_url.removeprefix("sqlite:///"), isolation_level=None,
                            check_same_thread=False)
    other.execute("BEGIN IMMEDIATE")
    other.execute("UPDATE subscriber SET status = status")
    done = threading.Event()

    def commit_soon():
        # The queue has read what it needs by now; with a deferred BEGIN its first write would
        # fail at once, as its snapshot predates this commit.
        done.wait(0.5)
        other.execute("COMMIT")

    committer = threading.Thread(target=commit_soon)
    committer.start()
    try:
        queued = queue_digest(runtime, WEEK, NOW)
    finally:
        done.set()
        committer.join()
        other.close()

    assert queued.added == 3
