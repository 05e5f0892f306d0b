"""Addresses the subscribe form accepts but plain SMTP cannot carry as typed: an internationalized
domain goes out in its xn-- form; a non-ASCII local part fails alone and the run goes on."""

from __future__ import annotations

from collections import Counter

from service.store import deliveries
from service.store.subscribers.records import get_subscriber
from tests.conftest import NOW
from tests.support.digest_data import ALICE, add_subscribers, load_week, runtime_for, send_with_deadline

IDN = "bob@bücher.de"
UTF8_LOCAL = "josé@example.org"


def test_it_sends_to_an_international_domain_and_fails_only_a_non_ascii_local_part(config, database_url, smtp_server):
    runtime = runtime_for(
        config.with_overrides(database_url=database_url, smtp_url=smtp_server.url, smtp_concurrency=1)
    )
    with runtime.engine.begin() as conn:
        load_week(conn)
        ids = add_subscribers(conn, [ALICE, (IDN, ["testing"]), (UTF8_LOCAL, ["testing"])], NOW)
    queued, stats = send_with_deadline(runtime)

    assert Counter(smtp_server.handler.recipients()) == Counter({ALICE[0]: 1, "bob@xn--bcher-kva.de": 1})
    [idn_message] = [m for m in smtp_server.messages if m["To"] != ALICE[0]]
    assert idn_message["To"] == "bob@xn--bcher-kva.de"
    assert (stats.sent, stats.failed, stats.bounced, stats.error) == (2, 1, 0, None)
    with runtime.engine.connect() as conn:
        [failed] = deliveries.list_deliveries(conn, queued.digest.id, "failed")
        assert get_subscriber(conn, ids[UTF8_LOCAL]).status == "active"  # our limit, not their bounce
    assert failed["email"] == UTF8_LOCAL and "SMTPUTF8" in failed["last_error"]
