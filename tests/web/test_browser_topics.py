"""Headless Chromium and real processes: an admin adds a topic in the browser after its preview;
a second web process serves its page within 5 s, `paperboy fetch` fetches it, and retiring it
keeps its page and feed answering."""

from __future__ import annotations

import time
from dataclasses import replace
from datetime import UTC, datetime, timedelta

import httpx
import pytest

from tests.conftest import data_file
from tests.support.arxiv_replay import HUNDRED
from tests.support.forms import PASSWORD, create_admin
from tests.support.helpers import paperboy
from tests.support.server_process import paperboy_server, server_environment
from tests.support.topic_data import fixture_papers, load

# Within this time every process sees a topic saved in another (Runtime.TOPICS_REFRESH is 2 s).
SEEN_WITHIN = 5.0


@pytest.fixture
def second_web(config, tmp_path):
    environ = server_environment(config.database_url, config.topics_file)
    with paperboy_server("serve", environ, tmp_path) as base:
        yield base


def answers_within(url: str, seconds: float) -> int:
    """The status `url` answers with once it is 200, or the last one when `seconds` pass first."""
    deadline = time.monotonic() + seconds
    while True:
        status = httpx.get(url, timeout=5).status_code
        if status == 200 or time.monotonic() >= deadline:
            return status
        time.sleep(0.2)


def test_an_admin_adds_previews_saves_and_retires_a_topic(
    app, app_engine, live_server, second_web, page, config, httpserver, tmp_path
):
    create_admin(app_engine)
    now = datetime.now(UTC)
    recent = [replace(p, published=now - timedelta(hours=n + 1)) for n, p in enumerate(fixture_papers()[:30])]
    load(app_engine, "testing", recent, matched=now)
    assert httpx.get(f"{second_web}/topics/software-quality/").status_code == 404

    page.goto(f"{live_server}/admin/sign-in")
    page.fill('input[name="email"]', "admin@example.org")
    page.fill('input[name="password"]', PASSWORD)
    page.click('button:has-text("Sign in")')
    page.click("nav.admin >> text=Topics")
    page.click("text=Add a topic")
    page.fill('input[name="slug"]', "software-quality")
    page.fill('input[name="title"]', "Software Quality")
    page.fill('textarea[name="description"]', "Tests, bugs and the people who find them.")
    page.fill('textarea[name="query"]', "all:testing")
    assert page.locator('button:has-text("Save the topic")').count() == 0  # a preview comes first
    page.click('button:has-text("Preview the last 7 days")')
    heading = page.locator("#preview-title").inner_text()
    assert heading.startswith("The query lists ") and not heading.startswith("The query lists 0 ")
    assert 0 < page.locator("ol.preview-papers li").count() <= 20
    page.click('button:has-text("Save the topic")')
    page.wait_for_selector("text=Topic software-quality saved")

    # The other web process was running all along; it reads the change from the store.
    assert answers_within(f"{second_web}/topics/software-quality/", SEEN_WITHIN) == 200
    assert "Software Quality" in httpx.get(f"{second_web}/topics/software-quality/").text

    httpserver.expect_request("/api/query").respond_with_data(data_file(HUNDRED), content_type="application/atom+xml")
    environ = server_environment(
        config.database_url, config.topics_file, PAPERBOY_ARXIV_API_URL=httpserver.url_for("/api/query")
    )
    fetched = paperboy(environ, "fetch", "--topic", "software-quality", "--since", "2000-01-01", cwd=tmp_path)
    assert fetched.returncode == 0, fetched.stderr
    assert fetched.stdout.startswith("software-quality: ") and " new, " in fetched.stdout
    assert "differs" in fetched.stderr  # the file no longer lists what the store holds

    page.goto(f"{live_server}/admin/topics/software-quality/edit")
    page.check('form[action$="/retire"] input[name="confirm"]')
    page.click('button:has-text("Retire")')
    page.wait_for_selector("text=Topic software-quality retired")
    assert page.locator("tr:has-text('software-quality') td.state").inner_text().startswith("retired")
    for base in (live_server, second_web):
        assert httpx.get(f"{base}/topics/software-quality/").status_code == 200
        assert httpx.get(f"{base}/topics/software-quality/feed.atom").status_code == 200
    # Retired: no longer fetched with the others.
    again = paperboy(environ, "fetch", "--since", "2000-01-01", cwd=tmp_path)
    assert "software-quality" not in again.stdout
