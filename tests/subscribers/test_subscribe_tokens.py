"""Signed links: /confirm, /preferences and /unsubscribe with good, tampered, mixed-up and expired tokens."""

from __future__ import annotations

import http.client
import re
from datetime import UTC, datetime, timedelta
from urllib.parse import urlsplit

import pytest

from service.store.subscribers import lifecycle, records
from service.store.subscribers.imports import ImportRow
from subscribers import tokens
from subscribers.imports import import_rows
from tests.conftest import NOW


@pytest.fixture
def alice(app):
    with app.extensions["paperboy"].engine.begin() as conn:
        import_rows(conn, [ImportRow("alice@example.org", ["vla"], "active")], NOW, "cli")
        return records.subscriber_by_email(conn, "alice@example.org")


def status_of(app, subscriber_id):
    with app.extensions["paperboy"].engine.connect() as conn:
        return records.get_subscriber(conn, subscriber_id).status


def test_it_reads_back_what_it_signed_and_expires_confirmations_after_seven_days(config):
    token = tokens.confirm_token(config, 7, ["vla", "testing"], NOW)
    assert tokens.read_confirm_token(config, token, NOW + timedelta(days=6, hours=23)) == (7, ["testing", "vla"])
    with pytest.raises(tokens.TokenError, match="expired"):
        tokens.read_confirm_token(config, token, NOW + timedelta(days=7, seconds=1))
    assert tokens.read_unsubscribe_token(config, tokens.unsubscribe_token(config, 7)) == 7
    assert tokens.read_preferences_token(config, tokens.preferences_token(config, 7)) == 7
    assert tokens.unsubscribe_url(config, 7).startswith("http://paperboy.test/unsubscribe/")
    assert tokens.preferences_url(config, 7).startswith("http://paperboy.test/preferences/")


def test_it_never_accepts_one_kind_of_token_for_another(config):
    unsubscribe = tokens.unsubscribe_token(config, 7)
    with pytest.raises(tokens.TokenError):
        tokens.read_preferences_token(config, unsubscribe)
    with pytest.raises(tokens.TokenError):
        tokens.read_confirm_token(config, unsubscribe, NOW)
    with pytest.raises(tokens.TokenError):
        tokens.read_unsubscribe_token(config.with_overrides(secret_key="another"), unsubscribe)


def test_it_refuses_an_expired_confirmation_link(app, client):
    with app.extensions["paperboy"].engine.begin() as conn:
        pending, _ = lifecycle.request_subscription(conn, "bob@example.org", ["vla"], NOW)
    old = datetime.now(UTC) - timedelta(days=8)
    answer = client.get(f"/confirm/{tokens.confirm_token(app.extensions['paperboy'].config, pending.id, ['vla'], old)}")
    assert answer.status_code == 400 and b"This confirmation link has expired" in answer.data
    assert status_of(app, pending.id) == "pending"


@pytest.mark.parametrize("path", ["/confirm/{bad}", "/preferences/{bad}", "/unsubscribe/{bad}"])
def test_it_refuses_a_tampered_link(app, client, alice, path):
    good = tokens.unsubscribe_token(app.extensions["paperboy"].config, alice.id)
    bad = good[:-2] + ("AA" if not good.endswith("AA") else "BB")
    answers = [client.get(path.format(bad=bad))]
    if path.startswith("/unsubscribe"):
        answers.append(client.post(path.format(bad=bad), data={"List-Unsubscribe": "One-Click"}))
    for answer in answers:
        assert answer.status_code == 400 and b"is not valid" in answer.data
    assert status_of(app, alice.id) == "active"


def test_it_asks_before_unsubscribing_on_get(app, client, alice):
    path = f"/unsubscribe/{tokens.unsubscribe_token(app.extensions['paperboy'].config, alice.id)}"
    page = client.get(path)
    assert page.status_code == 200 and b"Stop the weekly digest to alice@example.org?" in page.data
    assert status_of(app, alice.id) == "active"
    form = re.search(rb'<form method="post">', page.data)
    assert form is not None
    done = client.post(path)
    assert done.status_code == 200 and b"You are unsubscribed" in done.data
    assert status_of(app, alice.id) == "unsubscribed"
    again = client.post(path)
    assert again.status_code == 200 and status_of(app, alice.id) == "unsubscribed"


def test_it_never_confirms_a_blocked_or_deleted_subscriber(app, client):
    runtime = app.extensions["paperboy"]
    with runtime.engine.begin() as conn:
        blocked, _ = lifecycle.request_subscription(conn, "spam@example.org", ["vla"], NOW)
        deleted, _ = lifecycle.request_subscription(conn, "gone@example.org", ["vla"], NOW)
        lifecycle.block(conn, blocked.id, NOW, "admin@example.org")
        lifecycle.erase(conn, deleted.id, NOW, "admin@example.org")
    now = datetime.now(UTC)
    for subscriber in (blocked, deleted):
        answer = client.get(f"/confirm/{tokens.confirm_token(runtime.config, subscriber.id, ['vla'], now)}")
        assert answer.status_code == 400 and b"can no longer be confirmed" in answer.data
    assert status_of(app, blocked.id) == "blocked" and status_of(app, deleted.id) == "deleted"
    gone = client.get(f"/unsubscribe/{tokens.unsubscribe_token(runtime.config, deleted.id)}")
    assert gone.status_code == 404


def test_it_leaves_from_the_preferences_page_and_refuses_topics_for_unsubscribed(app, client, alice):
    path = f"/preferences/{tokens.preferences_token(app.extensions['paperboy'].config, alice.id)}"
    page = client.get(path)
    token = re.search(rb'name="csrf_token" value="([^"]+)"', page.data).group(1).decode()
    empty = client.post(path, data={"csrf_token": token, "action": "save"})
    assert empty.status_code == 400 and b"Please pick at least one topic." in empty.data
    left = client.post(path, data={"csrf_token": token, "action": "leave"})
    assert left.status_code == 200 and status_of(app, alice.id) == "unsubscribed"
    refused = client.post(path, data={"csrf_token": token, "topics": ["vla"], "action": "save"})
    assert refused.status_code == 400 and b"not subscribed" in refused.data
    assert status_of(app, alice.id) == "unsubscribed"


def test_it_refuses_an_old_confirmation_link_once_the_subscriber_has_left(app, client, alice):
    """The first confirmation mail stays in the inbox: following it again after unsubscribing must not re-subscribe."""
    runtime = app.extensions["paperboy"]
    issued = datetime.now(UTC) - timedelta(days=1)
    old_link = f"/confirm/{tokens.confirm_token(runtime.config, alice.id, ['vla'], issued)}"
    with runtime.engine.begin() as conn:
        lifecycle.unsubscribe(conn, alice.id, issued + timedelta(hours=1))
    page = client.get(old_link)
    assert page.status_code == 400 and b"can no longer be confirmed" in page.data
    token = re.search(rb'name="csrf_token" value="([^"]+)"', client.get("/subscribe").data).group(1).decode()
    answer = client.post(old_link, data={"csrf_token": token})
    assert answer.status_code == 400 and b"can no longer be confirmed" in answer.data
    assert status_of(app, alice.id) == "unsubscribed"
    fresh = f"/confirm/{tokens.confirm_token(runtime.config, alice.id, ['vla'], datetime.now(UTC))}"
    assert client.post(fresh, data={"csrf_token": token}).status_code == 200
    assert status_of(app, alice.id) == "active"


@pytest.mark.parametrize(
    "headers",
    [
        {},
        {"Content-Type": "text/plain"},
        {"Content-Type": "multipart/form-data; boundary=x"},
        {"Content-Type": "application/x-www-form-urlencoded; charset=utf-8"},
    ],
)
def test_it_unsubscribes_on_a_one_click_post_whatever_content_type_the_mail_client_sends(
    app, live_server, alice, headers
):

    path = f"/unsubscribe/{tokens.unsubscribe_token(app.extensions['paperboy'].config, alice.id)}"
    for _ in range(2):  # a mail client may retry: the second POST answers the same
        connection = http.client.HTTPConnection(urlsplit(live_server).netloc)
        connection.request("POST", path, body=b"List-Unsubscribe=One-Click", headers=headers)
        response = connection.getresponse()
        body = response.read()
        connection.close()
        assert response.status == 200 and response.getheader("Location") is None, body[:200]
        assert b"You are unsubscribed" in body
        assert status_of(app, alice.id) == "unsubscribed"


def test_it_keeps_token_pages_out_of_referers_and_caches(app, client, alice):
    config = app.extensions["paperboy"].config
    with app.extensions["paperboy"].engine.begin() as conn:
        pending, _ = lifecycle.request_subscription(conn, "bob@example.org", ["vla"], NOW)
    paths = [
        f"/unsubscribe/{tokens.unsubscribe_token(config, alice.id)}",
        f"/preferences/{tokens.preferences_token(config, alice.id)}",
        f"/confirm/{tokens.confirm_token(config, pending.id, ['vla'], datetime.now(UTC))}",
    ]
    for answer in [client.get(path) for path in paths] + [client.post(paths[0])]:
        assert answer.status_code == 200
        assert answer.headers["Referrer-Policy"] == "no-referrer" and answer.headers["Cache-Control"] == "no-store"
    # Other pages carry the site-wide policy, which still sends the origin to other sites.
    assert client.get("/subscribe").headers["Referrer-Policy"] == "strict-origin-when-cross-origin"
