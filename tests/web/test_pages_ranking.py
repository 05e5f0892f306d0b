"""Topic pages, week pages and the Markdown export order each section by relevance to the topic
and show the matched terms; feeds stay newest first."""

from __future__ import annotations

import re
from dataclasses import replace
from datetime import timedelta

import pytest
from lxml import etree, html

from service.ranking.relevance import rank
from tests.conftest import NOW
from tests.support.topic_data import PROJECT_WEBSITE, fixture_papers, load

RDD = "2510.14968"  # a hierarchical VLA paper, with a project page
METAMORPHIC = "1904.08007"  # metamorphic testing of protein function prediction tools

pytestmark = pytest.mark.app_options(clock=lambda: NOW, stamp_seconds=0)


@pytest.fixture
def topics_file(topics_file):
    """The test topics, "testing" with one exemplar paper."""
    topics_file.write_text(topics_file.read_text() + f'exemplars = ["{METAMORPHIC}v1"]\n')
    return topics_file


@pytest.fixture
def vla_week(app, app_engine):
    """The VLA topic's week: the VLA paper, published a year before the rest so that newest first
    would put it last, then the 100-entry response and the cs.RO motion-map paper."""
    robotics = fixture_papers(PROJECT_WEBSITE)
    vla = replace(next(p for p in robotics if p.id == RDD), published=NOW - timedelta(days=2000))
    papers = [vla] + fixture_papers() + [p for p in robotics if p.id != RDD]
    load(app_engine, "vla", papers, matched=NOW - timedelta(days=1))
    return app.extensions["paperboy"].topic("vla"), papers


def sections_of(client, url):
    response = client.get(url)
    assert response.status_code == 200, response.data[:300]
    doc = html.fromstring(response.data)
    return doc, [
        [
            a.cssselect("h3 a")[0].get("href").split("/abs/")[1].rsplit("v", 1)[0]
            for a in section.cssselect("article.paper")
        ]
        for section in doc.cssselect("section.papers")
    ]


def test_each_section_of_the_topic_page_is_most_relevant_first(client, vla_week):
    topic, papers = vla_week
    doc, (with_links, other) = sections_of(client, "/topics/vla/")
    assert with_links[0] == RDD  # the oldest paper of its section, but the only one about VLAs
    by_relevance = [entry.paper.id for entry in rank(topic, papers)]
    newest_first = [p.id for p in sorted(papers, key=lambda p: (p.published, p.id), reverse=True)]
    for shown in (with_links, other):
        assert shown == [paper_id for paper_id in by_relevance if paper_id in shown]
    assert other != [paper_id for paper_id in newest_first if paper_id in other]
    why = doc.cssselect(f"article[id='paper-{RDD}'] p.why")[0].text_content()
    assert re.sub(r"\s+", " ", why).strip() == "Matches: vision-language-action"


def test_the_week_page_and_the_markdown_export_keep_the_same_order(client, vla_week):
    _, page_sections = sections_of(client, "/topics/vla/")
    _, week_sections = sections_of(client, "/topics/vla/2026-W06/")
    assert week_sections == page_sections
    markdown = client.get("/topics/vla.md").get_data(as_text=True)
    exported = re.findall(r"^### \[.*\]\(https://arxiv\.org/abs/(.+)v\d+\)$", markdown, re.MULTILINE)
    assert len(exported) == len(page_sections[0] + page_sections[1]) > 10
    assert exported == page_sections[0] + page_sections[1]
    assert "Matches:" not in markdown  # the export keeps the seed's lines


def test_feeds_stay_newest_first(client, vla_week):
    _, papers = vla_week
    feed = etree.fromstring(client.get("/topics/vla/feed.atom").data)
    ids = [
        link.get("href").rsplit("/", 1)[1].split("v")[0]
        for link in feed.iterfind("{http://www.w3.org/2005/Atom}entry/{http://www.w3.org/2005/Atom}link")
        if link.get("rel") == "alternate"
    ]
    newest_first = [p.id for p in sorted(papers, key=lambda p: (p.published, p.id), reverse=True)]
    assert ids == newest_first[: len(ids)] and len(ids) >= 10


def test_the_topics_exemplars_from_the_store_steer_the_order(client, app, app_engine):
    papers = load(app_engine, "testing", fixture_papers(), matched=NOW - timedelta(days=1))
    topic = app.extensions["paperboy"].topic("testing")
    assert topic.exemplars == (METAMORPHIC,)
    _, (_, other) = sections_of(client, "/topics/testing/")
    exemplar = next(p for p in papers if p.id == METAMORPHIC)
    steered = [e.paper.id for e in rank(topic, papers, [exemplar]) if e.paper.id in other]
    assert other == steered != [e.paper.id for e in rank(topic, papers) if e.paper.id in other]
