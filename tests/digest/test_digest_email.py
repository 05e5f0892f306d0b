"""The digest email as it reaches the SMTP server: parts, every paper, headers, per-subscriber links."""

from __future__ import annotations

import base64
import html
import re
import subprocess
from email.utils import parsedate_to_datetime

import dkim
import httpx
import lxml.html
import pytest

from service.digest.selection import FULL_PER_TOPIC
from service.outbound.digests import send_digest
from service.store.subscribers.records import get_subscriber
from subscribers.tokens import preferences_url, unsubscribe_url
from tests.conftest import NOW
from tests.support.digest_data import ALICE, BOB, WEEK, FakeClock, add_subscribers, load_week, runtime_for


@pytest.fixture
def mailed(config, smtp_server):
    """Alice (vla + testing) and Bob (testing) get the week's digest; returns their messages."""
    runtime = runtime_for(config.with_overrides(smtp_url=smtp_server.url))
    with runtime.engine.begin() as conn:
        testing, vla = load_week(conn)
        ids = add_subscribers(conn, [ALICE, BOB], NOW)
    queued, _ = send_digest(runtime, WEEK, now=NOW, clock=FakeClock(NOW))
    by_rcpt = {env.rcpt_tos[0]: msg for env, msg in zip(smtp_server.handler.envelopes, smtp_server.messages)}
    return runtime, queued.digest, ids, testing, vla, by_rcpt


def _parts(message):
    assert message.get_content_type() == "multipart/alternative"
    text, html_part = message.get_payload()
    assert (text.get_content_type(), html_part.get_content_type()) == ("text/plain", "text/html")
    return text.get_content(), html_part.get_content()


def links(body: str) -> set[tuple[str, str]]:
    """(href, text) of every link in an HTML part."""
    return {(a.get("href"), a.text_content()) for a in lxml.html.fromstring(body).iter("a")}


def test_it_sends_an_html_part_from_mjml_and_a_text_part_with_every_paper(mailed):
    _, _, _, testing, vla, by_rcpt = mailed
    text, body = _parts(by_rcpt[ALICE[0]])

    assert "<!doctype html>" in body.lower() and "mj-column-per-100" in body  # MJML's responsive output
    found = links(body)
    for paper in testing + vla:
        assert (paper.abs_url, paper.title) in found  # every title links to the paper
        assert paper.title in text and paper.abs_url in text
    full = [p for p in testing + vla if (p.pdf_url, "PDF") in found]
    assert 2 <= len(full) <= 2 * FULL_PER_TOPIC
    for paper in full:
        assert paper.pdf_url in text and paper.author_line in text
        assert paper.published.strftime("%Y-%m-%d") in text
        for url in paper.project_urls[:1]:
            assert (url, "Project Page") in found and url in text
        for url in paper.code_urls[:1]:
            assert (url, "Code") in found and url in text
    assert "Papers with Project Pages / Code" in body and "Other Recent Papers" in body
    assert text.index("Vision-Language-Action Models") < text.index("Software Testing")
    assert text.count("also in: Software Testing") == 2


def test_it_shortens_abstracts_to_about_500_characters(mailed):
    _, _, _, testing, _, by_rcpt = mailed
    text, body = _parts(by_rcpt[BOB[0]])
    found = links(body)
    full = [p for p in testing if (p.pdf_url, "PDF") in found]
    longest = max(full, key=lambda p: len(p.abstract))
    assert len(longest.abstract) > 600
    assert longest.abstract not in html.unescape(body)
    assert longest.short_abstract[:80] in lxml.html.fromstring(body).text_content()


def test_it_sends_bob_only_his_topic(mailed):
    _, _, _, testing, vla, by_rcpt = mailed
    text, _ = _parts(by_rcpt[BOB[0]])
    assert "Vision-Language-Action Models" not in text
    assert all(p.title in text for p in testing)
    assert not any(p.title in text for p in vla if p not in testing)
    assert "also in" not in text


def test_it_sets_the_list_headers(mailed):
    runtime, digest, ids, _, _, by_rcpt = mailed
    message = by_rcpt[ALICE[0]]
    config = runtime.config

    assert message["From"] == config.mail_from
    assert message["To"] == ALICE[0]
    assert message["Subject"] == f"paperboy {WEEK}: Vision-Language-Action Models, Software Testing"
    assert by_rcpt[BOB[0]]["Subject"] == f"paperboy {WEEK}: Software Testing"
    assert parsedate_to_datetime(message["Date"]) == NOW
    assert re.fullmatch(r"<[^@<>\s]+@localhost>", message["Message-ID"])
    assert message["Message-ID"] != by_rcpt[BOB[0]]["Message-ID"]
    assert message["List-Id"] == "paperboy weekly digest <digest.localhost>"
    one_click = unsubscribe_url(config, ids[ALICE[0]])
    assert re.fullmatch(
        rf"<{re.escape(one_click)}>, <mailto:paperboy@localhost\?subject=unsubscribe%20[\w.-]+>",
        message["List-Unsubscribe"],
    )
    assert message["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"


def test_it_fills_in_each_subscribers_links(mailed):
    runtime, digest, ids, _, _, by_rcpt = mailed
    for email in (ALICE[0], BOB[0]):
        text, body = _parts(by_rcpt[email])
        for url in (unsubscribe_url(runtime.config, ids[email]), preferences_url(runtime.config, ids[email])):
            assert (url, "Unsubscribe") in links(body) or (url, "Preferences") in links(body)
            assert url in text
        assert "PBXSLOT" not in body + text
        assert (f"http://paperboy.test/digests/{digest.id}", "View in browser") in links(body)
        assert f"http://paperboy.test/digests/{digest.id}" in text


def test_it_keeps_lines_short_enough_for_smtp(mailed, smtp_server):
    for envelope in smtp_server.handler.envelopes:
        headers, body = envelope.content.split(b"\r\n\r\n", 1)
        assert max(len(line) for line in headers.split(b"\r\n")) <= 998
        assert max(len(line) for line in body.split(b"\r\n")) <= 78
        content = envelope.content
        assert content.count(b"\n") == content.count(b"\r\n") == content.count(b"\r")  # CRLF only


def test_its_one_click_unsubscribe_url_works_without_cookies(mailed, app, live_server):
    runtime, _, ids, _, _, by_rcpt = mailed
    url = re.match(r"<([^>]+)>", by_rcpt[ALICE[0]]["List-Unsubscribe"]).group(1)
    path = url.removeprefix(runtime.config.base_url)

    response = httpx.post(
        live_server + path,
        content=b"List-Unsubscribe=One-Click",
        headers={"Content-Type": "application/x-www-form-urlencoded"},
    )

    assert response.status_code == 200
    with runtime.engine.connect() as conn:
        assert get_subscriber(conn, ids[ALICE[0]]).status == "unsubscribed"
        assert get_subscriber(conn, ids[BOB[0]]).status == "active"


def test_it_signs_with_dkim_when_a_key_is_set(config, smtp_server, tmp_path):
    key_file = tmp_path / "dkim.pem"
    subprocess.run(
        ["openssl", "genrsa", "-traditional", "-out", str(key_file), "2048"], check=True, capture_output=True
    )
    public = subprocess.run(
        ["openssl", "rsa", "-in", str(key_file), "-pubout", "-outform", "DER"], check=True, capture_output=True
    ).stdout
    runtime = runtime_for(
        config.with_overrides(
            smtp_url=smtp_server.url, dkim_key_file=key_file, dkim_selector="mail", dkim_domain="paperboy.test"
        )
    )
    with runtime.engine.begin() as conn:
        load_week(conn)
        add_subscribers(conn, [BOB], NOW)

    send_digest(runtime, WEEK, now=NOW, clock=FakeClock(NOW))

    record = b"v=DKIM1; k=rsa; p=" + base64.b64encode(public)
    raw = smtp_server.handler.envelopes[0].content
    assert raw.startswith(b"DKIM-Signature:")
    assert dkim.verify(
        raw, dnsfunc=lambda name, timeout=5: record if name == b"mail._domainkey.paperboy.test." else None
    )
    tampered = raw.replace(b"Software Testing", b"Software Testinq", 1)
    assert not dkim.verify(tampered, dnsfunc=lambda name, timeout=5: record)
