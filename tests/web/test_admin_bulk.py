"""Bulk actions on the admin's filtered subscriber list: confirm step, one audit entry each, all or nothing."""

from __future__ import annotations

import csv
import io
import re

import pytest
from sqlalchemy import select, text

from service.store.schema import audit_log, mail_queue
from service.store.subscribers import listing, records
from service.store.subscribers.imports import ImportRow
from subscribers.imports import import_rows
from tests.conftest import NOW
from tests.support.forms import create_admin, csrf_token, sign_in


@pytest.fixture
def listed(app, client, app_engine):
    create_admin(app_engine)
    rows = [ImportRow(f"bounced{n:02d}@example.org", ["vla"], "bounced") for n in range(23)]
    rows += [ImportRow(f"reader{n:02d}@example.org", ["vla", "testing"], "active") for n in range(40)]
    rows += [ImportRow(f"pending{n:02d}@example.org", ["testing"], "pending") for n in range(27)]
    with app_engine.begin() as conn:
        import_rows(conn, rows, NOW, "cli")
    sign_in(client)
    return client


def audit(engine, action: str) -> list[tuple[str, int]]:
    with engine.connect() as conn:
        rows = conn.execute(select(audit_log.c.actor, audit_log.c.subscriber_id).where(audit_log.c.action == action))
        return [tuple(row) for row in rows]


def confirm_and_apply(client, query: str) -> bytes:
    page = client.get("/admin/bulk/?" + query).data
    form = {
        name: value.decode()
        for name, value in re.findall(rb'<input type="hidden" name="([a-z_]+)" value="([^"]*)">', page)
    }
    form["confirm"] = "yes"
    form["csrf_token"] = csrf_token(page)
    return client.post("/admin/bulk/", data=form, follow_redirects=True).data


def test_it_confirms_how_many_and_which_before_blocking_every_bounced_address(listed, app_engine):
    page = listed.get("/admin/bulk/?action=block&status=bounced").data
    assert b"Block: 23 subscribers" in page and b"the first 20 below" in page
    assert len(re.findall(rb"<tr><td>bounced\d\d@example.org</td>", page)) == 20
    table = list(csv.reader(io.StringIO(listed.get("/admin/bulk/selection.csv?action=block&status=bounced").text)))
    assert table[0] == ["email", "status", "topics"] and len(table) == 24
    assert audit(app_engine, "block") == []  # looking changes nothing

    done = confirm_and_apply(listed, "action=block&status=bounced")
    assert b"Block: done for 23 subscribers." in done
    entries = audit(app_engine, "block")
    assert len(entries) == 23 and len({s for _, s in entries}) == 23
    assert {actor for actor, _ in entries} == {"admin@example.org"}
    with app_engine.connect() as conn:
        assert listing.status_counts(conn)["blocked"] == 23 and listing.status_counts(conn)["bounced"] == 0


def test_it_adds_and_removes_a_topic_and_unsubscribes(listed, app_engine):
    assert b"done for 27 subscribers" in confirm_and_apply(listed, "action=add-topic&topic=vla&status=pending")
    assert b"done for 27 subscribers" in confirm_and_apply(listed, "action=remove-topic&topic=testing&q=pending")
    with app_engine.connect() as conn:
        assert records.subscriber_by_email(conn, "pending05@example.org").topics == ["vla"]
    # Only the 40 readers have "testing" left; removing it from everyone touches only them.
    assert b"done for 40 subscribers" in confirm_and_apply(listed, "action=remove-topic&topic=testing")
    assert len(audit(app_engine, "topics")) == 27 + 27 + 40
    # Everyone has "vla" by now: bounced, active and pending addresses all leave.
    assert b"done for 90 subscribers" in confirm_and_apply(listed, "action=unsubscribe&having=vla&q=e")
    with app_engine.connect() as conn:
        assert listing.status_counts(conn)["unsubscribed"] == 90


def test_it_sends_the_confirmation_again_to_pending_addresses_only(listed, app_engine):
    page = listed.get("/admin/bulk/?action=resend").data
    assert b"Re-send the confirmation: 27 subscribers" in page
    assert b"done for 27 subscribers" in confirm_and_apply(listed, "action=resend")
    with app_engine.connect() as conn:
        queued = conn.execute(select(mail_queue.c.subscriber_id, mail_queue.c.state, mail_queue.c.topics)).all()
    assert len(queued) == 27 and {(state, topics) for _, state, topics in queued} == {("due", "testing")}
    assert len(audit(app_engine, "confirm-mail")) == 27


def test_it_deletes_and_erases_the_addresses(listed, app_engine):
    assert b"done for 23 subscribers" in confirm_and_apply(listed, "action=delete&q=bounced")
    with app_engine.connect() as conn:
        assert listing.status_counts(conn)["deleted"] == 23
        assert records.subscriber_by_email(conn, "bounced00@example.org") is None


def test_it_refuses_when_the_selection_changed_or_the_box_is_unticked(listed, app_engine):
    page = listed.get("/admin/bulk/?action=block&status=bounced").data
    form = dict(re.findall(r'<input type="hidden" name="([a-z_]+)" value="([^"]*)">', page.decode()))
    with app_engine.begin() as conn:
        import_rows(conn, [ImportRow("late@example.org", ["vla"], "bounced")], NOW, "cli")
    unticked = listed.post("/admin/bulk/", data=form, follow_redirects=True).data
    assert b"Tick the box" in unticked
    changed = listed.post("/admin/bulk/", data={**form, "confirm": "yes"}, follow_redirects=True).data
    assert b"The selection changed" in changed and b"Block: 24 subscribers" in changed
    assert audit(app_engine, "block") == []
    assert b"Choose the topic" in listed.get("/admin/bulk/?action=add-topic", follow_redirects=True).data


def test_it_changes_all_or_nothing(listed, app_engine):
    # The database refuses the audit entry of one subscriber in the middle of the selection.
    with app_engine.begin() as conn:
        victim = records.subscriber_by_email(conn, "bounced11@example.org").id
        conn.execute(
            text(
                "CREATE TRIGGER refuse BEFORE INSERT ON audit_log "
                f"WHEN NEW.subscriber_id = {victim} BEGIN SELECT RAISE(ABORT, 'refused'); END"
            )
        )
    with pytest.raises(Exception, match="refused"):
        confirm_and_apply(listed, "action=block&status=bounced")
    with app_engine.connect() as conn:
        assert listing.status_counts(conn)["bounced"] == 23
    assert audit(app_engine, "block") == []
