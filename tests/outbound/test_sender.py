"""`paperboy sender`, the Procfile's sender: sends what is due in a loop, quiet when idle, waits out
a database that is down, stops on SIGTERM handing back what it had not sent; PAPERBOY_SEND_LEASE
says when another sender takes a dead one's deliveries over."""

from __future__ import annotations

import os
import signal
import subprocess
import threading
import time
from collections import Counter
from datetime import UTC, datetime, timedelta

from service.digest.queue import queue_digest
from service.outbound.digests import send_due
from service.outbound.worker import SendWorker
from service.store import deliveries
from tests.conftest import NOW
from tests.support.digest_data import WEEK, add_subscribers, load_week, runtime_for
from tests.support.helpers import PAPERBOY
from tests.support.procfile_processes import wait_until
from tests.support.smtp_server import free_port

PEOPLE = [(f"reader{n:02d}@example.org", ["vla", "testing"]) for n in range(20)]
QUICK = timedelta(milliseconds=20)


def _queued(config, smtp_url: str | None):
    runtime = runtime_for(config.with_overrides(smtp_url=smtp_url))
    with runtime.engine.begin() as conn:
        load_week(conn)
        add_subscribers(conn, PEOPLE, NOW)
    return runtime, queue_digest(runtime, WEEK, NOW).digest


def _run(worker: SendWorker) -> threading.Thread:
    thread = threading.Thread(target=worker.run_forever, daemon=True)
    thread.start()
    return thread


def test_it_sends_what_is_due_and_says_nothing_while_idle(config, smtp_server, caplog):
    runtime, digest = _queued(config, smtp_server.url)
    worker = SendWorker(runtime, every=QUICK)
    with caplog.at_level("INFO"):
        thread = _run(worker)
        wait_until(lambda: len(smtp_server.messages) == len(PEOPLE), 60, "the due deliveries sent")
        wait_until(lambda: any("20 sent" in r.getMessage() for r in caplog.records), 30, "the run's summary")
        logged = len(caplog.records)
        time.sleep(50 * QUICK.total_seconds())  # about 50 more turns with nothing due
        worker.stop()
        thread.join(30)

    assert not thread.is_alive()
    assert Counter(smtp_server.handler.recipients()) == Counter(email for email, _ in PEOPLE)
    with runtime.engine.connect() as conn:
        assert deliveries.delivery_counts(conn, digest.id)["sent"] == len(PEOPLE)
    assert [r.getMessage() for r in caplog.records[logged:]] == ["sender: stopped"]


def test_it_waits_for_an_unreachable_database_and_says_so_once(config, caplog):
    gone = f"postgresql+psycopg://postgres@127.0.0.1:{free_port()}/paperboy"
    worker = SendWorker(runtime_for(config.with_overrides(database_url=gone)), every=QUICK)
    with caplog.at_level("INFO", logger="paperboy.sender"):
        thread = _run(worker)
        try:
            wait_until(
                lambda: any("trying again" in r.getMessage() for r in caplog.records),
                30,
                "the sender saying the database is down",
            )
            time.sleep(20 * QUICK.total_seconds())  # more failed turns, which say nothing new
            assert thread.is_alive(), "the sender died with the database"
        finally:
            worker.stop()
            thread.join(30)
    errors = [r.getMessage() for r in caplog.records if r.levelname == "ERROR"]
    assert len(errors) == 1 and errors[0].startswith("sender: store: ") and "trying again every" in errors[0]


def test_a_dead_senders_deliveries_go_to_another_after_the_configured_lease(config, smtp_server):
    runtime, digest = _queued(config.with_overrides(send_lease=20), smtp_server.url)
    claimed_at = datetime.now(UTC) - timedelta(seconds=30)
    with runtime.engine.begin() as conn:
        held = deliveries.claim_deliveries(conn, digest.id, "host:1:dead", claimed_at, timedelta(seconds=20), 5)
    # Under the default 10-minute lease these would still be the dead sender's.
    patient = runtime_for(runtime.config.with_overrides(send_lease=600))
    assert sum(stats.sent for stats in send_due(patient)) == len(PEOPLE) - len(held)

    [stats] = send_due(runtime)

    assert stats.sent == len(held)
    assert Counter(smtp_server.handler.recipients()) == Counter(email for email, _ in PEOPLE)


def test_the_command_stops_on_sigterm_and_hands_back_what_it_had_not_sent(config, smtp_server, tmp_path):
    runtime, digest = _queued(config, smtp_server.url)
    environ = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "PAPERBOY_DATABASE_URL": config.database_url,
        "PAPERBOY_TOPICS_FILE": str(config.topics_file),
        "PAPERBOY_SECRET_KEY": config.secret_key,
        "PAPERBOY_SMTP_URL": smtp_server.url,
        "PAPERBOY_SMTP_CONCURRENCY": "1",
        # One message a second: far fewer than the 20 go out between the SIGTERM and the stop.
        "PAPERBOY_SMTP_RATE": "1",
    }
    log = tmp_path / "sender.log"
    with log.open("wb") as output:
        process = subprocess.Popen(
            [str(PAPERBOY), "sender"], env=environ, cwd=tmp_path, stdout=output, stderr=subprocess.STDOUT
        )
        try:
            wait_until(lambda: smtp_server.messages, 60, "the sender's first message", log.read_text)
            process.send_signal(signal.SIGTERM)
            code = process.wait(timeout=30)
        finally:
            if process.poll() is None:
                process.kill()
                process.wait()

    assert code == 0, log.read_text()
    assert "sender: stopped" in log.read_text()
    with runtime.engine.connect() as conn:
        counts = deliveries.delivery_counts(conn, digest.id)
        due = deliveries.list_deliveries(conn, digest.id, "due")
    # Nothing is left held until a lease runs out: what was claimed and not sent is due again.
    assert counts["sending"] == 0 and counts["sent"] == len(smtp_server.messages) < len(PEOPLE)
    assert counts["due"] == len(PEOPLE) - counts["sent"] and {row["attempts"] for row in due} == {0}
