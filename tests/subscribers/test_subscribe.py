"""/subscribe and the whole double opt-in path against a real SMTP server on loopback."""

from __future__ import annotations

import http.client
import re
from urllib.parse import urlsplit

import pytest

from service.outbound.notices import send_notices
from service.store.subscribers import audit, listing, records
from service.store.subscribers.imports import ImportRow
from subscribers.imports import import_rows
from subscribers.tokens import unsubscribe_url
from tests.conftest import NOW
from tests.support.forms import csrf_token, subscribe

CHECK_INBOX = b"a confirmation link is on its way"


@pytest.fixture
def config(config, smtp_server):
    return config.with_overrides(smtp_url=smtp_server.url)


def confirm_path(message) -> str:
    text = message.get_body(("plain",)).get_content()
    return urlsplit(re.search(r"http://paperboy\.test/confirm/\S+", text).group(0)).path


def confirm(client, message):
    """Open the confirmation link (a page that only asks) and press its button."""
    path = confirm_path(message)
    page = client.get(path)
    assert page.status_code == 200 and b"Confirm your subscription" in page.data
    return client.post(path, data={"csrf_token": csrf_token(page.data)})


def mail_confirmations(app):
    """What the scheduler does every 15 s: admit the form's sign-ups and send the due confirmations."""
    return send_notices(app.extensions["paperboy"])


def subscriber(app, email):
    with app.extensions["paperboy"].engine.connect() as conn:
        return records.subscriber_by_email(conn, email)


def test_it_runs_the_whole_path_from_subscribe_to_one_click_unsubscribe(app, client, live_server, smtp_server):
    answer = subscribe(client, "Alice@Example.org", ["vla", "testing"])
    assert answer.status_code == 200 and CHECK_INBOX in answer.data
    assert mail_confirmations(app).sent == 1
    assert subscriber(app, "alice@example.org").status == "pending"

    [mail] = smtp_server.messages
    assert mail["To"] == "alice@example.org" and mail["Date"]
    assert re.fullmatch(r"<confirm-\d+@localhost>", mail["Message-ID"])
    assert mail.get_content_type() == "multipart/alternative"
    assert mail.get_body(("html",)).get_content().count("/confirm/") == 2
    # Opening the link, as a mail scanner does, changes nothing.
    assert client.get(confirm_path(mail)).status_code == 200
    assert subscriber(app, "alice@example.org").status == "pending"
    confirmed = confirm(client, mail)
    assert confirmed.status_code == 200 and b"Subscription confirmed" in confirmed.data
    alice = subscriber(app, "alice@example.org")
    assert (alice.status, alice.topics) == ("active", ["testing", "vla"])

    preferences = re.search(rb'href="http://paperboy\.test(/preferences/[^"]+)"', confirmed.data).group(1).decode()
    page = client.get(preferences)
    saved = client.post(
        preferences, data={"csrf_token": csrf_token(page.data), "topics": ["testing"], "action": "save"}
    )
    assert saved.status_code == 200 and b"Your topics are saved" in saved.data
    assert subscriber(app, "alice@example.org").topics == ["testing"]

    # RFC 8058: the mail client POSTs the List-Unsubscribe URL with this body, no cookies, no token.
    path = urlsplit(unsubscribe_url(app.extensions["paperboy"].config, alice.id)).path
    connection = http.client.HTTPConnection(urlsplit(live_server).netloc)
    connection.request(
        "POST", path, body="List-Unsubscribe=One-Click", headers={"Content-Type": "application/x-www-form-urlencoded"}
    )
    response = connection.getresponse()
    assert response.status == 200 and response.getheader("Location") is None
    assert b"You are unsubscribed" in response.read()
    assert subscriber(app, "alice@example.org").status == "unsubscribed"


def test_it_answers_a_known_address_exactly_like_a_new_one(app, client, smtp_server):
    new = subscribe(client, "new@example.org")
    with app.extensions["paperboy"].engine.begin() as conn:
        for email, status in [
            ("gone@example.org", "unsubscribed"),
            ("spam@example.org", "blocked"),
            ("reader@example.org", "active"),
        ]:
            import_rows(conn, [ImportRow(email, ["vla"], status)], NOW, "cli")
    answers = [subscribe(client, email) for email in ("gone@example.org", "spam@example.org", "reader@example.org")]
    mail_confirmations(app)
    assert {a.status_code for a in answers} == {200}
    assert {a.data for a in answers} == {new.data}
    # Blocked gets no mail; unsubscribed gets a new confirmation and stays unsubscribed until it is followed.
    # (The confirmations go out over several connections at once, so in any order.)
    assert sorted(m["To"] for m in smtp_server.messages) == [
        "gone@example.org",
        "new@example.org",
        "reader@example.org",
    ]
    assert subscriber(app, "gone@example.org").status == "unsubscribed"
    assert subscriber(app, "spam@example.org").status == "blocked"


@pytest.mark.parametrize(
    "email, message",
    [
        ("", b"Please enter an email address."),
        ("not an address", b"That is not a valid email address"),
        ("a" * 5000 + "@example.org", b"too long (at most 254 characters)"),
        ("alice@example.org\r\nBcc: everyone@example.org", b"cannot contain line breaks"),
        ("alice@example.org\nSubject: hi", b"cannot contain line breaks"),
    ],
)
def test_it_refuses_a_bad_address_and_writes_nothing(app, client, smtp_server, email, message):
    answer = subscribe(client, email)
    assert answer.status_code == 400 and message in answer.data
    mail_confirmations(app)
    with app.extensions["paperboy"].engine.connect() as conn:
        assert listing.status_counts(conn)["pending"] == 0
    assert smtp_server.messages == []


@pytest.mark.parametrize(
    "topics, message",
    [
        ([], b"Please pick at least one topic."),
        (["vla", "astrology"], b"Unknown topic: astrology"),
        (["<script>alert(1)</script>"], b"Unknown topic: &lt;script&gt;"),
    ],
)
def test_it_refuses_unknown_or_missing_topics(app, client, smtp_server, topics, message):
    answer = subscribe(client, "alice@example.org", topics)
    assert answer.status_code == 400 and message in answer.data
    mail_confirmations(app)
    assert subscriber(app, "alice@example.org") is None and smtp_server.messages == []


def test_it_shows_the_form_with_a_topic_ticked(client):
    page = client.get("/subscribe?topic=testing")
    assert page.status_code == 200
    assert re.search(rb'value="testing" checked', page.data) and not re.search(rb'value="vla" checked', page.data)


def test_it_refuses_a_sign_up_posted_from_another_site_and_writes_nothing(app, client, smtp_server):
    form = {"email": "alice@example.org", "topics": ["vla"]}
    for headers in ({"Sec-Fetch-Site": "cross-site"}, {"Origin": "https://evil.example"}):
        answer = client.post("/subscribe", data=form, headers=headers)
        assert answer.status_code == 403 and b"own pages" in answer.data
    mail_confirmations(app)
    assert subscriber(app, "alice@example.org") is None and smtp_server.messages == []


def test_the_form_on_a_cached_page_signs_up_without_a_session(app, client, smtp_server):
    """The home and topic pages carry no token and set no cookie, so the form posts without one."""
    page = client.get("/topics/vla/")
    assert b'action="/subscribe"' in page.data and b"csrf_token" not in page.data
    assert "Set-Cookie" not in page.headers
    headers = {"Origin": "http://localhost", "Sec-Fetch-Site": "same-origin"}
    answer = client.post("/subscribe", data={"email": "alice@example.org", "topics": ["vla"]}, headers=headers)
    assert answer.status_code == 200 and b"Check your inbox" in answer.data
    mail_confirmations(app)
    assert [m["To"] for m in smtp_server.messages] == ["alice@example.org"]


def test_it_sends_one_confirmation_per_address_however_often_the_form_is_sent(app, client, smtp_server):
    """Nobody can use the form to flood an inbox; the answer does not show that the mail was held back."""
    answers = [subscribe(client, "victim@example.org") for _ in range(4)]
    mail_confirmations(app)
    assert {a.status_code for a in answers} == {200} and len({a.data for a in answers}) == 1
    assert [m["To"] for m in smtp_server.messages] == ["victim@example.org"]
    with app.extensions["paperboy"].engine.connect() as conn:
        history = [entry.action for entry in audit.audit_entries(conn, subscriber(app, "victim@example.org").id)]
    assert history == ["subscribe", "confirm-mail", "subscribe-again", "subscribe-again", "subscribe-again"]
