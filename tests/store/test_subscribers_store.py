"""service/store/subscribers/ with subscribers/confirmation.py and subscribers/imports.py on SQLite and
PostgreSQL: states, topics, audit, listing, counts, bulk import."""

from __future__ import annotations

from datetime import timedelta

import pytest

from service.store import deliveries, digests
from service.store.subscribers import admins, audit, bounces, lifecycle, listing, records
from service.store.subscribers.imports import ImportRow, export_rows
from subscribers import confirmation
from subscribers.erasure import erase_subscriber
from subscribers.imports import import_rows
from tests.conftest import NOW

LATER = NOW + timedelta(hours=1)


def subscribe(conn, email, topics=("vla",), now=NOW):
    return lifecycle.request_subscription(conn, email, list(topics), now)


def test_it_creates_a_pending_subscriber_with_topics_and_audits_it(engine):
    with engine.begin() as conn:
        alice, send = subscribe(conn, "alice@example.org", ["vla", "testing"])
    assert send is True
    with engine.connect() as conn:
        found = records.subscriber_by_email(conn, "alice@example.org")
        history = audit.audit_entries(conn, alice.id)
    assert (found.status, found.topics, found.created, found.confirmed) == ("pending", ["testing", "vla"], NOW, None)
    assert [(e.actor, e.action) for e in history] == [("subscriber", "subscribe")]


def test_it_activates_on_confirm_and_keeps_topics_until_then(engine):
    with engine.begin() as conn:
        alice, _ = subscribe(conn, "alice@example.org", ["vla"])
        confirmed = confirmation.confirm(conn, alice.id, ["vla"], LATER)
    assert (confirmed.status, confirmed.confirmed, confirmed.topics) == ("active", LATER, ["vla"])
    with engine.begin() as conn:
        again, send = subscribe(conn, "alice@example.org", ["testing"], LATER)
        # An active subscriber's topics change only when the new confirmation link is followed.
        assert records.get_subscriber(conn, alice.id).topics == ["vla"]
        assert send is True
        confirmation.confirm(conn, alice.id, ["testing"], LATER)
        assert records.get_subscriber(conn, alice.id).topics == ["testing", "vla"]


def test_it_never_reactivates_unsubscribed_or_blocked_without_confirmation(engine):
    with engine.begin() as conn:
        alice, _ = subscribe(conn, "alice@example.org")
        confirmation.confirm(conn, alice.id, ["vla"], NOW)
        lifecycle.unsubscribe(conn, alice.id, NOW)
        bob, _ = subscribe(conn, "bob@example.org")
        lifecycle.block(conn, bob.id, NOW, "admin@example.org")
    with engine.begin() as conn:
        _, send_alice = subscribe(conn, "alice@example.org", now=LATER)
        _, send_bob = subscribe(conn, "bob@example.org", now=LATER)
        assert records.get_subscriber(conn, alice.id).status == "unsubscribed"
        assert records.get_subscriber(conn, bob.id).status == "blocked"
    assert (send_alice, send_bob) == (True, False)
    with engine.begin() as conn, pytest.raises(records.SubscriberError):
        confirmation.confirm(conn, bob.id, ["vla"], LATER)


def test_it_unsubscribes_idempotently_and_keeps_blocked_blocked(engine):
    with engine.begin() as conn:
        alice, _ = subscribe(conn, "alice@example.org")
        confirmation.confirm(conn, alice.id, ["vla"], NOW)
        lifecycle.unsubscribe(conn, alice.id, LATER)
        lifecycle.unsubscribe(conn, alice.id, LATER)
        bob, _ = subscribe(conn, "bob@example.org")
        lifecycle.block(conn, bob.id, NOW, "admin@example.org")
        lifecycle.unsubscribe(conn, bob.id, LATER)
    with engine.connect() as conn:
        assert records.get_subscriber(conn, alice.id).status == "unsubscribed"
        assert records.get_subscriber(conn, bob.id).status == "blocked"
        assert [e.action for e in audit.audit_entries(conn, alice.id)] == ["subscribe", "confirm", "unsubscribe"]


def test_it_erases_the_address_but_keeps_the_row_and_history(engine):
    with engine.begin() as conn:
        alice, _ = subscribe(conn, "alice@example.org", ["vla", "testing"])
        lifecycle.erase(conn, alice.id, LATER, "admin@example.org")
    with engine.connect() as conn:
        erased = records.get_subscriber(conn, alice.id)
        assert (erased.email, erased.status, erased.topics) == (None, "deleted", [])
        assert listing.status_counts(conn)["deleted"] == 1
        assert [e.action for e in audit.audit_entries(conn, alice.id)] == ["subscribe", "delete"]
        assert "alice" not in " ".join(e.detail or "" for e in audit.audit_entries(conn, alice.id))
    with engine.begin() as conn:
        # The address is free again and starts over as pending.
        again, send = subscribe(conn, "alice@example.org", now=LATER)
    assert again.id != alice.id and again.status == "pending" and send


def test_it_marks_bounced_with_the_reason(engine):
    with engine.begin() as conn:
        alice, _ = subscribe(conn, "alice@example.org")
        confirmation.confirm(conn, alice.id, ["vla"], NOW)
        bounces.mark_bounced(conn, alice.id, "smtp: 550 no such user", LATER)
    with engine.connect() as conn:
        assert records.get_subscriber(conn, alice.id).status == "bounced"
        last = audit.audit_entries(conn, alice.id)[-1]
    assert (last.actor, last.action, last.detail) == ("mailer", "bounce", "smtp: 550 no such user")


def test_it_lists_with_search_filters_sort_pages_and_counts(engine):
    rows = [
        ImportRow(f"user{n:02d}@example.org", ["vla"] if n % 2 else ["testing"], "active" if n % 3 else "unsubscribed")
        for n in range(30)
    ]
    rows.append(ImportRow("under_score%@example.org", ["vla"], "active"))
    with engine.begin() as conn:
        import_rows(conn, rows, NOW, "cli")
    with engine.connect() as conn:
        first = listing.list_subscribers(conn, sort="email", page=1, per_page=10)
        last = listing.list_subscribers(conn, sort="-email", page=1, per_page=10)
        beyond = listing.list_subscribers(conn, page=99, per_page=10)
        search = listing.list_subscribers(conn, search="USER1")
        wildcard = listing.list_subscribers(conn, search="_score%")
        odd_active = listing.list_subscribers(conn, status="active", topic="vla")
        statuses = listing.status_counts(conn)
        topics = listing.topic_counts(conn)
    assert (first.total, first.pages) == (31, 4)
    assert first.subscribers[0].email == "under_score%@example.org"
    assert last.subscribers[0].email == "user29@example.org"
    assert beyond.page == 4 and len(beyond.subscribers) == 1
    assert [s.email for s in search.subscribers] == [f"user{n}@example.org" for n in range(10, 20)]
    assert [s.email for s in wildcard.subscribers] == ["under_score%@example.org"]
    expected = [n for n in range(30) if n % 2 and n % 3]
    assert odd_active.total == len(expected) + 1
    assert all(s.status == "active" and "vla" in s.topics for s in odd_active.subscribers)
    assert statuses["active"] == 21 and statuses["unsubscribed"] == 10 and statuses["pending"] == 0
    assert topics == {"vla": len(expected) + 1, "testing": len([n for n in range(30) if not n % 2 and n % 3])}


def test_it_imports_as_an_upsert_and_audits_only_changes(engine):
    with engine.begin() as conn:
        alice, _ = subscribe(conn, "alice@example.org", ["vla"])
        confirmation.confirm(conn, alice.id, ["vla"], NOW)
        result = import_rows(
            conn,
            [
                ImportRow("alice@example.org", ["testing", "vla"], "active"),
                ImportRow("bob@example.org", ["vla"], "active"),
                ImportRow("carol@example.org", [], "blocked"),
            ],
            LATER,
            "admin@example.org",
        )
        again = import_rows(conn, [ImportRow("bob@example.org", ["vla"], "active")], LATER, "cli")
    assert (result.created, result.updated, result.unchanged) == (2, 1, 0)
    assert (again.created, again.updated, again.unchanged) == (0, 0, 1)
    with engine.connect() as conn:
        assert records.get_subscriber(conn, alice.id).topics == ["testing", "vla"]
        assert [e.action for e in audit.audit_entries(conn, alice.id)][-1] == "import"
        exported = list(export_rows(conn))
    assert [(r.email, r.topics, r.status) for r in exported] == [
        ("alice@example.org", ["testing", "vla"], "active"),
        ("bob@example.org", ["vla"], "active"),
        ("carol@example.org", [], "blocked"),
    ]


def test_it_imports_thousands_of_rows_in_one_go_and_upserts_them(engine):
    rows = [ImportRow(f"reader{n:05d}@example.org", ["vla", "testing"][: 1 + n % 2], "active") for n in range(3000)]
    with engine.begin() as conn:
        result = import_rows(conn, rows, NOW, "cli")
    assert result.created == 3000
    with engine.connect() as conn:
        exported = list(export_rows(conn))
    assert [(r.email, r.topics) for r in exported] == [(r.email, sorted(r.topics)) for r in rows]
    # More than 5000 rows: existing subscribers are read in one pass instead of by chunks.
    bigger = [
        ImportRow(f"reader{n:05d}@example.org", ["vla"], "blocked" if n % 7 == 0 else "active") for n in range(6000)
    ]
    with engine.begin() as conn:
        result = import_rows(conn, bigger, LATER, "cli")
    unchanged = len([n for n in range(3000) if n % 2 == 0 and n % 7 != 0])
    assert (result.created, result.updated, result.unchanged) == (3000, 3000 - unchanged, unchanged)
    with engine.connect() as conn:
        exported = list(export_rows(conn))
    assert [(r.email, r.topics, r.status) for r in exported] == [(r.email, r.topics, r.status) for r in bigger]


def test_it_refuses_a_second_admin_with_the_same_address(engine):
    with engine.begin() as conn:
        admin = admins.create_admin(conn, "admin@example.org", "hash", NOW)
    with (
        engine.begin() as conn,
        pytest.raises(records.SubscriberError, match="admin: admin@example.org already exists"),
    ):
        admins.create_admin(conn, "admin@example.org", "hash", NOW)
    with engine.connect() as conn:
        assert admins.admin_by_email(conn, "admin@example.org") == admin
        assert admins.admin_by_id(conn, admin.id).email == "admin@example.org"


def test_it_mails_a_confirmation_at_most_once_per_address_per_interval(engine):
    with engine.begin() as conn:
        alice, send = subscribe(conn, "alice@example.org")
        assert send is True
        soon = NOW + lifecycle.CONFIRM_MAIL_INTERVAL - timedelta(seconds=1)
        assert subscribe(conn, "alice@example.org", now=soon)[1] is False
        assert subscribe(conn, "alice@example.org", now=NOW + lifecycle.CONFIRM_MAIL_INTERVAL)[1] is True
        history = [(entry.action, entry.detail) for entry in audit.audit_entries(conn, alice.id)]
    assert history[1] == ("subscribe-again", "was pending; topics: vla; no mail: one was sent in the last 10 minutes")


def test_it_refuses_a_confirmation_issued_before_the_subscriber_left(engine):
    with engine.begin() as conn:
        alice, _ = subscribe(conn, "alice@example.org")
        confirmation.confirm(conn, alice.id, ["vla"], NOW, issued=NOW)
        lifecycle.unsubscribe(conn, alice.id, LATER)
        with pytest.raises(records.SubscriberError):
            confirmation.confirm(conn, alice.id, ["vla"], LATER + timedelta(minutes=1), issued=NOW)
        assert records.get_subscriber(conn, alice.id).status == "unsubscribed"
        # A link issued after leaving (a new subscribe) does bring the address back.
        assert (
            confirmation.confirm(conn, alice.id, ["vla"], LATER + timedelta(minutes=1), issued=LATER).status == "active"
        )


def test_it_never_brings_back_an_unsubscribed_bounced_or_blocked_address_by_import(engine):
    """Re-importing last month's export must not re-subscribe those who left or bounced since, nor unblock anyone."""
    with engine.begin() as conn:
        import_rows(
            conn,
            [
                ImportRow("gone@example.org", ["vla"], "unsubscribed"),
                ImportRow("spam@example.org", ["vla"], "blocked"),
                ImportRow("dead@example.org", ["vla"], "bounced"),
            ],
            NOW,
            "cli",
        )
        result = import_rows(
            conn,
            [
                ImportRow("gone@example.org", ["vla", "testing"], "active"),
                ImportRow("spam@example.org", ["vla"], "unsubscribed"),
                ImportRow("dead@example.org", ["vla"], "active"),
            ],
            LATER,
            "cli",
        )
        assert (result.updated, result.unchanged, result.kept) == (1, 2, 3)
        statuses = {row.email: (row.status, row.topics) for row in export_rows(conn)}
    assert statuses == {
        "gone@example.org": ("unsubscribed", ["testing", "vla"]),
        "spam@example.org": ("blocked", ["vla"]),
        "dead@example.org": ("bounced", ["vla"]),
    }
    with engine.begin() as conn:
        assert import_rows(conn, [ImportRow("gone@example.org", [], "blocked")], LATER, "cli").kept == 0
        assert records.subscriber_by_email(conn, "gone@example.org").status == "blocked"


def test_it_erases_the_address_from_bounce_reasons_too(engine):
    """Mail servers quote the address in their refusals; deleting a subscriber must not leave it there."""

    reason = "550 5.1.1 <Alice@Example.org>: Recipient address rejected: user alice@example.org unknown"
    with engine.begin() as conn:
        alice, _ = subscribe(conn, "alice@example.org")
        confirmation.confirm(conn, alice.id, ["vla"], NOW)
        digest = digests.create_digest(conn, "2026-W05", {}, NOW)
        deliveries.add_deliveries(conn, digest.id, [(alice.id, "vla")])
        [claimed] = deliveries.claim_deliveries(conn, digest.id, "sender", NOW, timedelta(minutes=5), 10)
        deliveries.mark_failed(conn, claimed.id, "sender", reason)
        bounces.mark_bounced(conn, alice.id, reason, NOW)
        erase_subscriber(conn, alice.id, LATER, "admin@example.org")
    with engine.connect() as conn:
        details = [entry.detail or "" for entry in audit.audit_entries(conn, alice.id)]
        [kept] = deliveries.list_deliveries(conn, digest.id)
    assert [entry for entry in details if "550" in entry] == [
        "550 5.1.1 <[erased address]>: Recipient address rejected: user [erased address] unknown"
    ]
    assert kept["last_error"].startswith("550 5.1.1 <[erased address]>") and kept["email"] is None
    assert not any("alice" in text.lower() for text in [*details, kept["last_error"]])
