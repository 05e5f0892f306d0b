"""Mail with NUL characters in its Subject or From (raw or MIME-encoded) or in MAIL FROM, to a
real `paperboy inbound` on SQLite and PostgreSQL: logged and answered 250, never 451 (which the
sending server would retry for days)."""

from __future__ import annotations

import pytest

from service.store import inbound as inbound_store
from tests.support.digest_data import runtime_for
from tests.support.inbound_server import BOUNCES, InboundProcess, crlf, inbound_config

MESSAGES = {
    "raw subject": b"From: someone@example.org\nSubject: a\x00b\n\nhello\n",
    "encoded subject": b"From: someone@example.org\nSubject: =?utf-8?q?a=00b?=\n\nhello\n",
    "raw from": b"From: some\x00one@example.org\nSubject: hi\n\nhello\n",
    "encoded from": b"From: =?utf-8?q?some=00one?= <x@example.org>\nSubject: hi\n\nhello\n",
}


@pytest.fixture
def server(config, database_url, tmp_path):
    runtime = runtime_for(inbound_config(config, database_url))
    _ = runtime.engine  # migrated
    process = InboundProcess(runtime.config, tmp_path)
    yield runtime, process
    assert process.stop() == 0


def _deliver(process: InboundProcess, mail_from: str, raw: bytes) -> tuple[int, bytes]:
    """One message over SMTP, commands written out so MAIL FROM may hold anything; the DATA answer."""
    with process.client() as smtp:
        smtp.ehlo()
        assert smtp.docmd(f"MAIL FROM:<{mail_from}>")[0] == 250
        assert smtp.docmd(f"RCPT TO:<{BOUNCES}>")[0] == 250
        return smtp.data(crlf(raw))


@pytest.mark.parametrize("what", sorted(MESSAGES))
def test_a_nul_in_the_headers_is_logged_and_accepted(server, what):
    runtime, process = server
    code, answer = _deliver(process, "", MESSAGES[what])
    assert code == 250, answer
    with runtime.engine.connect() as conn:
        [message] = inbound_store.list_messages(conn)[0]
        assert "\x00" not in (message.subject or "") + (message.sender or "")
        assert inbound_store.get_message(conn, message.id).raw == crlf(MESSAGES[what])
    assert f"inbound: message {message.id}" in process.log()


def test_a_nul_in_mail_from_is_logged_and_accepted(server):
    runtime, process = server
    code, answer = _deliver(process, "bad\x00sender@example.org", MESSAGES["raw subject"].replace(b"\x00", b""))
    assert code == 250, answer
    with runtime.engine.connect() as conn:
        [message] = inbound_store.list_messages(conn)[0]
        assert message.mail_from == "bad\ufffdsender@example.org"
