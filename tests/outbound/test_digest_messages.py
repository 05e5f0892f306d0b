"""Digest messages built near the wire: a letter shared by a topic set (encoded once, links filled
in per subscriber) carries exactly the letter made for that subscriber, as a letter of one's own does."""

from __future__ import annotations

from email.utils import parsedate_to_datetime

from service.digest.letter import SLOTS, letter_writer
from service.model.preferences import DEFAULT, DigestPreferences
from service.outbound.digests import send_digest
from service.outbound.verp import delivery_of
from service.store.subscribers.preferences import set_preferences
from subscribers.tokens import MailLinks, preferences_url, unsubscribe_url
from tests.conftest import NOW
from tests.support.digest_data import WEEK, FakeClock, add_subscribers, load_week, runtime_for

TOPICS = ["vla", "testing"]
PEOPLE = [("alice@example.org", TOPICS), ("erin@example.org", TOPICS), ("frank@example.org", TOPICS)]
FRANK = DigestPreferences(keywords_out=("testing",))


def test_each_subscriber_gets_the_letter_made_for_them_with_their_own_links(config, smtp_server):
    runtime = runtime_for(config.with_overrides(smtp_url=smtp_server.url))
    with runtime.engine.begin() as conn:
        load_week(conn)
        ids = add_subscribers(conn, PEOPLE, NOW)
        set_preferences(conn, ids["frank@example.org"], FRANK, NOW, "test")

    queued, stats = send_digest(runtime, WEEK, now=NOW, clock=FakeClock(NOW))

    assert stats.sent == 3
    with runtime.engine.connect() as conn:
        writer = letter_writer(conn, runtime.config, queued.digest, runtime.topics)
    topic_set = queued.digest.topic_set(runtime.topics, TOPICS)
    received = {env.rcpt_tos[0]: (env, msg) for env, msg in zip(smtp_server.handler.envelopes, smtp_server.messages)}
    bodies = set()
    for email, _ in PEOPLE:
        envelope, message = received[email]
        subscriber_id = ids[email]
        links = (unsubscribe_url(runtime.config, subscriber_id), preferences_url(runtime.config, subscriber_id))
        letter = writer.letter(topic_set, FRANK if email.startswith("frank") else DEFAULT, links)
        text, html = (part.get_content().replace("\r\n", "\n") for part in message.get_payload())
        assert (text, html) == (letter.text.replace("\r\n", "\n"), letter.html.replace("\r\n", "\n"))
        assert message["Subject"] == letter.subject and message["To"] == email
        assert message["List-Unsubscribe"].startswith(f"<{links[0]}>")
        assert parsedate_to_datetime(message["Date"]) == NOW.replace(microsecond=0)
        assert delivery_of(runtime.config, envelope.mail_from) is not None
        bodies.add(html)
    assert len(bodies) == 3  # alice and erin share a letter but not their links; frank leaves papers out


def test_links_made_for_many_subscribers_are_the_links_made_one_by_one(config):
    links = MailLinks(config)
    for subscriber_id in (1, 42, 99_999, 10**12):
        assert links.of(subscriber_id) == (
            unsubscribe_url(config, subscriber_id),
            preferences_url(config, subscriber_id),
        )


def test_a_letter_is_measured_at_the_size_its_html_has(config):
    """The clipping check adds up sizes kept per piece; they must add up to the HTML as sent,
    with links that escaping lengthens (&) and that take several bytes a character."""
    runtime = runtime_for(config)
    with runtime.engine.begin() as conn:
        load_week(conn)
        add_subscribers(conn, PEOPLE, NOW)
    queued, _ = send_digest(runtime, WEEK, now=NOW, clock=FakeClock(NOW))
    with runtime.engine.connect() as conn:
        writer = letter_writer(conn, runtime.config, queued.digest, runtime.topics)
    odd = ("https://example.org/unsubscribe/a&b<c", "https://exämple.org/préférences/tök?a=1&b=2")
    measured = 0
    for topic_set in (("vla",), ("testing",), ("testing", "vla")):
        for preferences in (DEFAULT, FRANK, DigestPreferences(length="titles")):
            for links in (None, SLOTS, odd, MailLinks(runtime.config).of(7)):
                letter = writer.letter(topic_set, preferences, links)
                if letter is None:
                    continue
                assert letter.html_bytes == len(letter.html.encode("utf-8")), (topic_set, preferences, links)
                measured += 1
    assert measured >= 24
