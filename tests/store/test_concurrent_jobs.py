"""Jobs that write the same SQLite file at once (a fetch, a 50,000-row import, readers signing up
through the web server, the scheduler's fetch and digest in the same minute) all succeed: each
waits for the write lock instead of failing with "database is locked"."""

from __future__ import annotations

import subprocess
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime

from werkzeug import Response

from service import store
from service.config import Config
from service.outbound.notices import admit_requests
from service.scheduler.scheduler import digest_job, fetch_job
from service.store import papers
from service.store.subscribers import listing
from tests.conftest import NOW
from tests.store.test_concurrent_writes import _post_form
from tests.support.arxiv_replay import dated_entries, paged_responses, start_of
from tests.support.digest_data import FakeClock, add_subscribers, load_week, runtime_for
from tests.support.helpers import PAPERBOY
from tests.support.server_process import paperboy_server, server_environment

IMPORT_ROWS = 50_000
SIGN_UPS = 60


def test_a_fetch_an_import_and_sign_ups_writing_at_once_all_succeed(tmp_path, sqlite_url, topics_file, httpserver):
    engine = store.connect(sqlite_url)
    store.migrate(engine)
    pages = paged_responses(dated_entries(1000, datetime.now(UTC)), 100)
    httpserver.expect_request("/api/query").respond_with_handler(
        lambda request: Response(pages.get(start_of(request), pages[0]), content_type="application/atom+xml")
    )
    environ = server_environment(
        sqlite_url, topics_file, PAPERBOY_RATE_LIMITS="false", PAPERBOY_ARXIV_API_URL=httpserver.url_for("/api/query")
    )
    csv = tmp_path / "subscribers.csv"
    csv.write_text(
        "email,topics,status\n" + "".join(f"imported{n}@example.org,vla testing,active\n" for n in range(IMPORT_ROWS))
    )

    with paperboy_server("serve", environ, tmp_path) as base:
        fetch = subprocess.Popen(
            [str(PAPERBOY), "fetch"],
            env=environ,
            cwd=tmp_path,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        load = subprocess.Popen(
            [str(PAPERBOY), "subscribers", "import", str(csv)],
            env=environ,
            cwd=tmp_path,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        with ThreadPoolExecutor(10) as pool:
            sign_ups = list(
                pool.map(
                    lambda n: _post_form(base, "/subscribe", {"email": f"reader{n}@example.org", "topics": ["vla"]}),
                    range(SIGN_UPS),
                )
            )
        # The scheduler's step that turns the queued sign-ups into subscribers, while the jobs write.
        admitted = admit_requests(runtime_for(Config(database_url=sqlite_url, topics_file=topics_file)))
        fetched, fetch_errors = fetch.communicate(timeout=600)
        imported, import_errors = load.communicate(timeout=600)

    assert sign_ups == [200] * SIGN_UPS and admitted == SIGN_UPS
    assert fetch.returncode == 0, fetch_errors
    assert fetched.splitlines() == [
        "vla: 1000 new, 0 updated, 0 unchanged",
        "testing: 1000 new, 0 updated, 0 unchanged",
    ]
    assert load.returncode == 0, import_errors
    assert imported.startswith(f"imported {IMPORT_ROWS} rows: {IMPORT_ROWS} new")
    with engine.connect() as conn:
        assert papers.count_papers(conn) == 1000
        counts = listing.status_counts(conn)
    assert (counts["active"], counts["pending"]) == (IMPORT_ROWS, SIGN_UPS)
    engine.dispose()


def test_the_schedulers_fetch_and_digest_jobs_in_the_same_minute_both_succeed(config, smtp_server, httpserver):
    runtime = runtime_for(
        config.with_overrides(smtp_url=smtp_server.url, arxiv_api_url=httpserver.url_for("/api/query"))
    )
    store.migrate(runtime.engine)
    readers = [(f"reader{n}@example.org", ["vla", "testing"]) for n in range(300)]
    with runtime.engine.begin() as conn:
        load_week(conn)
        add_subscribers(conn, readers, NOW)
    pages = paged_responses(dated_entries(1000, NOW, prefix="2604"), 100)
    httpserver.expect_request("/api/query").respond_with_handler(
        lambda request: Response(pages.get(start_of(request), pages[0]), content_type="application/atom+xml")
    )

    # APScheduler runs each job in a thread of its pool: two jobs due in one minute run side by side.
    with ThreadPoolExecutor(2) as pool:
        fetched = pool.submit(fetch_job, runtime, NOW)
        sent = pool.submit(digest_job, runtime, NOW, FakeClock(NOW))
        fetch_code, stats = fetched.result(timeout=600), sent.result(timeout=600)

    assert fetch_code == 0
    assert (stats.sent, stats.failed, stats.error) == (len(readers), 0, None)
    with runtime.engine.connect() as conn:
        assert papers.count_papers(conn) >= 1000
