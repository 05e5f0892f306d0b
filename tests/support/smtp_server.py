"""A real SMTP server on loopback (aiosmtpd) that records what it accepts and can inject faults."""

from __future__ import annotations

import socket
import threading
from email import message_from_bytes, policy
from email.message import EmailMessage

from aiosmtpd.controller import Controller


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class RecordingHandler:
    """Accepts every message and keeps it. Subclasses override `fault` to refuse some.

    Like the MTAs paperboy sends through (Postfix, Exim, Sendmail), it announces PIPELINING
    (RFC 2920) unless `pipelining` is False; it reads a group of commands one line at a time."""

    pipelining = True

    def __init__(self):
        self.messages: list[EmailMessage] = []
        self.envelopes = []
        self.attempts = 0
        self.lock = threading.Lock()

    async def handle_EHLO(self, server, session, envelope, hostname, responses):
        session.host_name = hostname
        if self.pipelining:
            responses.insert(-1, "250-PIPELINING")
        return responses

    def fault(self, envelope, attempt: int) -> str | None:
        """An SMTP reply such as "421 try later" to refuse this message, or None to accept."""
        return None

    async def handle_DATA(self, server, session, envelope):
        with self.lock:
            self.attempts += 1
            attempt = self.attempts
        refusal = self.fault(envelope, attempt)
        if refusal is not None:
            return refusal
        message = message_from_bytes(envelope.content, policy=policy.default)
        with self.lock:
            self.envelopes.append(envelope)
            self.messages.append(message)
        return "250 Message accepted for delivery"

    def recipients(self) -> list[str]:
        with self.lock:
            return [rcpt for envelope in self.envelopes for rcpt in envelope.rcpt_tos]


class RefuseFirst(RecordingHandler):
    """Answers the first message with a temporary refusal, keeping what it was sent in `refused`."""

    def __init__(self):
        super().__init__()
        self.refused: list[bytes] = []

    def fault(self, envelope, attempt):
        if attempt == 1:
            self.refused.append(envelope.content)
            return "451 4.3.0 try again later"
        return None


class SmtpServer:
    def __init__(self, handler: RecordingHandler | None = None):
        self.handler = handler or RecordingHandler()
        self.port = free_port()
        self.controller = Controller(self.handler, hostname="127.0.0.1", port=self.port)

    @property
    def url(self) -> str:
        return f"smtp://127.0.0.1:{self.port}"

    @property
    def messages(self) -> list[EmailMessage]:
        return self.handler.messages

    def start(self) -> SmtpServer:
        self.controller.start()
        return self

    def stop(self) -> None:
        self.controller.stop()
