"""Digest messages encoded once and stamped per recipient.

A multipart/alternative body (text first, then HTML), quoted-printable, is encoded once per
rendered digest; each message only fills the per-subscriber slots and prepends its own headers,
so sending 10,000 copies of a 100 KB digest does not run the email package 10,000 times.
"""

from __future__ import annotations

import binascii
import uuid
from dataclasses import dataclass
from datetime import datetime
from email import policy
from email.utils import format_datetime

import dkim
from markupsafe import escape

from service.errors import PaperboyError
from service.config import Config

HEADER_POLICY = policy.SMTP.clone(max_line_length=78)


class MessageError(PaperboyError):
    """A digest cannot be encoded as a message; the message says why in one line."""


def _qp(text: str) -> bytes:
    """Quoted-printable with LF line ends (CRLF is applied once the message is assembled)."""
    data = text.replace("\r\n", "\n").encode("utf-8")
    return binascii.b2a_qp(data, quotetabs=False, istext=True, header=False)


def _crlf(data: bytes) -> bytes:
    return data.replace(b"\n", b"\r\n")


@dataclass(frozen=True)
class _Part:
    segments: tuple[bytes, ...]  # encoded text between the slots
    slots: tuple[str, ...]  # the slot that follows each segment but the last
    html: bool


def _encode_part(content: str, slots: tuple[str, ...], html: bool) -> _Part:
    encoded = _qp(content)
    expected = sum(content.count(slot) for slot in slots)
    segments, found, rest = [], [], encoded
    while True:
        positions = [(rest.find(slot.encode()), slot) for slot in slots if slot.encode() in rest]
        if not positions:
            segments.append(_crlf(rest))
            break
        position, slot = min(positions)
        segments.append(_crlf(rest[:position]))
        found.append(slot)
        rest = rest[position + len(slot):]
    if len(found) != expected:
        # A slot broken by a soft line break would go out unfilled: refuse rather than send it.
        raise MessageError("mail: a per-subscriber link was split by the encoder; keep links on short lines")
    return _Part(tuple(segments), tuple(found), html)


def _encode_value(value: str, html: bool) -> bytes:
    """A slot's value as quoted-printable, framed by soft line breaks so no line grows past 76."""
    text = str(escape(value)) if html else value
    return b"=\r\n" + _crlf(_qp(text)) + b"=\r\n"


class MessageTemplate:
    """One rendered digest as a MIME body with slots, stamped into a message per recipient."""

    def __init__(self, subject: str, text: str, html: str, slots: tuple[str, ...]):
        self.subject_header = HEADER_POLICY.fold("Subject", subject).encode("ascii")
        self.boundary = f"==paperboy-{uuid.uuid4().hex}"
        self.parts = (_encode_part(text, slots, html=False), _encode_part(html, slots, html=True))
        self.content_type = (
            f'Content-Type: multipart/alternative; boundary="{self.boundary}"\r\n'.encode("ascii")
        )
        self.size = sum(len(s) for part in self.parts for s in part.segments)

    def body(self, values: dict[str, str]) -> bytes:
        chunks = [b"This is a multipart message in MIME format.\r\n"]
        for part in self.parts:
            kind = "html" if part.html else "plain"
            chunks.append(
                f"\r\n--{self.boundary}\r\nContent-Type: text/{kind}; charset=\"utf-8\"\r\n"
                "Content-Transfer-Encoding: quoted-printable\r\n\r\n".encode("ascii")
            )
            encoded = {slot: _encode_value(values[slot], part.html) for slot in set(part.slots)}
            for segment, slot in zip(part.segments, part.slots):
                chunks.append(segment)
                chunks.append(encoded[slot])
            chunks.append(part.segments[-1])
        chunks.append(f"\r\n--{self.boundary}--\r\n".encode("ascii"))
        return b"".join(chunks)


@dataclass(frozen=True)
class Stamp:
    """What differs between two copies of a digest message."""

    to: str
    message_id: str
    unsubscribe_url: str
    mailto_unsubscribe: str
    values: dict[str, str]


def _header(name: str, value: str) -> bytes:
    return HEADER_POLICY.fold(name, value).encode("ascii")


def message_id(config: Config, kind: str, *ids: int) -> str:
    """A Message-ID derived from the queue row a mail is sent for, e.g. <digest-3-1207@example.org>,
    so every attempt at one delivery carries the same id."""
    return f"<{kind}-{'-'.join(map(str, ids))}@{config.mail_from_domain}>"


def assemble(config: Config, template: MessageTemplate, stamp: Stamp, now: datetime,
             signer: "DkimSigner | None" = None) -> bytes:
    """The complete message for one recipient, CRLF line ends, DKIM-signed when configured."""
    domain = config.mail_from_domain
    headers = b"".join((
        _header("From", config.mail_from),
        _header("To", stamp.to),
        template.subject_header,
        _header("Date", format_datetime(now)),
        _header("Message-ID", stamp.message_id),
        _header("List-Id", f"paperboy weekly digest <digest.{domain}>"),
        # URLs cannot be folded inside; the line may pass 78 characters, well within SMTP's 998.
        f"List-Unsubscribe: <{stamp.unsubscribe_url}>,\r\n <{stamp.mailto_unsubscribe}>\r\n".encode("ascii"),
        b"List-Unsubscribe-Post: List-Unsubscribe=One-Click\r\n",
        b"MIME-Version: 1.0\r\n",
        template.content_type,
    ))
    message = headers + b"\r\n" + template.body(stamp.values)
    if signer is not None:
        message = signer.sign(message)
    return message


SIGNED_HEADERS = (b"from", b"to", b"subject", b"date", b"message-id", b"list-id", b"list-unsubscribe",
                  b"list-unsubscribe-post", b"mime-version", b"content-type")


class DkimSigner:
    """DKIM signatures (RSA-SHA256, relaxed/relaxed) with the key in PAPERBOY_DKIM_KEY_FILE."""

    def __init__(self, config: Config):
        self.selector = config.dkim_selector.encode("ascii")
        self.domain = (config.dkim_domain or config.mail_from_domain).encode("ascii")
        self.key = config.dkim_key_file.read_bytes()

    @classmethod
    def from_config(cls, config: Config) -> "DkimSigner | None":
        if config.dkim_key_file and config.dkim_selector:
            return cls(config)
        return None

    def sign(self, message: bytes) -> bytes:
        signature = dkim.sign(message, self.selector, self.domain, self.key,
                              canonicalize=(b"relaxed", b"relaxed"), include_headers=list(SIGNED_HEADERS))
        return signature.replace(b"\r\n", b"\n").replace(b"\n", b"\r\n") + message
