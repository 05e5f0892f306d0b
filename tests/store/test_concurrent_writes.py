"""Many readers writing at once through a real server process: a busy store answers slowly,
never 500 (SQLite's deferred transactions could not take the write lock once another writer
had committed, and failed at once with "database is locked")."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime

import httpx
import pytest

from service import store
from service.config import Config
from service.outbound.notices import admit_requests
from service.store.subscribers import records
from subscribers import tokens
from tests.support.digest_data import runtime_for
from tests.support.forms import csrf_token
from tests.support.server_process import paperboy_server, server_environment

CLIENTS = 20
ROUNDS = 5


def _post_form(base: str, path: str, fields: dict) -> int:
    """GET the page for its CSRF token and session cookie, then POST the form; the POST's status."""
    with httpx.Client(base_url=base, timeout=120) as client:
        page = client.get(path)
        if page.status_code >= 500:
            return page.status_code
        return client.post(path, data={"csrf_token": csrf_token(page.content), **fields}).status_code


def _in_rounds(job, items) -> list[int]:
    """`job` for every item, CLIENTS at a time, ROUNDS times over."""
    statuses = []
    with ThreadPoolExecutor(CLIENTS) as pool:
        for start in range(0, len(items), CLIENTS):
            statuses += pool.map(job, items[start : start + CLIENTS])
    return statuses


@pytest.mark.parametrize("command", ["run", "serve"])
def test_concurrent_sign_ups_confirms_and_preference_changes_never_answer_5xx(
    command, tmp_path, database_url, topics_file
):
    engine = store.connect(database_url)
    store.migrate(engine)
    environ = server_environment(database_url, topics_file, PAPERBOY_RATE_LIMITS="false")
    config = Config(secret_key="test-secret", base_url="http://paperboy.test")
    with paperboy_server(command, environ, tmp_path) as base:
        addresses = [f"reader{n}@example.org" for n in range(CLIENTS * ROUNDS)]
        sign_ups = _in_rounds(
            lambda address: _post_form(base, "/subscribe", {"email": address, "topics": ["vla"]}), addresses
        )
        assert sign_ups == [200] * len(addresses)
        # The scheduler's step: the queued sign-ups become pending subscribers. `paperboy run`
        # holds a scheduler too, whose notices job may have admitted some of them already.
        runtime = runtime_for(config.with_overrides(database_url=database_url, topics_file=topics_file))
        admit_requests(runtime)

        with engine.connect() as conn:
            admitted = [records.subscriber_by_email(conn, address) for address in addresses]
        assert [subscriber is not None for subscriber in admitted] == [True] * len(addresses)
        ids = [subscriber.id for subscriber in admitted]
        now = datetime.now(UTC)
        confirms = _in_rounds(
            lambda sid: _post_form(base, "/confirm/" + tokens.confirm_token(config, sid, ["vla", "testing"], now), {}),
            ids,
        )
        assert confirms == [200] * len(ids)

        changes = _in_rounds(
            lambda sid: _post_form(
                base, "/preferences/" + tokens.preferences_token(config, sid), {"topics": ["testing"]}
            ),
            ids,
        )
        assert changes == [200] * len(ids)
    with engine.connect() as conn:
        for sid in ids:
            found = records.get_subscriber(conn, sid)
            assert (found.status, found.topics) == ("active", ["testing"])
    engine.dispose()
