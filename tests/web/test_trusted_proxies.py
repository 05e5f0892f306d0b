"""PAPERBOY_TRUSTED_PROXIES=1 behind deploy/nginx.conf, under `paperboy run` as under `paperboy
serve`: the rate limits count each client nginx saw (here, distinct loopback addresses), not the
proxy that every request comes from."""

from __future__ import annotations

import re

import httpx
import pytest

from service import store
from service.web.rate_limits import SUBSCRIBE_LIMIT
from tests.support.nginx_front import nginx_front, require_nginx
from tests.support.server_process import paperboy_server, server_environment

PER_MINUTE = int(SUBSCRIBE_LIMIT.split(" per minute")[0])


@pytest.fixture(scope="module", params=["run", "serve"])
def front(request, tmp_path_factory):
    require_nginx()
    folder = tmp_path_factory.mktemp(request.param)
    topics = folder / "topics.toml"
    topics.write_text('[[topic]]\nslug = "testing"\ntitle = "Testing"\ndescription = "T."\nquery = "all:testing"\n')
    url = f"sqlite:///{folder}/paperboy.sqlite3"
    engine = store.connect(url)
    store.migrate(engine)
    engine.dispose()
    environ = server_environment(
        url, topics, PAPERBOY_TRUSTED_PROXIES="1", PAPERBOY_RATE_LIMITS="1", PAPERBOY_OUTBOX_DIR=str(folder / "outbox")
    )
    with paperboy_server(request.param, environ, folder) as upstream, nginx_front(upstream, folder / "nginx") as base:
        yield base


def _sign_up(base: str, source: str, email: str) -> int:
    """Sign `email` up from a client at loopback address `source`, as a browser would."""
    transport = httpx.HTTPTransport(local_address=source)
    with httpx.Client(base_url=base, transport=transport, timeout=30) as client:
        form = client.get("/subscribe")
        token = re.search(r'name="csrf_token" value="([^"]+)"', form.text).group(1)
        answer = client.post("/subscribe", data={"csrf_token": token, "email": email, "topics": ["testing"]})
        return answer.status_code


def test_each_client_behind_the_proxy_has_its_own_limit(front):
    clients = [f"127.0.0.{11 + number}" for number in range(PER_MINUTE + 3)]
    answers = [_sign_up(front, source, f"reader{number}@example.org") for number, source in enumerate(clients)]
    assert 429 not in answers, answers
    # One client past the limit is still refused: the limits are on, and count that client.
    again = [_sign_up(front, "127.0.0.99", f"same{number}@example.org") for number in range(PER_MINUTE + 1)]
    assert again[-1] == 429 and 429 not in again[:PER_MINUTE], again
