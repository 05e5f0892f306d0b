"""`paperboy inbound`: an SMTP server (aiosmtpd) for the mail that comes back to paperboy.

It accepts mail only for the bounce address (and its VERP forms) and the From address (where the
List-Unsubscribe mailto points); anything else is refused at RCPT TO with 550. A message larger
than MAX_MESSAGE_BYTES is refused with 552, at MAIL FROM when the client announces its SIZE, else
after its data. A message that cannot be recorded because the database is busy or down gets 451,
so the sending server keeps it and tries again later; nothing that reached the handler is lost.
One that fails for any other reason would fail again on every try: it gets 550 and a log line.
"""

from __future__ import annotations

import asyncio
import logging
import signal
from email.utils import parseaddr
from typing import AnyStr

from aiosmtpd.smtp import SMTP

from service import store
from service.errors import first_line
from service.inbound.acting import handle_message
from service.outbound.verp import bounce_address, is_bounce_address
from service.runtime import Runtime

log = logging.getLogger("paperboy.inbound")

MAX_MESSAGE_BYTES = 10 * 1024 * 1024


class InboundHandler:
    """aiosmtpd hooks: check recipients, then hand each message to service.inbound."""

    def __init__(self, runtime: Runtime):
        self.runtime = runtime
        self.from_address = parseaddr(runtime.config.mail_from)[1].lower()

    def accepts(self, address: str) -> bool:
        return address.lower() == self.from_address or is_bounce_address(self.runtime.config, address)

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        if not self.accepts(address):
            log.warning("inbound: refused mail from %s for %r: not a paperboy address", session.peer[0], address)
            return "550 5.1.1 No such mailbox here"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):
        raw = envelope.original_content or b""
        sender = (envelope.mail_from or "").strip("<>")  # the null sender of bounces is "<>"
        try:
            handled = await asyncio.to_thread(
                handle_message, self.runtime, raw, "smtp", list(envelope.rcpt_tos), sender
            )
        except Exception as error:
            if not isinstance(error, (store.StoreError, store.OperationalError)):
                # Trying again would fail the same way for days: refuse it for good, and say why.
                log.exception("inbound: cannot read a %d-byte message from <%r>; answered 550", len(raw), sender)
                return "550 5.6.0 This message cannot be processed"
            log.error(
                "inbound: cannot record a %d-byte message from <%r> (%s: %s); answered 451 so the sender retries",
                len(raw),
                sender,
                type(error).__name__,
                first_line(error, type(error).__name__),
            )
            return "451 4.3.0 Cannot record the message now; try again later"
        return f"250 OK: {handled.kind} #{handled.id}"


class InboundSMTP(SMTP):
    """aiosmtpd's server, with a log line for each message refused for its size."""

    async def push(self, status: AnyStr) -> None:
        code = status[:3] if isinstance(status, str) else status[:3].decode("ascii", "replace")
        if code == "552":
            peer = self.session.peer if self.session else None
            log.warning(
                "inbound: refused a message from %s larger than %d bytes (552)",
                peer[0] if peer else "?",
                self.data_size_limit,
            )
        await super().push(status)


async def serve(runtime: Runtime, host: str, port: int, max_bytes: int = MAX_MESSAGE_BYTES) -> None:
    """Accept inbound mail on host:port until SIGINT or SIGTERM."""
    handler = InboundHandler(runtime)
    loop = asyncio.get_running_loop()
    server = await loop.create_server(
        lambda: InboundSMTP(handler, data_size_limit=max_bytes, enable_SMTPUTF8=True, hostname="paperboy-inbound"),
        host=host,
        port=port,
    )
    stopped = asyncio.Event()
    for name in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(name, stopped.set)
    log.info(
        "inbound: listening on %s:%d for <%s> (and its +tag forms) and <%s>; messages up to %d bytes",
        host,
        port,
        bounce_address(runtime.config),
        handler.from_address,
        max_bytes,
    )
    async with server:
        await stopped.wait()
    log.info("inbound: stopped")
