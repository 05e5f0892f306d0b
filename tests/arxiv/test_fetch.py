"""The fetch job on SQLite and PostgreSQL against a local server replaying real arXiv responses."""

import io
import logging
import socket
from dataclasses import replace
from datetime import timedelta
from urllib.parse import parse_qs

import pytest
from sqlalchemy import event, text
from werkzeug import Response

from service.arxiv.client import ArxivClient
from service.arxiv.fetch import Progress, fetch_topics
from service.ranking.relevance import ranking_keys
from service.runtime import Runtime
from service.store import papers, runs
from tests.conftest import NOW, data_file
from tests.support.arxiv_replay import (
    CS_RO_2025,
    dated_entries,
    entries,
    feed,
    paged_responses,
    rewrite_entry,
    start_of,
)
from tests.support.helpers import Sleeps

NEWEST = NOW - timedelta(hours=2)


@pytest.fixture
def fetch_runtime(config, database_url, httpserver):
    runtime = Runtime(config.with_overrides(database_url=database_url, arxiv_api_url=httpserver.url_for("/api/query")))
    yield runtime
    if "engine" in runtime.__dict__:
        runtime.engine.dispose()


def run(runtime, topics=None, now=NOW, since=None, page_size=100):
    """One fetch with recorded sleeps; returns the report."""
    sleeps = Sleeps()
    client = ArxivClient.from_config(runtime.config, sleep=sleeps, page_size=page_size)
    with client:
        report = fetch_topics(
            runtime, topics or runtime.topics, now=now, since=since, client=client, progress=Progress(io.StringIO())
        )
    report.sleeps = sleeps
    return report


def serve(httpserver, answer, seen=None):
    """Answer every request with answer(request) -> bytes or a Response."""

    def handler(request):
        if seen is not None:
            seen.append(request)
        body = answer(request)
        return body if isinstance(body, Response) else Response(body, content_type="application/atom+xml")

    httpserver.expect_request("/api/query").respond_with_handler(handler)


def query_of(request) -> str:
    return parse_qs(request.query_string.decode())["search_query"][0]


def stored(runtime, paper_id):
    with runtime.engine.connect() as conn:
        return papers.get_paper(conn, paper_id)


def count(runtime):
    with runtime.engine.connect() as conn:
        return papers.count_papers(conn)


def topic_runs(runtime, topic):
    with runtime.engine.connect() as conn:
        return runs.runs_for_topic(conn, topic)


def test_it_stores_every_page_of_a_search_once(fetch_runtime, httpserver):
    pages = paged_responses(dated_entries(250, NEWEST), page_size=100)
    serve(httpserver, lambda request: pages[start_of(request)])
    report = run(fetch_runtime, [fetch_runtime.topic("testing")])
    assert report.exit_code == 0
    (result,) = report.results
    assert (result.pages, result.counts.new, result.counts.updated, result.counts.unchanged) == (3, 250, 0, 0)
    assert count(fetch_runtime) == 250
    (run_row,) = topic_runs(fetch_runtime, "testing")
    assert (run_row.status, run_row.new_count, run_row.finished) == ("ok", 250, NOW)
    assert (run_row.window_start, run_row.window_end) == (NOW - timedelta(days=14), NOW)


def test_it_updates_a_paper_on_v2_and_ignores_v1_afterwards(fetch_runtime, httpserver):
    original = entries()[0]
    v1 = rewrite_entry(original, arxiv_id="2602.03310", version=1, published=NEWEST)
    v2 = rewrite_entry(v1, version=2, title="Testing Deep Learning Models, Revised")
    answers = iter([feed([v1]), feed([v2]), feed([v1])])
    serve(httpserver, lambda request: next(answers))
    testing = [fetch_runtime.topic("testing")]

    first = run(fetch_runtime, testing).results[0]
    assert (first.counts.new, stored(fetch_runtime, "2602.03310").version) == (1, 1)
    second = run(fetch_runtime, testing, now=NOW + timedelta(hours=1)).results[0]
    paper = stored(fetch_runtime, "2602.03310")
    assert second.counts.updated == 1
    assert (paper.version, paper.title) == (2, "Testing Deep Learning Models, Revised")
    assert paper.updated == NEWEST.replace(microsecond=0) + timedelta(days=2)
    assert paper.first_seen == NOW
    third = run(fetch_runtime, testing, now=NOW + timedelta(hours=2)).results[0]
    assert (third.counts.new, third.counts.updated, third.counts.unchanged) == (0, 0, 1)
    assert stored(fetch_runtime, "2602.03310") == paper


def test_it_links_a_paper_found_by_two_topics_once(fetch_runtime, httpserver):
    body = feed(dated_entries(20, NEWEST))
    serve(httpserver, lambda request: body)
    report = run(fetch_runtime)
    # Each topic counts the papers new to it; the store holds them once.
    assert [r.counts.new for r in report.results] == [20, 20]
    assert count(fetch_runtime) == 20
    with fetch_runtime.engine.connect() as conn:
        assert papers.topics_of_paper(conn, "2602.10000") == ["testing", "vla"]


@pytest.mark.parametrize(
    "failure",
    [
        b"<?xml version='1.0'?><feed xmlns='http://www.w3.org/2005/Atom'><entry><id>",
        Response("<html><body>Service Unavailable</body></html>", status=503, content_type="text/html"),
    ],
    ids=["malformed XML", "server error beyond retries"],
)
def test_it_keeps_earlier_pages_of_a_failed_run_and_completes_on_rerun(fetch_runtime, httpserver, failure):
    pages = paged_responses(dated_entries(250, NEWEST), page_size=100)
    broken = {**pages, 100: failure}
    serve(httpserver, lambda request: broken[start_of(request)])
    testing = [fetch_runtime.topic("testing")]

    report = run(fetch_runtime, testing)
    (result,) = report.results
    assert report.exit_code == 2
    assert (result.status, result.pages, result.counts.new) == ("partial", 1, 100)
    assert result.error.startswith("arxiv: ")
    assert count(fetch_runtime) == 100

    httpserver.clear_all_handlers()
    seen = []
    serve(httpserver, lambda request: pages[start_of(request)], seen)
    rerun = run(fetch_runtime, testing, now=NOW + timedelta(hours=1))
    assert rerun.exit_code == 0
    assert (rerun.results[0].counts.new, rerun.results[0].counts.unchanged) == (150, 100)
    assert count(fetch_runtime) == 250
    # The rerun asks for the failed run's whole window again: its pages were newest first.
    assert "lastUpdatedDate:[202601211650 TO 202602041750]" in query_of(seen[0])
    assert [r.status for r in topic_runs(fetch_runtime, "testing")] == ["partial", "ok"]


def test_it_retries_after_a_503_and_after_an_empty_page(fetch_runtime, httpserver):
    pages = paged_responses(dated_entries(150, NEWEST), page_size=100)
    answers = iter([Response("busy", status=503), pages[0], feed([], start=100, total=150), pages[100]])
    serve(httpserver, lambda request: next(answers))
    report = run(fetch_runtime, [fetch_runtime.topic("testing")])
    assert report.exit_code == 0
    assert report.results[0].counts.new == 150
    assert report.sleeps == [1.0, 1.0]
    assert count(fetch_runtime) == 150


def test_it_fails_a_topic_on_the_error_feed_and_carries_on(fetch_runtime, httpserver):
    good = feed(dated_entries(5, NEWEST))
    error = Response(data_file("api2026_idlist_abc_error_http400.xml"), status=400, content_type="application/atom+xml")
    serve(httpserver, lambda request: error if "vision-language-action" in query_of(request) else good)
    report = run(fetch_runtime)
    assert report.exit_code == 1
    vla, testing = report.results
    assert (vla.status, vla.error) == ("failed", "arxiv: the API refused the query: incorrect id format for abc")
    assert (testing.status, testing.counts.new) == ("ok", 5)
    (vla_run,) = topic_runs(fetch_runtime, "vla")
    assert (vla_run.status, vla_run.error) == ("failed", vla.error)


def test_it_reads_the_pre_2025_format(fetch_runtime, httpserver):
    serve(httpserver, lambda request: data_file(CS_RO_2025))
    report = run(fetch_runtime, [fetch_runtime.topic("vla")], since=NOW - timedelta(days=200))
    assert report.results[0].counts.new == 2
    rdd = stored(fetch_runtime, "2510.14968")
    assert rdd.project_urls == ["https://rdd-neurips.github.io"]
    assert rdd.categories[:2] == ["cs.RO", "cs.AI"]


def test_it_keeps_only_papers_in_the_topics_categories(fetch_runtime, httpserver, tmp_path):
    topics = tmp_path / "robots.toml"
    topics.write_text('[[topic]]\nslug = "se"\ntitle = "SE"\nquery = "all:testing"\ncategories = ["cs.SE"]\n')
    runtime = Runtime(replace(fetch_runtime.config, topics_file=topics))
    serve(httpserver, lambda request: feed(dated_entries(100, NEWEST)))
    report = run(runtime)
    expected = sum(1 for e in entries() if e.xpath("count(*[local-name()='category' and @term='cs.SE'])"))
    assert 0 < report.results[0].counts.new == expected < 100
    with runtime.engine.connect() as conn:
        listed = papers.papers_for_topic(conn, "se")
        assert all("cs.SE" in p.categories for p in listed)
        assert len(listed) == expected
        # The others are kept in the store, unlinked, so search still finds them.
        assert papers.count_papers(conn) == 100
    runtime.engine.dispose()


def test_it_asks_again_for_a_trailing_window_behind_the_last_complete_run(fetch_runtime, httpserver):
    seen = []
    body = feed(dated_entries(3, NEWEST))
    failing = {"now": False}
    serve(httpserver, lambda request: Response("busy", status=503) if failing["now"] else body, seen)
    testing = [fetch_runtime.topic("testing")]
    lookback = fetch_runtime.config.fetch_lookback_days
    run(fetch_runtime, testing)  # first run: 14 days
    run(fetch_runtime, testing, now=NOW + timedelta(days=2))  # never before the first window
    run(fetch_runtime, testing, now=NOW + timedelta(days=30))  # lookback behind the last complete run
    failing["now"] = True
    run(fetch_runtime, testing, now=NOW + timedelta(days=31))
    failing["now"] = False
    run(fetch_runtime, testing, now=NOW + timedelta(days=32))  # the failed window again
    run(fetch_runtime, testing, now=NOW + timedelta(days=32), since=NOW - timedelta(days=60))
    windows = list(dict.fromkeys(query_of(r).rsplit("lastUpdatedDate:", 1)[1] for r in seen))
    minute = "%Y%m%d%H%M"
    assert windows == [
        "[202601211650 TO 202602041650]",
        "[202601211650 TO 202602061650]",
        "[202601211650 TO 202603061650]",
        f"[{(NOW + timedelta(days=30 - lookback)).strftime(minute)} TO 202603071650]",
        f"[{(NOW + timedelta(days=30 - lookback)).strftime(minute)} TO 202603081650]",
        "[202512061650 TO 202603081650]",
    ]


def test_it_stops_all_topics_when_arxiv_is_unreachable(config, database_url):
    runtime = Runtime(config.with_overrides(database_url=database_url, arxiv_retries=1))
    report = run(runtime)
    assert report.exit_code == 2
    vla, testing = report.results
    assert vla.status == "failed" and vla.unreachable
    assert "cannot connect to 127.0.0.1:9" in vla.error
    assert testing.status == "skipped"
    assert report.sleeps == [1.0]
    # Its run was recorded before the first request: it stays failed, so the next run asks its window.
    [skipped] = topic_runs(runtime, "testing")
    assert (skipped.status, skipped.error) == ("failed", "skipped: arXiv cannot be reached")
    runtime.engine.dispose()


def test_it_shows_a_live_line_per_page_on_a_terminal(fetch_runtime, httpserver):
    pages = paged_responses(dated_entries(150, NEWEST), page_size=100)
    serve(httpserver, lambda request: pages[start_of(request)])

    class Terminal(io.StringIO):
        def isatty(self):
            return True

    terminal = Terminal()
    with ArxivClient.from_config(fetch_runtime.config) as client:
        fetch_topics(
            fetch_runtime, [fetch_runtime.topic("testing")], now=NOW, client=client, progress=Progress(terminal)
        )
    shown = terminal.getvalue()
    assert "\rtesting: page 1, 100 of 150 entries, 100 new" in shown.replace("\x1b[K", "")
    assert "\rtesting: page 2, 150 of 150 entries, 150 new" in shown.replace("\x1b[K", "")


def test_it_logs_one_line_per_page_otherwise(fetch_runtime, httpserver, caplog):
    pages = paged_responses(dated_entries(150, NEWEST), page_size=100)
    serve(httpserver, lambda request: pages[start_of(request)])
    caplog.set_level("INFO", logger="paperboy.fetch")
    run(fetch_runtime, [fetch_runtime.topic("testing")])
    lines = [r.getMessage() for r in caplog.records if r.name == "paperboy.fetch"]
    assert lines[1:] == [
        "fetch: testing: page 1, 100 of 150 entries, 100 new, 0 updated, 0 unchanged",
        "fetch: testing: page 2, 150 of 150 entries, 150 new, 0 updated, 0 unchanged",
        "fetch: testing: 150 new, 0 updated, 0 unchanged",
    ]


def test_a_new_version_of_a_paper_older_than_the_topic_updates_the_store_but_is_not_new(fetch_runtime, httpserver):
    source = entries()[0]
    held_v1 = rewrite_entry(source, arxiv_id="2511.00043", version=1, published=NOW - timedelta(days=60))
    held_v2 = rewrite_entry(held_v1, version=2)
    older_v2 = rewrite_entry(source, arxiv_id="2511.00042", version=2, published=NOW - timedelta(days=70))
    answers = iter([feed(dated_entries(3, NEWEST) + [held_v1]), feed([older_v2, held_v2])])
    serve(httpserver, lambda request: next(answers))
    testing = [fetch_runtime.topic("testing")]
    first = run(fetch_runtime, testing, since=NOW - timedelta(days=65)).results[0]  # a backfill
    assert first.counts.new == 4
    second = run(fetch_runtime, testing, now=NOW + timedelta(days=1)).results[0]
    assert (second.counts.new, second.counts.updated, second.counts.unchanged) == (0, 1, 1)
    with fetch_runtime.engine.connect() as conn:
        linked = {p.id for p in papers.papers_for_topic(conn, "testing")}
    # The v2 of a paper submitted before anything the topic asked for is not new to it...
    assert "2511.00042" not in linked and "2511.00043" in linked
    # ...but kept in the store, where search finds it; the topic's own paper is updated.
    assert stored(fetch_runtime, "2511.00042").version == 2
    assert stored(fetch_runtime, "2511.00043").version == 2


# Exemplars: the topics' exemplar papers the store lacks are fetched by id once; they join no
# topic and a failure leaves the fetch's outcome alone.

TWO_IDS = "api2026_idlist_two-ids_one-missing.xml"  # asked 0808.05394,1707.08567; arXiv has one
EMPTY = "api2026_idlist_0000.0000_empty.xml"
ERROR = "api2026_idlist_abc_error_http400.xml"


def id_list_of(request):
    return parse_qs(request.query_string.decode()).get("id_list", [None])[0]


def topics_with_exemplars(runtime):
    testing, vla = runtime.topic("testing"), runtime.topic("vla")
    return [replace(testing, exemplars=("0808.05394",)), replace(vla, exemplars=("1707.08567", "0808.05394"))]


def test_it_fetches_missing_exemplars_once_by_id(fetch_runtime, httpserver, caplog):
    seen = []
    serve(httpserver, lambda r: data_file(TWO_IDS if id_list_of(r) else EMPTY), seen)
    topics = topics_with_exemplars(fetch_runtime)
    with caplog.at_level(logging.INFO, logger="paperboy.fetch"):
        assert run(fetch_runtime, topics).exit_code == 0
    assert [id_list_of(r) for r in seen if id_list_of(r)] == ["0808.05394,1707.08567"]
    with fetch_runtime.engine.connect() as conn:
        stored = papers.get_paper(conn, "1707.08567")
        assert stored.title.startswith("Proceedings of Workshop AEW10") and stored.first_seen == NOW
        assert papers.topics_of_paper(conn, "1707.08567") == []  # an exemplar joins no topic
        assert papers.get_paper(conn, "0808.05394") is None
    assert "arXiv has no paper 0808.05394 listed as an exemplar" in caplog.text

    seen.clear()
    assert run(fetch_runtime, topics).exit_code == 0
    assert [id_list_of(r) for r in seen if id_list_of(r)] == ["0808.05394"]  # only what is missing


def test_a_failed_exemplar_request_is_logged_and_leaves_the_fetch_ok(fetch_runtime, httpserver, caplog):
    def answer(request):
        if id_list_of(request):
            return Response(data_file(ERROR), status=400, content_type="application/atom+xml")
        return data_file(EMPTY)

    serve(httpserver, answer)
    with caplog.at_level(logging.WARNING, logger="paperboy.fetch"):
        report = run(fetch_runtime, topics_with_exemplars(fetch_runtime))
    assert report.exit_code == 0 and [r.status for r in report.results] == ["ok", "ok"]
    assert "exemplars not fetched" in caplog.text and "the next fetch tries again" in caplog.text
    with fetch_runtime.engine.connect() as conn:
        assert papers.count_papers(conn) == 0


def test_it_stops_all_topics_when_arxiv_accepts_and_never_answers(config, database_url):
    """A read timeout on every attempt of a page counts as unreachable: the next topic would wait as long."""
    silent = socket.create_server(("127.0.0.1", 0))
    held = []
    try:
        url = f"http://127.0.0.1:{silent.getsockname()[1]}/api/query"
        runtime = Runtime(
            config.with_overrides(database_url=database_url, arxiv_api_url=url, arxiv_retries=1, arxiv_timeout=0.5)
        )
        report = run(runtime)
        for _ in range(2):  # both attempts of the first topic's page; nothing more came
            silent.settimeout(5)
            held.append(silent.accept()[0])
        silent.settimeout(0.5)
        with pytest.raises(TimeoutError):
            held.append(silent.accept()[0])
    finally:
        for connection in held:
            connection.close()
        silent.close()
    assert report.exit_code == 2
    vla, testing = report.results
    assert vla.status == "failed" and vla.unreachable and "timed out" in vla.error
    assert testing.status == "skipped"
    runtime.engine.dispose()


def test_after_a_fetch_a_window_is_read_through_indexes_alone(fetch_runtime, httpserver):
    """A fetch counts what the planner needs (store.update_statistics): without it, SQLite read a
    window through paper_terms' primary key and then each of its rows. SQLite loads the counts
    when a connection opens: the pool's connections are opened again."""
    serve(httpserver, lambda request: paged_responses(dated_entries(250, NEWEST), page_size=100)[start_of(request)])
    assert run(fetch_runtime, [fetch_runtime.topic("testing")]).exit_code == 0
    engine = fetch_runtime.engine
    engine.dispose()
    statements = []
    record = lambda conn, cursor, statement, parameters, context, many: statements.append((statement, parameters))  # noqa: E731
    with engine.connect() as conn:
        event.listen(engine, "before_cursor_execute", record)
        try:
            # As pages read it: the papers' entries come apart (held), so the join reads no blobs.
            keys = ranking_keys(fetch_runtime.topic("testing"))
            window = papers.topic_window(conn, "testing", NOW - timedelta(days=30), None, keys, {})
        finally:
            event.remove(engine, "before_cursor_execute", record)
        assert len(window.ids) == 250
        (statement, parameters), *_ = [(sql, given) for sql, given in statements if "JOIN" in sql]
        if engine.dialect.name == "sqlite":
            plan = " | ".join(row[3] for row in conn.exec_driver_sql(f"EXPLAIN QUERY PLAN {statement}", parameters))
            assert plan.count("COVERING INDEX") == 2, plan
        else:
            analyzed = conn.execute(
                text("SELECT relname FROM pg_stat_user_tables WHERE last_analyze IS NOT NULL")
            ).scalars()
            assert {"paper", "paper_terms", "topic_paper"} <= set(analyzed)
