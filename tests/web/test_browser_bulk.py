"""Headless Chromium: an admin filters the list to the bounced addresses and blocks them all at once."""

from __future__ import annotations

from sqlalchemy import select

from service.store.schema import audit_log
from service.store.subscribers import listing
from service.store.subscribers.imports import ImportRow
from subscribers.imports import import_rows
from tests.conftest import NOW
from tests.support.forms import PASSWORD, create_admin


def test_a_bulk_block_of_every_bounced_address_writes_one_audit_entry_each(app, app_engine, live_server, page):
    create_admin(app_engine)
    rows = [ImportRow(f"gone{n:02d}@example.org", ["vla"], "bounced") for n in range(23)]
    rows += [ImportRow(f"reader{n:03d}@example.org", ["testing"], "active") for n in range(277)]
    with app_engine.begin() as conn:
        import_rows(conn, rows, NOW, "cli")

    page.goto(f"{live_server}/admin/sign-in")
    page.fill('input[name="email"]', "admin@example.org")
    page.fill('input[name="password"]', PASSWORD)
    page.click('button:has-text("Sign in")')
    page.select_option('form.subscriber-search select[name="status"]', "bounced")
    page.click('form.subscriber-search button:has-text("Search")')
    page.wait_for_selector("text=23 subscribers match.")
    page.select_option("#bulk-action", "block")
    page.click('button:has-text("Review")')
    page.wait_for_selector("h1:has-text('Block: 23 subscribers')")
    assert page.locator("table.bulk-selection tbody tr").count() == 20
    assert page.locator("text=Download all 23 as CSV").count() == 1
    page.check('form.bulk-apply input[name="confirm"]')
    page.click('form.bulk-apply button[type="submit"]')
    page.wait_for_selector("text=Block: done for 23 subscribers.")

    with app_engine.connect() as conn:
        entries = conn.execute(
            select(audit_log.c.subscriber_id, audit_log.c.actor).where(audit_log.c.action == "block")
        ).all()
        counts = listing.status_counts(conn)
    assert len(entries) == 23 and len({subscriber for subscriber, _ in entries}) == 23
    assert {actor for _, actor in entries} == {"admin@example.org"}
    assert (counts["blocked"], counts["bounced"], counts["active"]) == (23, 0, 277)
