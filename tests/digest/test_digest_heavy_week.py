"""A heavy week (three topics, 55 papers each, abstracts of arXiv's maximum length) sent to
subscribers with every digest length and filter: each HTML part stays under Gmail's 102 KB with
its unsubscribe link, every paper is in the mail or on a week page it links to, and keywords and
followed authors change exactly the papers they should."""

from __future__ import annotations

from dataclasses import replace
from urllib.parse import urlsplit

import lxml.html
import pytest

from service.digest.letter import HTML_LIMIT
from service.digest.queue import dry_run
from service.digest.selection import FULL_PER_TOPIC, TITLES_PER_TOPIC
from service.model.preferences import DigestPreferences
from service.ranking.relevance import rank
from service.store import deliveries
from service.store.papers import link_topic_papers, upsert_papers
from service.store.subscribers.preferences import set_preferences
from service.web import create_app
from subscribers.tokens import unsubscribe_url
from tests.conftest import NOW
from tests.support.digest_data import add_subscribers, runtime_for, send_with_deadline
from tests.support.heavy_week import IN_WEEK, WEEK, heavy_papers
from tests.support.spam_check import INFORMATIONAL, require_spamassassin, spam_status

TOPICS = """
[[topic]]
slug = "vla"
title = "Vision-Language-Action Models"
query = 'ti:VLA'

[[topic]]
slug = "robots"
title = "Robot Learning"
query = 'all:robot'

[[topic]]
slug = "agents"
title = "Embodied Agents"
query = 'all:agent'
"""
SLUGS = ["vla", "robots", "agents"]
PER_TOPIC = 55
SHOWN = FULL_PER_TOPIC + TITLES_PER_TOPIC
EVERY = ("everyone@example.org", SLUGS, DigestPreferences())
PEOPLE = [
    EVERY,
    ("full@example.org", SLUGS, DigestPreferences(length="full")),
    ("titles@example.org", SLUGS, DigestPreferences(length="titles")),
    ("five@example.org", ["robots"], DigestPreferences(length="5")),
    ("include@example.org", SLUGS, DigestPreferences(keywords_in=("zebrafish",))),
    ("exclude@example.org", SLUGS, DigestPreferences(keywords_out=("Zebrafish",))),
    # Without "You might also like", so that every paper in their mail is a topic's or a followed author's.
    ("follower@example.org", ["vla"], DigestPreferences(authors=("Ada Lovelace",), suggestions=False)),
    ("agents-follower@example.org", ["agents"], DigestPreferences(authors=("lovelace, ada",), suggestions=False)),
    ("ada-only@example.org", [], DigestPreferences(authors=("Ada LOVELACE",))),  # no topic at all
    ("nothing@example.org", SLUGS, DigestPreferences(keywords_in=("nonexistentword",))),
    ("excludes-all@example.org", ["robots"], DigestPreferences(keywords_out=("study",))),
]


def _week():
    """slug -> papers (newest first), the planted zebrafish papers, Ada's papers, and her paper outside every topic."""
    papers = {slug: heavy_papers(number, PER_TOPIC) for number, slug in enumerate(SLUGS, start=1)}
    assert not any("zebrafish" in p.abstract.lower() for ps in papers.values() for p in ps)
    zebra = [("robots", 0), ("robots", 45), ("agents", 2)]
    for slug, index in zebra:
        paper = papers[slug][index]
        papers[slug][index] = replace(paper, abstract="Zebrafish larvae learn to grasp. " + paper.abstract)
    ada = papers["agents"][52] = replace(papers["agents"][52], authors=papers["agents"][52].authors + ["Ada Lovelace"])
    outside = replace(heavy_papers(9, 1)[0], authors=["Ada Lovelace", "Charles Babbage"])
    return papers, {papers[s][i].id for s, i in zebra}, ada, outside


@pytest.fixture
def heavy(config, tmp_path, smtp_server):
    topics_file = tmp_path / "heavy-topics.toml"
    topics_file.write_text(TOPICS)
    config = config.with_overrides(topics_file=topics_file, smtp_url=smtp_server.url)
    runtime = runtime_for(config)
    papers, zebra, ada, outside = _week()
    with runtime.engine.begin() as conn:
        for slug, chosen in papers.items():
            upsert_papers(conn, chosen, IN_WEEK)
            link_topic_papers(conn, slug, [p.id for p in chosen], IN_WEEK)
        upsert_papers(conn, [outside], IN_WEEK)  # in the store that week, in no topic
        ids = add_subscribers(conn, [(email, topics) for email, topics, _ in PEOPLE], NOW)
        for email, _, preferences in PEOPLE:
            set_preferences(conn, ids[email], preferences, NOW, "cli")
    planned = dry_run(runtime, WEEK, NOW)
    queued, stats = send_with_deadline(runtime)
    mails = {env.rcpt_tos[0]: msg for env, msg in zip(smtp_server.handler.envelopes, smtp_server.messages)}
    return runtime, papers, zebra, ada, outside, ids, mails, planned, queued, stats


def _html(message) -> str:
    return message.get_body(("html",)).get_content()


def _links(html: str) -> list[tuple[str, str]]:
    return [(a.get("href"), a.text_content()) for a in lxml.html.fromstring(html).iter("a")]


def _papers_in(message, papers) -> set[str]:
    hrefs = {href for href, _ in _links(_html(message))}
    return {p.id for p in papers if p.abs_url in hrefs}


def _all(papers) -> list:
    return [p for chosen in papers.values() for p in chosen]


def test_every_html_part_stays_under_the_clipping_size_with_its_unsubscribe_link(heavy):
    runtime, papers, _, _, outside, ids, mails, _, _, stats = heavy
    assert stats.sent == len(PEOPLE) - 2 and stats.failed == 0
    for email, message in mails.items():
        html = _html(message)
        assert len(html.encode("utf-8")) <= HTML_LIMIT < 102 * 1024, email
        links = _links(html)
        unsubscribe = unsubscribe_url(runtime.config, ids[email])
        assert links.count((unsubscribe, "Unsubscribe")) == 2, email  # at the top and at the bottom
        top = [text for _, text in links[:4]]
        assert "Unsubscribe" in top and "Preferences" in top, email
        assert "<html" in html and "lang=en" in html and 'lang="und"' not in html


def test_every_paper_is_in_the_mail_or_on_a_week_page_it_links_to(heavy, tmp_path):

    runtime, papers, _, _, _, ids, mails, _, _, _ = heavy
    client = create_app(runtime.config).test_client()
    pages: dict[str, set[str]] = {}
    for email, topics, _ in PEOPLE:
        if email not in mails:
            continue
        links = _links(_html(mails[email]))
        reachable = {href for href, _ in links}
        for href, text in links:
            if "/topics/" in href and " more paper" in text:
                path = urlsplit(href).path
                if path not in pages:
                    page = client.get(path)
                    assert page.status_code == 200, path
                    pages[path] = {a.get("href") for a in lxml.html.fromstring(page.get_data(as_text=True)).iter("a")}
                reachable |= pages[path]
        for slug in topics:
            missing = [p.id for p in papers[slug] if p.abs_url not in reachable]
            assert not missing, (email, slug, missing[:3])


def _best(runtime, slug, papers):
    """The topic's papers in the digest's order: most relevant first."""
    return [ranked.paper for ranked in rank(runtime.topic(slug), papers[slug])]


def test_the_default_digest_bounds_each_topic_and_counts_the_rest(heavy):
    runtime, papers, _, _, _, _, mails, _, _, _ = heavy
    message = mails[EVERY[0]]
    links = _links(_html(message))
    for slug in SLUGS:
        best = _best(runtime, slug, papers)
        assert _papers_in(message, papers[slug]) == {p.id for p in best[:SHOWN]}
        in_full = {p.id for p in best if (p.pdf_url, "PDF") in links}
        assert in_full == {p.id for p in best[:FULL_PER_TOPIC]}
    counts = [text for _, text in links if " more paper" in text]
    assert counts == [
        f"{PER_TOPIC - SHOWN} more papers in {title} this week"
        for title in ("Vision-Language-Action Models", "Robot Learning", "Embodied Agents")
    ]


def test_digest_lengths_choose_how_many_papers_come_in_full(heavy):
    _, papers, _, _, _, _, mails, _, _, _ = heavy
    five = _links(_html(mails["five@example.org"]))
    assert sum(1 for p in papers["robots"] if (p.pdf_url, "PDF") in five) == 5
    for email in ("full@example.org", "titles@example.org"):
        # Too long for one mail in full: every paper comes as a title link instead of being clipped.
        assert _papers_in(mails[email], _all(papers)) == {p.id for p in _all(papers)}, email
        assert "Unsubscribe" in [text for _, text in _links(_html(mails[email]))]


def test_keywords_include_and_exclude_exactly_the_papers_they_name(heavy):
    runtime, papers, zebra, _, _, _, mails, _, _, _ = heavy
    assert _papers_in(mails["include@example.org"], _all(papers)) == zebra
    included = _links(_html(mails["include@example.org"]))
    assert all((p.pdf_url, "PDF") in included for p in _all(papers) if p.id in zebra)  # few enough for full
    assert "None of this week's papers matched your keywords." in _html(mails["include@example.org"])

    expected = set()
    for slug in SLUGS:
        expected |= {p.id for p in [p for p in _best(runtime, slug, papers) if p.id not in zebra][:SHOWN]}
    assert _papers_in(mails["exclude@example.org"], _all(papers)) == expected
    assert "(1 left out by your keywords)" in lxml.html.fromstring(_html(mails["exclude@example.org"])).text_content()


def test_followed_authors_come_first_marked_and_from_outside_the_subscribers_topics(heavy):
    runtime, papers, _, ada, outside, _, mails, _, _, _ = heavy
    follower = mails["follower@example.org"]
    assert _papers_in(follower, _all(papers) + [outside]) == {p.id for p in _best(runtime, "vla", papers)[:SHOWN]} | {
        ada.id,
        outside.id,
    }
    text = lxml.html.fromstring(_html(follower)).text_content()
    assert "From authors you follow" in text and text.count("by Ada Lovelace, whom you follow") == 2

    agents = mails["agents-follower@example.org"]
    rest = [p for p in _best(runtime, "agents", papers) if p.id != ada.id]
    assert _papers_in(agents, _all(papers) + [outside]) == {p.id for p in rest[: SHOWN - 1]} | {ada.id, outside.id}
    html = _html(agents)
    assert html.index(ada.abs_url) < html.index(papers["agents"][0].abs_url)  # first in its topic
    assert agents.get_body(("plain",)).get_content().count("by Ada Lovelace, whom you follow") == 2

    only = mails["ada-only@example.org"]
    assert _papers_in(only, _all(papers) + [outside]) == {ada.id, outside.id}
    assert only["Subject"] == f"paperboy {WEEK}: papers by authors you follow"


def test_a_subscriber_whose_filters_exclude_everything_gets_no_mail(heavy):
    runtime, _, _, _, _, ids, mails, planned, queued, _ = heavy
    assert "nothing@example.org" not in mails and "excludes-all@example.org" not in mails
    assert planned.messages == len(PEOPLE) - 2 and queued.added == len(PEOPLE) - 2
    with runtime.engine.connect() as conn:
        settled = deliveries.settled_subscriber_ids(conn, queued.digest.id)
    assert ids["nothing@example.org"] not in settled and ids["excludes-all@example.org"] not in settled


def test_spamassassin_scores_heavy_and_shortened_digests_at_zero(heavy, smtp_server, tmp_path):
    require_spamassassin()
    *_, mails, _, _, _ = heavy
    by_rcpt = {env.rcpt_tos[0]: env.content for env in smtp_server.handler.envelopes}
    for email in (EVERY[0], "full@example.org", "follower@example.org"):
        score, rules = spam_status(by_rcpt[email], tmp_path)
        assert score == 0.0, (email, rules)
        assert [rule for rule in rules if rule.startswith("HTML_") and rule not in INFORMATIONAL] == [], email
