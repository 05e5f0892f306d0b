"""The fetch job stores the topics' exemplar papers it lacks, by id, from a local server replaying
real arXiv responses; they join no topic and a failure leaves the fetch's outcome alone."""

import logging
from dataclasses import replace
from urllib.parse import parse_qs

from werkzeug import Response

from service.store import papers
from tests.conftest import NOW, data_file
from tests.test_fetch import fetch_runtime, run, serve  # noqa: F401 (fixture)

TWO_IDS = "api2026_idlist_two-ids_one-missing.xml"  # asked 0808.05394,1707.08567; arXiv has one
EMPTY = "api2026_idlist_0000.0000_empty.xml"
ERROR = "api2026_idlist_abc_error_http400.xml"


def id_list_of(request):
    return parse_qs(request.query_string.decode()).get("id_list", [None])[0]


def topics_with_exemplars(runtime):
    testing, vla = runtime.topic("testing"), runtime.topic("vla")
    return [replace(testing, exemplars=("0808.05394",)),
            replace(vla, exemplars=("1707.08567", "0808.05394"))]


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
