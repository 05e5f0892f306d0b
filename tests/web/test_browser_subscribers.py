"""Headless Chromium: a reader subscribes from a topic page; an admin imports, searches, blocks and exports."""

from __future__ import annotations

import csv
import io
import re
import threading

import pytest
from werkzeug.security import generate_password_hash

from service.outbound.notices import send_notices
from service.store.subscribers import admins, records
from tests.conftest import NOW

PASSWORD = "correct horse battery"


@pytest.fixture
def config(config, smtp_server):
    return config.with_overrides(smtp_url=smtp_server.url)


def test_it_subscribes_a_reader_from_a_topic_page(app, live_server, smtp_server, page, tmp_path):
    page.goto(f"{live_server}/topics/testing/")
    form = page.locator("form.subscribe-form")
    assert form.locator('input[value="testing"]').is_checked()
    assert not form.locator('input[value="vla"]').is_checked()
    form.locator('input[name="email"]').fill("reader@example.org")
    form.locator('button[type="submit"]').click()
    page.wait_for_selector("text=Check your inbox")
    page.screenshot(path=str(tmp_path / "subscribed.png"), full_page=True)

    # The scheduler's job (every 15 s), in a thread of its own as in the scheduler: Playwright's
    # event loop runs in this one.
    sender = threading.Thread(target=send_notices, args=(app.extensions["paperboy"],))
    sender.start()
    sender.join()
    [mail] = smtp_server.messages
    link = re.search(r"http://paperboy\.test(/confirm/\S+)", mail.get_body(("plain",)).get_content()).group(1)
    page.goto(live_server + link)
    page.get_by_role("button", name="Confirm").click()
    page.wait_for_selector("text=Subscription confirmed")
    page.screenshot(path=str(tmp_path / "confirmed.png"), full_page=True)
    with app.extensions["paperboy"].engine.connect() as conn:
        reader = records.subscriber_by_email(conn, "reader@example.org")
    assert (reader.status, reader.topics) == ("active", ["testing"])


def test_it_lets_an_admin_import_search_block_and_export(app, live_server, page, tmp_path):
    with app.extensions["paperboy"].engine.begin() as conn:
        admins.create_admin(conn, "admin@example.org", generate_password_hash(PASSWORD), NOW)
    source = tmp_path / "list.csv"
    rows = [f"reader{n:03d}@example.org,vla,active" for n in range(200)]
    source.write_text("email,topics,status\n" + "\n".join(rows) + "\n=HYPERLINK@example.org,testing,active\n")

    page.goto(f"{live_server}/admin/")
    assert "/admin/sign-in" in page.url
    page.fill('input[name="email"]', "admin@example.org")
    page.fill('input[name="password"]', PASSWORD)
    page.click('button:has-text("Sign in")')
    page.wait_for_selector("h1:has-text('Subscribers')")

    page.click("text=Import CSV")
    page.set_input_files('input[name="file"]', str(source))
    page.click('button:has-text("Preview")')
    page.wait_for_selector("text=201 valid rows, 0 bad rows")
    page.screenshot(path=str(tmp_path / "preview.png"), full_page=True)
    page.click('button:has-text("Import 201 rows")')
    page.wait_for_selector("text=Imported 201 rows: 201 new")

    page.fill('form.subscriber-search input[name="q"]', "reader042")
    page.click('form.subscriber-search button:has-text("Search")')
    page.wait_for_selector("text=1 subscriber matches.")
    page.click("text=reader042@example.org")
    page.click('button:has-text("Block")')
    # The browser holds the form back until the confirm box is ticked.
    assert page.locator('form[action$="/block"]').evaluate("form => form.checkValidity()") is False
    assert page.locator("strong.status").inner_text() == "active"
    page.check('form[action$="/block"] input[name="confirm"]')
    page.click('button:has-text("Block")')
    page.wait_for_selector("text=Subscriber blocked")
    assert page.locator("strong.status").inner_text() == "blocked"
    page.screenshot(path=str(tmp_path / "blocked.png"), full_page=True)

    with page.expect_download() as download:
        page.click("text=Export CSV")
    exported = tmp_path / "export.csv"
    download.value.save_as(exported)
    table = list(csv.reader(io.StringIO(exported.read_text(encoding="utf-8"))))
    assert table[0][:3] == ["email", "topics", "status"] and len(table) == 202
    assert ["'=hyperlink@example.org", "testing", "active", "", "", "", "", "yes"] in table
    assert ["reader042@example.org", "vla", "blocked", "", "", "", "", "yes"] in table
    assert (tmp_path / "blocked.png").stat().st_size > 0
