"""`paperboy serve`: the web app under gunicorn on the given host and port."""

from __future__ import annotations

import os
import shlex
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx

from tests.support.helpers import PAPERBOY
from tests.support.smtp_server import free_port


def wait_for(url: str, process: subprocess.Popen, seconds: float = 30) -> httpx.Response:
    """The first answer from `url` once the server listens (start-up takes a moment)."""
    deadline = time.monotonic() + seconds
    while True:
        try:
            return httpx.get(url, timeout=5)
        except httpx.TransportError:
            if process.poll() is not None or time.monotonic() > deadline:
                raise AssertionError(f"serve did not answer: {process.communicate()}")
            time.sleep(0.1)


def test_it_serves_pages_and_feeds(tmp_path, topics_file):
    port = free_port()
    env = {
        **os.environ,
        "PAPERBOY_DATABASE_URL": f"sqlite:///{tmp_path}/serve.sqlite3",
        "PAPERBOY_TOPICS_FILE": str(topics_file),
        "PAPERBOY_SECRET_KEY": "test",
        "PAPERBOY_BASE_URL": "http://paperboy.test",
    }
    process = subprocess.Popen(
        [str(PAPERBOY), "serve", "--host", "127.0.0.1", "--port", str(port), "--workers", "1"],
        env=env,
        cwd=tmp_path,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    try:
        assert wait_for(f"http://127.0.0.1:{port}/healthz", process).status_code == 200
        home = httpx.get(f"http://127.0.0.1:{port}/")
        assert home.status_code == 200 and "Software Testing" in home.text
        feed = httpx.get(f"http://127.0.0.1:{port}/topics/testing/feed.atom")
        assert feed.headers["content-type"].startswith("application/atom+xml")
    finally:
        process.send_signal(signal.SIGTERM)
        process.communicate(timeout=30)
    assert process.returncode == 0


def test_it_refuses_a_bad_port(tmp_path):
    result = subprocess.run(
        [str(PAPERBOY), "serve", "--port", "99999"],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        env={**os.environ, "PAPERBOY_SECRET_KEY": "test"},
    )
    assert result.returncode == 2
    assert "99999" in result.stderr


def test_it_stops_serve_on_a_bad_setting_with_one_line(tmp_path):
    result = subprocess.run(
        [str(PAPERBOY), "serve", "--port", str(free_port())],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        timeout=60,
        env={**os.environ, "PAPERBOY_ARXIV_DELAY": "abc"},
    )
    assert result.returncode != 0
    assert result.stderr.strip() == "paperboy: PAPERBOY_ARXIV_DELAY: expected a number, got 'abc'"


def test_it_stops_the_procfile_gunicorn_on_a_bad_setting_with_one_line(tmp_path):
    root = Path(__file__).resolve().parents[2]
    web = next(line for line in (root / "Procfile").read_text().splitlines() if line.startswith("web:"))
    command = shlex.split(web.removeprefix("web:").replace("${PORT:-8000}", str(free_port())))
    assert command[0] == "gunicorn"
    command[0] = str(Path(sys.executable).with_name("gunicorn"))
    result = subprocess.run(
        command,
        capture_output=True,
        text=True,
        cwd=root,
        timeout=60,
        env={**os.environ, "PAPERBOY_ARXIV_DELAY": "abc", "PAPERBOY_DATABASE_URL": f"sqlite:///{tmp_path}/x.sqlite3"},
    )
    assert result.returncode != 0
    assert "Traceback" not in result.stderr
    assert result.stderr.strip().splitlines()[-1] == "paperboy: PAPERBOY_ARXIV_DELAY: expected a number, got 'abc'"


def test_a_worker_takes_its_loaded_app_out_of_the_collectors_full_passes():
    """gunicorn's post_worker_init hook (paperboy serve and the Procfile's gunicorn.conf.py): a
    full collection then walks what requests made, not the whole loaded app."""
    import gc

    from service.web import server

    config = {}
    exec((Path(__file__).parents[2] / "gunicorn.conf.py").read_text(), config)  # as gunicorn reads it
    assert config["post_worker_init"] is server.settle_worker_heap
    gc.unfreeze()
    try:
        config["post_worker_init"](object())
        assert gc.get_freeze_count() > 0
    finally:
        gc.unfreeze()


def test_it_says_in_one_line_that_the_port_is_in_use(tmp_path, topics_file):
    import socket

    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        result = subprocess.run(
            [str(PAPERBOY), "serve", "--host", "127.0.0.1", "--port", str(port)],
            capture_output=True,
            text=True,
            cwd=tmp_path,
            timeout=30,
            env={
                **os.environ,
                "PAPERBOY_SECRET_KEY": "test",
                "PAPERBOY_DATABASE_URL": f"sqlite:///{tmp_path}/serve.sqlite3",
                "PAPERBOY_TOPICS_FILE": str(topics_file),
            },
        )
    assert result.returncode == 2
    assert result.stderr.strip().splitlines() == [
        f"paperboy: serve: cannot listen on 127.0.0.1:{port}: Address already in use"
    ]
