"""A ledger that cannot be written in the middle of a run: the sender stops rather than sending
on with no record of what went (which a later run would send again)."""

from __future__ import annotations

import asyncio
import threading

from sqlalchemy import text

from service.outbound.digests import send_digest
from service.store import deliveries
from tests.conftest import NOW
from tests.support.digest_data import WEEK, FakeClock, add_subscribers, load_week, runtime_for
from tests.support.smtp_server import RecordingHandler, SmtpServer

PEOPLE = [(f"reader{n:03d}@example.org", ["testing"]) for n in range(30)]


def _refuse_sent_rows(engine) -> None:
    """From now on the database refuses to mark a delivery sent."""
    with engine.begin() as conn:
        if conn.dialect.name == "postgresql":
            conn.execute(text("ALTER TABLE delivery ADD CONSTRAINT no_more_sent CHECK (state <> 'sent') NOT VALID"))
        else:
            conn.execute(
                text(
                    "CREATE TRIGGER no_more_sent BEFORE UPDATE ON delivery WHEN NEW.state = 'sent' "
                    "BEGIN SELECT RAISE(ABORT, 'no more sent rows'); END"
                )
            )


class AfterFirstWrite(RecordingHandler):
    """Takes the second message only once the ledger has recorded the first."""

    def __init__(self):
        super().__init__()
        self.first_written = threading.Event()

    async def handle_DATA(self, server, session, envelope):
        if self.attempts:
            await asyncio.get_running_loop().run_in_executor(None, self.first_written.wait, 60)
        return await super().handle_DATA(server, session, envelope)


def test_it_stops_sending_when_the_ledger_cannot_be_written(config, database_url):
    handler = AfterFirstWrite()
    server = SmtpServer(handler).start()
    runtime = runtime_for(config.with_overrides(database_url=database_url, smtp_url=server.url, smtp_concurrency=1))
    with runtime.engine.begin() as conn:
        load_week(conn)
        add_subscribers(conn, PEOPLE, NOW)
    written = []

    def progress(stats):  # called after each write of the ledger
        if not written:
            _refuse_sent_rows(runtime.engine)
            handler.first_written.set()
        written.append(stats.sent)

    try:
        queued, stats = send_digest(runtime, WEEK, now=NOW, clock=FakeClock(NOW), progress=progress)
    finally:
        handler.first_written.set()
        server.stop()

    assert "cannot record deliveries" in stats.error
    received = len(handler.recipients())
    with runtime.engine.connect() as conn:
        counts = deliveries.delivery_counts(conn, queued.digest.id)
    assert counts["sent"] == stats.sent == written[0]
    assert received < len(PEOPLE)  # it stopped instead of sending on unrecorded
    assert counts["due"] + counts["sending"] + counts["sent"] == len(PEOPLE)
