"""Digests on the web: /digests/<id> in public, the list on the home page, the admin pages."""

from __future__ import annotations

import html

import lxml.html
import pytest

from service.digest.digest import build_digest
from service.outbound.digests import send_digest
from tests.conftest import NOW
from tests.support.digest_data import ALICE, BOB, WEEK, FakeClock, add_subscribers, load_week
from tests.support.forms import sign_in


@pytest.fixture
def sent(app):
    """The week's digest mailed (to the outbox) to Alice and Bob."""
    runtime = app.extensions["paperboy"]
    with runtime.engine.begin() as conn:
        testing, vla = load_week(conn)
        add_subscribers(conn, [ALICE, BOB], NOW)
    queued, _ = send_digest(runtime, WEEK, now=NOW, clock=FakeClock(NOW))
    return queued.digest, testing, vla


def test_it_shows_a_past_digest_in_public(client, sent):
    digest, testing, vla = sent
    page = client.get(f"/digests/{digest.id}")

    assert page.status_code == 200
    text = html.unescape(page.get_data(as_text=True))
    assert f"Weekly digest {WEEK}" in text
    for paper in testing + vla:
        assert paper.abs_url in text
    assert text.index("Vision-Language-Action Models") < text.index("Software Testing")
    assert text.count("also in: Software Testing") == 2
    # Inside the card of the paper it is about, not under the line after it.
    notes = lxml.html.fromstring(page.data).cssselect("p.also-in")
    assert len(notes) == 2 and all(note.getparent().tag == "article" for note in notes)


def test_it_answers_404_for_a_digest_that_does_not_exist(client, sent):
    assert client.get("/digests/999").status_code == 404


def test_it_lists_past_digests_on_the_home_page(app, client, sent):
    digest, _, _ = sent
    runtime = app.extensions["paperboy"]
    with runtime.engine.begin() as conn:
        build_digest(conn, runtime.topics, "2026-W03", NOW)  # a week without papers

    home = client.get("/").get_data(as_text=True)

    assert "2026-W03" not in home
    assert "Past weekly digests" in home
    assert f'href="/digests/{digest.id}"' in home and f">{WEEK}</a> (22 papers)" in home


def test_it_keeps_the_admin_digest_pages_closed_to_visitors(client, sent):
    digest, _, _ = sent
    for url in ("/admin/digests", f"/admin/digests/{digest.id}", "/admin/digests/preview"):
        response = client.get(url)
        assert response.status_code == 302 and "/admin/sign-in" in response.headers["Location"]


def test_it_shows_delivery_counts_to_admins(client, admin, sent):  # noqa: F811
    digest, _, _ = sent
    sign_in(client)

    listing = client.get("/admin/digests").get_data(as_text=True)
    detail = client.get(f"/admin/digests/{digest.id}").get_data(as_text=True)

    assert WEEK in listing
    assert '<dd id="count-sent">2</dd>' in detail and '<dd id="count-failed">0</dd>' in detail
    assert ALICE[0] in detail and BOB[0] in detail
    only_failed = client.get(f"/admin/digests/{digest.id}?state=failed").get_data(as_text=True)
    assert ALICE[0] not in only_failed


def test_it_previews_the_email_for_admins(client, admin, sent):  # noqa: F811
    _, testing, vla = sent
    sign_in(client)

    email = client.get(f"/admin/digests/preview?week={WEEK}&topics=testing")
    text = client.get(f"/admin/digests/preview?week={WEEK}&topics=testing&format=text")

    assert email.status_code == 200 and email.mimetype == "text/html"
    body = html.unescape(email.get_data(as_text=True))
    assert all(p.abs_url in body for p in testing)
    assert "Vision-Language-Action Models" not in body
    assert text.mimetype == "text/plain" and testing[0].title in text.get_data(as_text=True)


def test_it_explains_a_preview_it_cannot_make(client, admin, sent):  # noqa: F811
    sign_in(client)
    assert b"no topic" in client.get("/admin/digests/preview?week=2026-W05&topics=nope").data
    bad_week = client.get("/admin/digests/preview?week=2026-W99")
    assert bad_week.status_code == 400 and b"no such ISO week" in bad_week.data


def test_admins_queue_a_week_and_the_sweep_sends_it(app, client, admin, smtp_server):  # noqa: F811
    from service.outbound.digests import send_due
    from service.store import deliveries
    from service.store.digests import get_digest_for_week
    from tests.support.forms import csrf_token

    runtime = app.extensions["paperboy"]
    runtime.config = runtime.config.with_overrides(smtp_url=smtp_server.url)
    with runtime.engine.begin() as conn:
        load_week(conn)
        add_subscribers(conn, [ALICE, BOB], NOW)
    sign_in(client)
    token = csrf_token(client.get("/admin/digests").data)

    without_token = client.post("/admin/digests/send", data={"week": WEEK})
    response = client.post("/admin/digests/send", data={"week": WEEK, "csrf_token": token}, follow_redirects=True)

    assert without_token.status_code == 400
    assert response.status_code == 200 and b"2 new deliveries queued" in response.data
    assert smtp_server.messages == []  # queued, not sent by the web process
    [stats] = send_due(runtime, FakeClock(NOW))
    assert stats.sent == 2 and sorted(smtp_server.handler.recipients()) == [ALICE[0], BOB[0]]
    assert send_due(runtime, FakeClock(NOW)) == []
    with runtime.engine.connect() as conn:
        digest = get_digest_for_week(conn, WEEK)
        assert deliveries.delivery_counts(conn, digest.id)["sent"] == 2
    bad = client.post("/admin/digests/send", data={"week": "2026-W99", "csrf_token": token}, follow_redirects=True)
    assert b"no such ISO week" in bad.data
