"""Relevance ranking on real arXiv papers: phrase matches first, deterministic, ties newest first."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from dataclasses import replace
from datetime import timedelta
from pathlib import Path

from service.model.topics import Topic, load_topics
from service.ranking.relevance import query_terms, rank
from tests.support.topic_data import PROJECT_WEBSITE, fixture_papers

ROOT = Path(__file__).resolve().parents[2]
SHIPPED = {topic.slug: topic for topic in load_topics(ROOT / "topics.toml")}
RDD = "2510.14968"  # "hierarchical vision-language-action (VLAs) frameworks" in its abstract
REST = "2507.10541"  # "Stress Testing Large Reasoning Models"
TESTING = Topic(
    slug="testing",
    title="Software Testing",
    description="Testing, from unit tests to metamorphic testing.",
    query="all:testing",
)


def week() -> list:
    """A week of real papers: the 100-entry response and the two cs.RO papers."""
    return fixture_papers() + fixture_papers(PROJECT_WEBSITE)


def test_a_paper_with_the_topics_phrase_ranks_first_and_says_why():
    ranked = rank(SHIPPED["vla"], week())
    assert ranked[0].paper.id == RDD
    assert ranked[0].matched == ("vision-language-action", "VLAs")
    unrelated = next(entry for entry in ranked if entry.paper.id == "2510.14827")  # motion maps
    assert ranked[0].score > unrelated.score
    assert len(ranked) == len(week()) and {e.paper.id for e in ranked} == {p.id for p in week()}


def test_a_reasoning_paper_ranks_above_unrelated_testing_papers():
    ranked = [entry.paper.id for entry in rank(SHIPPED["llm-reasoning"], week())]
    unrelated = ["2301.13615", "1509.08401", "2004.03322"]  # mutation testing, Petri nets, pooling
    assert all(ranked.index(REST) < ranked.index(other) for other in unrelated)
    rest = next(entry for entry in rank(SHIPPED["llm-reasoning"], week()) if entry.paper.id == REST)
    assert any("reasoning" in term.lower() for term in rest.matched)


def test_it_ranks_the_same_whatever_the_input_order_or_hash_seed():
    papers = week()
    first = [(e.paper.id, e.score, e.matched) for e in rank(SHIPPED["vla"], papers)]
    again = [(e.paper.id, e.score, e.matched) for e in rank(SHIPPED["vla"], list(reversed(papers)))]
    assert first == again
    script = (
        "import json; from tests.ranking.test_relevance import SHIPPED, week; from service.ranking.relevance import rank; "
        "print(json.dumps([[e.paper.id, e.score, list(e.matched)] for t in SHIPPED.values() "
        "for e in rank(t, week())]))"
    )
    # This process hashes strings with a random seed; the other with seed 0.
    env = {**os.environ, "PYTHONHASHSEED": "0"}
    out = subprocess.run(
        [sys.executable, "-c", script], cwd=ROOT, env=env, capture_output=True, text=True, check=True
    ).stdout
    here = [[e.paper.id, e.score, list(e.matched)] for t in SHIPPED.values() for e in rank(t, papers)]
    assert json.loads(out) == here


def test_ties_go_newest_first_then_by_arxiv_id():
    base = fixture_papers()[0]
    older = replace(base, id="2601.00001", published=base.published - timedelta(days=2))
    newer_low = replace(base, id="2601.00002")
    newer_high = replace(base, id="2601.00003")
    ranked = rank(TESTING, [older, newer_low, newer_high])
    assert len({entry.score for entry in ranked}) == 1
    assert [entry.paper.id for entry in ranked] == ["2601.00003", "2601.00002", "2601.00001"]


def test_it_ranks_nothing_and_papers_with_no_match():
    assert rank(SHIPPED["vla"], []) == []
    statistics = [p for p in fixture_papers() if p.primary_category.startswith(("math", "stat"))]
    ranked = rank(Topic(slug="x", title="Zebras", description="", query="ti:zebra"), statistics)
    assert len(statistics) > 5
    assert {entry.score for entry in ranked} == {0.0} and all(not e.matched for e in ranked)
    assert [e.paper.id for e in ranked] == [
        p.id for p in sorted(statistics, key=lambda p: (p.published, p.id), reverse=True)
    ]
    wordless = [replace(statistics[0], id=f"2601.0000{n}", title="The", abstract="Of and the.") for n in range(3)]
    for topic in (SHIPPED["vla"], Topic(slug="x", title="On", description="", query="cat:cs.RO")):
        ranked = rank(topic, wordless, exemplars=wordless[:1])
        assert [(e.paper.id, e.score) for e in ranked] == [
            ("2601.00002", 0.0),
            ("2601.00001", 0.0),
            ("2601.00000", 0.0),
        ]


def test_exemplars_pull_up_papers_like_them():
    papers = fixture_papers()
    exemplar = next(p for p in papers if p.id == "1904.08007")  # metamorphic testing of protein tools
    others = [p for p in papers if p is not exemplar]
    metamorphic = {p.id for p in others if "metamorphic" in f"{p.title} {p.abstract}".lower()}

    def places(ranked):
        ids = [entry.paper.id for entry in ranked]
        return sorted(ids.index(paper_id) for paper_id in metamorphic)

    with_exemplar, without = places(rank(TESTING, others, [exemplar])), places(rank(TESTING, others))
    assert len(metamorphic) >= 5
    assert all(a <= b for a, b in zip(with_exemplar, without)) and sum(with_exemplar) < sum(without)


def test_it_reads_the_text_terms_of_an_arxiv_query():
    assert query_terms(SHIPPED["robot-learning"].query) == [
        "imitation learning",
        "reinforcement learning",
        "diffusion policy",
        "diffusion policies",
        "policy learning",
        "visuomotor",
        "behavior cloning",
        "demonstrations",
        "sim-to-real",
        "policy",
        "policies",
        "manipulation",
        "locomotion",
        "grasping",
        "dexterous",
        "humanoid",
        "legged",
        "quadruped",
        "bimanual",
    ]
    assert query_terms('ti:"world model" AND cat:cs.RO ANDNOT abs:survey OR au:Smith OR all:agents') == [
        "world model",
        "agents",
    ]


def test_a_topic_of_categories_only_gives_no_why_from_its_description():
    robotics = Topic(
        slug="robotics",
        title="Robotics (all of cs.RO)",
        description="Every paper in the topic's category: all of it, broad.",
        query="cat:cs.RO",
    )
    ranked = rank(robotics, week())
    assert ranked and all(entry.matched == () for entry in ranked)
    # A topic with search terms still names its title's words when a paper has none of its terms.
    assert any(entry.matched for entry in rank(replace(robotics, query="ti:zebrafish"), week()))
