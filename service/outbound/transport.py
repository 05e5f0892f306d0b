"""Mail transport: SMTP through aiosmtplib, or .eml files in the outbox folder when no SMTP URL is set.

Both raise SendError, which says whether retrying could help (4xx, dropped connections) or
not (5xx), so callers can keep a ledger of what was delivered.
"""

from __future__ import annotations

import asyncio
import os
import re
import uuid
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Protocol

import aiosmtplib
from aiosmtplib import SMTPStatus
from aiosmtplib.protocol import SMTPProtocol

from service.config import Config
from service.errors import PaperboyError
from service.smtp_url import SmtpSettings


class SendError(PaperboyError):
    """A message was not accepted. `permanent` is True for a 5xx answer; `recipient_refused`
    when the server refused the recipient at RCPT TO; `reply` is the server's text after the code."""

    def __init__(
        self, message: str, permanent: bool, code: int | None = None, recipient_refused: bool = False, reply: str = ""
    ):
        super().__init__(message)
        self.permanent = permanent
        self.code = code
        self.recipient_refused = recipient_refused
        self.reply = reply


class ConnectError(SendError):
    """No connection to the SMTP server could be opened: nothing was sent."""

    def __init__(self, message: str):
        super().__init__(message, permanent=False)


class SenderRefused(SendError):
    """The server refused our envelope sender at MAIL FROM: about us, not about the recipient."""


class Transport(Protocol):
    """Where the senders hand messages: SmtpConnection or OutboxConnection. Each raises SendError."""

    async def send_raw(self, sender: str, recipients: list[str], data: bytes, crlf: bool = False) -> None: ...

    async def close(self) -> None: ...


class SmtpConnection:
    """One SMTP connection, reused for many messages; reconnects after a drop."""

    def __init__(self, settings: SmtpSettings):
        self.settings = settings
        self.client: aiosmtplib.SMTP | None = None

    async def send_raw(self, sender: str, recipients: list[str], data: bytes, crlf: bool = False) -> None:
        """Send an already encoded message to `recipients`; `crlf=True` promises that every line
        of `data` already ends in CRLF, which saves scanning it.

        MAIL, RCPT and DATA are issued directly: sendmail() would scan the whole message once
        more just to announce its SIZE, which we know already."""
        await self._deliver(lambda client: _transaction(client, sender, recipients, data, crlf))

    async def _deliver(
        self, transaction: Callable[[aiosmtplib.SMTP], Awaitable[tuple[dict[str, tuple[int, str]], str]]]
    ) -> None:
        if self.client is None or not self.client.is_connected:
            try:
                await self._connect()
            except (TimeoutError, aiosmtplib.SMTPException, OSError) as error:
                self.client = None
                s = self.settings
                raise ConnectError(f"smtp: cannot connect to {s.hostname}:{s.port}: {error}") from None
        assert self.client is not None  # _connect() made it
        try:
            errors, _ = await transaction(self.client)
        except aiosmtplib.SMTPRecipientsRefused as error:
            refusal = error.recipients[0] if error.recipients else None
            code = refusal.code if refusal else None
            raise SendError(
                f"smtp: recipient refused: {error}",
                permanent=_permanent(code),
                code=code,
                recipient_refused=True,
                reply=refusal.message if refusal else "",
            ) from None
        except aiosmtplib.SMTPSenderRefused as error:
            if error.code == 421:
                await self.close()
            raise SenderRefused(
                f"smtp: sender <{error.sender}> refused: {error.code} {error.message}",
                _permanent(error.code),
                error.code,
            ) from None
        except aiosmtplib.SMTPResponseException as error:
            if error.code in (421,) or error.code < 400:
                await self.close()
            raise SendError(
                f"smtp: {error.code} {error.message}", _permanent(error.code), error.code, reply=error.message
            ) from None
        except (TimeoutError, aiosmtplib.SMTPException, OSError) as error:
            await self.close()
            raise SendError(f"smtp: {type(error).__name__}: {error}", permanent=False) from None
        if errors:
            code, text = next(iter(errors.values()))
            raise SendError(
                f"smtp: recipient refused: {code} {text}", _permanent(code), code, recipient_refused=True, reply=text
            )

    async def _connect(self) -> None:
        s = self.settings
        self.client = aiosmtplib.SMTP(
            hostname=s.hostname,
            port=s.port,
            use_tls=s.use_tls,
            start_tls=s.start_tls,
            username=s.username,
            password=s.password,
            timeout=s.timeout,
        )
        await self.client.connect()
        # Greeted before the first message, so that it too knows SIZE and PIPELINING.
        if self.client.is_ehlo_or_helo_needed:
            try:
                await self.client.ehlo()
            except aiosmtplib.SMTPHeloError:
                await self.client.helo()

    async def close(self) -> None:
        client, self.client = self.client, None
        if client is not None and client.is_connected:
            try:
                await client.quit()
            except (TimeoutError, aiosmtplib.SMTPException, OSError):
                client.close()


class OutboxConnection:
    """Writes each message to <outbox>/<timestamp>-<id>.eml instead of sending it."""

    def __init__(self, outbox: Path):
        self.outbox = outbox

    async def send_raw(self, sender: str, recipients: list[str], data: bytes, crlf: bool = False) -> None:
        self._write(data)

    def _write(self, data: bytes) -> None:
        self.outbox.mkdir(parents=True, exist_ok=True)
        name = f"{uuid.uuid1().hex}.eml"
        temporary = self.outbox / f".{name}.tmp"
        # Write then rename, so a reader of the outbox never sees half a message.
        temporary.write_bytes(data)
        os.replace(temporary, self.outbox / name)

    async def close(self) -> None:
        return None


def open_connection(config: Config) -> Transport:
    """A connection to the configured SMTP server, or to the outbox folder."""
    if config.smtp_url:
        return SmtpConnection(SmtpSettings.from_url(config.smtp_url))
    return OutboxConnection(config.outbox_dir)


async def _transaction(
    client: aiosmtplib.SMTP, sender: str, recipients: list[str], data: bytes, crlf: bool
) -> tuple[dict[str, tuple[int, str]], str]:
    """One mail transaction, returning sendmail()'s (refused recipients, message)."""
    size = [f"SIZE={len(data)}"] if client.supports_extension("size") else []
    crlf = crlf or _all_crlf(data)
    try:
        if crlf and _can_pipeline(client, sender, recipients):
            return await _pipelined(client, sender, recipients, data, size)
        await _mail(client, sender, size)
        refused: dict[str, tuple[int, str]] = {}
        for recipient in recipients:
            try:
                await _rcpt(client, recipient)
            except aiosmtplib.SMTPRecipientRefused as error:
                refused[recipient] = (error.code, error.message)
        if len(refused) == len(recipients):
            raise _all_refused(refused)
        response = await _data(client, data, crlf)
    except (aiosmtplib.SMTPResponseException, aiosmtplib.SMTPRecipientsRefused):
        # Like sendmail(): reset the envelope so the connection can carry the next message.
        try:
            await client.rset()
        except (TimeoutError, aiosmtplib.SMTPException, OSError):
            pass
        raise
    return refused, response.message


def _all_refused(refused: dict[str, tuple[int, str]]) -> aiosmtplib.SMTPRecipientsRefused:
    return aiosmtplib.SMTPRecipientsRefused(
        [aiosmtplib.SMTPRecipientRefused(code, text, rcpt) for rcpt, (code, text) in refused.items()]
    )


def _all_crlf(data: bytes) -> bool:
    line_ends = data.count(b"\r\n")
    return data.endswith(b"\r\n") and data.count(b"\n") == line_ends == data.count(b"\r")


# An address that needs no quoting (a dot-atom local part, a plain domain): the MAIL and RCPT
# commands carry it as it is. aiosmtplib's mail() and rcpt() run email.utils.parseaddr over every
# address of every message, a sixth of a send's CPU; the addresses paperboy sends from and to
# are plain already (its VERP sender, ascii_address()), and any other goes through them.
PLAIN_ADDRESS = re.compile(r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+(\.[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+)*@[A-Za-z0-9.-]+")


async def _mail(client: aiosmtplib.SMTP, sender: str, options: list[str]) -> None:
    if client.is_ehlo_or_helo_needed or not PLAIN_ADDRESS.fullmatch(sender):
        await client.mail(sender, options=options)
        return
    command = [b"FROM:<" + sender.encode("ascii") + b">", *(option.encode("ascii") for option in options)]
    response = await client.execute_command(b"MAIL", *command, timeout=client.timeout)
    if response.code != SMTPStatus.completed:
        raise aiosmtplib.SMTPSenderRefused(response.code, response.message, sender)


async def _rcpt(client: aiosmtplib.SMTP, recipient: str) -> None:
    if client.is_ehlo_or_helo_needed or not PLAIN_ADDRESS.fullmatch(recipient):
        await client.rcpt(recipient)
        return
    response = await client.execute_command(b"RCPT", b"TO:<" + recipient.encode("ascii") + b">", timeout=client.timeout)
    if response.code not in (SMTPStatus.completed, SMTPStatus.will_forward):
        raise aiosmtplib.SMTPRecipientRefused(response.code, response.message, recipient)


async def _data(client: aiosmtplib.SMTP, data: bytes, crlf: bool) -> aiosmtplib.SMTPResponse:
    """DATA for a message already in CRLF form.

    aiosmtplib's data() runs two regular expressions over the whole message (line endings, then
    dot-stuffing): about 1 ms for a 100 KB digest, more than the rest of a send. A message whose
    line ends are all CRLF needs only the dot-stuffing, which a regular expression does in
    microseconds. The DATA exchange below mirrors aiosmtplib 5.1's SMTPProtocol.execute_data_command;
    any other message, or a protocol object without those parts, goes through data() as usual."""
    protocol = client.protocol
    if not crlf or not _has_parts(protocol):
        return await client.data(data)
    assert protocol is not None and protocol._command_lock is not None  # _has_parts() checked
    try:
        async with protocol._command_lock:
            protocol._response_pending = True
            protocol.write(b"DATA\r\n")
            start = await protocol.read_response(timeout=client.timeout)
            if start.code != 354:
                raise aiosmtplib.SMTPDataError(start.code, start.message)
            protocol._response_pending = True
            protocol.write(_stuffed(data) + b".\r\n")
            response = await protocol.read_response(timeout=client.timeout)
            if response.code != 250:
                raise aiosmtplib.SMTPDataError(response.code, response.message)
    except (aiosmtplib.SMTPServerDisconnected, aiosmtplib.SMTPTimeoutError):
        client.close()
        raise
    return response


def _can_pipeline(client: aiosmtplib.SMTP, sender: str, recipients: list[str]) -> bool:
    return (
        not client.is_ehlo_or_helo_needed
        and client.supports_extension("pipelining")
        and _has_parts(client.protocol)
        and all(PLAIN_ADDRESS.fullmatch(address) for address in (sender, *recipients))
    )


async def _pipelined(
    client: aiosmtplib.SMTP, sender: str, recipients: list[str], data: bytes, options: list[str]
) -> tuple[dict[str, tuple[int, str]], str]:
    """MAIL, each RCPT and DATA written as one group, their replies read after (RFC 2920), then
    the message: two round trips a message instead of three plus one per recipient.

    As the RFC asks, every reply of the group is checked: the server may accept DATA although it
    refused the sender or every recipient, and then a lone dot ends the transaction, so that the
    message never reaches a server that has nowhere to deliver it."""
    protocol = client.protocol
    assert protocol is not None and protocol._command_lock is not None  # _can_pipeline() checked
    group = [b" ".join((b"MAIL FROM:<" + sender.encode("ascii") + b">", *(o.encode("ascii") for o in options)))]
    group += [b"RCPT TO:<" + recipient.encode("ascii") + b">" for recipient in recipients]
    group.append(b"DATA")
    try:
        async with protocol._command_lock:
            protocol._response_pending = True
            protocol.write(b"\r\n".join(group) + b"\r\n")
            async with asyncio.timeout(client.timeout):
                replies = [await _reply(protocol) for _ in group]
            mail, started = replies[0], replies[-1]
            refused = {
                recipient: (reply.code, reply.message)
                for recipient, reply in zip(recipients, replies[1:-1], strict=True)
                if reply.code not in (SMTPStatus.completed, SMTPStatus.will_forward)
            }
            deliverable = mail.code == SMTPStatus.completed and len(refused) < len(recipients)
            if started.code == SMTPStatus.start_input:
                protocol._response_pending = True
                protocol.write(_stuffed(data) + b".\r\n" if deliverable else b".\r\n")
                async with asyncio.timeout(client.timeout):
                    ended = await _reply(protocol)
    except BaseException:
        # Whatever interrupts a group leaves replies unread: the connection cannot carry another message.
        client.close()
        raise
    if mail.code != SMTPStatus.completed:
        raise aiosmtplib.SMTPSenderRefused(mail.code, mail.message, sender)
    if not deliverable:
        raise _all_refused(refused)
    if started.code != SMTPStatus.start_input:
        raise aiosmtplib.SMTPDataError(started.code, started.message)
    if ended.code != SMTPStatus.completed:
        raise aiosmtplib.SMTPDataError(ended.code, ended.message)
    return refused, ended.message


async def _reply(protocol: SMTPProtocol) -> aiosmtplib.SMTPResponse:
    """The next reply of a pipelined group.

    aiosmtplib's protocol hands one reply to a waiting read and keeps the rest of what arrived
    in its buffer; what arrives while a parsed reply waits to be picked up, it drops. Reading
    without its timeout (asyncio.timeout bounds the group instead) awaits the reply directly, so
    the reading task resumes in the event loop's next round, before the socket is read again."""
    reply = protocol._read_response_from_buffer()
    if reply is None:
        protocol._response_pending = True
        reply = await protocol.read_response(timeout=None)
    return reply


def _has_parts(protocol: SMTPProtocol | None) -> bool:
    return protocol is not None and all(hasattr(protocol, name) for name in PROTOCOL_PARTS)


def _stuffed(data: bytes) -> bytes:
    """`data` with every line that starts with a dot given a second one, as DATA requires."""
    payload = DOT_LINE.sub(b"\r\n..", data)
    return b"." + payload if payload.startswith(b".") else payload


# The parts of aiosmtplib 5.1's SMTPProtocol that _data() and _pipelined() use.
PROTOCOL_PARTS = ("_command_lock", "_response_pending", "write", "read_response", "_read_response_from_buffer")
# A line starting with a dot, which DATA doubles; re.sub finds them three times faster than bytes.replace.
DOT_LINE = re.compile(rb"\r\n\.")


def _permanent(code: int | None) -> bool:
    return code is not None and 500 <= code < 600
