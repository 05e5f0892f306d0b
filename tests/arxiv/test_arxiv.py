"""Parsing real arXiv API responses, current and pre-2025 formats, and refusing broken ones."""

from datetime import UTC, datetime

import pytest

from service.arxiv.client import ArxivError, parse_feed, search_query, user_agent
from tests.conftest import data_file
from tests.support.arxiv_replay import CS_RO_2025, HUNDRED


def test_it_parses_the_current_format():
    page = parse_feed(data_file(HUNDRED))
    assert page.total_results == 214881
    assert page.start_index == 0
    assert len(page.papers) == 100
    first = page.papers[0]
    assert (first.id, first.version) == ("2202.12139", 1)
    assert first.title == "Testing Deep Learning Models: A First Comparative Study of Multiple Testing Techniques"
    assert first.authors == ["Mohit Kumar Ahuja", "Arnaud Gotlieb", "Helge Spieker"]
    assert first.categories == ["cs.SE", "cs.LG"]
    assert first.primary_category == "cs.SE"
    assert first.comment == "Artificial Intelligence in Software Testing 2022 workshop @ ICST 2022"
    assert first.doi == "10.1109/ICSTW55395.2022.00035"
    assert first.journal_ref.startswith("Artificial Intelligence in Software Testing @ 2022 IEEE")
    assert first.published == datetime(2022, 2, 24, 15, 5, 19, tzinfo=UTC)


def test_it_parses_old_style_ids_and_versions():
    papers = {p.id: p for p in parse_feed(data_file(HUNDRED)).papers}
    assert papers["cs/0503050"].version == 1
    assert papers["hep-ph/0301050"].version == 2
    assert papers["2409.05654"].version == 9


def test_it_parses_the_pre_2025_format():
    page = parse_feed(data_file(CS_RO_2025))
    assert page.total_results == 5619
    assert [p.id for p in page.papers] == ["2510.14968", "2510.14827"]
    rdd = page.papers[0]
    assert rdd.title == ("RDD: Retrieval-Based Demonstration Decomposer for Planner Alignment in Long-Horizon Tasks")
    assert rdd.authors[0] == "Mingxuan Yan"
    assert rdd.primary_category == "cs.RO"
    assert rdd.categories == ["cs.RO", "cs.AI", "cs.CV", "cs.LG", "cs.SY", "eess.SY"]
    assert rdd.comment == (
        "39th Conference on Neural Information Processing Systems (NeurIPS 2025); "
        "Project Website: rdd-neurips.github.io"
    )
    assert rdd.project_urls == ["https://rdd-neurips.github.io"]
    assert "\n" not in rdd.abstract


def test_it_parses_an_old_style_id_with_affiliations():
    page = parse_feed(data_file("api2026_idlist_astro-ph-0601001_affiliations.xml"))
    (paper,) = page.papers
    assert (paper.id, paper.version) == ("astro-ph/0601001", 1)
    assert paper.authors[:2] == ["Andrew Gould", "Susan Dorsher"]


def test_it_parses_an_empty_result():
    page = parse_feed(data_file("api2026_idlist_0000.0000_empty.xml"))
    assert page.papers == [] and page.total_results == 0


def test_it_turns_the_error_feed_into_an_arxiv_error():
    with pytest.raises(ArxivError, match="arxiv: the API refused the query: incorrect id format for abc"):
        parse_feed(data_file("api2026_idlist_abc_error_http400.xml"))


def test_it_refuses_a_truncated_response():
    body = data_file(HUNDRED)
    with pytest.raises(ArxivError, match="arxiv: malformed XML"):
        parse_feed(body[: len(body) // 2])


def test_it_refuses_malformed_xml():
    body = data_file(CS_RO_2025).replace(b"</title>", b"</titel>", 1)
    with pytest.raises(ArxivError, match="arxiv: malformed XML"):
        parse_feed(body)


def test_it_refuses_an_html_error_page():
    body = b"<!DOCTYPE html><html><head><title>502 Bad Gateway</title></head><body>nginx</body></html>"
    with pytest.raises(ArxivError, match="arxiv: the response is not an Atom feed"):
        parse_feed(body)


def test_it_builds_the_query_with_a_submission_window():
    start = datetime(2026, 1, 21, 16, 50, tzinfo=UTC)
    end = datetime(2026, 2, 4, 16, 50, tzinfo=UTC)
    assert search_query("ti:VLA OR abs:robot", start, end) == (
        "(ti:VLA OR abs:robot) AND submittedDate:[202601211650 TO 202602041650]"
    )


def test_it_names_paperboy_and_a_contact_in_the_user_agent():
    agent = user_agent("+https://papers.example.org; mailto:ops@example.org")
    assert agent.startswith("paperboy/0.1.0 (")
    assert "mailto:ops@example.org" in agent and "https://papers.example.org" in agent
