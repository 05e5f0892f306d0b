"""Headless Chromium: the admin's subscriber table uses a wide screen (one line per subscriber,
the header row in view while it scrolls) and stays inside a phone's width."""

from __future__ import annotations

import pytest

from service.store.subscribers.imports import ImportRow
from subscribers.imports import import_rows
from tests.conftest import NOW
from tests.support.forms import PASSWORD, create_admin

ROW_HEIGHTS = """() => [...document.querySelectorAll('table.subscribers tbody tr')].map(row => {
  const line = parseFloat(getComputedStyle(row.cells[0]).lineHeight);
  return row.getBoundingClientRect().height / line;
})"""
PAGE_OVERFLOW = "() => document.documentElement.scrollWidth - document.documentElement.clientWidth"


@pytest.fixture
def listed(app, app_engine):
    create_admin(app_engine)
    rows = [
        ImportRow(f"a.rather.long.address.{n:03d}@research-lab.example.org", ["testing", "vla"], "active")
        for n in range(300)
    ]
    with app_engine.begin() as conn:
        import_rows(conn, rows, NOW, "cli")


def sign_in(page, base):
    page.goto(base + "/admin/sign-in")
    page.fill('input[name="email"]', "admin@example.org")
    page.fill('input[name="password"]', PASSWORD)
    page.click('button:has-text("Sign in")')
    page.wait_for_selector("h1:has-text('Subscribers')")


def test_it_keeps_one_line_per_subscriber_and_the_header_in_view_at_1280(browser, listed, live_server, tmp_path):
    context = browser.new_context(viewport={"width": 1280, "height": 800})
    try:
        page = context.new_page()
        sign_in(page, live_server)
        heights = page.evaluate(ROW_HEIGHTS)
        assert len(heights) == 50 and max(heights) < 1.9, heights
        box = page.locator(".table-box.tall")
        box.evaluate("box => box.scrollTo(0, 600)")
        assert box.evaluate("box => box.scrollTop") > 0
        header_top = page.locator("table.subscribers thead th").first.evaluate("th => th.getBoundingClientRect().top")
        box_top = box.evaluate("box => box.getBoundingClientRect().top")
        assert abs(header_top - box_top) < 2
        page.screenshot(path=str(tmp_path / "wide.png"))
        # Sorting by a column is a click on its header; a second click turns the order round.
        page.click("th a.sort:has-text('Email')")
        page.wait_for_selector("th[aria-sort=descending]")
        assert page.locator("table.subscribers tbody td a").first.inner_text().endswith("299@research-lab.example.org")
        page.click("th a.sort:has-text('Changed')")
        page.wait_for_selector("th[aria-sort=ascending] >> text=Changed")
    finally:
        context.close()


def test_it_keeps_the_page_inside_a_phone_screen(browser, listed, live_server):
    context = browser.new_context(viewport={"width": 390, "height": 844})
    try:
        page = context.new_page()
        sign_in(page, live_server)
        assert page.evaluate(PAGE_OVERFLOW) <= 0
        # The table scrolls in its own box instead.
        box = page.locator(".table-box.tall")
        assert box.evaluate("box => box.scrollWidth > box.clientWidth")
    finally:
        context.close()
