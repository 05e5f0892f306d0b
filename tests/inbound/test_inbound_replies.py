"""What readers' mail systems send back, through `paperboy inbound`: the List-Unsubscribe mailto and
an ARF spam complaint each stop the mail; auto-replies change nothing and are kept for the admin."""

from __future__ import annotations

import re
from email.message import EmailMessage
from email.utils import parseaddr
from urllib.parse import parse_qs, unquote, urlsplit

import pytest

from service.store import inbound as inbound_store
from service.store.subscribers import audit, records
from tests.support.digest_data import ALICE, BOB, CAROL
from tests.support.inbound_server import BOUNCES, InboundProcess, mail_digest


@pytest.fixture
def delivered(config, database_url, smtp_server, tmp_path):
    """Alice, Bob and Carol got this week's digest; `paperboy inbound` is listening."""
    runtime, ids, _ = mail_digest(config, database_url, smtp_server.url, [ALICE, BOB, (CAROL[0], ["testing"])])
    digests = {
        message["To"]: (message, envelope)
        for message, envelope in zip(smtp_server.messages, smtp_server.handler.envelopes)
    }
    server = InboundProcess(runtime.config, tmp_path)
    yield runtime, ids, digests, server
    assert server.stop() == 0


def status_of(runtime, subscriber_id):
    with runtime.engine.connect() as conn:
        return records.get_subscriber(conn, subscriber_id).status


def history(runtime, subscriber_id):
    with runtime.engine.connect() as conn:
        return [(e.actor, e.action, e.detail) for e in audit.audit_entries(conn, subscriber_id)]


def test_mail_to_the_list_unsubscribe_address_unsubscribes(delivered):
    runtime, ids, digests, server = delivered
    digest, _ = digests[ALICE[0]]
    mailto = re.search(r"<mailto:([^>]+)>", digest["List-Unsubscribe"]).group(1)
    parts = urlsplit("mailto:" + mailto)
    # What a mail client sends for the mailto: the address and subject it names, nothing else.
    request = EmailMessage()
    request["From"] = ALICE[0]
    request["To"] = unquote(parts.path)
    request["Subject"] = parse_qs(parts.query)["subject"][0]
    request.set_content("This message will unsubscribe you.")
    server.send(bytes(request), unquote(parts.path), mail_from=ALICE[0])

    assert status_of(runtime, ids[ALICE[0]]) == "unsubscribed"
    entry = ("inbound mail", "unsubscribe", "was active; mail to the List-Unsubscribe address")
    assert entry in history(runtime, ids[ALICE[0]])
    assert status_of(runtime, ids[BOB[0]]) == status_of(runtime, ids[CAROL[0]]) == "active"

    # Without a valid token (the signed proof that the sender got the mail) nobody is unsubscribed.
    request.replace_header("Subject", "unsubscribe not-a-token")
    server.send(bytes(request), unquote(parts.path), mail_from=CAROL[0])
    assert status_of(runtime, ids[BOB[0]]) == status_of(runtime, ids[CAROL[0]]) == "active"
    assert "the subject carries no valid unsubscribe token; nothing changed" in server.log()


def arf_report(original: bytes, rcpt: str, to: str) -> bytes:
    """A spam complaint in the Abuse Reporting Format (RFC 5965, as in its appendix B), as feedback
    loops send them: a human-readable part, the machine-readable report, and the message itself."""
    return (
        (
            f"From: Feedback Loop <fbl@isp.example>\r\nTo: {to}\r\nSubject: FW: Abuse report\r\n"
            "Date: Thu, 5 Feb 2026 10:05:00 +0000\r\nMIME-Version: 1.0\r\n"
            'Content-Type: multipart/report; report-type=feedback-report; boundary="ARF"\r\n\r\n'
            "--ARF\r\nContent-Type: text/plain\r\n\r\n"
            "This is an email abuse report for an email message received from IP 127.0.0.1.\r\n"
            "--ARF\r\nContent-Type: message/feedback-report\r\n\r\n"
            "Feedback-Type: abuse\r\nUser-Agent: SomeGenerator/1.0\r\nVersion: 1\r\n"
            f"Original-Mail-From: <news@paperboy.test>\r\nOriginal-Rcpt-To: <{rcpt}>\r\n"
            "Arrival-Date: Thu, 5 Feb 2026 10:00:00 +0000\r\n\r\n"
            "--ARF\r\nContent-Type: message/rfc822\r\nContent-Disposition: inline\r\n\r\n"
        ).encode()
        + original
        + b"\r\n--ARF--\r\n"
    )


def test_an_arf_complaint_marks_the_subscriber_complained(delivered):
    runtime, ids, digests, server = delivered
    digest, envelope = digests[BOB[0]]
    # The feedback loop returns the digest as Bob's provider received it, to our bounce address.
    server.send(arf_report(envelope.content, BOB[0], BOUNCES))
    assert status_of(runtime, ids[BOB[0]]) == "complained"
    [(actor, action, detail)] = [h for h in history(runtime, ids[BOB[0]]) if h[1] == "complaint"]
    assert actor == "inbound mail" and detail == "spam complaint (feedback type abuse)"
    assert status_of(runtime, ids[ALICE[0]]) == status_of(runtime, ids[CAROL[0]]) == "active"

    # A complaint about an address paperboy does not know is logged and changes nothing.
    stranger = arf_report(
        b"From: someone@else.example\r\nTo: nobody@isp.example\r\nSubject: hi\r\n\r\nhi\r\n",
        "nobody@isp.example",
        BOUNCES,
    )
    server.send(stranger)
    assert status_of(runtime, ids[ALICE[0]]) == status_of(runtime, ids[CAROL[0]]) == "active"
    assert "complaint: no subscriber has the address nobody@isp.example" in server.log()
    with runtime.engine.connect() as conn:
        assert inbound_store.kind_counts(conn)["complaint"] == 2


def test_auto_replies_change_nothing_and_are_kept(delivered):
    runtime, ids, digests, server = delivered
    digest, _ = digests[CAROL[0]]
    before = [history(runtime, i) for i in ids.values()]
    markers = ["Auto-Submitted: auto-replied", "Precedence: auto_reply", "X-Autoreply: yes"]
    for marker in markers:
        name, value = marker.split(": ")
        reply = EmailMessage()
        reply["From"] = CAROL[0]
        reply["To"] = parseaddr(digest["From"])[1]
        reply["Subject"] = "Re: " + digest["Subject"]
        reply[name] = value
        reply.set_content(f"I am away until Monday ({marker}).")
        server.send(bytes(reply), parseaddr(digest["From"])[1])

    assert [status_of(runtime, i) for i in ids.values()] == ["active"] * 3
    assert [history(runtime, i) for i in ids.values()] == before
    with runtime.engine.connect() as conn:
        kept, total, _ = inbound_store.list_messages(conn, "auto-reply")
        stored = [inbound_store.get_message(conn, m.id).raw for m in reversed(kept)]
    assert total == len(markers) and all(m.sender == CAROL[0] for m in kept)
    assert all(f"I am away until Monday ({marker})".encode() in raw for marker, raw in zip(markers, stored))
