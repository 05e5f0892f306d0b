"""/topics/<slug>.md: the seed page's Markdown format, line for line, with arXiv text escaped."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest

from service.publish.markdown import EMPTY_SECTION
from tests.conftest import DATA, NOW
from tests.support.topic_data import fixture_papers, hostile_paper, load, load_testing_topic

# Pages and feeds see the frozen NOW, and every change in the store at once.
pytestmark = pytest.mark.app_options(clock=lambda: NOW, stamp_seconds=0)


def shape(line: str) -> str:
    """What a line is, in the seed's vocabulary, without its text."""
    if not line:
        return "blank"
    if line == EMPTY_SECTION:
        return "empty section"
    if line == "---":
        return "rule"
    if line in ("<details>", "<summary>Abstract</summary>", "</details>"):
        return line
    if match := re.fullmatch(r"(#{1,3}) (.*)", line):
        level, rest = match.groups()
        if level == "##":
            return f"h2 {rest}"  # the section names are part of the structure
        return f"h{len(level)} link" if re.fullmatch(r"\[.+\]\(https://\S+\)", rest) else f"h{len(level)} text"
    if labels := re.findall(r"\*\*([A-Za-z ]+):\*\*", line):
        if labels == ["Links"]:
            assert re.fullmatch(
                r"\*\*Links:\*\* \[arXiv\]\(\S+\) \| \[PDF\]\(\S+\)( \| \[(Project Page|Code)\]\(\S+\))*", line
            ), line
        return "label " + "|".join(labels)
    if re.fullmatch(r"\[Back to Home\]\(\S+\)", line):
        return "back link"
    return "text"


def blocks(markdown: str) -> tuple[list[str], list[tuple[str, list[list[str]]]]]:
    """(the header's shapes, [(section heading, [each paper's shapes])])."""
    shapes = [shape(line) for line in markdown.split("\n")]
    first_section = next(i for i, s in enumerate(shapes) if s.startswith("h2 "))
    header, sections = shapes[:first_section], []
    papers: list[list[str]] = []
    for item in shapes[first_section:]:
        if item.startswith("h2 "):
            papers = []
            sections.append((item, papers))
        elif item == "h3 link":
            papers.append([item])
        elif papers:
            papers[-1].append(item)
        elif item == "empty section":
            sections[-1] = (sections[-1][0], None)  # says so, then its rule
        elif item != "blank" and not (item == "rule" and sections[-1][1] is None):
            raise AssertionError(f"{item} between a section heading and its first paper")
    return header, sections


def test_it_matches_the_seed_structure_section_by_section(client, app_engine):
    load_testing_topic(app_engine)
    response = client.get("/topics/testing.md")
    assert response.status_code == 200
    assert response.content_type == "text/markdown; charset=utf-8"
    ours = blocks(response.get_data(as_text=True))
    seed = blocks((DATA / "seed-topic-page.md").read_text())
    assert ours[0] == seed[0]
    assert [name for name, _ in ours[1]] == [name for name, _ in seed[1]]
    seed_paper = seed[1][0][1][0]
    assert all(paper == seed_paper for _, papers in seed[1] for paper in papers)  # the seed agrees with itself
    for _, papers in ours[1]:
        assert papers and all(paper == seed_paper for paper in papers)


def test_it_writes_the_seed_lines(client, app_engine):
    recent, _ = load_testing_topic(app_engine)
    text = client.get("/topics/testing.md").get_data(as_text=True)
    lines = text.split("\n")
    assert lines[:9] == [
        "# Software Testing",
        "",
        "Testing, from unit tests to metamorphic testing.",
        "",
        "**Last updated:** 2026-02-03 16:50 UTC",
        "",
        f"**Papers found:** {len(recent)}",
        "",
        "[Back to Home](http://paperboy.test/)",
    ]
    code_paper = next(p for p in recent if p.code_urls)
    assert (
        f"**Links:** [arXiv]({code_paper.abs_url}) | [PDF]({code_paper.pdf_url}) | [Code]({code_paper.code_urls[0]})"
    ) in lines
    project_paper = next(p for p in recent if p.project_urls)
    assert f"| [Project Page]({project_paper.project_urls[0]})" in text
    few = next(p for p in recent if len(p.authors) == 5)
    assert f"**Authors:** {', '.join(few.authors)}" in lines


def test_it_lists_five_authors_then_et_al(client, app_engine):
    many = next(p for p in fixture_papers() if len(p.authors) > 5)
    load(app_engine, "testing", [many], matched=NOW - timedelta(days=1))
    text = client.get("/topics/testing.md").get_data(as_text=True)
    assert f"**Authors:** {', '.join(many.authors[:5])} et al. ({len(many.authors)} authors)" in text


def test_it_escapes_markdown_and_html_from_arxiv(client, app_engine):
    paper = hostile_paper(fixture_papers()[0])
    load(app_engine, "testing", [paper], matched=NOW - timedelta(days=1))
    text = client.get("/topics/testing.md").get_data(as_text=True)
    assert "<script>" not in text and "<img" not in text and "<b>" not in text
    assert "\x00" not in text and "\x07" not in text and "\x0b" not in text
    title = next(line for line in text.split("\n") if line.startswith("### "))
    assert title == (
        r'### [Robust &lt;script&gt;alert("t")&lt;/script&gt; &amp; Co \]\]&gt; \[x\](javascript:y) \*bold\* end]'
        f"({paper.abs_url})"
    )
    assert "**Authors:** &lt;b&gt;Eve&lt;/b&gt; &amp; Mallory, Zoë Null" in text
    assert "javascript:alert" not in text  # a code URL that is not http(s) is no link
    # Every paper keeps the seed's shape, whatever its text holds.
    _, sections = blocks(text)
    assert [name for name, _ in sections] == ["h2 Papers with Project Pages / Code", "h2 Other Recent Papers"]
    assert len(sections[0][1]) == 1 and sections[0][1][0][0] == "h3 link"
    assert sections[1][1] is None  # no other paper: the section is there and says it is empty


def test_it_answers_404_for_an_unknown_topic(client, app_engine):
    assert client.get("/topics/nope.md").status_code == 404


def test_it_answers_conditional_gets(client, app_engine):
    load_testing_topic(app_engine)
    first = client.get("/topics/testing.md")
    assert first.headers["Last-Modified"] == "Wed, 04 Feb 2026 00:00:00 GMT"  # the window moved last
    assert client.get("/topics/testing.md", headers={"If-None-Match": first.headers["ETag"]}).status_code == 304
    newcomer = next(p for p in fixture_papers()[20:] if p.updated < NOW)
    load(app_engine, "testing", [newcomer], matched=NOW)
    changed = client.get("/topics/testing.md", headers={"If-None-Match": first.headers["ETag"]})
    assert changed.status_code == 200
    assert "**Papers found:** 13" in changed.get_data(as_text=True)
    assert changed.headers["Last-Modified"] == "Wed, 04 Feb 2026 16:50:00 GMT"
