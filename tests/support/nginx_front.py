"""deploy/nginx.conf run as written, by Debian's nginx, with a private prefix in a test folder:
only the listening port, the upstream port and the cache folder are put in."""

from __future__ import annotations

import os
import shutil
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import pytest

from tests.support.smtp_server import free_port

DEPLOY = Path(__file__).resolve().parents[2] / "deploy" / "nginx.conf"
NGINX = shutil.which("nginx") or "/usr/sbin/nginx"


def require_nginx() -> None:
    if not Path(NGINX).exists():
        reason = "the nginx tests need Debian's nginx (apt-get install nginx)"
        if os.environ.get("PAPERBOY_TEST_DATABASE_URL"):
            pytest.fail(reason)
        pytest.skip(reason)


def site_config(upstream_port: int, port: int, cache: Path) -> str:
    """deploy/nginx.conf with this test's ports and cache folder."""
    text = DEPLOY.read_text()
    for old, new in (
        ("server 127.0.0.1:8000;", f"server 127.0.0.1:{upstream_port};"),
        ("listen 80;", f"listen 127.0.0.1:{port};"),
        ("/var/cache/nginx/paperboy", str(cache)),
    ):
        assert old in text, old
        text = text.replace(old, new)
    return text


@contextmanager
def nginx_front(upstream: str, folder: Path, extra: str = "") -> Iterator[str]:
    """nginx in front of `upstream` (http://127.0.0.1:PORT), with `extra` more configuration in
    its http block; yields its own base URL."""
    require_nginx()
    folder.mkdir(parents=True, exist_ok=True)
    port = free_port()
    (folder / "paperboy.conf").write_text(site_config(int(upstream.rsplit(":", 1)[1]), port, folder / "cache"))
    user = "user root;\n" if os.geteuid() == 0 else ""  # workers that may write the test folder
    temp = "".join(
        f"{kind}_temp_path {folder}/{kind};\n" for kind in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi")
    )
    (folder / "nginx.conf").write_text(
        f"{user}worker_processes 1;\npid {folder}/nginx.pid;\nerror_log {folder}/error.log;\n"
        "events { worker_connections 512; }\n"
        f"http {{\naccess_log {folder}/access.log;\n{temp}include {folder}/paperboy.conf;\n{extra}}}\n"
    )
    process = subprocess.Popen(
        [NGINX, "-p", str(folder), "-c", str(folder / "nginx.conf"), "-g", "daemon off;"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while True:
            assert process.poll() is None, f"nginx stopped: {process.stderr.read()}"
            try:
                httpx.get(f"{base}/healthz", timeout=5)
                break
            except httpx.TransportError:
                assert time.monotonic() < deadline, "nginx did not answer"
                time.sleep(0.1)
        yield base
    finally:
        process.terminate()
        process.wait(timeout=30)
