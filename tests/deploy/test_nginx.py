"""deploy/nginx.conf in front of `paperboy serve`: feeds and public pages from its cache
(revalidated with paperboy's ETag), pages with a session never cached, gzip passed through, oversized bodies and slow
clients stopped at the front, no version announced."""

from __future__ import annotations

import socket

import httpx
import pytest

from service import store
from service.arxiv.sample import load_sample
from service.config import Config
from service.runtime import Runtime
from tests.conftest import NOW
from tests.support.nginx_front import nginx_front, require_nginx
from tests.support.server_process import paperboy_server, server_environment


@pytest.fixture(scope="module")
def front(tmp_path_factory):
    require_nginx()
    folder = tmp_path_factory.mktemp("front")
    topics = folder / "topics.toml"
    topics.write_text(
        '[[topic]]\nslug = "vla"\ntitle = "VLA"\ndescription = "VLAs."\nquery = \'abs:"vision-language-action"\'\n'
    )
    url = f"sqlite:///{folder}/paperboy.sqlite3"
    runtime = Runtime(Config(database_url=url, topics_file=topics, secret_key="test-secret"))
    store.migrate(runtime.engine)
    load_sample(runtime.engine, runtime.topics, NOW)
    runtime.engine.dispose()
    environ = server_environment(url, topics, PAPERBOY_TRUSTED_PROXIES="1")
    with paperboy_server("serve", environ, folder) as upstream, nginx_front(upstream, folder / "nginx") as base:
        yield base


def test_feeds_come_from_the_cache_and_revalidate_with_the_etag(front):
    first = httpx.get(f"{front}/topics/vla/feed.atom", timeout=30)
    second = httpx.get(f"{front}/topics/vla/feed.atom", timeout=30)
    assert first.status_code == second.status_code == 200
    assert second.headers["X-Cache-Status"] == "HIT"
    assert second.content == first.content and second.headers["ETag"] == first.headers["ETag"]
    assert "max-age=300" in second.headers["Cache-Control"]
    again = httpx.get(f"{front}/topics/vla/feed.atom", headers={"If-None-Match": first.headers["ETag"]}, timeout=30)
    assert again.status_code == 304


def test_gzip_passes_through_as_paperboy_made_it(front):
    plain = httpx.get(f"{front}/topics/vla/feed.atom", headers={"Accept-Encoding": "identity"}, timeout=30)
    for _ in range(2):  # the second from the cache
        zipped = httpx.get(f"{front}/topics/vla/feed.atom", headers={"Accept-Encoding": "gzip, br"}, timeout=30)
        assert zipped.headers["Content-Encoding"] == "gzip"
        assert zipped.content == plain.content  # httpx decodes it
    assert "Content-Encoding" not in plain.headers


def test_public_pages_come_from_the_cache_the_same_for_everyone(front):
    for path in ("/", "/topics/vla/", "/topics/vla.md"):
        first = httpx.get(f"{front}{path}", timeout=30)
        second = httpx.get(f"{front}{path}", timeout=30)
        assert first.status_code == second.status_code == 200
        assert second.headers["X-Cache-Status"] == "HIT", path
        assert second.content == first.content and "set-cookie" not in second.headers
        assert "public" in second.headers["Cache-Control"]


def test_pages_with_a_session_are_never_cached(front):
    for _ in range(2):
        page = httpx.get(f"{front}/subscribe", timeout=30)
        assert page.status_code == 200
        assert page.headers.get("X-Cache-Status") != "HIT"


def test_an_oversized_body_is_refused_at_the_front(front):
    answer = httpx.post(
        f"{front}/subscribe",
        content=b"x" * (7 * 1024 * 1024),
        timeout=60,
        headers={"Content-Type": "application/x-www-form-urlencoded"},
    )
    assert answer.status_code == 413
    assert answer.headers["Server"] == "nginx"  # and no version


def test_slow_clients_wait_at_the_front(front):
    port = int(front.rsplit(":", 1)[1])
    slow = [socket.create_connection(("127.0.0.1", port)) for _ in range(20)]
    try:
        for client in slow:
            client.sendall(b"POST /subscribe HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 100\r\n\r\nemail=")
        for _ in range(5):
            assert httpx.get(f"{front}/search?q=testing", timeout=30).status_code == 200
    finally:
        for client in slow:
            client.close()
