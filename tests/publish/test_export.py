"""`paperboy export DIR`: the static site in the seed's format, read as readers and hosts read it:
Markdown rendered by markdown-it-py (CommonMark), every relative link followed to a file, feeds
parsed by feedparser, the topic page compared with the seed section by section."""

from __future__ import annotations

import posixpath
import re
from datetime import timedelta
from pathlib import Path
from urllib.parse import unquote, urlsplit

import feedparser
import pytest
from click.testing import CliRunner
from lxml import etree, html
from markdown_it import MarkdownIt

from service.cli import main
from service.web.static_site import export_site
from tests.conftest import DATA, NOW
from tests.support.topic_data import fixture_papers, load, load_testing_topic, many_papers_with_code

# Pages and feeds see the frozen NOW, and every change in the store at once.
pytestmark = pytest.mark.app_options(clock=lambda: NOW, stamp_seconds=0)

COMMONMARK = MarkdownIt("commonmark", {"html": True})


@pytest.fixture
def site(runtime, config, tmp_path):
    recent, older = load_testing_topic(runtime.engine)
    out = tmp_path / "site"
    report = export_site(config, out, clock=lambda: NOW)
    return out, report, recent, older


def relative_links(document) -> list[str]:
    """Every href/src of an HTML document that is not absolute (no scheme, no host)."""
    found = []
    for element in document.iter():
        for name in ("href", "src"):
            value = element.get(name) if isinstance(element.tag, str) else None
            if value and not urlsplit(value).scheme and not value.startswith(("#", "//")):
                found.append(value)
    return found


def assert_links_resolve(root: Path, path: str, document) -> list[str]:
    links = relative_links(document)
    for link in links:
        target = posixpath.normpath(posixpath.join(posixpath.dirname(path), unquote(urlsplit(link).path)))
        assert not target.startswith(".."), (path, link)
        assert (root / target).is_file(), f"{path}: {link} -> {target} is missing"
    return links


def rendered(root: Path, path: str):
    return html.fromstring("<div>" + COMMONMARK.render((root / path).read_text()) + "</div>")


def test_it_exports_readme_topics_weeks_feeds_and_html(site):
    out, report, recent, older = site
    files = sorted(str(p.relative_to(out)) for p in out.rglob("*") if p.is_file())
    for expected in [
        "README.md",
        "index.html",
        "feed.atom",
        "feeds.opml",
        "static/paperboy.css",
        "topics/testing.md",
        "topics/testing/index.html",
        "topics/testing/2026-W06.md",
        "topics/testing/2026-W06/index.html",
        "topics/testing/2026-W03.md",
        "topics/testing/2026-W03/index.html",
        "topics/vla.md",
        "topics/vla/index.html",
    ]:
        assert expected in files
    for slug in ("testing", "vla"):
        for name in ("feed.atom", "feed.rss", "code.atom", "code.rss"):
            assert f"topics/{slug}/{name}" in files
    assert sorted(report.written) == files and report.unchanged == 0
    assert not [f for f in files if f.endswith(".partial")]


def test_it_links_every_page_relatively_to_files_that_exist(site):
    out, _, recent, older = site
    readme = rendered(out, "README.md")
    links = assert_links_resolve(out, "README.md", readme)
    assert "topics/testing.md" in links and "topics/vla.md" in links and "feeds.opml" in links
    topic = rendered(out, "topics/testing.md")
    links = assert_links_resolve(out, "topics/testing.md", topic)
    assert links[0] == "../README.md"  # "[Back to Home](../README.md)", as in the seed
    assert "testing/2026-W03.md" in links
    for path in out.rglob("*.md"):
        assert_links_resolve(out, str(path.relative_to(out)), rendered(out, str(path.relative_to(out))))
    week = rendered(out, "topics/testing/2026-W03.md")
    shown = {a.get("href") for a in week.cssselect("h3 a")}
    assert shown == {p.abs_url for p in older}
    for path in out.rglob("index.html"):
        document = html.fromstring(path.read_bytes())
        assert_links_resolve(out, str(path.relative_to(out)), document)
        assert document.cssselect("main h1")
        assert not document.cssselect("script, form")
    home = html.fromstring((out / "index.html").read_bytes())
    assert "topics/testing/index.html" in relative_links(home)


def shape(line: str) -> str:
    """What a line of the seed's format is, without its words."""
    patterns = [
        ("title", r"^# \S"),
        ("section", r"^## \S"),
        ("paper", r"^### \[.+\]\(https://arxiv\.org/abs/.+\)$"),
        ("updated", r"^\*\*Last updated:\*\* \d{4}-\d\d-\d\d \d\d:\d\d UTC$"),
        ("found", r"^\*\*Papers found:\*\* \d+$"),
        ("home", r"^\[Back to Home\]\(\.\./README\.md\)"),
        ("authors", r"^\*\*Authors:\*\* \S"),
        ("published", r"^\*\*Published:\*\* \d{4}-\d\d-\d\d \| \*\*Categories:\*\* \S"),
        ("links", r"^\*\*Links:\*\* \[arXiv\]\(https://arxiv\.org/abs/\S+\) \| \[PDF\]\(https://arxiv\.org/pdf/\S+\)"),
        ("details", r"^<details>$"),
        ("summary", r"^<summary>Abstract</summary>$"),
        ("end", r"^</details>$"),
        ("rule", r"^---$"),
        ("blank", r"^$"),
    ]
    return next((name for name, pattern in patterns if re.match(pattern, line)), "text")


def sections(text: str) -> list[tuple[str, list[str], list[list[str]]]]:
    """(heading, shapes before its first paper, shapes of each paper) per ## section; the part
    before the first ## is "top"."""
    found = [("top", [], [])]
    for line in text.splitlines():
        if line.startswith("## "):
            found.append((line[3:], [], []))
            continue
        heading, intro, papers = found[-1]
        if line.startswith("### "):
            papers.append([])
        (papers[-1] if papers else intro).append(shape(line))
    for _, _, papers in found:  # the file's last paper has no blank line after it
        for paper in papers:
            while paper[-1] == "blank":
                paper.pop()
    return found


def test_it_writes_topic_pages_in_the_seeds_structure_section_by_section(site):
    out, _, recent, _ = site
    seed = sections((DATA / "seed-topic-page.md").read_text())
    mine = sections((out / "topics/testing.md").read_text())
    assert [name for name, _, _ in mine[:3]] == [name for name, _, _ in seed]
    assert [name for name, _, _ in mine[3:]] == ["Earlier weeks"]  # what the seed lacked: the archive
    assert mine[0] == seed[0]  # title, description, last updated, papers found, back to home, rule
    paper_shape = seed[1][2][0]
    for (name, intro, papers), (_, seed_intro, seed_papers) in zip(mine[1:3], seed[1:3]):
        assert intro == seed_intro == ["blank"]
        assert papers, name
        assert {tuple(p) for p in seed_papers} == {tuple(paper_shape)}
        for paper in papers:
            assert paper == paper_shape, name
    # The abstract sits in the collapsible block, cut at about 500 characters as in the seed.
    topic = rendered(out, "topics/testing.md")
    assert len(topic.cssselect("details")) == len(recent)
    assert all(len(d.text_content()) < 560 for d in topic.cssselect("details"))


@pytest.mark.parametrize(
    ("markdown", "page"),
    [
        ("topics/testing.md", "topics/testing/index.html"),
        ("topics/testing/2026-W03.md", "topics/testing/2026-W03/index.html"),
    ],
)
def test_topic_and_week_pages_link_the_topics_feeds(site, markdown, page):
    out = site[0]
    links = {a.text: a.get("href") for a in rendered(out, markdown).cssselect("a")}
    assert {label: links[label] for label in ("Atom", "RSS", "Papers with code (Atom)")} == {
        label: posixpath.relpath(f"topics/testing/{name}", posixpath.dirname(markdown))
        for label, name in (("Atom", "feed.atom"), ("RSS", "feed.rss"), ("Papers with code (Atom)", "code.atom"))
    }
    document = html.fromstring((out / page).read_bytes())
    alternates = {
        (link.get("type"), posixpath.normpath(posixpath.join(posixpath.dirname(page), link.get("href"))))
        for link in document.cssselect('head link[rel="alternate"]')
    }
    assert alternates == {
        ("application/atom+xml", "topics/testing/feed.atom"),
        ("application/rss+xml", "topics/testing/feed.rss"),
        ("application/atom+xml", "topics/testing/code.atom"),
        ("application/atom+xml", "feed.atom"),
    }
    assert all((out / path).is_file() for _, path in alternates)
    visible = {a.text: a.get("href") for a in document.cssselect("main a")}
    assert (out / posixpath.dirname(page) / visible["RSS"]).resolve() == (out / "topics/testing/feed.rss").resolve()


def test_pdf_links_keep_their_pdf_suffix_as_the_seeds_do(site):
    out, _, recent, _ = site
    pdfs = [a.get("href") for a in rendered(out, "topics/testing.md").cssselect("a") if a.text == "PDF"]
    assert pdfs and all(re.fullmatch(r"https://arxiv\.org/pdf/\d{4}\.\d{4,5}v\d+\.pdf", href) for href in pdfs)


def test_it_writes_feeds_with_the_public_base_url(site):
    out, _, recent, older = site
    for path in (
        "feed.atom",
        "topics/testing/feed.atom",
        "topics/testing/feed.rss",
        "topics/testing/code.atom",
        "topics/testing/code.rss",
    ):
        parsed = feedparser.parse((out / path).read_bytes())
        assert not parsed.bozo, (path, parsed.get("bozo_exception"))
        self_link = next(link.href for link in parsed.feed.links if link.rel == "self")
        assert self_link == f"http://paperboy.test/{path}"
    assert len(feedparser.parse((out / "topics/testing/feed.rss").read_bytes()).entries) == len(recent + older)
    outlines = etree.parse(str(out / "feeds.opml")).findall("body/outline")
    assert outlines[0].get("xmlUrl") == "http://paperboy.test/feed.atom"
    for outline in outlines:  # every feed in the OPML is a file of the export
        assert (out / outline.get("xmlUrl").removeprefix("http://paperboy.test/")).is_file()


def test_it_rewrites_only_what_changed(site, runtime, config):
    out, _, _, _ = site
    before = {p: (p.stat().st_mtime_ns, p.read_bytes()) for p in out.rglob("*") if p.is_file()}
    again = export_site(config, out, clock=lambda: NOW)
    assert again.written == [] and again.unchanged == len(before)
    assert {p: (p.stat().st_mtime_ns, p.read_bytes()) for p in out.rglob("*") if p.is_file()} == before
    newcomer = fixture_papers()[60]
    load(runtime.engine, "testing", [newcomer], matched=NOW - timedelta(hours=2))
    third = export_site(config, out, clock=lambda: NOW)
    assert newcomer.abs_url in (out / "topics/testing.md").read_text()
    assert "topics/testing.md" in third.written and "topics/testing/feed.atom" in third.written
    assert "topics/testing/2026-W06.md" in third.written  # the week it joined
    # Other topics' pages and feeds keep their bytes and mtimes.
    untouched = [
        "topics/vla.md",
        "topics/vla/index.html",
        "topics/vla/feed.atom",
        "topics/vla/code.rss",
        "static/paperboy.css",
    ]
    for path in untouched:
        assert path not in third.written
        assert (out / path).stat().st_mtime_ns == before[out / path][0]


def run_export(monkeypatch, tmp_path, config, *args):
    monkeypatch.chdir(tmp_path)
    return CliRunner().invoke(
        main,
        ["export", *args],
        env={
            "PAPERBOY_DATABASE_URL": config.database_url,
            "PAPERBOY_SECRET_KEY": "test-secret",
            "PAPERBOY_TOPICS_FILE": str(config.topics_file),
            "PAPERBOY_BASE_URL": "https://example.org/papers",
        },
    )


def test_it_exports_from_the_command_line_with_the_base_url(monkeypatch, tmp_path, runtime, config):
    load_testing_topic(runtime.engine)
    result = run_export(monkeypatch, tmp_path, config, str(tmp_path / "out"))
    assert result.exit_code == 0, result.output
    assert re.fullmatch(r"paperboy: export: \d+ files written, 0 unchanged, in .*out\n", result.stdout)
    atom = feedparser.parse((tmp_path / "out/topics/testing/feed.atom").read_bytes())
    assert atom.feed.links[0].href == "https://example.org/papers/topics/testing/feed.atom"
    again = run_export(monkeypatch, tmp_path, config, str(tmp_path / "out"))
    assert re.search(r": 0 files written, \d+ unchanged", again.stdout)


def test_it_refuses_a_file_for_a_folder(monkeypatch, tmp_path, runtime, config):
    target = tmp_path / "taken"
    target.write_text("keep me")
    result = run_export(monkeypatch, tmp_path, config, str(target))
    assert result.exit_code == 2
    assert result.stderr.splitlines()[-1] == f"paperboy: export: {target} is not a folder"
    assert target.read_text() == "keep me"


def test_it_says_which_file_it_cannot_write(monkeypatch, tmp_path, runtime, config):
    out = tmp_path / "out"
    (out / "topics").mkdir(parents=True)
    (out / "topics" / "testing").write_text("a file where a folder goes")
    result = run_export(monkeypatch, tmp_path, config, str(out))
    assert result.exit_code == 2
    assert result.stderr.splitlines()[-1].startswith(f"paperboy: export: cannot write {out}/topics/testing/")
    assert (out / "topics" / "testing").read_text() == "a file where a folder goes"


def test_it_splits_long_lists_into_pages_of_markdown(runtime, config, tmp_path):
    papers = load(runtime.engine, "testing", many_papers_with_code(250), matched=NOW - timedelta(days=1))
    out = tmp_path / "site"
    export_site(config, out, clock=lambda: NOW)
    week = "2026-W06"
    for first in ("topics/testing.md", f"topics/testing/{week}.md"):
        stem = first.removesuffix(".md")
        paths = [first, f"{stem}/page-2.md", f"{stem}/page-3.md"]
        assert not (out / f"{stem}/page-4.md").exists()
        seen = []
        for number, path in enumerate(paths, start=1):
            document = rendered(out, path)
            assert_links_resolve(out, path, document)
            titles = document.cssselect("h3 a")
            seen += [a.get("href") for a in titles]
            assert len(titles) == (100 if number < 3 else 50)
            text = document.text_content()
            assert "Papers found: 250" in text
            first_shown = (number - 1) * 100 + 1
            assert f"Papers {first_shown} to {first_shown + len(titles) - 1} of 250. Pages:" in text
            assert (out / path.removesuffix(".md") / "index.html").is_file()
        assert sorted(seen) == sorted(p.abs_url for p in papers)
        page_two = f"{stem}/page-2.md"
        assert relative_links(rendered(out, page_two))[0] == "../" * page_two.count("/") + "README.md"


def test_it_serves_the_first_page_of_a_long_list_as_markdown(client, app_engine):
    load(app_engine, "testing", many_papers_with_code(250), matched=NOW - timedelta(days=1))
    text = client.get("/topics/testing.md").text
    assert text.count("\n### ") == 100
    assert "**Papers found:** 250" in text
    assert (
        "**Papers 1 to 100 of 250. Pages:** 1 | [2](http://paperboy.test/topics/testing/?page=2)"
        " | [3](http://paperboy.test/topics/testing/?page=3)"
    ) in text


def test_an_export_of_the_bundled_sample_shows_all_of_it_as_the_pages_do(config, tmp_path):
    """While the store holds only the sample, the export's topic files start where the topic
    pages do, at the sample's first week (they said "Papers found: 0" before)."""
    from service import store
    from service.arxiv.sample import load_sample
    from service.model.topics import load_topics

    shipped = Path(__file__).resolve().parents[2] / "topics.toml"
    config = config.with_overrides(topics_file=shipped)
    engine = store.connect(config.database_url)
    store.migrate(engine)
    linked = load_sample(engine, load_topics(shipped), NOW)
    engine.dispose()
    out = tmp_path / "site"
    export_site(config, out, clock=lambda: NOW)
    for slug, count in linked.items():
        assert count >= 25
        assert f"**Papers found:** {count}" in (out / "topics" / f"{slug}.md").read_text(), slug
