"""The admin pages of inbound mail: counts per kind, the log, each kept message; admins only."""

from __future__ import annotations

import re

from service.inbound.acting import handle_message
from service.outbound import verp
from service.store.subscribers import lifecycle, records
from service.store.subscribers.imports import ImportRow
from subscribers.erasure import erase_subscriber
from subscribers.imports import import_rows
from tests.conftest import NOW
from tests.inbound.test_inbound_bounces import postfix_dsn
from tests.support.forms import create_admin, sign_in

AWAY = (
    b"From: reader@example.org\r\nTo: paperboy@localhost\r\nAuto-Submitted: auto-replied\r\n"
    b"Subject: <script>alert(1)</script> away\r\n\r\nI am <b>away</b>.\r\n"
)


def test_admins_see_the_inbound_log_with_counts_and_each_message(app, client):
    runtime = app.extensions["paperboy"]
    create_admin(runtime.engine)
    with runtime.engine.begin() as conn:
        import_rows(conn, [ImportRow("reader@example.org", ["vla"], "active")], NOW, "cli")
        reader = records.subscriber_by_email(conn, "reader@example.org").id
        lifecycle.record_confirmation_mailed(conn, reader, NOW)
    kept = handle_message(runtime, AWAY, "smtp", ["paperboy@localhost"], "reader@example.org", now=NOW)
    # To the envelope sender of a delivery since pruned from the ledger: its signed tag is the evidence.
    tagged = verp.envelope_sender(runtime.config, 1)
    bounced = handle_message(runtime, postfix_dsn(tagged, "reader@example.org"), "imap", now=NOW)
    handle_message(runtime, postfix_dsn("paperboy@localhost", "stranger@example.org"), "imap", now=NOW)

    assert client.get("/admin/inbound/").status_code == 302  # visitors go to the sign-in page
    assert client.get(f"/admin/inbound/{kept.id}").status_code == 302
    sign_in(client)
    page = client.get("/admin/inbound/").get_data(as_text=True)
    assert "bounce: 2" in page and "auto-reply: 1" in page and "complaint: 0" in page
    assert "<script>alert(1)</script>" not in page and "&lt;script&gt;alert(1)&lt;/script&gt; away" in page
    assert f"subscriber {reader}: active -&gt; bounced" in page
    assert "no subscriber has the address stranger@example.org" in page
    bounces = client.get("/admin/inbound/?kind=bounce").get_data(as_text=True)
    assert len(re.findall(r'<td class="kind">bounce</td>', bounces)) == 2
    assert 'name="csrf_token"' in page  # the sign-out form, as on every admin page

    shown = client.get(f"/admin/inbound/{kept.id}").get_data(as_text=True)
    assert "I am &lt;b&gt;away&lt;/b&gt;." in shown and "an auto-reply; kept for the admin, nothing changed" in shown
    assert client.get("/admin/inbound/999999").status_code == 404
    history = client.get(f"/admin/subscribers/{reader}").get_data(as_text=True)
    assert "inbound mail" in history and "reader@example.org failed permanently" in history
    assert bounced.changed == [reader]

    # Deleting the subscriber erases the mail about them that the log kept.
    with runtime.engine.begin() as conn:
        erase_subscriber(conn, reader, NOW, "admin@example.org")
    shown = client.get(f"/admin/inbound/{bounced.id}").get_data(as_text=True)
    assert "reader@example.org" not in shown and "The message itself is no longer kept" in shown
