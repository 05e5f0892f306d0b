"""The sender against a real SMTP server on loopback that refuses, defers, drops or is down:
every active subscriber gets the digest exactly once, and what cannot go is recorded."""

from __future__ import annotations

import asyncio
import threading
from collections import Counter

from service.outbound.digests import send_digest
from service.outbound.policy import retry_delay
from service.runtime import Runtime
from service.store import deliveries
from service.store.subscribers.records import get_subscriber
from tests.conftest import NOW
from tests.support.digest_data import WEEK, FakeClock, add_subscribers, load_week, runtime_for
from tests.support.smtp_server import RecordingHandler, SmtpServer, free_port

REFUSED = "refused@example.org"


def _people(count: int) -> list[tuple[str, list[str]]]:
    return [(f"reader{n:03d}@example.org", ["testing"] if n % 2 else ["vla", "testing"]) for n in range(count)]


def _setup(config, url: str, people) -> tuple[Runtime, dict[str, int]]:
    runtime = runtime_for(config.with_overrides(smtp_url=url, smtp_concurrency=3))
    with runtime.engine.begin() as conn:
        load_week(conn)
        ids = add_subscribers(conn, people, NOW)
    return runtime, ids


def _counts(runtime, digest_id):
    with runtime.engine.connect() as conn:
        return deliveries.delivery_counts(conn, digest_id)


class RefuseAtRcpt(RecordingHandler):
    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        if address == REFUSED:
            return "550 5.1.1 <refused@example.org>: Recipient address rejected: User unknown"
        envelope.rcpt_tos.append(address)
        return "250 OK"


class RefuseAtData(RecordingHandler):
    def fault(self, envelope, attempt):
        if REFUSED in envelope.rcpt_tos:
            return "550 5.1.1 mailbox unavailable"
        return None


def _check_refusal(config, handler):
    server = SmtpServer(handler).start()
    try:
        people = _people(6) + [(REFUSED, ["testing"])]
        runtime, ids = _setup(config, server.url, people)

        queued, stats = send_digest(runtime, WEEK, now=NOW, clock=FakeClock(NOW))

        assert Counter(handler.recipients()) == Counter(email for email, _ in _people(6))
        assert (stats.sent, stats.failed, stats.bounced) == (6, 1, 1)
        assert _counts(runtime, queued.digest.id)["failed"] == 1
        with runtime.engine.connect() as conn:
            assert get_subscriber(conn, ids[REFUSED]).status == "bounced"
            [failed] = deliveries.list_deliveries(conn, queued.digest.id, "failed")
        assert failed["email"] == REFUSED and "550" in failed["last_error"] and failed["attempts"] == 1
    finally:
        server.stop()


def test_it_marks_an_address_refused_at_rcpt_failed_and_bounced(config):
    _check_refusal(config, RefuseAtRcpt())


def test_it_marks_an_address_refused_after_data_failed_and_bounced(config):
    _check_refusal(config, RefuseAtData())


class DeferEveryTenth(RecordingHandler):
    def fault(self, envelope, attempt):
        return "421 4.3.2 Service busy, try again later" if attempt % 10 == 0 else None


def test_it_retries_a_server_that_answers_421_to_every_tenth_message(config):
    handler = DeferEveryTenth()
    server = SmtpServer(handler).start()
    try:
        people = _people(35)
        runtime, _ = _setup(config, server.url, people)
        clock = FakeClock(NOW)

        queued, stats = send_digest(runtime, WEEK, now=NOW, clock=clock)

        assert Counter(handler.recipients()) == Counter(email for email, _ in people)
        assert stats.sent == 35 and stats.failed == 0 and stats.retried >= 3
        assert retry_delay(1) in clock.slept  # waited for the backoff, on the test's clock
        assert _counts(runtime, queued.digest.id)["sent"] == 35
    finally:
        server.stop()


class DropMidData(RecordingHandler):
    """Drops the connection instead of answering the 3rd and 7th DATA: the message is not taken."""

    def __init__(self):
        super().__init__()
        self.data_seen = 0

    async def handle_DATA(self, server, session, envelope):
        with self.lock:
            self.data_seen += 1
            drop = self.data_seen in (3, 7)
        if drop:
            server.transport.close()
            return "421 4.4.2 closing"
        return await super().handle_DATA(server, session, envelope)


def test_it_resends_a_message_whose_connection_dropped_mid_data(config):
    handler = DropMidData()
    server = SmtpServer(handler).start()
    try:
        people = _people(12)
        runtime, _ = _setup(config, server.url, people)

        queued, stats = send_digest(runtime, WEEK, now=NOW, clock=FakeClock(NOW))

        assert Counter(handler.recipients()) == Counter(email for email, _ in people)
        assert stats.sent == 12 and stats.retried == 2
        with runtime.engine.connect() as conn:
            attempts = Counter(d["attempts"] for d in deliveries.list_deliveries(conn, queued.digest.id))
        assert attempts == Counter({1: 10, 2: 2})
    finally:
        server.stop()


def test_it_gives_up_after_the_last_attempt(config):
    class AlwaysDefer(RecordingHandler):
        def fault(self, envelope, attempt):
            return "451 4.3.0 try later" if REFUSED in envelope.rcpt_tos else None

    handler = AlwaysDefer()
    server = SmtpServer(handler).start()
    try:
        runtime, ids = _setup(config, server.url, _people(2) + [(REFUSED, ["testing"])])
        runtime.config = runtime.config.with_overrides(smtp_max_attempts=3)

        queued, stats = send_digest(runtime, WEEK, now=NOW, clock=FakeClock(NOW))

        assert (stats.sent, stats.failed, stats.bounced) == (2, 1, 0)
        with runtime.engine.connect() as conn:
            [failed] = deliveries.list_deliveries(conn, queued.digest.id, "failed")
            assert get_subscriber(conn, ids[REFUSED]).status == "active"  # a 4xx is no bounce
        assert failed["attempts"] == 3 and "gave up after 3 attempts" in failed["last_error"]
    finally:
        server.stop()


def test_it_leaves_everything_due_when_the_server_is_down_and_a_rerun_delivers(config):
    handler = RecordingHandler()
    server = SmtpServer(handler)  # its port is chosen, but nothing listens until start()
    people = _people(8)
    runtime, _ = _setup(config, server.url, people)

    queued, stats = send_digest(runtime, WEEK, now=NOW, clock=FakeClock(NOW))

    assert stats.sent == 0 and "cannot connect" in stats.error
    counts = _counts(runtime, queued.digest.id)
    assert counts["due"] == 8 and counts["sending"] == 0
    with runtime.engine.connect() as conn:
        assert {d["attempts"] for d in deliveries.list_deliveries(conn, queued.digest.id)} == {0}

    server.start()
    try:
        _, stats = send_digest(runtime, WEEK, now=NOW, clock=FakeClock(NOW))
    finally:
        server.stop()

    assert stats.sent == 8 and stats.error is None
    assert Counter(handler.recipients()) == Counter(email for email, _ in people)


class CuttingProxy:
    """A TCP relay in front of the SMTP server that cuts its first connection once the client has
    sent `cut_after` bytes: well inside the first message's DATA."""

    def __init__(self, target_port: int, cut_after: int):
        self.target_port, self.cut_after = target_port, cut_after
        self.port = free_port()
        self.connections = 0
        self.loop = asyncio.new_event_loop()
        self.ready = threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True)

    def _run(self):
        asyncio.set_event_loop(self.loop)
        self.server = self.loop.run_until_complete(asyncio.start_server(self._relay, "127.0.0.1", self.port))
        self.ready.set()
        self.loop.run_forever()
        self.loop.run_until_complete(self.server.wait_closed())
        self.loop.close()

    async def _relay(self, client_reader, client_writer):
        self.connections += 1
        limit = self.cut_after if self.connections == 1 else None
        server_reader, server_writer = await asyncio.open_connection("127.0.0.1", self.target_port)

        async def pipe(reader, writer, limit):
            sent = 0
            try:
                while data := await reader.read(4096):
                    if limit is not None and sent + len(data) >= limit:
                        writer.write(data[: limit - sent])
                        break
                    writer.write(data)
                    sent += len(data)
                    await writer.drain()
            finally:
                for w in (client_writer, server_writer):
                    w.close()

        await asyncio.gather(
            pipe(client_reader, server_writer, limit), pipe(server_reader, client_writer, None), return_exceptions=True
        )

    def __enter__(self):
        self.thread.start()
        self.ready.wait(10)
        return self

    def __exit__(self, *exc):
        self.loop.call_soon_threadsafe(self.server.close)
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(10)


def test_it_resends_a_message_cut_off_in_the_middle_of_its_data(config, smtp_server):
    people = _people(6)
    with CuttingProxy(smtp_server.port, cut_after=20_000) as proxy:
        runtime, _ = _setup(config, f"smtp://127.0.0.1:{proxy.port}", people)
        runtime.config = runtime.config.with_overrides(smtp_concurrency=1)

        queued, stats = send_digest(runtime, WEEK, now=NOW, clock=FakeClock(NOW))

    assert proxy.connections == 2  # cut once, then reconnected
    assert Counter(smtp_server.handler.recipients()) == Counter(email for email, _ in people)
    assert stats.sent == 6 and stats.retried == 1
    assert _counts(runtime, queued.digest.id)["sent"] == 6


class RefuseSender(RecordingHandler):
    """Refuses our envelope sender at MAIL FROM while `refusing` is True."""

    refusing = True

    async def handle_MAIL(self, server, session, envelope, address, mail_options):
        if self.refusing:
            return f"553 5.7.1 <{address}>: Sender address rejected: not owned by user"
        envelope.mail_from = address
        envelope.mail_options.extend(mail_options)
        return "250 OK"


def test_it_stops_without_bouncing_anyone_when_the_server_refuses_the_sender(config):
    handler = RefuseSender()
    server = SmtpServer(handler).start()
    try:
        people = _people(6)
        runtime, ids = _setup(config, server.url, people)

        queued, stats = send_digest(runtime, WEEK, now=NOW, clock=FakeClock(NOW))

        assert (stats.sent, stats.failed, stats.bounced) == (0, 0, 0)
        assert "sender" in stats.error and "553" in stats.error and "PAPERBOY_MAIL_FROM" in stats.error
        assert _counts(runtime, queued.digest.id)["due"] == 6
        with runtime.engine.connect() as conn:
            assert {get_subscriber(conn, ids[email]).status for email, _ in people} == {"active"}

        handler.refusing = False  # the sender address was fixed: a rerun delivers everything
        _, stats = send_digest(runtime, WEEK, now=NOW, clock=FakeClock(NOW))
    finally:
        server.stop()

    assert stats.sent == 6 and stats.error is None
    assert Counter(handler.recipients()) == Counter(email for email, _ in people)


class RefuseOnPolicy(RecordingHandler):
    """Refuses every message the way a receiver refuses mail that fails DMARC: about us."""

    def fault(self, envelope, attempt):
        return "550 5.7.26 Unauthenticated email from example.org is not accepted due to domain's DMARC policy"


class DenyRelay(RecordingHandler):
    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        return f"554 5.7.1 <{address}>: Relay access denied"


def _check_no_bounce(config, handler):
    server = SmtpServer(handler).start()
    try:
        people = _people(4)
        runtime, ids = _setup(config, server.url, people)

        queued, stats = send_digest(runtime, WEEK, now=NOW, clock=FakeClock(NOW))
    finally:
        server.stop()
    assert (stats.sent, stats.failed, stats.bounced) == (0, 4, 0)
    with runtime.engine.connect() as conn:
        assert {get_subscriber(conn, ids[email]).status for email, _ in people} == {"active"}


def test_it_does_not_bounce_subscribers_for_a_policy_refusal_after_data(config):
    _check_no_bounce(config, RefuseOnPolicy())


def test_it_does_not_bounce_subscribers_when_relaying_is_denied(config):
    _check_no_bounce(config, DenyRelay())
