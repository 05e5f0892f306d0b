"""Real bounce messages (flufl.bounce's sample corpus, tests/data/bounces) through `paperboy inbound`
over SMTP: exactly the addresses they name change, permanent failures bounce, temporary ones count."""

from __future__ import annotations

import re
from datetime import timedelta
from email import message_from_bytes

import pytest

from service.inbound.acting import handle_message
from service.outbound import verp
from service.store import inbound as inbound_store
from service.store.subscribers import audit
from service.store.subscribers.imports import export_rows
from tests.conftest import DATA, NOW
from tests.support.digest_data import ALICE, BOB
from tests.support.inbound_server import BOUNCES, InboundProcess, mail_digest

PERMANENT = {
    "dsn_01.txt": "userx@example.com",
    "dsn_02.txt": "zzzzz@example.uk",
    "dsn_03.txt": "userx@example.be",
    "dsn_11.txt": "joem@example.com",
    "postfix_01.txt": "xxxxx@local.ie",
    "postfix_02.txt": "yyyyy@digicool.com",
    "exim_01.txt": "userx@its.example.nl",
    "qmail_01.txt": "userx@example.de",
    "simple_01.txt": "bbbsss@example.com",
}
TEMPORARY = {"dsn_05.txt": "userx@example.cz", "dsn_07.txt": "userx@example.nz", "simple_03.txt": "userx@example.za"}
BYSTANDERS = [ALICE, BOB, ("userx@example.org", ["testing"]), ("joem@example.org", ["testing"])]


def corpus(name: str) -> bytes:
    return (DATA / "bounces" / name).read_bytes()


def statuses(runtime) -> dict[str, str]:
    with runtime.engine.connect() as conn:
        return {row.email: row.status for row in export_rows(conn)}


@pytest.fixture
def mailed(config, database_url, smtp_server):
    """Every corpus address and a few bystanders subscribed, each sent this week's digest."""
    people = [(address, ["testing"]) for address in (*PERMANENT.values(), *TEMPORARY.values())] + BYSTANDERS
    runtime, ids, stats = mail_digest(config, database_url, smtp_server.url, people)
    assert stats.sent == len(people)
    return runtime, ids


def test_the_corpus_bounces_exactly_the_addresses_it_names(mailed, tmp_path, smtp_server):
    runtime, ids = mailed
    # Each digest went out with its own signed envelope sender.
    senders = {envelope.mail_from for envelope in smtp_server.handler.envelopes}
    assert len(senders) == len(ids)
    assert all(re.fullmatch(r"bounces\+\d+-[a-z2-7]{10}@paperboy\.test", sender) for sender in senders)

    before = statuses(runtime)
    # A relay mails its report to the envelope sender of the digest it could not deliver.
    to = {envelope.rcpt_tos[0]: envelope.mail_from for envelope in smtp_server.handler.envelopes}
    named = {**PERMANENT, **TEMPORARY}
    server = InboundProcess(runtime.config, tmp_path)
    try:
        for name in [*PERMANENT, *TEMPORARY, "dumbass_01.txt"]:
            server.send(corpus(name), to[named[name]] if name in named else BOUNCES)
    finally:
        assert server.stop() == 0
    log = server.log()

    after = statuses(runtime)
    expected = {**before, **{address: "bounced" for address in PERMANENT.values()}}
    assert after == expected
    with runtime.engine.connect() as conn:
        assert inbound_store.kind_counts(conn) == {
            "bounce": 9,
            "soft-bounce": 3,
            "complaint": 0,
            "unsubscribe": 0,
            "auto-reply": 0,
            "unrecognised": 1,
        }
        for address in TEMPORARY.values():
            [soft] = [e for e in audit.audit_entries(conn, ids[address]) if e.action == "soft-bounce"]
            assert soft.actor == "inbound mail" and "soft bounce 1 of 3 within 14 days" in soft.detail
        [bounce] = [e for e in audit.audit_entries(conn, ids["userx@example.de"]) if e.action == "bounce"]
        assert "userx@example.de failed permanently" in bounce.detail
    assert log.count("inbound: message ") == 13
    assert "unrecognised: not a report paperboy understands; kept for the admin" in log


def postfix_dsn(to: str, failed: str, status: str = "5.1.1", action: str = "failed") -> bytes:
    """A DSN as Postfix writes it (multipart/report, message/delivery-status), to `to` about `failed`."""
    return f"""From: Mail Delivery System <MAILER-DAEMON@mx.example.net>
To: {to}
Subject: Undelivered Mail Returned to Sender
Auto-Submitted: auto-replied
MIME-Version: 1.0
Content-Type: multipart/report; report-type=delivery-status; boundary="B"

--B
Content-Type: text/plain

<{failed}>: host mx.example.net said: {status} mailbox unavailable

--B
Content-Type: message/delivery-status

Reporting-MTA: dns; mx.example.net

Final-Recipient: rfc822; {failed}
Action: {action}
Status: {status}
Diagnostic-Code: smtp; 550 {status} mailbox unavailable

--B--
""".encode()


def test_a_verp_address_names_the_delivery_even_when_the_report_names_another_address(mailed, tmp_path, smtp_server):
    runtime, ids = mailed
    alice_sender = next(e.mail_from for e in smtp_server.handler.envelopes if e.rcpt_tos == [ALICE[0]])
    before = statuses(runtime)
    server = InboundProcess(runtime.config, tmp_path)
    try:
        # Forwarded and rewritten on the way: only the VERP address says whose delivery it was.
        server.send(postfix_dsn(alice_sender, "alice.smith@forwarded.example"), alice_sender)
        # The same report without a VERP token names nobody paperboy knows.
        server.send(postfix_dsn(BOUNCES, "bob.jones@forwarded.example"))
        # A forged token is no VERP address at all.
        bob_sender = next(e.mail_from for e in smtp_server.handler.envelopes if e.rcpt_tos == [BOB[0]])
        forged = f"bounces+{verp.delivery_of(runtime.config, bob_sender)}-aaaaaaaaaa@paperboy.test"
        server.send(postfix_dsn(forged, "bob.jones@forwarded.example"), forged)
    finally:
        assert server.stop() == 0
    assert statuses(runtime) == {**before, ALICE[0]: "bounced"}
    log = server.log()
    assert "no subscriber has the address bob.jones@forwarded.example" in log
    with runtime.engine.connect() as conn:
        messages, total, _ = inbound_store.list_messages(conn)
    assert total == 3 and [m.kind for m in messages] == ["bounce"] * 3
    assert messages[2].subscriber_id == ids[ALICE[0]]
    assert messages[2].delivery_id == verp.delivery_of(runtime.config, alice_sender)


def test_temporary_failures_bounce_the_third_time_within_fourteen_days(mailed, smtp_server):
    runtime, ids = mailed
    address = ALICE[0]
    sender = next(e.mail_from for e in smtp_server.handler.envelopes if e.rcpt_tos == [address])
    dsn = postfix_dsn(sender, address, "4.2.2", "delayed")
    days = [NOW, NOW + timedelta(days=10), NOW + timedelta(days=20), NOW + timedelta(days=21)]
    seen = []
    for day in days:
        handle_message(runtime, dsn, "smtp", [sender], now=day)
        seen.append(statuses(runtime)[address])
    # Day 20 has days 10 and 20 within 14 days (day 0 has aged out); day 21 makes three.
    assert seen == ["active", "active", "active", "bounced"]
    with runtime.engine.connect() as conn:
        history = [e.detail for e in audit.audit_entries(conn, ids[address]) if e.action in ("soft-bounce", "bounce")]
    assert history[0].startswith("soft bounce 1 of 3") and history[2].startswith("soft bounce 2 of 3")
    assert history[3].startswith("soft bounce 3 within 14 days (limit 3)")
    assert message_from_bytes(dsn)["Auto-Submitted"] == "auto-replied"  # a DSN is not taken for an auto-reply
