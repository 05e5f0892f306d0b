"""ArxivClient against a local HTTP server replaying real arXiv responses: paging, delays,
retries with backoff, the error feed and an unreachable arXiv. Sleeps are recorded, not slept."""

import threading
from datetime import UTC, datetime, timedelta
from urllib.parse import parse_qs

import pytest
from pytest_httpserver import HTTPServer
from werkzeug import Response

from service.arxiv.client import ArxivClient, ArxivError, ArxivUnreachable
from tests.conftest import NOW, data_file
from tests.support.arxiv_replay import dated_entries, feed, paged_responses, start_of
from tests.support.helpers import Sleeps

WINDOW_START = NOW - timedelta(days=14)


@pytest.fixture
def server(httpserver):
    return httpserver


def client_for(server, **options) -> tuple[ArxivClient, Sleeps]:
    sleeps = Sleeps()
    options.setdefault("delay", 0)
    client = ArxivClient(server.url_for("/api/query"), sleep=sleeps, contact="mailto:ops@example.org", **options)
    return client, sleeps


def serve_pages(server, pages: dict[int, bytes], seen: list | None = None):
    def handler(request):
        if seen is not None:
            seen.append(request)
        return Response(pages[start_of(request)], content_type="application/atom+xml")

    server.expect_request("/api/query").respond_with_handler(handler)


def test_it_pages_through_a_search(server):
    pages = paged_responses(dated_entries(250, NOW - timedelta(hours=1)), page_size=100)
    seen = []
    serve_pages(server, pages, seen)
    client, sleeps = client_for(server, page_size=100)
    with client:
        results = list(client.search('ti:"testing"', WINDOW_START, NOW))
    assert [len(page.papers) for page in results] == [100, 100, 50]
    assert [start_of(r) for r in seen] == [0, 100, 200]
    query = parse_qs(seen[0].query_string.decode())
    assert query["search_query"] == ['(ti:"testing") AND submittedDate:[202601211650 TO 202602041650]']
    assert query["sortBy"] == ["submittedDate"] and query["sortOrder"] == ["descending"]
    assert query["max_results"] == ["100"]
    assert seen[0].headers["User-Agent"].startswith("paperboy/0.1.0 (")
    assert "mailto:ops@example.org" in seen[0].headers["User-Agent"]
    assert sleeps == []


def test_it_keeps_the_delay_between_requests(server):
    serve_pages(server, paged_responses(dated_entries(30, NOW), page_size=10))
    client, sleeps = client_for(server, page_size=10, delay=3.0, clock=lambda: 100.0)
    with client:
        list(client.search("all:testing", WINDOW_START, NOW))
    assert sleeps == [3.0, 3.0]


def test_it_stops_at_a_page_that_reaches_past_the_window(server):
    # 300 results, but the second page already holds papers older than the window.
    all_entries = dated_entries(300, NOW, step=timedelta(hours=3))
    seen = []
    serve_pages(server, paged_responses(all_entries, page_size=100), seen)
    client, _ = client_for(server, page_size=100)
    with client:
        results = list(client.search("all:testing", WINDOW_START, NOW))
    assert len(results) == 2
    assert [start_of(r) for r in seen] == [0, 100]


def test_it_stops_when_the_server_repeats_the_same_page(server):
    body = data_file("api2025_search_cs.RO-neural_project-website.xml")  # totalResults 5619
    server.expect_request("/api/query").respond_with_data(body, content_type="application/atom+xml")
    client, _ = client_for(server, page_size=2)
    with client:
        results = list(client.search("cat:cs.RO", datetime(2025, 10, 1, tzinfo=UTC), NOW))
    assert [[p.id for p in page.papers] for page in results] == [["2510.14968", "2510.14827"]]
    assert len(server.log) == 2


def test_it_retries_after_a_503_with_backoff(server):
    body = feed(dated_entries(5, NOW))
    server.expect_ordered_request("/api/query").respond_with_data("busy", status=503)
    server.expect_ordered_request("/api/query").respond_with_data("busy", status=503)
    server.expect_ordered_request("/api/query").respond_with_data(body, content_type="application/atom+xml")
    client, sleeps = client_for(server, backoff=1.0)
    with client:
        (page,) = list(client.search("all:testing", WINDOW_START, NOW))
    assert len(page.papers) == 5
    assert sleeps == [1.0, 2.0]


def test_it_honours_retry_after_on_429(server):
    body = feed(dated_entries(5, NOW))
    server.expect_ordered_request("/api/query").respond_with_data(
        "slow down", status=429, headers={"Retry-After": "17"}
    )
    server.expect_ordered_request("/api/query").respond_with_data(body, content_type="application/atom+xml")
    client, sleeps = client_for(server)
    with client:
        (page,) = list(client.search("all:testing", WINDOW_START, NOW))
    assert len(page.papers) == 5
    assert sleeps == [17.0]


@pytest.mark.parametrize(
    "broken, tries",
    [
        (lambda page: feed([], start=100, total=150), 1),  # arXiv's sporadic empty page
        (lambda page: page[: len(page) // 2], 2),  # the connection dropped halfway
        (lambda page: b"<!DOCTYPE html><html><body>Bad Gateway</body></html>", 2),  # a proxy's page, with 200
    ],
    ids=["empty", "truncated", "not a feed"],
)
def test_it_retries_a_page_it_cannot_use_like_a_5xx(server, broken, tries):
    pages = paged_responses(dated_entries(150, NOW - timedelta(hours=1)), page_size=100)
    answers = iter([pages[0], *[broken(pages[100])] * tries, pages[100]])
    server.expect_request("/api/query").respond_with_handler(
        lambda request: Response(next(answers), content_type="application/atom+xml")
    )
    client, sleeps = client_for(server, page_size=100)
    with client:
        results = list(client.search("all:testing", WINDOW_START, NOW))
    assert [len(page.papers) for page in results] == [100, 50]
    assert sleeps == [1.0, 2.0][:tries]


def test_it_gives_up_after_the_last_retry(server):
    server.expect_request("/api/query").respond_with_data("<html>bad gateway</html>", status=502)
    client, sleeps = client_for(server, retries=3)
    with client, pytest.raises(ArxivError, match=r"arxiv: HTTP 502 .* \(gave up after 4 attempts\)"):
        list(client.search("all:testing", WINDOW_START, NOW))
    assert sleeps == [1.0, 2.0, 4.0]
    assert len(server.log) == 4


@pytest.fixture
def threaded_server():
    """Answers the retry while the timed-out request is still being held."""
    server = HTTPServer(host="127.0.0.1", port=0, threaded=True)
    server.start()
    yield server
    server.clear()
    server.stop()


def test_it_retries_a_timeout(threaded_server):
    server = threaded_server
    release = threading.Event()
    body = feed(dated_entries(3, NOW))
    answers = iter(["slow", "fast"])

    def handler(request):
        if next(answers) == "slow":
            release.wait(2)
        return Response(body, content_type="application/atom+xml")

    server.expect_request("/api/query").respond_with_handler(handler)
    client, sleeps = client_for(server, timeout=0.2)
    try:
        with client:
            (page,) = list(client.search("all:testing", WINDOW_START, NOW))
    finally:
        release.set()
    assert len(page.papers) == 3
    assert sleeps == [1.0]


def test_it_turns_the_error_feed_into_a_clear_error(server):
    server.expect_request("/api/query").respond_with_data(
        data_file("api2026_idlist_abc_error_http400.xml"), status=400, content_type="application/atom+xml"
    )
    client, sleeps = client_for(server)
    with client, pytest.raises(ArxivError, match="arxiv: the API refused the query: incorrect id format for abc"):
        list(client.search("id:abc", WINDOW_START, NOW))
    assert sleeps == [] and len(server.log) == 1


def test_it_reports_an_unreachable_arxiv():
    sleeps = Sleeps()
    client = ArxivClient("http://127.0.0.1:9/api/query", delay=0, retries=2, sleep=sleeps)
    with client, pytest.raises(ArxivUnreachable, match="arxiv: cannot connect to 127.0.0.1:9"):
        list(client.search("all:testing", WINDOW_START, NOW))
    assert sleeps == [1.0, 2.0]


def test_it_asks_over_one_kept_alive_connection():
    """A server that keeps connections alive, as arXiv does: every page comes over one."""
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

    pages = paged_responses(dated_entries(30, NOW), page_size=10)
    ports = []

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def do_GET(self):
            ports.append(self.client_address[1])
            body = pages[int(parse_qs(self.path.split("?", 1)[1])["start"][0])]
            self.send_response(200)
            self.send_header("Content-Type", "application/atom+xml")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        client = ArxivClient(f"http://127.0.0.1:{server.server_port}/api/query", delay=0, page_size=10)
        with client:
            results = list(client.search("all:testing", WINDOW_START, NOW))
    finally:
        server.shutdown()
        server.server_close()
    assert [len(page.papers) for page in results] == [10, 10, 10]
    assert len(ports) == 3 and len(set(ports)) == 1
