"""A sent digest as SpamAssassin sees it: score 0.0 and no HTML rule (hidden low-contrast text,
missing language and the like) beyond the note that the message has an HTML part."""

from __future__ import annotations

from tests.conftest import NOW
from tests.support.digest_data import ALICE, BOB, WEEK, FakeClock, add_subscribers, load_week, runtime_for
from tests.support.spam_check import INFORMATIONAL, require_spamassassin, spam_status


def test_spamassassin_scores_a_sent_digest_at_zero(config, smtp_server, tmp_path):
    require_spamassassin()
    from service.outbound.digests import send_digest

    runtime = runtime_for(config.with_overrides(smtp_url=smtp_server.url))
    with runtime.engine.begin() as conn:
        load_week(conn)
        add_subscribers(conn, [ALICE, BOB], NOW)
    send_digest(runtime, WEEK, now=NOW, clock=FakeClock(NOW))
    assert len(smtp_server.handler.envelopes) == 2
    for envelope in smtp_server.handler.envelopes:
        score, rules = spam_status(envelope.content, tmp_path)
        assert score == 0.0, rules
        assert [rule for rule in rules if rule.startswith("HTML_") and rule not in INFORMATIONAL] == []


def test_the_text_part_ends_with_a_standard_signature_separator(config, smtp_server):
    from service.outbound.digests import send_digest

    runtime = runtime_for(config.with_overrides(smtp_url=smtp_server.url))
    with runtime.engine.begin() as conn:
        load_week(conn)
        add_subscribers(conn, [BOB], NOW)
    send_digest(runtime, WEEK, now=NOW, clock=FakeClock(NOW))
    [message] = smtp_server.messages
    text = message.get_body(("plain",)).get_content().replace("\r\n", "\n")
    assert "\n-- \n" in text  # "-- " with its space: readers hide the signature in replies
    assert text.split("\n-- \n")[1].startswith("You get this weekly email")
    html = message.get_body(("html",)).get_content()
    assert "lang=en" in html.split(">")[1] and "und" not in html.split(">")[1]
    assert "color:#ffffff" not in html.replace(" ", "").lower()  # no white hidden preview text
