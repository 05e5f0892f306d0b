"""The digest email's HTML in headless Chromium at phone and desktop widths, screenshots kept."""

from __future__ import annotations

import pytest

from service.digest import fill_slots, preview
from tests.conftest import NOW
from tests.digest_data import runtime_for
from tests.digest_data import WEEK, load_week


@pytest.fixture
def email_html(config, tmp_path):
    runtime = runtime_for(config)
    with runtime.engine.begin() as conn:
        testing, vla = load_week(conn)
    result = preview(runtime.engine, config, runtime.topics, WEEK, None, NOW)
    html, _ = fill_slots(result.rendered, "http://paperboy.test/unsubscribe/t", "http://paperboy.test/preferences/t")
    path = tmp_path / "digest.html"
    path.write_text(html, encoding="utf-8")
    return path, testing + vla


@pytest.mark.parametrize("width", [375, 1024])
def test_it_reads_well_at_phone_and_desktop_widths(browser, email_html, tmp_path, width):
    path, papers = email_html
    context = browser.new_context(viewport={"width": width, "height": 900})
    page = context.new_page()
    try:
        page.goto(path.as_uri())
        page.screenshot(path=str(tmp_path / f"digest-{width}.png"), full_page=True)

        # Nothing wider than the screen: no sideways scrolling on a phone.
        assert page.evaluate("document.documentElement.scrollWidth") <= width
        titles = page.locator("a", has_text=papers[0].title)
        assert titles.count() >= 1 and titles.first.is_visible()
        box = page.get_by_text("Unsubscribe", exact=True).bounding_box()
        assert box is not None and box["x"] >= 0 and box["x"] + box["width"] <= width
        column = page.locator(".mj-column-per-100").first.bounding_box()
        assert column["width"] <= min(width, 640)
        if width == 375:
            assert column["width"] >= 300  # the column fills the phone's screen
        assert (tmp_path / f"digest-{width}.png").stat().st_size > 10_000
    finally:
        context.close()
