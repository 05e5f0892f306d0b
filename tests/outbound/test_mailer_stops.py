"""A message that cannot be built (here: a DKIM key that is not a key) stops the run with one
line and every delivery still due, instead of leaving it waiting forever."""

from __future__ import annotations

from service.store import deliveries
from tests.conftest import NOW
from tests.support.digest_data import ALICE, BOB, CAROL, add_subscribers, load_week, runtime_for, send_with_deadline


def test_it_stops_with_the_rows_due_when_a_message_cannot_be_signed(config, database_url, smtp_server, tmp_path):
    key = tmp_path / "dkim.pem"
    key.write_text("-----BEGIN PRIVATE KEY-----\nnot a key\n-----END PRIVATE KEY-----\n")
    runtime = runtime_for(
        config.with_overrides(
            database_url=database_url, smtp_url=smtp_server.url, dkim_key_file=key, dkim_selector="mail"
        )
    )
    with runtime.engine.begin() as conn:
        load_week(conn)
        add_subscribers(conn, [ALICE, BOB, CAROL], NOW)
    queued, stats = send_with_deadline(runtime)

    assert smtp_server.handler.recipients() == []
    assert stats.error and stats.error.startswith("mailer: ") and "\n" not in stats.error
    with runtime.engine.connect() as conn:
        counts = deliveries.delivery_counts(conn, queued.digest.id)
    assert counts["due"] == 3 and counts["sent"] == counts["failed"] == 0
