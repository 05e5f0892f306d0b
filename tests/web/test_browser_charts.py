"""Charts in headless Chromium: the topic page's papers per week and the admin dashboard at
desktop and phone widths, drawn without JavaScript, fitting the screen; screenshots kept."""

from __future__ import annotations

from datetime import timedelta

import pytest

from tests.conftest import NOW
from tests.support.forms import PASSWORD, create_admin
from tests.support.topic_data import load, load_testing_topic, many_papers_with_code
from tests.support.trend_data import load_trends

# Pages and feeds see the frozen NOW, and every change in the store at once.
pytestmark = pytest.mark.app_options(clock=lambda: NOW, stamp_seconds=0)

WIDTHS = {"desktop": 1280, "phone": 390}
VLA_WEEKS = ((1, 40), (2, 25), (4, 60), (7, 12), (11, 33))  # (weeks before NOW, papers matched)


@pytest.fixture
def site(app, live_server):
    runtime = app.extensions["paperboy"]
    load_trends(runtime)
    load_testing_topic(runtime.engine)
    # Some weeks of a broader topic, so the chart has a shape.
    papers = many_papers_with_code(sum(count for _, count in VLA_WEEKS))
    start = 0
    for weeks_back, count in VLA_WEEKS:
        load(runtime.engine, "vla", papers[start : start + count], matched=NOW - timedelta(weeks=weeks_back))
        start += count
    create_admin(runtime.engine)
    return live_server


def assert_chart_fits(page, width: int):
    figure = page.locator("figure.chart").first
    figure.scroll_into_view_if_needed()
    box = page.locator("figure.chart > svg").first.bounding_box()
    assert box is not None and box["x"] >= 0 and box["x"] + box["width"] <= width
    assert box["width"] >= min(width, 640) * 0.8  # the chart uses the column's width
    assert page.evaluate("document.documentElement.scrollWidth") <= width
    assert page.locator("figure.chart rect").count() > 0


@pytest.mark.parametrize("width", WIDTHS.values(), ids=WIDTHS.keys())
def test_it_draws_the_topic_chart_without_javascript(browser, site, width, tmp_path):
    context = browser.new_context(viewport={"width": width, "height": 900}, java_script_enabled=False)
    try:
        page = context.new_page()
        page.goto(site + "/topics/vla/")
        assert_chart_fits(page, width)
        bars = page.locator("figure.chart > svg > rect")
        assert bars.count() == 5
        page.locator("details.chart-data summary").first.click()
        assert page.locator("details.chart-data table").first.is_visible()
        page.screenshot(path=str(tmp_path / f"topic-chart-{width}.png"), full_page=True)
        page.locator("section.trend").screenshot(path=str(tmp_path / f"topic-chart-only-{width}.png"))
        assert (tmp_path / f"topic-chart-{width}.png").stat().st_size > 10_000
    finally:
        context.close()


@pytest.mark.parametrize("width", WIDTHS.values(), ids=WIDTHS.keys())
def test_it_shows_the_admin_dashboard(browser, site, width, tmp_path):
    context = browser.new_context(viewport={"width": width, "height": 900})
    try:
        page = context.new_page()
        page.goto(site + "/admin/sign-in")
        page.fill('input[name="email"]', "admin@example.org")
        page.fill('input[name="password"]', PASSWORD)
        page.click('button:has-text("Sign in")')
        page.wait_for_url(site + "/admin/")
        page.get_by_role("link", name="Dashboard").click()
        page.wait_for_url(site + "/admin/dashboard")
        assert page.locator("figure.chart").count() == 3
        assert_chart_fits(page, width)
        # Each chart is announced as one image with its title.
        for title in (
            "Sign-ups per week by status now, last 26 weeks",
            "Deliveries per digest by outcome, last 12 digests",
            "Bounces and complaints per week, last 26 weeks",
        ):
            assert page.get_by_role("img", name=title).count() == 1
        page.screenshot(path=str(tmp_path / f"dashboard-{width}.png"), full_page=True)
        assert (tmp_path / f"dashboard-{width}.png").stat().st_size > 10_000
    finally:
        context.close()
