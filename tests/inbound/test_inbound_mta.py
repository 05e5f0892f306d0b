"""Inbound mail from real mail servers on loopback: a Postfix relay that bounces a digest on its own
(a DSN to the VERP address, delivered to `paperboy inbound`), and a Dovecot mailbox read over IMAP."""

from __future__ import annotations

import imaplib
import time

from service.inbound.imap import poll_mailbox
from service.scheduler.scheduler import Scheduler, inbound_job
from service.store import inbound as inbound_store
from service.store.subscribers import audit
from tests.conftest import NOW
from tests.inbound.test_inbound_bounces import corpus, statuses
from tests.inbound.test_inbound_replies import arf_report
from tests.support.digest_data import ALICE, add_subscribers, load_week, runtime_for, send_with_deadline
from tests.support.inbound_server import InboundProcess, crlf, inbound_config, mail_digest
from tests.support.mail_servers import Dovecot, Postfix

MISSING = "nobody-here@mta.test"  # no such user on the Postfix host
READER = "reader@elsewhere.test"  # a working mailbox behind the same relay


def status_of(runtime, email):
    return statuses(runtime).get(email)


def test_postfix_bounces_a_digest_and_paperboy_inbound_marks_the_subscriber_bounced(
    config, database_url, smtp_server, tmp_path
):
    runtime = runtime_for(inbound_config(config, database_url))
    with runtime.engine.begin() as conn:
        load_week(conn)
        ids = add_subscribers(conn, [(MISSING, ["testing"]), (READER, ["testing"])], NOW)
    inbound = InboundProcess(runtime.config, tmp_path)
    postfix = Postfix("mta.test", {"paperboy.test": inbound.port, "elsewhere.test": smtp_server.port})
    try:
        runtime = runtime_for(runtime.config.with_overrides(smtp_url=postfix.url))
        queued, stats = send_with_deadline(runtime)
        assert (stats.sent, stats.failed) == (2, 0)  # the relay accepted both: the bounce comes later
        deadline = time.monotonic() + 60
        while status_of(runtime, MISSING) != "bounced" and time.monotonic() < deadline:
            time.sleep(0.2)
    finally:
        postfix_log = postfix.stop()
        assert inbound.stop() == 0
    assert status_of(runtime, MISSING) == "bounced", postfix_log + inbound.log()
    assert status_of(runtime, READER) == "active" and smtp_server.handler.recipients() == [READER]
    assert 'status=bounced (unknown user: "nobody-here")' in postfix_log
    with runtime.engine.connect() as conn:
        [bounce] = [e for e in audit.audit_entries(conn, ids[MISSING]) if e.action == "bounce"]
        [dsn], _, _ = inbound_store.list_messages(conn)
    assert bounce.actor == "inbound mail" and "5.1.1" in bounce.detail
    # The DSN came back to this delivery's own envelope sender, from Postfix's null sender.
    assert dsn.mail_from is None and dsn.sender == "Mail Delivery System <MAILER-DAEMON@mta.test>"
    assert dsn.rcpt_to.startswith("bounces+") and dsn.delivery_id is not None


def test_the_scheduler_reads_bounces_and_complaints_from_an_imap_mailbox(config, database_url, smtp_server):
    bob, carol = "userx@example.de", "carol@example.org"  # qmail_01.txt bounces userx@example.de
    people = [ALICE, (bob, ["testing"]), (carol, ["testing"])]
    runtime, ids, _ = mail_digest(config, database_url, smtp_server.url, people)
    digests = {e.rcpt_tos[0]: e for e in smtp_server.handler.envelopes}
    dovecot = Dovecot()
    try:
        # The operator's hosted mailbox receives what comes back; paperboy reads it over IMAP.
        mailbox = imaplib.IMAP4("127.0.0.1", dovecot.port)
        mailbox.login("bounces", dovecot.password)
        for raw in (
            # Delivered to the digest's envelope sender: the mailbox notes it in Delivered-To.
            f"Delivered-To: {digests[bob].mail_from}\n".encode() + corpus("qmail_01.txt"),
            arf_report(digests[carol].content, carol, "bounces@paperboy.test"),
            b"From: someone@example.net\r\nSubject: hello\r\n\r\nJust saying hello.\r\n",
        ):
            assert mailbox.append("INBOX", None, None, crlf(raw))[0] == "OK"
        runtime = runtime_for(runtime.config.with_overrides(inbound_imap_url=dovecot.url("bounces")))
        assert "inbound" in {job.id for job in Scheduler(runtime).jobs().get_jobs()}
        polled = inbound_job(runtime)
        mailbox.select("INBOX")
        left = mailbox.uid("SEARCH", None, "ALL")[1][0].split()
        again = poll_mailbox(runtime)
        mailbox.logout()
    finally:
        dovecot.stop()
    assert (polled.handled, polled.skipped, left, again.handled) == (3, 0, [], 0)  # handled, then deleted
    assert statuses(runtime) == {ALICE[0]: "active", bob: "bounced", carol: "complained"}
    with runtime.engine.connect() as conn:
        counts = inbound_store.kind_counts(conn)
        assert {k: v for k, v in counts.items() if v} == {"bounce": 1, "complaint": 1, "unrecognised": 1}
        assert {m.source for m in inbound_store.list_messages(conn)[0]} == {"imap"}
    assert ids[bob] != ids[carol]


def test_an_unreachable_mailbox_is_one_log_line(config, caplog):
    runtime = runtime_for(config.with_overrides(inbound_imap_url="imap://u:p@127.0.0.1:9/INBOX"))
    assert inbound_job(runtime) is None
    [line] = [r.getMessage() for r in caplog.records if r.name == "paperboy.scheduler"]
    assert line.startswith("scheduler: inbound: cannot read the IMAP mailbox at 127.0.0.1:")
