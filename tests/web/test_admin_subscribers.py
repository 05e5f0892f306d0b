"""Admin subscriber pages: list, search, filters, counts, a subscriber's history, topics, block, delete."""

from __future__ import annotations

import re

import pytest

from service.store.subscribers import audit, listing, records
from service.store.subscribers.imports import ImportRow
from subscribers.imports import import_rows
from tests.conftest import NOW
from tests.support.forms import create_admin, csrf_token, sign_in


@pytest.fixture
def signed_in(app, client, app_engine):
    create_admin(app_engine)
    with app_engine.begin() as conn:
        import_rows(
            conn,
            [
                ImportRow("alice@example.org", ["vla"], "active"),
                ImportRow("bob@example.org", ["testing"], "active"),
                ImportRow("carol@example.org", ["vla", "testing"], "unsubscribed"),
                ImportRow("mallory@example.org", [], "pending"),
            ],
            NOW,
            "cli",
        )
    sign_in(client)
    return client


def emails_in(page: bytes) -> list[str]:
    return re.findall(rb'<td><a href="/admin/subscribers/\d+">([^<]+)</a></td>', page)


def subscriber_id(engine, email):
    with engine.connect() as conn:
        return records.subscriber_by_email(conn, email).id


def test_it_lists_counts_searches_filters_and_sorts(signed_in):
    page = signed_in.get("/admin/").data
    assert emails_in(page) == [b"alice@example.org", b"bob@example.org", b"carol@example.org", b"mallory@example.org"]
    assert b"active: 2" in page and b"unsubscribed: 1" in page and b"pending: 1" in page
    assert b"Vision-Language-Action Models: 1" in page and b"Software Testing: 1" in page
    assert emails_in(signed_in.get("/admin/?q=BO").data) == [b"bob@example.org"]
    assert emails_in(signed_in.get("/admin/?status=active&topic=vla").data) == [b"alice@example.org"]
    assert emails_in(signed_in.get("/admin/?topic=testing&sort=-email").data) == [
        b"carol@example.org",
        b"bob@example.org",
    ]
    # Unknown filter values are ignored rather than failing.
    assert len(emails_in(signed_in.get("/admin/?status=nonsense&sort=password&page=-3").data)) == 4


def test_it_pages_through_many_subscribers(signed_in, app_engine):
    with app_engine.begin() as conn:
        import_rows(conn, [ImportRow(f"reader{n:03d}@example.org", ["vla"], "active") for n in range(120)], NOW, "cli")
    first = signed_in.get("/admin/?q=reader").data
    third = signed_in.get("/admin/?q=reader&page=3").data
    assert b"120 subscribers match." in first and b"Page 1 of 3" in first and b'rel="next"' in first
    assert emails_in(third) == [f"reader{n:03d}@example.org".encode() for n in range(100, 120)]


def test_it_changes_topics_blocks_and_deletes_with_history(signed_in, app_engine):
    alice = subscriber_id(app_engine, "alice@example.org")
    page = signed_in.get(f"/admin/subscribers/{alice}")
    token = csrf_token(page.data)
    changed = signed_in.post(
        f"/admin/subscribers/{alice}/topics", data={"csrf_token": token, "topics": ["testing"]}, follow_redirects=True
    )
    assert b"Topics saved." in changed.data
    unknown = signed_in.post(
        f"/admin/subscribers/{alice}/topics", data={"csrf_token": token, "topics": ["astro"]}, follow_redirects=True
    )
    assert b"Unknown topic &#39;astro&#39;; nothing changed." in unknown.data
    blocked = signed_in.post(
        f"/admin/subscribers/{alice}/block", data={"csrf_token": token, "confirm": "yes"}, follow_redirects=True
    )
    assert b"Subscriber blocked" in blocked.data
    with app_engine.connect() as conn:
        found = records.get_subscriber(conn, alice)
    assert (found.status, found.topics) == ("blocked", ["testing"])
    deleted = signed_in.post(
        f"/admin/subscribers/{alice}/delete", data={"csrf_token": token, "confirm": "yes"}, follow_redirects=True
    )
    assert b"Subscriber deleted" in deleted.data and b"Deleted subscriber #" in deleted.data
    history = re.findall(rb"<td>(admin@example\.org|cli)</td><td>([a-z-]+)</td>", deleted.data)
    assert history == [
        (b"cli", b"import"),
        (b"admin@example.org", b"topics"),
        (b"admin@example.org", b"block"),
        (b"admin@example.org", b"delete"),
    ]
    with app_engine.connect() as conn:
        assert records.subscriber_by_email(conn, "alice@example.org") is None
        assert listing.status_counts(conn)["deleted"] == 1
    again = signed_in.post(
        f"/admin/subscribers/{alice}/delete", data={"csrf_token": token, "confirm": "yes"}, follow_redirects=True
    )
    assert b"no such subscriber" in again.data
    assert signed_in.get("/admin/subscribers/99999").status_code == 404


def test_it_escapes_addresses_and_audit_details(signed_in, app_engine):
    with app_engine.begin() as conn:
        import_rows(conn, [ImportRow('"<script>x</script>"@example.org', ["vla"], "active")], NOW, "cli")
    page = signed_in.get("/admin/?q=script").data
    assert b"<script>x</script>" not in page and b"&lt;script&gt;" in page


def test_it_blocks_or_deletes_only_when_the_confirm_box_is_ticked(signed_in, app_engine):
    bob = subscriber_id(app_engine, "bob@example.org")
    page = signed_in.get(f"/admin/subscribers/{bob}").data
    # Both danger buttons sit in a marked-off section, each behind a box the browser requires, no script needed.
    danger = page[page.index(b'<section class="danger"') : page.index(b"</section>")]
    assert danger.count(b'<input type="checkbox" name="confirm" value="yes" required>') == 2
    assert b'class="danger delete">Delete for good</button>' in danger and b"onsubmit" not in page
    token = csrf_token(page)
    for action in ("block", "delete"):
        refused = signed_in.post(
            f"/admin/subscribers/{bob}/{action}", data={"csrf_token": token}, follow_redirects=True
        )
        assert (
            f"Tick the box to confirm that you want to {action} this subscriber; nothing changed.".encode()
            in refused.data
        )
    with app_engine.connect() as conn:
        found = records.get_subscriber(conn, bob)
        assert (found.email, found.status) == ("bob@example.org", "active")
        assert [entry.action for entry in audit.audit_entries(conn, bob)] == ["import"]


def test_it_answers_404_for_a_subscriber_id_beyond_any_database_integer(signed_in):
    token = csrf_token(signed_in.get("/admin/").data)
    assert signed_in.get("/admin/subscribers/99999999999999999999").status_code == 404
    assert (
        signed_in.post(
            "/admin/subscribers/99999999999999999999/block", data={"csrf_token": token, "confirm": "yes"}
        ).status_code
        == 404
    )


def test_it_sorts_by_every_column(signed_in):
    # By first topic; where a subscriber without topics goes depends on the database.
    by_topic = [e for e in emails_in(signed_in.get("/admin/?sort=topics").data) if e != b"mallory@example.org"]
    assert by_topic == [b"bob@example.org", b"carol@example.org", b"alice@example.org"]
    assert emails_in(signed_in.get("/admin/?sort=-status").data)[0] == b"carol@example.org"
    for key in ("email", "status", "topics", "created", "changed"):
        page = signed_in.get(f"/admin/?sort={key}").data
        assert b'aria-sort="ascending"' in page and len(emails_in(page)) == 4
        assert len(emails_in(signed_in.get(f"/admin/?sort=-{key}").data)) == 4
