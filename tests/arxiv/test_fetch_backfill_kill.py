"""A `paperboy fetch --since` backfill of five topics killed (SIGKILL) during the third: `fetch
--check` shows the unfinished windows, and the next plain `paperboy fetch` asks the third, fourth
and fifth topics for the backfill's whole window, not a first run's 14 days, so every paper arXiv
lists is stored (arXiv replayed by its clock, tests/support/arxiv_days.py)."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import threading
from datetime import UTC, datetime, timedelta

import pytest

from service import store
from service.store import papers
from tests.support.arxiv_days import ArxivDaysServer, Simulation
from tests.support.helpers import PAPERBOY
from tests.support.server_process import server_environment

TOPICS = ["alpha", "beta", "gamma", "delta", "epsilon"]
DAYS = 40  # papers submitted over this many days, all announced by now
SINCE = datetime.now(UTC) - timedelta(days=DAYS + 5)


@pytest.fixture
def arxiv():
    simulation = Simulation()
    now = datetime.now(UTC)
    for slug in TOPICS:
        for number in range(30):
            simulation.add(f"all:{slug}", now - timedelta(days=DAYS * number / 30, hours=2), visible=now)
    with ArxivDaysServer(simulation) as server:
        yield server


@pytest.fixture
def environ(tmp_path, database_url, arxiv):
    topics = tmp_path / "five.toml"
    topics.write_text(
        "".join(f'[[topic]]\nslug = "{s}"\ntitle = "{s}"\ndescription = "{s}"\nquery = "all:{s}"\n' for s in TOPICS)
    )
    return server_environment(database_url, topics, PAPERBOY_ARXIV_API_URL=arxiv.url)


def paperboy(environ, cwd, *args) -> subprocess.Popen:
    return subprocess.Popen(
        [str(PAPERBOY), *args], env=environ, cwd=cwd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )


def window_starts(requests, slug: str) -> set[str]:
    """The lastUpdatedDate window starts (YYYYMMDDhhmm) of the fetch requests for topic `slug`."""
    found = set()
    for _, params in requests:
        match = re.search(r"lastUpdatedDate:\[(\d{12}) TO", params.get("search_query", ""))
        if match and f"all:{slug})" in params["search_query"]:
            found.add(match.group(1))
    return found


def test_a_killed_backfill_is_finished_for_every_topic_it_had_not_reached(environ, tmp_path, arxiv, database_url):
    reached, release = threading.Event(), threading.Event()

    def hold_the_third_topic(params):
        if "all:gamma)" in params.get("search_query", "") and not release.is_set():
            reached.set()
            release.wait(60)

    arxiv.on_request = hold_the_third_topic
    backfill = paperboy(environ, tmp_path, "fetch", "--since", f"{SINCE:%Y-%m-%d}")
    assert reached.wait(120), backfill.communicate(timeout=5)
    os.kill(backfill.pid, signal.SIGKILL)
    backfill.wait(timeout=30)
    release.set()

    check = paperboy(environ, tmp_path, "fetch", "--check")
    out, err = check.communicate(timeout=120)
    assert check.returncode == 1, (out, err)
    for slug in TOPICS:
        unfinished = f"{slug}: " in out and "never finished" in next(l for l in out.splitlines() if l.startswith(slug))
        assert unfinished == (slug in ("gamma", "delta", "epsilon")), out

    before = len(arxiv.requests)
    rerun = paperboy(environ, tmp_path, "fetch")
    out, err = rerun.communicate(timeout=300)
    assert rerun.returncode == 0, err
    since = f"{SINCE:%Y%m%d}0000"
    for slug in ("gamma", "delta", "epsilon"):
        assert window_starts(arxiv.requests[before:], slug) == {since}, slug
    engine = store.connect(database_url)
    with engine.connect() as conn:
        for slug in TOPICS:
            assert len(papers.papers_for_topic(conn, slug)) == 30, slug
    engine.dispose()
    check = paperboy(environ, tmp_path, "fetch", "--check")
    out, _ = check.communicate(timeout=120)
    assert check.returncode == 0 and "never finished" not in out, out
