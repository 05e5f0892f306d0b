"""Nobody can lock a reader out by mailing a report about their address: a DSN or ARF complaint
without the per-delivery VERP tag (or the signed link of the returned digest) is logged and
counted but changes nothing; and a reader who complained or bounced comes back by signing up
again and confirming."""

from __future__ import annotations

from service.clock import utc_now
from service.model.states import SubscriberStatus
from service.outbound.notices import admit_requests
from service.store.subscribers import audit, bounces, records
from subscribers.tokens import confirm_token
from tests.conftest import NOW
from tests.inbound.test_inbound_bounces import postfix_dsn, statuses
from tests.support.digest_data import ALICE, BOB, add_subscribers
from tests.support.forms import csrf_token, subscribe
from tests.support.inbound_server import BOUNCES, InboundProcess, mail_digest

FORGED_ARF = """From: Feedback Loop <fbl@isp.example>\r
To: {to}\r
Subject: FW: Abuse report\r
MIME-Version: 1.0\r
Content-Type: multipart/report; report-type=feedback-report; boundary="part"\r
\r
--part\r
Content-Type: text/plain\r
\r
This is an email abuse report.\r
--part\r
Content-Type: message/feedback-report\r
\r
Feedback-Type: abuse\r
User-Agent: SomeGenerator/1.0\r
Version: 1\r
Original-Rcpt-To: {address}\r
\r
--part\r
Content-Type: text/rfc822-headers\r
\r
From: paperboy <paperboy@paperboy.test>\r
To: {address}\r
Subject: Your weekly digest\r
\r
--part--\r
"""


def test_reports_without_a_verp_tag_change_nobody_and_are_counted(config, database_url, smtp_server, tmp_path):
    runtime, ids, _ = mail_digest(config, database_url, smtp_server.url, [ALICE, BOB])
    before = statuses(runtime)
    server = InboundProcess(runtime.config, tmp_path)
    try:
        # Alice was mailed; anyone who knows her address can mail these to the plain addresses.
        server.send(postfix_dsn(BOUNCES, ALICE[0]))
        server.send(FORGED_ARF.format(to=BOUNCES, address=ALICE[0]).encode())
        server.send(postfix_dsn(BOUNCES, BOB[0], "4.2.2", "delayed"))
    finally:
        assert server.stop() == 0
    assert statuses(runtime) == before
    log = server.log()
    assert log.count("report without a valid VERP tag; logged, nothing changed") == 3
    with runtime.engine.connect() as conn:
        for address, count in ((ALICE[0], 2), (BOB[0], 1)):
            entries = [e for e in audit.audit_entries(conn, ids[address]) if e.action == "unverified-report"]
            assert len(entries) == count


def test_a_reader_who_complained_or_bounced_comes_back_by_signing_up_and_confirming(app, client):
    runtime = app.extensions["paperboy"]
    with runtime.engine.begin() as conn:
        ids = add_subscribers(conn, [("kim@example.org", ["vla"]), ("lee@example.org", ["vla"])], NOW)
        bounces.mark_complained(conn, ids["kim@example.org"], "spam complaint", NOW, "inbound mail")
        bounces.mark_bounced(conn, ids["lee@example.org"], "bounce", NOW, "inbound mail")
    for address, subscriber_id in ids.items():
        assert subscribe(client, address).status_code == 200
        admit_requests(runtime)  # what the scheduler does with sign-ups, every few seconds
        with runtime.engine.connect() as conn:
            actions = [e.action for e in audit.audit_entries(conn, subscriber_id)]
        assert "confirm-mail" in actions, actions  # the confirmation mail was queued
        token = confirm_token(runtime.config, subscriber_id, ["vla"], utc_now())
        page = client.get(f"/confirm/{token}")
        client.post(f"/confirm/{token}", data={"csrf_token": csrf_token(page.data)})
        with runtime.engine.connect() as conn:
            assert records.get_subscriber(conn, subscriber_id).status == SubscriberStatus.ACTIVE
