"""`paperboy run`: migrate, first fetch (the bundled sample when arXiv is unreachable), the
scheduler in the background and the web app, all in one process."""

from __future__ import annotations

import os
import socket
import subprocess
import time

from sqlalchemy import create_engine, text

from service import store
from service.arxiv.sample import load_sample
from tests.conftest import NOW
from tests.support.helpers import PAPERBOY, wait_for_home
from tests.support.smtp_server import free_port


def test_it_serves_the_app_and_holds_the_scheduler_lock(tmp_path, sqlite_url, topics_file):
    port = free_port()
    environ = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "PAPERBOY_DATABASE_URL": sqlite_url,
        "PAPERBOY_TOPICS_FILE": str(topics_file),
        "PAPERBOY_ARXIV_API_URL": f"http://127.0.0.1:{free_port()}/api/query",  # nothing listens
        "PAPERBOY_ARXIV_DELAY": "0",
        "PAPERBOY_ARXIV_RETRIES": "0",
        "PAPERBOY_SECRET_KEY": "test-secret",
    }
    process = subprocess.Popen(
        [str(PAPERBOY), "run", "--port", str(port)],
        env=environ,
        cwd=tmp_path,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        home = wait_for_home(process, port, 90)
        assert home is not None, "paperboy run did not answer"
        assert home.status_code == 200
        engine = create_engine(sqlite_url)
        holder, papers, deadline = None, 0, time.monotonic() + 30
        # The scheduler thread starts beside the server, and the first fetch runs in the background.
        while (holder is None or not papers) and time.monotonic() < deadline:
            with engine.connect() as conn:
                holder = conn.execute(text("SELECT holder FROM scheduler_lock WHERE name = 'scheduler'")).scalar()
                papers = conn.execute(text("SELECT count(*) FROM paper")).scalar()
            if holder is None or not papers:
                time.sleep(0.1)
        engine.dispose()
        assert holder and f":{process.pid}:" in holder
        assert papers > 0  # the sample, since arXiv could not be reached
        process.terminate()
        process.communicate(timeout=30)
        assert process.returncode == 0
        engine = create_engine(sqlite_url)
        with engine.connect() as conn:  # stopped cleanly: the next scheduler need not wait for expiry
            assert conn.execute(text("SELECT count(*) FROM scheduler_lock")).scalar() == 0
        engine.dispose()
    finally:
        if process.poll() is None:
            process.kill()
        process.communicate()


def test_it_serves_a_stocked_store_at_once_and_fetches_in_the_background(tmp_path, sqlite_url, topics_file, runtime):
    store.migrate(runtime.engine)
    load_sample(runtime.engine, runtime.topics, NOW)
    runtime.engine.dispose()
    # An arXiv that takes the connection and never answers: a fetch in the foreground would hold
    # the server back for the whole (long) timeout.
    arxiv = socket.create_server(("127.0.0.1", 0))
    environ = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "PAPERBOY_DATABASE_URL": sqlite_url,
        "PAPERBOY_TOPICS_FILE": str(topics_file),
        "PAPERBOY_ARXIV_API_URL": f"http://127.0.0.1:{arxiv.getsockname()[1]}/api/query",
        "PAPERBOY_ARXIV_DELAY": "0",
        "PAPERBOY_ARXIV_RETRIES": "0",
        "PAPERBOY_ARXIV_TIMEOUT": "600",
        "PAPERBOY_SECRET_KEY": "test-secret",
    }
    port = free_port()
    process = subprocess.Popen(
        [str(PAPERBOY), "run", "--port", str(port)],
        env=environ,
        cwd=tmp_path,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        arxiv.settimeout(60)
        fetch, _ = arxiv.accept()  # the fetch has started and is waiting on arXiv
        home = wait_for_home(process, port, 60)
        assert home is not None and home.status_code == 200, "paperboy run waited for arXiv before serving"
        fetch.close()
        process.terminate()
        _, stderr = process.communicate(timeout=30)
        assert "fetching arXiv in the background" in stderr
        assert process.returncode == 0
    finally:
        arxiv.close()
        if process.poll() is None:
            process.kill()
        process.communicate()


def run_environ(sqlite_url, topics_file, arxiv_url: str) -> dict[str, str]:
    return {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "PAPERBOY_DATABASE_URL": sqlite_url,
        "PAPERBOY_TOPICS_FILE": str(topics_file),
        "PAPERBOY_ARXIV_API_URL": arxiv_url,
        "PAPERBOY_ARXIV_DELAY": "0",
        "PAPERBOY_ARXIV_RETRIES": "0",
        "PAPERBOY_ARXIV_TIMEOUT": "600",
        "PAPERBOY_SECRET_KEY": "test-secret",
    }


def test_it_serves_an_empty_store_at_once_while_arxiv_never_answers(tmp_path, sqlite_url, topics_file):
    """The first start: the pages answer (saying the fetch is under way) while arXiv holds the fetch."""
    arxiv = socket.create_server(("127.0.0.1", 0))
    port = free_port()
    process = subprocess.Popen(
        [str(PAPERBOY), "run", "--port", str(port)],
        env=run_environ(sqlite_url, topics_file, f"http://127.0.0.1:{arxiv.getsockname()[1]}/api/query"),
        cwd=tmp_path,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        arxiv.settimeout(60)
        fetch, _ = arxiv.accept()  # the first topic's request, which will never be answered
        home = wait_for_home(process, port, 60)
        assert home is not None and home.status_code == 200, "paperboy run waited for arXiv before serving"
        assert "Fetching…" in home.text and "No papers yet" in home.text
        fetch.close()
        process.terminate()
        _, stderr = process.communicate(timeout=30)
        assert "the store is empty; serving now and fetching arXiv in the background" in stderr
        assert process.returncode == 0
    finally:
        arxiv.close()
        if process.poll() is None:
            process.kill()
        process.communicate()


def test_it_refuses_a_busy_port_in_one_line(tmp_path, sqlite_url, topics_file):
    busy = socket.create_server(("127.0.0.1", 0))
    port = busy.getsockname()[1]
    try:
        result = subprocess.run(
            [str(PAPERBOY), "run", "--port", str(port)],
            env=run_environ(sqlite_url, topics_file, f"http://127.0.0.1:{free_port()}/api/query"),
            cwd=tmp_path,
            capture_output=True,
            text=True,
            timeout=120,
        )
    finally:
        busy.close()
    assert result.returncode == 2
    assert result.stderr.strip().splitlines() == [
        f"paperboy: run: cannot listen on 127.0.0.1:{port}: Address already in use"
    ]


def test_it_refuses_a_port_out_of_range_in_one_line(tmp_path, sqlite_url, topics_file):
    result = subprocess.run(
        [str(PAPERBOY), "run", "--port", "99999"],
        env=run_environ(sqlite_url, topics_file, f"http://127.0.0.1:{free_port()}/api/query"),
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 2
    assert result.stderr.strip().splitlines() == [
        "paperboy run: Invalid value for '--port': 99999 is not in the range 1<=x<=65535. (see paperboy run --help)"
    ]
