"""`paperboy serve` and `paperboy run` as real processes keep answering while hundreds of clients
hold connections open, sending one header line every few seconds or nothing at all, and close a
connection whose request head does not arrive in time."""

from __future__ import annotations

import socket
import threading
import time

import httpx
import pytest

from service import store
from service.web.buffering import HEAD_SECONDS
from tests.support.server_process import paperboy_server, server_environment

SLOW = 400  # clients sending one header line every LINE_SECONDS, never ending their request
IDLE = 100  # clients that connect and send nothing
LINE_SECONDS = 2


@pytest.fixture(scope="module", params=["run", "serve"])
def server(request, tmp_path_factory):
    folder = tmp_path_factory.mktemp(request.param)
    topics = folder / "topics.toml"
    topics.write_text('[[topic]]\nslug = "testing"\ntitle = "Testing"\ndescription = "T."\nquery = "all:testing"\n')
    url = f"sqlite:///{folder}/paperboy.sqlite3"
    engine = store.connect(url)
    store.migrate(engine)
    engine.dispose()
    with paperboy_server(request.param, server_environment(url, topics), folder) as base:
        yield base


class SlowClients:
    """Connections that each send a request line, then one header line every LINE_SECONDS."""

    def __init__(self, port: int, slow: int, idle: int):
        self.port = port
        self.sockets: list[socket.socket] = []
        for number in range(slow + idle):
            client = socket.create_connection(("127.0.0.1", port), timeout=30)
            if number < slow:
                client.sendall(b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n")
            self.sockets.append(client)
        self.slow = self.sockets[:slow]
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._trickle, daemon=True)
        self.thread.start()

    def _trickle(self) -> None:
        line = 0
        while not self.stop.wait(LINE_SECONDS):
            line += 1
            for client in self.slow:
                try:
                    client.sendall(f"X-Slow-{line}: still here\r\n".encode())
                except OSError:
                    pass  # closed by the server for taking too long: what it should do

    def close(self) -> None:
        self.stop.set()
        self.thread.join()
        for client in self.sockets:
            client.close()


def test_it_answers_with_hundreds_of_slow_and_idle_connections_open(server):
    port = int(server.rsplit(":", 1)[1])
    clients = SlowClients(port, SLOW, IDLE)
    try:
        for _ in range(5):
            answer = httpx.get(f"{server}/healthz", timeout=30)
            assert answer.status_code == 200
            assert httpx.get(f"{server}/", timeout=30).status_code == 200
            time.sleep(LINE_SECONDS / 2)
    finally:
        clients.close()


def test_a_request_head_that_never_ends_is_cut_off(server):
    port = int(server.rsplit(":", 1)[1])
    with socket.create_connection(("127.0.0.1", port)) as client:
        client.sendall(b"GET / HTTP/1.1\r\nHost: 127.0.0.1\r\n")
        client.settimeout(1)
        deadline = time.monotonic() + HEAD_SECONDS + 60
        closed = False
        while not closed and time.monotonic() < deadline:
            try:
                closed = client.recv(4096) == b""
            except TimeoutError:
                client.sendall(b"X-Slow: still here\r\n")
            except ConnectionResetError:
                closed = True
        assert closed, "a request head still arriving a minute after its bound was not cut off"
