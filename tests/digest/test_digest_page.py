"""/digests/<id>, the email's "view in browser": what the mail of a reader of every topic holds,
in its order, with each topic's week page one click away, however heavy the week."""

from __future__ import annotations

import html as html_module

import lxml.html
import pytest

from service.web import create_app
from tests.conftest import NOW
from tests.support.digest_data import WEEK, add_subscribers, runtime_for, send_with_deadline
from tests.support.heavy_week import load_heavy_week

SLUGS = ["vla", "robots", "agents", "world", "reasoning"]
TOPICS = "".join(f'\n[[topic]]\nslug = "{slug}"\ntitle = "Topic {slug}"\nquery = \'all:{slug}\'\n' for slug in SLUGS)
PAGE_LIMIT = 400_000


@pytest.fixture
def heavy_digest(config, tmp_path, smtp_server):
    """A 600-paper week (120 papers in each of 5 topics) mailed to a reader of every topic."""
    topics_file = tmp_path / "five-topics.toml"
    topics_file.write_text(TOPICS)
    config = config.with_overrides(topics_file=topics_file, smtp_url=smtp_server.url)
    runtime = runtime_for(config)
    with runtime.engine.begin() as conn:
        papers = load_heavy_week(conn, SLUGS, per_topic=120)
        add_subscribers(conn, [("reader@example.org", SLUGS)], NOW)
    queued, stats = send_with_deadline(runtime)
    assert stats.sent == 1
    [message] = smtp_server.messages
    app = create_app(config)
    app.config["TESTING"] = True
    return app, queued.digest, papers, message.get_body(("html",)).get_content()


def links(document: str) -> list[str]:
    return [a.get("href") for a in lxml.html.fromstring(document).iter("a") if a.get("href")]


def paper_order(hrefs: list[str], papers) -> list[str]:
    """The week's papers in the order their abstract links first appear."""
    urls = {p.abs_url: p.id for chosen in papers.values() for p in chosen}
    return list(dict.fromkeys(urls[href] for href in hrefs if href in urls))


def test_the_digest_page_holds_what_the_mail_holds_in_its_order(heavy_digest):
    app, digest, papers, mail = heavy_digest
    response = app.test_client().get(f"/digests/{digest.id}")
    assert response.status_code == 200
    assert len(response.data) < PAGE_LIMIT, len(response.data)
    page = response.get_data(as_text=True)
    in_mail, on_page = paper_order(links(mail), papers), paper_order(links(page), papers)
    assert 0 < len(on_page) <= len(in_mail) < 600
    assert on_page == in_mail
    # The rest of each topic is one click away: the same week pages the mail links.
    week_pages = {href for href in links(mail) if f"/{WEEK}/" in href}
    assert len(week_pages) == len(SLUGS) and week_pages <= set(links(page))
    text = " ".join(lxml.html.fromstring(page).text_content().split())
    assert "Papers first found from 2026-01-26 to 2026-02-01" in html_module.unescape(text)
    assert "97 more papers in Topic vla this week" in text
