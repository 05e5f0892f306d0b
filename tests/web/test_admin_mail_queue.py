"""The mail queue as admins see it: counts by state and the latest failures with their errors on
the dashboard, and each subscriber's queued mails on their page (real SMTP server on loopback)."""

from __future__ import annotations

import pytest
from lxml import html

from service.outbound.notices import send_notices
from service.store.subscribers import records
from tests.support.forms import sign_in, subscribe
from tests.support.smtp_server import RecordingHandler, SmtpServer


class RefuseOneMailbox(RecordingHandler):
    """Refuses mail for one address for good, as a receiving server does for an unknown user."""

    def fault(self, envelope, attempt):
        if "gone@example.org" in envelope.rcpt_tos:
            return "550 5.1.1 <gone@example.org>: mailbox unavailable"
        return None


@pytest.fixture
def refusing_server():
    server = SmtpServer(RefuseOneMailbox()).start()
    yield server
    server.stop()


@pytest.fixture
def config(config, database_url, refusing_server):
    return config.with_overrides(database_url=database_url, smtp_url=refusing_server.url)


def test_admins_see_the_queue_and_why_a_confirmation_failed(app, client, admin, refusing_server):
    subscribe(client, "reader@example.org")
    subscribe(client, "gone@example.org")
    runtime = app.extensions["paperboy"]
    send_notices(runtime)  # what the scheduler does every 15 s
    assert [m["To"] for m in refusing_server.messages] == ["reader@example.org"]
    with runtime.engine.connect() as conn:
        gone = records.subscriber_by_email(conn, "gone@example.org")

    assert sign_in(client).status_code == 302
    page = html.fromstring(client.get("/admin/dashboard").data)
    assert "No mail is waiting to be sent." in page.text_content()
    [queue] = page.cssselect("table.queue")
    counts = {
        row.cssselect("th")[0].text_content(): row.cssselect("td")[0].text_content()
        for row in queue.cssselect("tbody tr")
    }
    assert counts["sent"] == "1" and counts["failed"] == "1"
    assert all(count == "0" for state, count in counts.items() if state not in ("sent", "failed"))
    [failure] = page.cssselect("table.history tbody tr")
    assert "550 5.1.1" in failure.text_content() and "failed" in failure.text_content()
    assert failure.cssselect("a")[0].get("href") == f"/admin/subscribers/{gone.id}"

    mine = html.fromstring(client.get(f"/admin/subscribers/{gone.id}").data)
    [row] = mine.xpath("//h2[.='Mail']/following-sibling::div[1]/table/tbody/tr")
    cells = [cell.text_content() for cell in row.cssselect("td")]
    assert cells[1:4] == ["confirm", "failed", "1"] and "550 5.1.1" in cells[5]


def test_an_empty_queue_says_so(app, client, admin):
    assert sign_in(client).status_code == 302
    page = client.get("/admin/dashboard").data
    assert b"No mail is waiting to be sent." in page and b"No mail has failed or waits for a retry." in page
