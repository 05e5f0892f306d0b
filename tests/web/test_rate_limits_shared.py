"""Rate limits that hold across processes (PAPERBOY_RATE_LIMIT_STORAGE on a real Redis), and
sign-in limits that stop a guessing client without locking the real admin out."""

from __future__ import annotations

import os

import httpx
import pytest

from service import store
from service.config import ConfigError, load_config
from tests.support.forms import PASSWORD, create_admin, csrf_token, sign_in
from tests.support.server_process import paperboy_server, server_environment

REDIS = os.environ.get("PAPERBOY_TEST_REDIS_URL", "redis://127.0.0.1:6379")


def redis_db(number: int) -> str:
    """A Redis database of its own for one test, emptied first; skips (or fails under CI) without Redis."""
    import redis

    url = f"{REDIS}/{number}"
    try:
        redis.Redis.from_url(url).flushdb()
    except redis.ConnectionError:
        if os.environ.get("PAPERBOY_TEST_DATABASE_URL"):
            pytest.fail(f"the rate-limit tests need Redis at {REDIS} (apt-get install redis-server)")
        pytest.skip(f"the rate-limit tests need Redis at {REDIS} (apt-get install redis-server)")
    return url


def test_the_sign_in_limit_holds_across_two_processes_on_redis(tmp_path, sqlite_url, topics_file):
    engine = store.connect(sqlite_url)
    store.migrate(engine)
    create_admin(engine)
    engine.dispose()
    environ = server_environment(sqlite_url, topics_file, PAPERBOY_RATE_LIMIT_STORAGE=redis_db(13))
    answers = []
    with (
        paperboy_server("serve", environ, tmp_path, "--workers", "1") as first,
        paperboy_server("serve", environ, tmp_path, "--workers", "1") as second,
        httpx.Client(timeout=30) as client,
    ):
        token = csrf_token(client.get(f"{first}/admin/sign-in").content)
        for attempt in range(30):  # alternately to each process, as a load balancer would
            base = (first, second)[attempt % 2]
            answers.append(
                client.post(
                    f"{base}/admin/sign-in",
                    data={"csrf_token": token, "email": "admin@example.org", "password": "guess"},
                ).status_code
            )
    # 10 a minute per client, counted once for both processes (in memory each would allow 10).
    assert answers == [401] * 10 + [429] * 20


def test_the_right_password_still_signs_in_after_guessing_from_other_clients(config, admin_app):
    attackers = [f"192.0.2.{n}" for n in range(1, 6)]
    for address in attackers:  # 5 clients x 10 guesses: more than the 20 an address may fail from one client
        client = admin_app.test_client()
        client.environ_base["REMOTE_ADDR"] = address
        answers = [sign_in(client, password="guess").status_code for _ in range(11)]
        assert answers == [401] * 10 + [429]
    admin = admin_app.test_client()
    admin.environ_base["REMOTE_ADDR"] = "198.51.100.7"
    answer = sign_in(admin, password=PASSWORD)
    assert answer.status_code == 302 and answer.headers["Location"].endswith("/admin/")


@pytest.fixture
def admin_app(config):
    from service.web import create_app

    app = create_app(config.with_overrides(rate_limits=True))
    create_admin(app.extensions["paperboy"].engine)
    yield app
    app.extensions["paperboy"].engine.dispose()


@pytest.mark.parametrize("value", ["redis:", "memcache://x", "memory", "http://127.0.0.1:6379"])
def test_it_refuses_a_bad_rate_limit_storage_with_one_line(value, tmp_path):
    with pytest.raises(ConfigError, match="PAPERBOY_RATE_LIMIT_STORAGE"):
        load_config({"PAPERBOY_RATE_LIMIT_STORAGE": value, "PAPERBOY_SECRET_KEY": "x"}, var_dir=tmp_path)
