"""Bad input to `paperboy inbound`: each message is recorded or refused with a clear log line, the
server keeps answering, and no subscriber changes. (A DSN without a VERP token whose recipient was
rewritten, and a complaint about an unknown address, are in test_inbound_bounces and _replies.)"""

from __future__ import annotations

import smtplib
import socket
from concurrent.futures import ThreadPoolExecutor

import pytest

from service.store import inbound as inbound_store
from subscribers.erasure import erase_subscriber
from tests.conftest import NOW
from tests.inbound.test_inbound_bounces import postfix_dsn, statuses
from tests.support.digest_data import ALICE, BOB, CAROL, add_subscribers
from tests.support.helpers import paperboy
from tests.support.inbound_server import BOUNCES, InboundProcess, mail_digest

NEVER_MAILED = "never@example.org"


@pytest.fixture
def setting(config, database_url, smtp_server, tmp_path):
    """Alice, Bob and Carol were sent the digest, then Carol was deleted; one more address never got mail."""
    runtime, ids, _ = mail_digest(config, database_url, smtp_server.url, [ALICE, BOB, (CAROL[0], ["testing"])])
    with runtime.engine.begin() as conn:
        ids[NEVER_MAILED] = add_subscribers(conn, [(NEVER_MAILED, ["testing"])], NOW)[NEVER_MAILED]
        erase_subscriber(conn, ids[CAROL[0]], NOW, "admin@example.org")
    senders = {e.rcpt_tos[0]: e.mail_from for e in smtp_server.handler.envelopes}
    server = InboundProcess(runtime.config, tmp_path)
    yield runtime, ids, senders, server
    assert server.stop() == 0


def test_reports_about_addresses_never_mailed_or_deleted_change_nothing(setting):
    runtime, ids, senders, server = setting
    before = statuses(runtime)
    server.send(postfix_dsn(BOUNCES, NEVER_MAILED))
    server.send(postfix_dsn(senders[CAROL[0]], CAROL[0]), senders[CAROL[0]])
    assert statuses(runtime) == before
    log = server.log()
    assert f"subscriber {ids[NEVER_MAILED]}: report without a valid VERP tag; logged, nothing changed" in log
    assert f"subscriber {ids[CAROL[0]]} is deleted; nothing changed" in log
    with runtime.engine.connect() as conn:
        messages, total, _ = inbound_store.list_messages(conn)
        [deleted] = [m for m in messages if m.subscriber_id == ids[CAROL[0]]]
        # That a report came is logged, but nothing that holds the deleted subscriber's address.
        assert total == 2 and deleted.kind == "bounce"
        assert (deleted.sender, deleted.rcpt_to, inbound_store.get_message(conn, deleted.id).raw) == (None, None, None)


def test_a_fifty_megabyte_message_is_refused_with_552_and_the_server_goes_on(setting):
    runtime, ids, senders, server = setting
    huge = b"Subject: big\r\n\r\n" + (b"x" * 998 + b"\r\n") * (50 * 1024 * 1024 // 1000)
    with pytest.raises(smtplib.SMTPSenderRefused) as announced:
        server.send(huge)  # smtplib announces SIZE: refused at MAIL FROM
    assert announced.value.smtp_code == 552
    with server.client() as smtp:
        smtp.ehlo()
        del smtp.esmtp_features["size"]  # a client that does not announce it: refused after DATA
        with pytest.raises(smtplib.SMTPDataError) as sent:
            smtp.sendmail("", [BOUNCES], huge)
        assert sent.value.smtp_code == 552
        smtp.sendmail("", [BOUNCES], postfix_dsn(BOUNCES, "someone@elsewhere.example"))
    assert server.log().count("larger than 10485760 bytes (552)") == 2
    with runtime.engine.connect() as conn:
        assert inbound_store.list_messages(conn)[1] == 1


BROKEN = {
    "a multipart with no boundary": b"Content-Type: multipart/report; report-type=delivery-status\r\n"
    b"Subject: broken\r\n\r\n--x\r\nContent-Type: message/delivery-status\r\n\r\n"
    b"Final-Recipient: rfc822; " + ALICE[0].encode() + b"\r\nAction: failed\r\n",
    "an unknown charset": b"Subject: =?x-no-such-charset?B?w6nDqcOp?=\r\nMIME-Version: 1.0\r\n"
    b"Content-Type: text/plain; charset=x-no-such-charset\r\n"
    b"Content-Transfer-Encoding: 8bit\r\n\r\n\xe9\xe8\xff\xfe " + ALICE[0].encode() + b"\r\n",
    "undecodable bytes in a report": b"Content-Type: multipart/report; report-type=delivery-status; boundary=B\r\n"
    b"Subject: \xff\xfe\r\n\r\n--B\r\nContent-Type: text/plain; charset=utf-7\r\n"
    b"Content-Transfer-Encoding: base64\r\n\r\n!!!not base64!!!\r\n"
    b"--B\r\nContent-Type: message/delivery-status; charset=x-bad\r\n\r\n"
    b"\xff\xff\r\n\r\nFinal-Recipient: \xff\r\nStatus: 9.9.9\r\n--B",
    "no headers at all": b"\r\n\r\n\r\n",
}


def test_broken_mime_and_charsets_are_recorded_and_change_nothing(setting):
    runtime, ids, senders, server = setting
    before = statuses(runtime)
    for raw in BROKEN.values():
        server.send(raw)
    assert statuses(runtime) == before
    with runtime.engine.connect() as conn:
        messages, total, _ = inbound_store.list_messages(conn)
    assert total == len(BROKEN) and all(m.subscriber_id is None for m in messages)
    assert server.log().count("inbound: message ") == len(BROKEN)


def test_mail_for_other_addresses_is_refused(setting):
    runtime, ids, senders, server = setting
    with pytest.raises(smtplib.SMTPRecipientsRefused) as refused:
        server.send(postfix_dsn("someone@paperboy.test", ALICE[0]), "someone@paperboy.test")
    assert refused.value.recipients["someone@paperboy.test"][0] == 550
    assert "refused mail from 127.0.0.1 for 'someone@paperboy.test': not a paperboy address" in server.log()


FLOOD = 10_000


# The flood takes most of a minute; it runs on SQLite only (the other tests cover PostgreSQL).
@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_a_flood_of_ten_thousand_messages_is_recorded_and_changes_nobody(setting):
    runtime, ids, senders, server = setting
    before = statuses(runtime)
    # Auto-replies naming Alice's address and bounces for addresses nobody has, over four connections.
    messages = [
        postfix_dsn(BOUNCES, f"flood{n}@elsewhere.example")
        if n % 2
        else f"From: {ALICE[0]}\r\nAuto-Submitted: auto-replied\r\nSubject: away {n}\r\n\r\naway\r\n".encode()
        for n in range(FLOOD)
    ]

    def send(share):
        with server.client() as smtp:
            for raw in share:
                smtp.sendmail("", [BOUNCES], raw)

    with ThreadPoolExecutor(4) as pool:
        list(pool.map(send, [messages[i::4] for i in range(4)]))
    assert statuses(runtime) == before
    with runtime.engine.connect() as conn:
        counts = inbound_store.kind_counts(conn)
    assert counts["bounce"] == counts["auto-reply"] == FLOOD // 2
    assert server.log().count("inbound: message ") == FLOOD


def test_a_port_in_use_stops_paperboy_inbound_with_one_line(config, tmp_path):
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        result = paperboy(
            {
                "PATH": "/usr/bin:/bin",
                "PAPERBOY_DATABASE_URL": config.database_url,
                "PAPERBOY_SECRET_KEY": "test",
                "PAPERBOY_TOPICS_FILE": str(config.topics_file),
            },
            "inbound",
            "--port",
            str(port),
            cwd=tmp_path,
        )
    assert result.returncode == 2
    assert result.stderr.strip().splitlines()[-1].startswith(f"paperboy: inbound: cannot listen on 127.0.0.1:{port}: ")
