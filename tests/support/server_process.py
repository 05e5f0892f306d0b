"""Start `paperboy run` or `paperboy serve` as a real process on a free loopback port, as an
operator would, and stop it again."""

from __future__ import annotations

import os
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from tests.support.helpers import PAPERBOY, wait_for_home
from tests.support.smtp_server import free_port


def server_environment(database_url: str, topics_file: Path, **more: str) -> dict[str, str]:
    """The environment of a paperboy process on `database_url`; arXiv is a port where nothing listens."""
    environ = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "PAPERBOY_DATABASE_URL": database_url,
        "PAPERBOY_TOPICS_FILE": str(topics_file),
        "PAPERBOY_ARXIV_API_URL": f"http://127.0.0.1:{free_port()}/api/query",
        "PAPERBOY_ARXIV_DELAY": "0",
        "PAPERBOY_ARXIV_RETRIES": "0",
        "PAPERBOY_SECRET_KEY": "test-secret",
    }
    environ.update(more)
    return environ


@contextmanager
def paperboy_server(command: str, environ: dict[str, str], cwd: Path, *extra: str) -> Iterator[str]:
    """`paperboy run|serve` listening on a free port; yields its base URL, stops it on exit."""
    port = free_port()
    process = subprocess.Popen(
        [str(PAPERBOY), command, "--port", str(port), *extra],
        env=environ,
        cwd=cwd,
        stdout=subprocess.DEVNULL,
        stderr=open(cwd / f"{command}-{port}.log", "w"),
    )
    base = f"http://127.0.0.1:{port}"
    (cwd / f"{command}.pid").write_text(str(process.pid))
    try:
        answer = wait_for_home(process, port, 90)
        assert answer is not None, (
            f"paperboy {command} did not answer: {(cwd / f'{command}-{port}.log').read_text()[-2000:]}"
        )
        yield base
    finally:
        process.terminate()
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
