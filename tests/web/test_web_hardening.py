"""`paperboy run` and `paperboy serve` as real processes, from outside: slow clients do not stop
them, an oversized body is refused before it is read, every answer carries the security headers
and no server version, ids past what the database holds are 404, and redirects never point at
a host the request named."""

from __future__ import annotations

import socket
from pathlib import Path

import httpx
import pytest

from service import store
from tests.support.server_process import paperboy_server, server_environment

BASE_URL = "http://paperboy.example"


@pytest.fixture(scope="module", params=["run", "serve"])
def server(request, tmp_path_factory):
    """A paperboy process on SQLite (its pid and base URL); `run` loads the bundled sample."""
    folder = tmp_path_factory.mktemp(request.param)
    topics = folder / "topics.toml"
    topics.write_text(
        '[[topic]]\nslug = "testing"\ntitle = "Software Testing"\ndescription = "Testing."\nquery = "all:testing"\n'
    )
    url = f"sqlite:///{folder}/paperboy.sqlite3"
    engine = store.connect(url)
    store.migrate(engine)
    engine.dispose()
    environ = server_environment(url, topics, PAPERBOY_BASE_URL=BASE_URL)
    with paperboy_server(request.param, environ, folder) as base:
        yield request.param, base, folder


def _processes_rss(folder: Path, command: str) -> int:
    """Resident memory (kB) of the server process and its children (gunicorn's workers)."""
    pid = int((folder / f"{command}.pid").read_text())
    total, pids = 0, [pid]
    while pids:
        current = pids.pop()
        status = Path(f"/proc/{current}/status").read_text()
        total += int(next(line.split()[1] for line in status.splitlines() if line.startswith("VmRSS:")))
        for task in Path(f"/proc/{current}/task").iterdir():
            pids += [int(child) for child in (task / "children").read_text().split()]
    return total


def test_two_slow_clients_do_not_stop_it(server):
    command, base, _ = server
    port = int(base.rsplit(":", 1)[1])
    slow = []
    try:
        for partial in (
            b"GET / HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: ",
            b"POST /subscribe HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 1000\r\n"
            b"Content-Type: application/x-www-form-urlencoded\r\n\r\nemail=a",
        ):
            client = socket.create_connection(("127.0.0.1", port))
            client.sendall(partial)  # and never the rest
            slow.append(client)
        for _ in range(4):
            assert httpx.get(f"{base}/", timeout=30).status_code == 200
            assert httpx.get(f"{base}/healthz", timeout=30).status_code == 200
    finally:
        for client in slow:
            client.close()


def test_a_200_mb_body_is_refused_with_413_before_it_is_read(server):
    command, base, folder = server
    before = _processes_rss(folder, command)
    port = int(base.rsplit(":", 1)[1])
    size = 200 * 1024 * 1024
    with socket.create_connection(("127.0.0.1", port), timeout=30) as client:
        client.sendall(
            b"POST /subscribe HTTP/1.1\r\nHost: 127.0.0.1\r\n"
            b"Content-Type: application/x-www-form-urlencoded\r\n" + f"Content-Length: {size}\r\n\r\n".encode()
        )
        sent, chunk = 0, b"x" * 65536
        try:  # the server answers and closes without reading the body: sending stops with it
            while sent < size:
                client.sendall(chunk)
                sent += len(chunk)
        except (BrokenPipeError, ConnectionResetError):
            pass
        answer = b""
        try:
            while data := client.recv(65536):
                answer += data
        except ConnectionResetError:
            pass
    assert answer.startswith(b"HTTP/1.1 413"), answer[:200]
    assert sent < size  # refused long before the end
    # No process grew by anything near the body's size.
    assert _processes_rss(folder, command) - before < 50 * 1024


def test_every_answer_has_the_security_headers_and_no_server_version(server):
    command, base, _ = server
    for path in ("/", "/search?q=testing", "/feed.atom", "/admin/sign-in", "/subscribe"):
        answer = httpx.get(base + path, timeout=30)
        policy = answer.headers["Content-Security-Policy"]
        assert "script-src 'none'" in policy and "unsafe-inline" not in policy.split("style-src")[0]
        assert answer.headers["X-Content-Type-Options"] == "nosniff"
        assert answer.headers["Referrer-Policy"]
        assert ("frame-ancestors 'none'" in policy) == path.startswith("/admin")
        server_header = answer.headers.get("Server", "")
        assert not any(ch.isdigit() for ch in server_header), server_header
        assert "Werkzeug" not in server_header and "Python" not in server_header


@pytest.mark.parametrize(
    "path",
    [
        "/digests/9223372036854775808",
        "/digests/99999999999999999999999",
        "/admin/digests/9223372036854775808",
        "/digests/9223372036854775807",
    ],
)
def test_ids_past_what_the_database_holds_are_404(server, path):
    _, base, _ = server
    answer = httpx.get(base + path, timeout=30)
    assert answer.status_code in (404, 302), answer.status_code  # admin pages send visitors to sign in


def test_the_web_server_keeps_its_cpu_priority(server):
    # Batch commands (fetch, import, digest, scheduler, sender) lower theirs; the pages do not.
    import os

    command, _, folder = server
    pid = int((folder / f"{command}.pid").read_text())
    assert os.getpriority(os.PRIO_PROCESS, pid) == os.getpriority(os.PRIO_PROCESS, 0)


@pytest.mark.parametrize("host_line", [b"Host: \r\n", b"Host:\r\n"])
def test_an_empty_host_header_is_refused(server, host_line):
    _, base, _ = server
    port = int(base.rsplit(":", 1)[1])
    with socket.create_connection(("127.0.0.1", port), timeout=30) as client:
        client.sendall(b"GET /topics/testing HTTP/1.1\r\n" + host_line + b"Connection: close\r\n\r\n")
        answer = b""
        while data := client.recv(65536):
            answer += data
    assert answer.startswith(b"HTTP/1.1 400"), answer[:300]
    assert b"http:///" not in answer


def test_redirects_never_point_at_a_host_the_request_named(server):
    _, base, _ = server
    answer = httpx.get(f"{base}/topics/testing", headers={"Host": "evil.example"}, timeout=30)
    assert answer.status_code == 400 or "evil.example" not in answer.headers.get("Location", "")
    own = httpx.get(f"{base}/topics/testing", timeout=30)
    assert own.status_code in (301, 308) and "evil" not in own.headers["Location"]


@pytest.mark.parametrize(
    "base_url, host, status",
    [
        ("http://paperboy.example", "paperboy.example", 200),
        ("http://paperboy.example", "paperboy.example:8000", 200),
        ("http://paperboy.example", "[::1]:8000", 200),
        ("http://paperboy.example", "[::1]", 200),
        ("http://paperboy.example", "127.0.0.1:8000", 200),
        ("http://paperboy.example", "evil.example", 400),
        ("http://paperboy.example", "", 400),
        ("http://paperboy.example", "[::2]:8000", 400),
        ("http://paperboy.example", "[::1]:80:80", 400),
        ("http://paperboy.example", "[not-an-address]", 400),
        ("http://[2001:db8::7]:8000", "[2001:db8::7]:8000", 200),
        ("http://[2001:db8::7]:8000", "[2001:db8:0:0::7]", 200),
        ("http://[2001:db8::7]:8000", "[2001:db8::8]:8000", 400),
    ],
)
def test_it_answers_its_own_host_names_and_addresses_only(config, tmp_path, base_url, host, status):
    from service.web import create_app

    app = create_app(config.with_overrides(base_url=base_url, database_url=f"sqlite:///{tmp_path}/p.sqlite3"))
    answer = app.test_client().get("/", headers={"Host": host})
    assert answer.status_code == status
    assert answer.headers["X-Content-Type-Options"] == "nosniff"
