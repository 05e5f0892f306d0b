"""`paperboy fetch` in a subprocess against arXiv replayed by its clock (tests/arxiv_days.py).

It dies in the middle of a long window, after an earlier run succeeded: killed with SIGKILL, or
stopped by a database fault (a real trigger raising). The next run asks for the whole window
again, closes the dead run's row as interrupted, and every paper ends up stored once.
`--check` shows the gap between what arXiv lists and what the store holds."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import threading
from datetime import UTC, datetime, timedelta

import pytest

from service import store
from service.store import papers, runs
from tests.support.arxiv_days import ArxivDaysServer, Simulation
from tests.support.helpers import PAPERBOY
from tests.support.server_process import server_environment

QUERY = "all:testing"
FAULT = "injected fault: disk quota exceeded"


@pytest.fixture
def arxiv():
    with ArxivDaysServer(Simulation()) as server:
        yield server


@pytest.fixture
def environ(tmp_path, database_url, topics_file, arxiv):
    return server_environment(database_url, topics_file, PAPERBOY_ARXIV_API_URL=arxiv.url)


def fetch(environ, cwd, *args):
    return subprocess.Popen(
        [str(PAPERBOY), "fetch", "--topic", "testing", *args],
        env=environ,
        cwd=cwd,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def announce(sim: Simulation, count: int, newest: datetime, days: float) -> list[str]:
    """`count` papers submitted over `days` days before `newest`, newest first, all announced now."""
    step = timedelta(days=days) / count
    now = datetime.now(UTC)
    return [sim.add(QUERY, newest - i * step, visible=now - timedelta(minutes=1)).id for i in range(count)]


def announce_late(sim: Simulation) -> list[str]:
    """1000 papers announced now but submitted before every paper the store holds, as held
    papers are: over the 12 days before the first run's papers."""
    return announce(sim, 1000, datetime.now(UTC) - timedelta(days=1, hours=2), 12)


def first_run(environ, tmp_path, arxiv) -> list[str]:
    earlier = announce(arxiv.simulation, 50, datetime.now(UTC) - timedelta(hours=1), 1)
    done = fetch(environ, tmp_path)
    out, err = done.communicate(timeout=120)
    assert done.returncode == 0, err
    assert out == "testing: 50 new, 0 updated, 0 unchanged\n"
    return earlier


def stored_ids(database_url) -> tuple[set[str], list]:
    engine = store.connect(database_url)
    with engine.connect() as conn:
        ids = {p.id for p in papers.papers_for_topic(conn, "testing")}
        assert papers.count_papers(conn) == len(ids)
        rows = runs.runs_for_topic(conn, "testing")
    engine.dispose()
    return ids, rows


def rerun_stores_everything(environ, cwd, expected: set[str], summary: str):
    """Run the fetch again: it exits 0, prints `summary`, and the store holds `expected`, once each."""
    rerun = fetch(environ, cwd)
    out, err = rerun.communicate(timeout=120)
    assert rerun.returncode == 0, err
    assert out == summary
    ids, rows = stored_ids(environ["PAPERBOY_DATABASE_URL"])
    assert ids == expected
    return rows, err


def test_it_stores_every_paper_after_a_kill_in_the_middle_of_the_window(environ, tmp_path, arxiv, database_url):
    earlier = first_run(environ, tmp_path, arxiv)
    new = announce_late(arxiv.simulation)
    reached, release = threading.Event(), threading.Event()

    def hold_fourth_page(params):
        if params.get("start") == "300":
            reached.set()
            release.wait(60)

    arxiv.on_request = hold_fourth_page
    process = fetch(environ, tmp_path)
    assert reached.wait(120), process.communicate(timeout=5)
    os.kill(process.pid, signal.SIGKILL)
    process.wait(timeout=30)
    release.set()
    arxiv.on_request = None
    ids, rows = stored_ids(database_url)
    assert len(ids) == 50 + 250  # three pages of the killed run were stored: 50 known, 250 new
    assert [row.status for row in rows] == ["ok", "running"]

    rows, err = rerun_stores_everything(
        environ, tmp_path, set(earlier) | set(new), "testing: 750 new, 0 updated, 300 unchanged\n"
    )
    first, killed, last = rows
    assert (first.status, killed.status, last.status) == ("ok", "interrupted", "ok")
    assert killed.error.startswith("interrupted: the run stopped before it finished")
    assert killed.finished == last.started
    assert last.window_start <= killed.window_start
    assert f"run {killed.id} (started" in err and "closed as interrupted" in err


TRIGGERS = {
    "sqlite": {
        "page": "CREATE TRIGGER fault_page BEFORE INSERT ON topic_paper WHEN NEW.paper_id = '{paper}' "
        "BEGIN SELECT RAISE(ABORT, '{fault}'); END",
        "run row": "CREATE TRIGGER fault_run BEFORE UPDATE ON fetch_run WHEN NEW.status != 'running' "
        "BEGIN SELECT RAISE(ABORT, '{fault}'); END",
        "drop": ["DROP TRIGGER IF EXISTS fault_page", "DROP TRIGGER IF EXISTS fault_run"],
    },
    "postgresql": {
        "page": "CREATE FUNCTION fault_page() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN "
        "IF NEW.paper_id = '{paper}' THEN RAISE EXCEPTION '{fault}'; END IF; RETURN NEW; END $$; "
        "CREATE TRIGGER fault_page BEFORE INSERT ON topic_paper FOR EACH ROW EXECUTE FUNCTION fault_page()",
        "run row": "CREATE FUNCTION fault_run() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN "
        "IF NEW.status != 'running' THEN RAISE EXCEPTION '{fault}'; END IF; RETURN NEW; END $$; "
        "CREATE TRIGGER fault_run BEFORE UPDATE ON fetch_run FOR EACH ROW EXECUTE FUNCTION fault_run()",
        "drop": ["DROP TRIGGER IF EXISTS fault_page ON topic_paper", "DROP TRIGGER IF EXISTS fault_run ON fetch_run"],
    },
}


def database(database_url, *statements):
    engine = store.connect(database_url)
    with engine.begin() as conn:
        for statement in statements:
            conn.exec_driver_sql(statement)
    engine.dispose()


@pytest.mark.parametrize("faults", [["page"], ["page", "run row"]], ids=["a page", "a page and the run row"])
def test_it_stores_every_paper_after_a_database_fault_mid_run(environ, tmp_path, arxiv, database_url, faults):
    earlier = first_run(environ, tmp_path, arxiv)
    new = announce_late(arxiv.simulation)
    dialect = "postgresql" if database_url.startswith("postgresql") else "sqlite"
    # Pages come newest first: the 50 known papers, then the late ones; new[200] is on the third page.
    third_page = new[200]
    database(database_url, *[TRIGGERS[dialect][name].format(paper=third_page, fault=FAULT) for name in faults])

    done = fetch(environ, tmp_path)
    out, err = done.communicate(timeout=120)
    assert done.returncode == 2 and "Traceback" not in err
    (line,) = out.splitlines()
    assert line.startswith("testing: failed after 2 stored page(s) (150 new, 0 updated, 50 unchanged): store: ")
    assert FAULT in line
    ids, rows = stored_ids(database_url)
    assert len(ids) == 50 + 150
    if faults == ["page"]:  # the run finished its own row
        assert (rows[-1].status, rows[-1].finished is not None) == ("partial", True)
        assert FAULT in rows[-1].error
    else:  # it could not: the row is left running for the next run to close
        assert "cannot record the run" in line
        assert rows[-1].status == "running"

    database(database_url, *TRIGGERS[dialect]["drop"])
    rows, _ = rerun_stores_everything(
        environ, tmp_path, set(earlier) | set(new), "testing: 850 new, 0 updated, 200 unchanged\n"
    )
    assert [row.status for row in rows] == ["ok", "partial" if faults == ["page"] else "interrupted", "ok"]
    assert rows[-1].window_start <= rows[-2].window_start


def check(environ, cwd, *args):
    done = fetch(environ, cwd, "--check", *args)
    out, err = done.communicate(timeout=120)
    return done.returncode, out, err


def test_check_shows_the_gap_between_arxiv_and_the_store(environ, tmp_path, arxiv):
    first_run(environ, tmp_path, arxiv)
    late = announce(arxiv.simulation, 7, datetime.now(UTC) - timedelta(days=9), 2)
    before = len(arxiv.requests)
    code, out, err = check(environ, tmp_path)
    assert code == 1, err
    assert re.fullmatch(
        r"testing: arXiv lists 57, the store holds 50 \(submitted \S+ \S+ to \S+ \S+ UTC\): "
        r"7 missing\n",
        out,
    ), out
    assert len(arxiv.requests) == before + 1  # one request per topic
    assert "submittedDate:[" in arxiv.requests[-1][1]["search_query"]

    done = fetch(environ, tmp_path)
    assert done.communicate(timeout=120)[0] == "testing: 7 new, 0 updated, 50 unchanged\n"
    code, out, _ = check(environ, tmp_path, "--days", "3")  # the late papers are older than 3 days
    assert code == 0
    assert re.fullmatch(r"testing: arXiv lists 50, the store holds 50 \(.*\): no gap\n", out), out
    assert set(late) <= stored_ids(environ["PAPERBOY_DATABASE_URL"])[0]


def test_check_says_when_arxiv_cannot_be_asked(environ, tmp_path, arxiv):
    arxiv.fault = lambda params: (503, b"busy")
    code, out, _ = check(environ, tmp_path)
    assert code == 2
    assert out.startswith("testing: check failed: arxiv: HTTP 503 from ")


@pytest.mark.parametrize(
    "args, message",
    [
        (["--days", "3"], "paperboy: fetch: --days goes with --check"),
        (["--check", "--since", "2026-01-01"], "paperboy: fetch: --check takes --days, not --since"),
    ],
)
def test_check_refuses_bad_options(environ, tmp_path, args, message):
    done = fetch(environ, tmp_path, *args)
    out, err = done.communicate(timeout=60)
    assert (done.returncode, out, err.splitlines()) == (2, "", [message])


def test_check_refuses_a_bad_number_of_days(environ, tmp_path):
    code, out, err = check(environ, tmp_path, "--days", "0")
    assert code == 2 and out == ""
    assert "Invalid value for '--days': 0 is not in the range 1<=x<=3650" in err
