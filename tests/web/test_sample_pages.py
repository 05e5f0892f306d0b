"""Pages over the bundled sample: a first look shows all of it, spread over its weeks."""

from pathlib import Path

import pytest
from lxml import html

from service.arxiv.sample import load_sample
from service.model.topics import load_topics
from tests.conftest import NOW

ROOT = Path(__file__).resolve().parents[2]
SHIPPED = ROOT / "topics.toml"

pytestmark = pytest.mark.app_options(clock=lambda: NOW, stamp_seconds=0)


@pytest.fixture
def config(config):
    return config.with_overrides(topics_file=SHIPPED)


def articles(client, url):
    response = client.get(url)
    assert response.status_code == 200, response.data[:300]
    return html.fromstring(response.data).cssselect("article.paper")


def test_each_shipped_topic_page_shows_its_sample_papers(client, app_engine):
    linked = load_sample(app_engine, load_topics(SHIPPED), NOW)
    for slug, count in linked.items():
        shown = articles(client, f"/topics/{slug}/")
        assert len(shown) == count >= 25, slug
    doc = html.fromstring(client.get("/topics/vla/").data)
    assert "Sample data" in doc.cssselect("p.banner")[0].text_content()


def test_the_sample_weeks_have_their_own_pages(client, app_engine):
    load_sample(app_engine, load_topics(SHIPPED), NOW)
    doc = html.fromstring(client.get("/topics/world-models/").data)
    weeks = {a.get("href") for a in doc.cssselect("a") if "/topics/world-models/2026-W" in a.get("href", "")}
    assert len(weeks) >= 4
    counts = [len(articles(client, week)) for week in sorted(weeks)]
    assert all(counts) and sum(counts) == len(articles(client, "/topics/world-models/"))
