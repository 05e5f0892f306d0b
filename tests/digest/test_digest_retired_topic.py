"""A retired topic's readers are told in their next digest, and keep their other topics."""

from __future__ import annotations

from datetime import timedelta

from service.outbound.digests import send_digest
from service.store import topics as topic_store
from service.store.subscribers.records import get_subscriber
from tests.conftest import NOW
from tests.support.digest_data import ALICE, BOB, WEEK, FakeClock, add_subscribers, load_week, runtime_for


def test_the_next_digest_tells_a_retired_topics_readers(config, smtp_server):
    runtime = runtime_for(config.with_overrides(smtp_url=smtp_server.url))
    with runtime.engine.begin() as conn:
        topic_store.import_all(conn, runtime.file_topics(), NOW - timedelta(days=30))
        topic_store.retire(conn, "vla", NOW - timedelta(days=1))
        load_week(conn)
        ids = add_subscribers(conn, [ALICE, BOB], NOW)
    send_digest(runtime, WEEK, now=NOW, clock=FakeClock(NOW))
    by_rcpt = {env.rcpt_tos[0]: msg for env, msg in zip(smtp_server.handler.envelopes, smtp_server.messages)}
    alice = by_rcpt[ALICE[0]].get_body(("plain",)).get_content()
    bob = by_rcpt[BOB[0]].get_body(("plain",)).get_content()
    html = by_rcpt[ALICE[0]].get_body(("html",)).get_content()
    assert 'The topic "Vision-Language-Action Models" has been retired' in alice
    assert "has been retired" in html and "http://paperboy.test/topics/vla/" in html
    assert "Software Testing" in alice and "retired" not in bob
    with runtime.engine.connect() as conn:
        assert get_subscriber(conn, ids[ALICE[0]]).topics == sorted(ALICE[1])


def test_a_topic_retired_long_before_is_not_news(config, smtp_server):
    runtime = runtime_for(config.with_overrides(smtp_url=smtp_server.url))
    with runtime.engine.begin() as conn:
        topic_store.import_all(conn, runtime.file_topics(), NOW - timedelta(days=60))
        topic_store.retire(conn, "vla", NOW - timedelta(days=20))
        load_week(conn)
        add_subscribers(conn, [ALICE], NOW)
    send_digest(runtime, WEEK, now=NOW, clock=FakeClock(NOW))
    assert "retired" not in smtp_server.messages[0].get_body(("plain",)).get_content()
