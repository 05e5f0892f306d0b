"""Command pipelining (RFC 2920): with a server that announces PIPELINING, MAIL, RCPT and DATA go
out as one group, every reply of the group is checked, and the connection carries on after a refusal.

The server here is a plain socket speaking SMTP from a script, so that the test decides how the
replies arrive (all at once or one by one) and what the server does with a group it refuses;
test_mailer_transport.py and test_mailer_faults.py run the same path against aiosmtpd, and the
last test against a real Postfix."""

from __future__ import annotations

import asyncio
import socket
import threading
import time

import pytest

from service.outbound.transport import SenderRefused, SendError, SmtpConnection
from service.smtp_url import SmtpSettings
from tests.support.mail_servers import Postfix
from tests.support.smtp_server import RecordingHandler, SmtpServer

MESSAGE = b"From: paperboy@localhost\r\nTo: alice@example.org\r\nSubject: piped\r\n\r\n.a dotted line\r\nbody\r\n"


class ScriptedServer:
    """One SMTP connection at a time on loopback, answering a group of commands only once the
    whole group (up to DATA) has arrived: a client that waits for each reply before the next
    command gets no answer. `refuse` maps a command ("MAIL" or a recipient) to its reply;
    `dribble` sends the group's replies one at a time, 20 ms apart."""

    def __init__(self, refuse: dict[str, str] | None = None, accept_empty_data: bool = False, dribble: bool = False):
        self.refuse = refuse or {}
        self.accept_empty_data = accept_empty_data  # answer DATA with 354 even with no recipient left
        self.dribble = dribble
        self.groups: list[list[bytes]] = []  # the commands of each group, as they arrived together
        self.messages: list[bytes] = []  # what followed each 354, dot-stuffing undone
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port = self.listener.getsockname()[1]
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    @property
    def url(self) -> str:
        return f"smtp://127.0.0.1:{self.port}?timeout=3"

    def _serve(self) -> None:
        while True:
            try:
                connection, _ = self.listener.accept()
            except OSError:
                return
            with connection, connection.makefile("rb") as lines:
                connection.sendall(b"220 scripted ESMTP\r\n")
                self._session(connection, lines)

    def _session(self, connection: socket.socket, lines) -> None:
        group: list[bytes] = []
        for line in lines:
            command = line.rstrip(b"\r\n")
            verb = command[:4].upper()
            if verb == b"EHLO":
                connection.sendall(b"250-scripted\r\n250-PIPELINING\r\n250 SIZE 10240000\r\n")
            elif verb in (b"RSET", b"NOOP"):
                connection.sendall(b"250 2.0.0 Ok\r\n")
            elif verb == b"QUIT":
                connection.sendall(b"221 2.0.0 Bye\r\n")
                return
            elif verb in (b"MAIL", b"RCPT"):
                group.append(command)
            elif verb == b"DATA":
                group.append(command)
                self.groups.append(group)
                self._answer(connection, lines, group)
                group = []

    def _answer(self, connection: socket.socket, lines, group: list[bytes]) -> None:
        replies = [self.refuse.get("MAIL", "250 2.1.0 Ok")]
        for command in group[1:-1]:
            recipient = command.split(b"<", 1)[1].split(b">", 1)[0].decode()
            replies.append(self.refuse.get(recipient, "250 2.1.5 Ok"))
        valid = replies[0].startswith("250") and any(reply.startswith("250") for reply in replies[1:])
        replies.append(
            "354 End data with <CR><LF>.<CR><LF>"
            if valid or self.accept_empty_data
            else "554 5.5.1 no valid recipients"
        )
        for reply in replies:
            connection.sendall(reply.encode() + b"\r\n")
            if self.dribble:
                time.sleep(0.02)
        if not replies[-1].startswith("354"):
            return
        body = []
        for line in lines:
            if line == b".\r\n":
                break
            body.append(line[1:] if line.startswith(b".") else line)
        self.messages.append(b"".join(body))
        connection.sendall(b"250 2.0.0 queued\r\n" if valid else b"554 5.5.1 no valid recipients\r\n")

    def stop(self) -> None:
        self.listener.close()


def _send_each(url: str, recipients: list[str], sender: str = "paperboy@localhost") -> list[SendError | None]:
    """Send MESSAGE to each recipient in turn over one connection; what each send raised."""

    async def run():
        connection = SmtpConnection(SmtpSettings.from_url(url))
        outcomes: list[SendError | None] = []
        try:
            for recipient in recipients:
                try:
                    await connection.send_raw(sender, [recipient], MESSAGE, crlf=True)
                    outcomes.append(None)
                except SendError as error:
                    outcomes.append(error)
        finally:
            await connection.close()
        return outcomes

    return asyncio.run(run())


@pytest.fixture
def scripted():
    servers = []

    def start(**options) -> ScriptedServer:
        servers.append(ScriptedServer(**options))
        return servers[-1]

    yield start
    for server in servers:
        server.stop()


@pytest.mark.parametrize("dribble", [False, True], ids=["replies-together", "replies-one-by-one"])
def test_it_sends_mail_rcpt_and_data_as_one_group(scripted, dribble):
    server = scripted(dribble=dribble)

    assert _send_each(server.url, ["alice@example.org", "bob@example.org", "carol@example.org"]) == [None] * 3

    assert [len(group) for group in server.groups] == [3, 3, 3]
    assert server.groups[2] == [
        b"MAIL FROM:<paperboy@localhost> SIZE=%d" % len(MESSAGE),
        b"RCPT TO:<carol@example.org>",
        b"DATA",
    ]
    assert server.messages == [MESSAGE] * 3


@pytest.mark.parametrize("accept_empty_data", [False, True], ids=["data-refused", "data-accepted-anyway"])
def test_a_refused_recipient_in_a_group_is_permanent_and_the_message_stays_back(scripted, accept_empty_data):
    server = scripted(refuse={"bob@example.org": "550 5.1.1 no such user"}, accept_empty_data=accept_empty_data)

    first, refused, after = _send_each(server.url, ["alice@example.org", "bob@example.org", "carol@example.org"])

    assert first is None and after is None
    assert refused.recipient_refused and refused.permanent and refused.code == 550
    assert refused.reply == "5.1.1 no such user"
    # A server that answers DATA with 354 despite the refusal gets a lone dot (RFC 2920 3.1), not the message.
    assert server.messages == ([MESSAGE, b"", MESSAGE] if accept_empty_data else [MESSAGE, MESSAGE])


def test_a_refused_sender_in_a_group_is_about_the_sender(scripted):
    server = scripted(refuse={"MAIL": "553 5.7.1 sender not allowed"})

    outcomes = _send_each(server.url, ["alice@example.org", "bob@example.org"])

    assert all(isinstance(error, SenderRefused) and error.code == 553 for error in outcomes)
    assert [len(group) for group in server.groups] == [3, 3]
    assert server.messages == []


def test_a_server_that_stops_answering_mid_group_is_a_transient_failure(scripted):
    server = scripted()
    server._answer = lambda connection, lines, group: None  # reads the group, never replies

    started = time.monotonic()
    outcomes = _send_each(server.url, ["alice@example.org"])

    assert outcomes[0] is not None and not outcomes[0].permanent
    assert time.monotonic() - started < 10  # the URL's timeout of 3 s, not a hang


def test_without_pipelining_each_command_waits_for_its_reply():
    handler = RecordingHandler()
    handler.pipelining = False
    server = SmtpServer(handler).start()
    try:
        assert _send_each(server.url, ["alice@example.org", "bob@example.org"]) == [None, None]
    finally:
        server.stop()
    assert [envelope.content for envelope in handler.envelopes] == [MESSAGE, MESSAGE]


def test_a_real_postfix_refusing_a_recipient_in_a_group(smtp_server):
    """Postfix announces PIPELINING and answers DATA 554 when no recipient was accepted."""
    postfix = Postfix("mta.test", {"elsewhere.test": smtp_server.port}, refuse=("nobody@elsewhere.test",))
    try:
        outcomes = _send_each(postfix.url, ["alice@elsewhere.test", "nobody@elsewhere.test", "bob@elsewhere.test"])
        deadline = time.monotonic() + 30
        while len(smtp_server.handler.recipients()) < 2 and time.monotonic() < deadline:
            time.sleep(0.1)
    finally:
        log = postfix.stop()
    assert outcomes[0] is None and outcomes[2] is None, log[-2000:]
    assert outcomes[1].recipient_refused and outcomes[1].permanent and outcomes[1].code == 554
    assert sorted(smtp_server.handler.recipients()) == ["alice@elsewhere.test", "bob@elsewhere.test"]
    assert "improper command pipelining" not in log
