"""The pages in headless Chromium: home to topic, abstracts, feed links, phone width."""

from __future__ import annotations

import feedparser
import pytest

from tests.conftest import NOW
from tests.support.topic_data import load_testing_topic

pytestmark = pytest.mark.app_options(clock=lambda: NOW)


@pytest.fixture
def site(app, live_server):
    recent, _ = load_testing_topic(app.extensions["paperboy"].engine)
    return live_server, recent


def test_it_goes_from_home_to_a_topic_and_opens_an_abstract(page, site, tmp_path):
    base, recent = site
    page.goto(base + "/")
    assert page.title() == "paperboy: arXiv topics"
    page.get_by_role("link", name="Software Testing").click()
    page.wait_for_url(base + "/topics/testing/")
    assert page.locator("h1").inner_text() == "Software Testing"
    headings = page.locator("section.papers h2").all_inner_texts()
    assert headings == ["Papers with Project Pages / Code", "Other Recent Papers"]

    long = next(p for p in recent if len(p.abstract) > 600)
    article = page.locator(f"article[id='paper-{long.id}']")
    details = article.locator("details.full-abstract")
    full = details.locator("p")
    assert not full.is_visible()
    details.locator("summary").click()
    assert full.is_visible()
    assert full.inner_text() == long.abstract
    page.screenshot(path=str(tmp_path / "topic.png"), full_page=True)
    assert (tmp_path / "topic.png").stat().st_size > 10_000


def test_it_links_feeds_that_parse(page, site):
    base, recent = site
    page.goto(base + "/topics/testing/")
    alternates = page.locator("head link[rel=alternate]")
    found = {
        (alternates.nth(i).get_attribute("type"), alternates.nth(i).get_attribute("href"))
        for i in range(alternates.count())
    }
    assert ("application/atom+xml", "/topics/testing/feed.atom") in found
    assert ("application/rss+xml", "/topics/testing/feed.rss") in found
    with page.expect_response(base + "/topics/testing/feed.atom") as answer:
        page.locator("main p.nav").first.get_by_role("link", name="Atom", exact=True).click()
    response = answer.value
    assert response.ok and response.headers["content-type"].startswith("application/atom+xml")
    feed = feedparser.parse(response.body())
    assert not feed.bozo
    assert len(feed.entries) >= len(recent)


def test_it_fits_a_phone_screen(browser, site, tmp_path):
    base, _ = site
    context = browser.new_context(
        viewport={"width": 375, "height": 812}, device_scale_factor=2, is_mobile=True, has_touch=True
    )
    try:
        phone = context.new_page()
        phone.goto(base + "/topics/testing/")
        assert phone.evaluate("document.documentElement.scrollWidth") <= 375
        assert phone.locator("article.paper h3 a").first.is_visible()
        phone.screenshot(path=str(tmp_path / "topic-phone.png"), full_page=True)
        assert (tmp_path / "topic-phone.png").stat().st_size > 10_000
    finally:
        context.close()


def test_it_reads_without_javascript(browser, site):
    base, _ = site
    context = browser.new_context(java_script_enabled=False)
    try:
        plain = context.new_page()
        plain.goto(base + "/topics/testing/")
        assert plain.locator("article.paper").count() == 12
        plain.locator("details.full-abstract summary").first.click()
        assert plain.locator("details.full-abstract[open] p").first.is_visible()
    finally:
        context.close()
