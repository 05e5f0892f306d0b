"""Rules every digest send keeps: one Message-ID per delivery across attempts (so a copy sent again
after a crash is recognisably the same message), and no mail to a suppressed address, whatever
happened after the ledger was written and whatever an import says."""

from __future__ import annotations

from collections import Counter
from datetime import timedelta

from sqlalchemy import text

from service.digest.queue import LEASE, queue_digest
from service.outbound.digests import send_digest, send_due
from service.store import deliveries
from service.store.subscribers import bounces, lifecycle, records
from service.store.subscribers.imports import ImportRow
from subscribers.imports import import_rows
from tests.conftest import NOW
from tests.outbound.test_mailer_ledger_faults import _refuse_sent_rows
from tests.support.digest_data import WEEK, FakeClock, add_subscribers, load_week, runtime_for
from tests.support.smtp_server import RecordingHandler, RefuseFirst, SmtpServer

PEOPLE = [(f"reader{n}@example.org", ["testing"]) for n in range(3)]


def _allow_sent_rows(engine) -> None:
    with engine.begin() as conn:
        if conn.dialect.name == "postgresql":
            conn.execute(text("ALTER TABLE delivery DROP CONSTRAINT no_more_sent"))
        else:
            conn.execute(text("DROP TRIGGER no_more_sent"))


def test_it_sends_a_copy_with_the_same_message_id_after_the_ledger_missed_the_servers_250(config, database_url):
    """The server said 250 but the sender could not record it (as after a kill): the delivery goes
    out again once its lease has run out, under the same Message-ID."""
    server = SmtpServer(RecordingHandler()).start()
    runtime = runtime_for(config.with_overrides(database_url=database_url, smtp_url=server.url, smtp_concurrency=1))
    with runtime.engine.begin() as conn:
        load_week(conn)
        add_subscribers(conn, PEOPLE, NOW)
    _refuse_sent_rows(runtime.engine)
    try:
        queued, stopped = send_digest(runtime, WEEK, now=NOW, clock=FakeClock(NOW))
        assert "cannot record deliveries" in stopped.error
        first = list(server.messages)
        _allow_sent_rows(runtime.engine)
        [resumed] = send_due(runtime, FakeClock(NOW + LEASE + timedelta(minutes=1)))
    finally:
        server.stop()

    assert resumed.sent == len(PEOPLE) and first
    assert Counter(m["To"] for m in server.messages)[first[0]["To"]] == 2  # the copy went out again
    ids = {}
    for message in server.messages:
        ids.setdefault(message["To"], set()).add(message["Message-ID"])
    assert all(len(found) == 1 for found in ids.values())  # each recipient's copies share one id
    assert len({found.pop() for found in ids.values()}) == len(PEOPLE)  # and no two recipients share one
    with runtime.engine.connect() as conn:
        rows = {row["email"]: row["id"] for row in deliveries.list_deliveries(conn, queued.digest.id)}
    for message in first:
        assert message["Message-ID"] == f"<digest-{queued.digest.id}-{rows[message['To']]}@localhost>"


def test_it_keeps_the_message_id_when_a_delivery_is_retried(config, database_url):
    handler = RefuseFirst()
    server = SmtpServer(handler).start()
    runtime = runtime_for(config.with_overrides(database_url=database_url, smtp_url=server.url, smtp_concurrency=1))
    with runtime.engine.begin() as conn:
        load_week(conn)
        add_subscribers(conn, PEOPLE[:1], NOW)
    try:
        _, stats = send_digest(runtime, WEEK, now=NOW, clock=FakeClock(NOW))
    finally:
        server.stop()

    assert (stats.retried, stats.sent) == (1, 1)
    [delivered] = server.messages
    assert f"Message-ID: {delivered['Message-ID']}\r\n".encode() in handler.refused[0]


def test_it_never_mails_a_suppressed_address_whatever_happened_after_the_ledger_was_written(
    config, database_url, smtp_server
):
    runtime = runtime_for(config.with_overrides(database_url=database_url, smtp_url=smtp_server.url))
    people = [
        (f"{name}@example.org", ["testing"]) for name in ("kept", "left", "bounced", "complained", "blocked", "deleted")
    ]
    with runtime.engine.begin() as conn:
        load_week(conn)
        ids = add_subscribers(conn, people, NOW)
    queued = queue_digest(runtime, WEEK, NOW)
    assert queued.added == len(people)
    later = NOW + timedelta(minutes=5)
    with runtime.engine.begin() as conn:
        lifecycle.unsubscribe(conn, ids["left@example.org"], later)
        bounces.mark_bounced(conn, ids["bounced@example.org"], "550 5.1.1 no such user", later)
        # Complaints arrive as ARF reports; here the status is written as their processing writes it.
        conn.execute(
            text("UPDATE subscriber SET status = 'complained' WHERE id = :id"), {"id": ids["complained@example.org"]}
        )
        lifecycle.block(conn, ids["blocked@example.org"], later, "admin@example.org")
        lifecycle.erase(conn, ids["deleted@example.org"], later, "admin@example.org")
        # An old export imported again says everyone is active.
        result = import_rows(
            conn,
            [ImportRow(email, topics, "active") for email, topics in people if email != "deleted@example.org"],
            later,
            "cli",
        )
    assert result.kept == 4

    _, stats = send_digest(runtime, WEEK, now=later, clock=FakeClock(later))

    assert smtp_server.handler.recipients() == ["kept@example.org"]
    assert (stats.sent, stats.cancelled) == (1, 5)
    with runtime.engine.connect() as conn:
        assert Counter(records.get_subscriber(conn, sid).status for sid in ids.values()) == Counter(
            ["active", "unsubscribed", "bounced", "complained", "blocked", "deleted"]
        )
