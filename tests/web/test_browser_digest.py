"""The digest email's HTML in headless Chromium at phone and desktop widths, screenshots kept:
an ordinary week, and a heavy week (three topics of 55 papers with the longest abstracts)."""

from __future__ import annotations

import pytest

from service.digest.digest import fill_slots, preview
from service.digest.letter import HTML_LIMIT
from service.ranking.relevance import rank
from tests.conftest import NOW
from tests.support.digest_data import WEEK, load_week, runtime_for
from tests.support.heavy_week import load_heavy_week

HEAVY_TOPICS = "".join(
    f'[[topic]]\nslug = "{slug}"\ntitle = "{title}"\nquery = "all:{slug}"\n\n'
    for slug, title in (
        ("vla", "Vision-Language-Action Models"),
        ("robots", "Robot Learning"),
        ("agents", "Embodied Agents"),
    )
)


def _write(config, tmp_path, name: str) -> str:
    runtime = runtime_for(config)
    result = preview(runtime.engine, config, runtime.topics, WEEK, None, NOW)
    html, _ = fill_slots(result.rendered, "http://paperboy.test/unsubscribe/t", "http://paperboy.test/preferences/t")
    assert len(html.encode("utf-8")) <= HTML_LIMIT
    path = tmp_path / f"{name}.html"
    path.write_text(html, encoding="utf-8")
    return path


@pytest.fixture
def email_html(config, tmp_path):
    runtime = runtime_for(config)
    with runtime.engine.begin() as conn:
        testing, vla = load_week(conn)
    return _write(config, tmp_path, "digest"), (testing + vla)[0].title


@pytest.fixture
def heavy_html(config, tmp_path):
    topics_file = tmp_path / "heavy-topics.toml"
    topics_file.write_text(HEAVY_TOPICS)
    config = config.with_overrides(topics_file=topics_file)
    runtime = runtime_for(config)
    with runtime.engine.begin() as conn:
        papers = load_heavy_week(conn, ["vla", "robots", "agents"], per_topic=55)
    best = rank(runtime.topic("vla"), papers["vla"])[0].paper  # the first paper of the first topic
    return _write(config, tmp_path, "digest-heavy"), best.title


def _check(browser, path, title, width, screenshot):
    context = browser.new_context(viewport={"width": width, "height": 900})
    page = context.new_page()
    try:
        page.goto(path.as_uri())
        page.screenshot(path=str(screenshot), full_page=True)

        # Nothing wider than the screen: no sideways scrolling on a phone.
        assert page.evaluate("document.documentElement.scrollWidth") <= width
        titles = page.locator("a", has_text=title)
        assert titles.count() >= 1 and titles.first.is_visible()
        # The way out is on the first screen, before any paper, and again at the end.
        unsubscribe = page.get_by_role("link", name="Unsubscribe", exact=True)
        assert unsubscribe.count() == 2
        top = unsubscribe.first.bounding_box()
        assert top is not None and top["x"] >= 0 and top["x"] + top["width"] <= width and top["y"] < 900
        assert page.get_by_role("link", name="Preferences", exact=True).first.bounding_box()["y"] < 900
        column = page.locator(".mj-column-per-100").first.bounding_box()
        assert column["width"] <= min(width, 640)
        if width == 375:
            assert column["width"] >= 300  # the column fills the phone's screen
        assert screenshot.stat().st_size > 10_000
    finally:
        context.close()


@pytest.mark.parametrize("width", [375, 1024])
def test_it_reads_well_at_phone_and_desktop_widths(browser, email_html, tmp_path, width):
    path, title = email_html
    _check(browser, path, title, width, tmp_path / f"digest-{width}.png")


@pytest.mark.parametrize("width", [375, 1024])
def test_a_heavy_week_reads_well_at_phone_and_desktop_widths(browser, heavy_html, tmp_path, width):
    path, title = heavy_html
    _check(browser, path, title, width, tmp_path / f"digest-heavy-{width}.png")
    more = "32 more papers in Robot Learning this week"
    assert more in path.read_text(encoding="utf-8")
