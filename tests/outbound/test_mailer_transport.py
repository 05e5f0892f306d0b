"""The SMTP transport's prepared-message path: dot-stuffing and line ends reach the server intact."""

from __future__ import annotations

import asyncio

import pytest

from service.outbound.transport import ConnectError, SendError, SmtpConnection
from service.smtp_url import SmtpSettings
from tests.support.smtp_server import RecordingHandler, SmtpServer, free_port

MESSAGE = (
    b"From: paperboy@localhost\r\nTo: alice@example.org\r\nSubject: dots\r\n\r\n"
    b".a line that starts with a dot\r\n"
    b".\r\n"
    b"..two dots\r\n"
    b"an ordinary line\r\n"
)


def _send(server_url: str, data: bytes, recipient: str = "alice@example.org") -> None:
    async def run():
        connection = SmtpConnection(SmtpSettings.from_url(server_url))
        try:
            await connection.send_raw("paperboy@localhost", [recipient], data)
            await connection.send_raw("paperboy@localhost", [recipient], data)  # the connection is reused
        finally:
            await connection.close()

    asyncio.run(run())


@pytest.mark.parametrize("data", [MESSAGE, MESSAGE.replace(b"\r\n", b"\n")], ids=["crlf", "bare-lf"])
def test_it_delivers_lines_starting_with_dots_unchanged(smtp_server, data):
    _send(smtp_server.url, data)

    for envelope in smtp_server.handler.envelopes:
        assert envelope.content == MESSAGE
    assert len(smtp_server.handler.envelopes) == 2


def test_it_says_a_refused_recipient_is_permanent(smtp_server):
    class Refuse(RecordingHandler):
        async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
            return "550 5.1.1 unknown user"

    server = SmtpServer(Refuse()).start()
    try:
        with pytest.raises(SendError) as refused:
            _send(server.url, MESSAGE)
    finally:
        server.stop()
    assert refused.value.permanent and refused.value.recipient_refused and refused.value.code == 550


def test_it_tells_an_unreachable_server_from_a_refusal():
    with pytest.raises(ConnectError, match="cannot connect"):
        _send(f"smtp://127.0.0.1:{free_port()}", MESSAGE)
