"""Confirmations go through the mail queue: /subscribe answers alike for every address whether or
not SMTP is up, the per-address wait holds under concurrent sign-ups, and each queued mail keeps
one Message-ID and goes out in a form plain SMTP carries (real SMTP server on loopback)."""

from __future__ import annotations

import threading
from collections import Counter
from datetime import UTC, datetime, timedelta
from email import message_from_bytes, policy

import pytest

from service import store as service_store
from service.outbound.notices import admit_requests, send_notices
from service.store import mail_queue
from service.store.subscribers import lifecycle, records
from service.store.subscribers.imports import ImportRow
from subscribers.imports import import_rows
from subscribers.tokens import CONFIRM_MAX_AGE
from tests.conftest import NOW
from tests.support.digest_data import FakeClock
from tests.support.forms import csrf_token, subscribe
from tests.support.smtp_server import RefuseFirst, SmtpServer


@pytest.fixture
def config(config, database_url, smtp_server):
    return config.with_overrides(database_url=database_url, smtp_url=smtp_server.url)


def runtime_of(app):
    return app.extensions["paperboy"]


def queued_mails(app, email):
    with runtime_of(app).engine.connect() as conn:
        return mail_queue.mails_of(conn, records.subscriber_by_email(conn, email).id)


def test_it_answers_alike_while_smtp_is_down_and_mails_the_confirmation_once_it_is_back(app, client, smtp_server):
    runtime = runtime_of(app)
    with runtime.engine.begin() as conn:
        import_rows(conn, [ImportRow("spam@example.org", ["vla"], "blocked")], NOW, "cli")
    subscribe(client, "recent@example.org")
    send_notices(runtime)
    assert [m["To"] for m in smtp_server.messages] == ["recent@example.org"]

    down = SmtpServer()  # its port is free: nothing listens there until start()
    runtime.config = runtime.config.with_overrides(smtp_url=down.url)
    answers = [subscribe(client, email) for email in ("new@example.org", "spam@example.org", "recent@example.org")]
    assert {a.status_code for a in answers} == {200}
    assert len({a.data for a in answers}) == 1 and b"a confirmation link is on its way" in answers[0].data

    stopped = send_notices(runtime)
    assert stopped.sent == 0 and "cannot connect" in stopped.error
    assert [m["state"] for m in queued_mails(app, "new@example.org")] == ["due"]

    down.start()
    try:
        assert send_notices(runtime).sent == 1
        assert send_notices(runtime).sent == 0  # nothing twice
        assert [m["To"] for m in down.messages] == ["new@example.org"]
    finally:
        down.stop()
    assert [m["state"] for m in queued_mails(app, "recent@example.org")] == ["sent", "held"]
    assert [m["state"] for m in queued_mails(app, "spam@example.org")] == ["held"]


def test_it_mails_one_confirmation_for_many_concurrent_sign_ups_of_one_address(app, smtp_server):
    clients = [app.test_client() for _ in range(8)]
    tokens = [csrf_token(c.get("/subscribe").data) for c in clients]
    start = threading.Barrier(len(clients))
    answers = []

    def sign_up(client, token):
        start.wait()
        answers.append(
            client.post("/subscribe", data={"csrf_token": token, "email": "victim@example.org", "topics": ["vla"]})
        )

    threads = [threading.Thread(target=sign_up, args=pair) for pair in zip(clients, tokens)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert [a.status_code for a in answers] == [200] * len(clients)

    # Two senders at once, as a scheduler and a second process would be.
    senders = [threading.Thread(target=send_notices, args=(runtime_of(app),)) for _ in range(2)]
    for sender in senders:
        sender.start()
    for sender in senders:
        sender.join()
    assert [m["To"] for m in smtp_server.messages] == ["victim@example.org"]
    # The plain bounce address: VERP tags name digest deliveries, never a queued mail.
    assert [e.mail_from for e in smtp_server.handler.envelopes] == ["paperboy@localhost"]
    assert Counter(m["state"] for m in queued_mails(app, "victim@example.org")) == {"sent": 1, "held": 7}


def test_it_lets_one_of_many_concurrent_requests_take_the_per_address_turn(app):
    engine = runtime_of(app).engine
    with engine.begin() as conn:
        import_rows(conn, [ImportRow("victim@example.org", ["vla"], "unsubscribed")], NOW, "cli")
    start = threading.Barrier(6)
    decisions = []

    def request():
        start.wait()
        with service_store.write_transaction(engine) as conn:
            decisions.append(lifecycle.request_subscription(conn, "victim@example.org", ["vla"], NOW)[1])

    threads = [threading.Thread(target=request) for _ in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(decisions) == [False] * 5 + [True]


def test_it_mails_an_international_domain_as_xn_and_fails_only_a_non_ascii_local_part(app, client, smtp_server):
    for email in ("Reader@Bücher.de", "josé@example.org", "alice@example.org"):
        assert subscribe(client, email).status_code == 200

    stats = send_notices(runtime_of(app))

    assert (stats.sent, stats.failed, stats.bounced) == (2, 1, 0)
    assert Counter(smtp_server.handler.recipients()) == Counter({"reader@xn--bcher-kva.de": 1, "alice@example.org": 1})
    assert {m["To"] for m in smtp_server.messages} == {"reader@xn--bcher-kva.de", "alice@example.org"}
    [failed] = queued_mails(app, "josé@example.org")
    assert failed["state"] == "failed" and "SMTPUTF8" in failed["last_error"]


def test_it_keeps_the_message_id_of_a_confirmation_across_a_retry(app, client):

    handler = RefuseFirst()
    server = SmtpServer(handler).start()
    runtime = runtime_of(app)
    runtime.config = runtime.config.with_overrides(smtp_url=server.url)
    try:
        subscribe(client, "alice@example.org")
        now = datetime.now(UTC)
        assert send_notices(runtime, FakeClock(now)).retried == 1
        assert send_notices(runtime, FakeClock(now + timedelta(seconds=10))).sent == 0  # not due yet
        assert send_notices(runtime, FakeClock(now + timedelta(minutes=1))).sent == 1
    finally:
        server.stop()
    [first] = handler.refused
    [delivered] = server.messages
    first_id = message_from_bytes(first, policy=policy.default)["Message-ID"]
    assert first_id == delivered["Message-ID"]
    [mail] = queued_mails(app, "alice@example.org")
    assert first_id == f"<confirm-{mail['id']}@localhost>" and mail["attempts"] == 2


def test_it_cancels_a_queued_confirmation_when_the_address_is_blocked_or_deleted_before_its_turn(
    app, client, smtp_server
):

    runtime = runtime_of(app)
    for email in ("spam@example.org", "gone@example.org", "alice@example.org"):
        subscribe(client, email)
    assert admit_requests(runtime) == 3
    with runtime.engine.begin() as conn:
        spam, gone = (records.subscriber_by_email(conn, f"{name}@example.org") for name in ("spam", "gone"))
        lifecycle.block(conn, spam.id, NOW, "admin@example.org")
        lifecycle.erase(conn, gone.id, NOW, "admin@example.org")

    stats = send_notices(runtime)

    assert (stats.sent, stats.cancelled) == (1, 2)
    assert [m["To"] for m in smtp_server.messages] == ["alice@example.org"]
    with runtime.engine.connect() as conn:
        assert [m["state"] for m in mail_queue.mails_of(conn, spam.id)] == ["cancelled"]
        assert [m["state"] for m in mail_queue.mails_of(conn, gone.id)] == ["cancelled"]


def test_it_cancels_a_confirmation_not_sent_before_its_link_expired(app, client):

    down = SmtpServer()  # never started: the mail server stays unreachable
    runtime = runtime_of(app)
    runtime.config = runtime.config.with_overrides(smtp_url=down.url)
    subscribe(client, "alice@example.org")
    assert send_notices(runtime).sent == 0
    later = datetime.now(UTC) + CONFIRM_MAX_AGE + timedelta(minutes=1)

    assert send_notices(runtime, FakeClock(later)).total == 0

    [mail] = queued_mails(app, "alice@example.org")
    assert mail["state"] == "cancelled" and "expired" in mail["last_error"]


def test_a_claim_of_queued_mail_takes_no_more_than_its_batch(app):
    # As with deliveries: on PostgreSQL the claim's subquery, run again for each row, took them all.

    runtime = runtime_of(app)
    with runtime.engine.begin() as conn:
        for n in range(30):
            mail_queue.request_confirmation(conn, f"reader{n}@example.org", ["vla"], NOW)
    assert admit_requests(runtime) == 30
    with runtime.engine.begin() as conn:
        first = mail_queue.claim_mails(conn, "a", NOW, timedelta(minutes=10), 10)
    with runtime.engine.begin() as conn:
        second = mail_queue.claim_mails(conn, "b", NOW, timedelta(minutes=10), 10)
        states = mail_queue.state_counts(conn)

    assert (len(first), len(second)) == (10, 10)
    assert not {mail.id for mail in first} & {mail.id for mail in second}
    assert (states["sending"], states["due"]) == (20, 10)
