"""A database that cannot do the work now (locked past SQLite's busy timeout, a PostgreSQL server
out of reach) gets 503 and a time to come back, never a 500, and nothing half-written."""

from __future__ import annotations

import sqlite3

import pytest
from sqlalchemy import event

from service.store import mail_queue
from service.web import RETRY_AFTER, create_app
from tests.support.forms import csrf_token


def test_a_write_locked_past_the_busy_timeout_answers_503_and_changes_nothing(app, client, sqlite_url):
    engine = app.extensions["paperboy"].engine

    # paperboy waits 30 s (BUSY_TIMEOUT_MS) for another writer's lock; after its own pragmas this
    # engine's connections wait 0.2 s, so that the test does not take 30 s.
    @event.listens_for(engine, "connect")
    def short_wait(dbapi_connection, _record):
        dbapi_connection.execute("PRAGMA busy_timeout=200")

    engine.dispose()
    token = csrf_token(client.get("/subscribe").data)
    form = {"csrf_token": token, "email": "reader@example.org", "topics": ["vla"]}
    holder = sqlite3.connect(sqlite_url.removeprefix("sqlite:///"), isolation_level=None)
    holder.execute("BEGIN IMMEDIATE")  # another process's long write
    try:
        answer = client.post("/subscribe", data=form)
    finally:
        holder.execute("ROLLBACK")
        holder.close()
    assert answer.status_code == 503, answer.data[:300]
    assert answer.headers["Retry-After"] == str(RETRY_AFTER)
    assert b"try again in a minute" in answer.data
    with engine.connect() as conn:
        assert mail_queue.requests(conn, 10) == []
    # Once the lock is gone the same form goes through, once.
    assert client.post("/subscribe", data=form).status_code == 200
    with engine.connect() as conn:
        assert [r.email for r in mail_queue.requests(conn, 10)] == ["reader@example.org"]


@pytest.mark.parametrize("path", ["/", "/topics/vla/", "/topics/vla/feed.atom", "/search?q=robot", "/subscribe"])
def test_a_database_out_of_reach_answers_503(config, path):
    # Nothing listens on port 1: every connection is refused at once.
    app = create_app(config.with_overrides(database_url="postgresql+psycopg://postgres@127.0.0.1:1/paperboy"))
    client = app.test_client()
    if path == "/subscribe":  # the form itself needs no database; sending it does
        token = csrf_token(client.get(path).data)
        answer = client.post(path, data={"csrf_token": token, "email": "reader@example.org", "topics": ["vla"]})
    else:
        answer = client.get(path)
    assert answer.status_code == 503, answer.data[:300]
    assert answer.headers["Retry-After"] == str(RETRY_AFTER)


def test_an_error_in_the_query_itself_stays_a_500(app, client):
    # A missing table is a broken installation, not a busy one: no "try again" for it.
    with app.extensions["paperboy"].engine.begin() as conn:
        conn.exec_driver_sql("DROP TABLE paper_search")
    app.testing = False  # answer as in production, not by raising into the test
    assert client.get("/search?q=robot").status_code == 500
