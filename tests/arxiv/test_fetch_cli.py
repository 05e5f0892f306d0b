"""`paperboy fetch`, the real console script in a subprocess, against a local server replaying
real arXiv responses; then the database is checked. Bad input ends with one clear line."""

import os
import subprocess

import pytest
from lxml import etree
from werkzeug import Response

from service import store
from service.store import papers, runs
from tests.conftest import data_file
from tests.support.arxiv_replay import ATOM, CS_RO_2025, HUNDRED
from tests.support.helpers import PAPERBOY, paperboy
from tests.support.server_process import server_environment

ARXIV = "{http://arxiv.org/schemas/atom}"


@pytest.fixture
def environ(tmp_path, sqlite_url, topics_file, httpserver):
    return server_environment(sqlite_url, topics_file, PAPERBOY_ARXIV_API_URL=httpserver.url_for("/api/query"))


def expected_entries(name):
    """What the response holds, read with lxml rather than with paperboy's parser."""
    expected = {}
    for entry in etree.fromstring(data_file(name)).iter(f"{ATOM}entry"):
        paper_id, _, version = entry.findtext(f"{ATOM}id").split("/abs/")[1].rpartition("v")
        expected[paper_id] = {
            "version": int(version),
            "authors": [a.findtext(f"{ATOM}name") for a in entry.iter(f"{ATOM}author")],
            "categories": {c.get("term") for c in entry.iter(f"{ATOM}category")},
            "comment": " ".join((entry.findtext(f"{ARXIV}comment") or "").split()) or None,
            "doi": entry.findtext(f"{ARXIV}doi"),
        }
    return expected


LINKS = {
    "2510.14968": ([], ["https://rdd-neurips.github.io"]),
    "2507.10541": ([], ["https://opendatalab.github.io/REST"]),
    "1706.00679": (["https://github.com/ydecastro/super-resolution-testing"], []),
}


@pytest.mark.parametrize("name", [HUNDRED, CS_RO_2025])
def test_it_stores_every_entry_of_a_real_response_once(environ, httpserver, tmp_path, database_url, name):
    environ["PAPERBOY_DATABASE_URL"] = database_url
    httpserver.expect_request("/api/query").respond_with_data(data_file(name), content_type="application/atom+xml")
    # The window reaches back far enough for every entry, new versions of old papers included.
    done = paperboy(environ, "fetch", "--since", "2000-01-01", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    expected = expected_entries(name)
    assert done.stdout.splitlines() == [
        f"vla: {len(expected)} new, 0 updated, 0 unchanged",
        f"testing: {len(expected)} new, 0 updated, 0 unchanged",
    ]
    engine = store.connect(database_url)
    with engine.connect() as conn:
        assert papers.count_papers(conn) == len(expected)
        for paper_id, want in expected.items():
            paper = papers.get_paper(conn, paper_id)
            assert paper.version == want["version"]
            assert paper.authors == want["authors"]
            assert set(paper.categories) == want["categories"]
            assert paper.comment == want["comment"]
            assert paper.doi == want["doi"]
            assert (paper.code_urls, paper.project_urls) == LINKS.get(paper_id, ([], []))
            assert papers.topics_of_paper(conn, paper_id) == ["testing", "vla"]
    engine.dispose()


BROKEN = {
    "malformed XML": (data_file(CS_RO_2025).replace(b"</title>", b"</titel>", 1), 200, "arxiv: malformed XML"),
    "truncated": (data_file(HUNDRED)[:50_000], 200, "arxiv: malformed XML"),
    "HTML error page": (
        b"<!DOCTYPE html><html><body><h1>Bad Gateway</h1></body></html>",
        200,
        "arxiv: the response is not an Atom feed",
    ),
    "error feed": (
        data_file("api2026_idlist_abc_error_http400.xml"),
        400,
        "arxiv: the API refused the query: incorrect id format for abc",
    ),
}


@pytest.mark.parametrize("case", list(BROKEN))
def test_it_fails_on_a_broken_response_and_keeps_what_was_stored(environ, httpserver, tmp_path, sqlite_url, case):
    httpserver.expect_ordered_request("/api/query").respond_with_data(
        data_file(CS_RO_2025), content_type="application/atom+xml"
    )
    assert paperboy(environ, "fetch", "--topic", "vla", cwd=tmp_path).returncode == 0
    engine = store.connect(sqlite_url)
    with engine.connect() as conn:
        before = [papers.get_paper(conn, i) for i in ("2510.14968", "2510.14827")]

    body, status, message = BROKEN[case]
    httpserver.expect_ordered_request("/api/query").respond_with_response(
        Response(body, status=status, content_type="application/atom+xml")
    )
    done = paperboy(environ, "fetch", "--topic", "vla", cwd=tmp_path)
    assert done.returncode == 2
    (line,) = done.stdout.splitlines()
    assert line.startswith("vla: failed: arxiv: ")
    assert message in line
    assert "Traceback" not in done.stderr
    with engine.connect() as conn:
        assert papers.count_papers(conn) == 2
        assert [papers.get_paper(conn, i) for i in ("2510.14968", "2510.14827")] == before
    engine.dispose()


def one_line_error(done) -> str:
    assert done.returncode == 2
    assert done.stdout == ""
    (line,) = done.stderr.splitlines()
    return line


def test_it_refuses_an_unknown_topic(environ, tmp_path):
    line = one_line_error(paperboy(environ, "fetch", "--topic", "nope", cwd=tmp_path))
    assert line.startswith("paperboy: fetch: no topic 'nope' in ")
    assert line.endswith("(known: vla, testing)")


def test_it_refuses_a_bad_since_date(environ, tmp_path):
    line = one_line_error(paperboy(environ, "fetch", "--since", "last week", cwd=tmp_path))
    assert line == "paperboy: fetch: --since expects a date like 2026-02-01, got 'last week'"


def test_it_refuses_a_bad_setting(environ, tmp_path):
    environ["PAPERBOY_ARXIV_DELAY"] = "abc"
    line = one_line_error(paperboy(environ, "fetch", cwd=tmp_path))
    assert line == "paperboy: PAPERBOY_ARXIV_DELAY: expected a number, got 'abc'"


@pytest.mark.parametrize("problem", ["missing", "directory", "not TOML"])
def test_it_refuses_an_unreadable_topics_file(environ, tmp_path, problem):
    path = tmp_path / "topics-here.toml"
    if problem == "directory":
        path.mkdir()
    elif problem == "not TOML":
        path.write_bytes(b"[[topic]\nslug = \xff\n")
    environ["PAPERBOY_TOPICS_FILE"] = str(path)
    line = one_line_error(paperboy(environ, "fetch", cwd=tmp_path))
    assert line.startswith("paperboy: topics: ") and "topics-here.toml" in line


def test_it_refuses_a_database_that_does_not_connect(environ, tmp_path):
    environ["PAPERBOY_DATABASE_URL"] = "postgresql+psycopg://postgres@127.0.0.1:1/paperboy"
    line = one_line_error(paperboy(environ, "fetch", cwd=tmp_path))
    assert line.startswith("paperboy: store: cannot connect to ")
    assert "127.0.0.1" in line


def test_it_ends_with_one_line_when_the_database_fails_mid_run(environ, httpserver, tmp_path, sqlite_url):
    httpserver.expect_request("/api/query").respond_with_data(
        data_file(CS_RO_2025), content_type="application/atom+xml"
    )
    engine = store.connect(sqlite_url)
    store.migrate(engine)
    with engine.begin() as conn:
        conn.exec_driver_sql("DROP TABLE topic_paper")  # the page's transaction will fail on it
    done = paperboy(environ, "fetch", "--topic", "vla", cwd=tmp_path)
    assert done.returncode == 2 and "Traceback" not in done.stderr
    assert done.stdout.splitlines() == ["vla: failed: store: no such table: topic_paper"]
    with engine.connect() as conn:
        assert papers.count_papers(conn) == 0  # the failing page's transaction left nothing
        (row,) = runs.runs_for_topic(conn, "vla")
    assert (row.status, row.error) == ("failed", "store: no such table: topic_paper")
    engine.dispose()


def test_it_exits_2_quickly_when_arxiv_is_unreachable(environ, tmp_path):
    environ["PAPERBOY_ARXIV_API_URL"] = "http://127.0.0.1:9/api/query"
    done = paperboy(environ, "fetch", cwd=tmp_path)
    assert done.returncode == 2
    vla, testing = done.stdout.splitlines()
    assert vla.startswith("vla: failed: arxiv: ") and "cannot connect to 127.0.0.1:9" in vla
    assert testing == "testing: skipped: arXiv cannot be reached"


def test_it_shows_a_live_line_per_page_on_a_terminal(environ, httpserver, tmp_path):
    import pty

    httpserver.expect_request("/api/query").respond_with_data(
        data_file(CS_RO_2025), content_type="application/atom+xml"
    )
    controller, terminal = pty.openpty()
    process = subprocess.Popen(
        [str(PAPERBOY), "fetch", "--topic", "vla", "--since", "2025-10-01"],
        env=environ,
        cwd=tmp_path,
        stdout=subprocess.PIPE,
        stderr=terminal,
        text=True,
    )
    os.close(terminal)
    shown = b""
    while True:
        try:
            chunk = os.read(controller, 4096)
        except OSError:  # the terminal closes when the process exits
            break
        if not chunk:
            break
        shown += chunk
    assert process.wait(timeout=60) == 0
    os.close(controller)
    assert process.stdout.read() == "vla: 2 new, 0 updated, 0 unchanged\n"
    assert b"\r\x1b[Kvla: page 1, 2 of 5619 entries, 2 new, 0 updated, 0 unchanged" in shown
