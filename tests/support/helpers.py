"""Helpers several test modules share that are not fixtures: the installed `paperboy` command,
waiting for `paperboy run` to answer, and a sleep function that records instead of sleeping."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

import httpx

PAPERBOY = Path(sys.executable).parent / "paperboy"


def paperboy(environ, *args, cwd) -> subprocess.CompletedProcess:
    """Run the `paperboy` command of this venv to its end, with `environ` only."""
    return subprocess.run([str(PAPERBOY), *args], env=environ, cwd=cwd, capture_output=True, text=True, timeout=120)


def wait_for_home(process, port: int, seconds: float):
    """The home page once `paperboy run` answers, or None if it exits or `seconds` pass first."""
    deadline = time.monotonic() + seconds
    while process.poll() is None and time.monotonic() < deadline:
        try:
            return httpx.get(f"http://127.0.0.1:{port}/", timeout=5)
        except httpx.TransportError:
            time.sleep(0.2)
    return None


class Sleeps(list):
    """A `sleep` that records the seconds it was asked to wait, so tests never wait."""

    def __call__(self, seconds):
        self.append(seconds)
