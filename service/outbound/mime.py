"""Digest messages assembled from pieces encoded once.

A multipart/alternative body (text first, then HTML), quoted-printable, is joined from pieces
that recur across messages (each encoded the first time it comes up); each message then gets its
own headers, so sending 10,000 different 100 KB digests does not run the email package or a
quoted-printable encoder over 10,000 whole messages.
"""

from __future__ import annotations

import binascii
import re
import uuid
from collections.abc import Collection, Iterable
from datetime import datetime
from email import policy
from email.utils import format_datetime
from pathlib import Path
from urllib.parse import quote

import dkim

from service.config import Config

LINE_LENGTH = 78  # RFC 5322's recommended limit for a header line
HEADER_POLICY = policy.SMTP.clone(max_line_length=LINE_LENGTH)


def fold_header(name: str, value: str) -> bytes:
    """`Name: value` with CRLF, folded at spaces to 78 characters a line, the first line never empty.

    The email package folds a value that fits on a line of its own right after "Subject:", which
    some clients show as an empty subject. Non-ASCII values keep its encoded words."""
    if not value.isascii():
        folded = str(HEADER_POLICY.fold(name, value))
        if folded.startswith(f"{name}:\r\n "):
            folded = f"{name}: " + folded[len(name) + 4 :]
        return folded.encode("ascii")
    lines = [f"{name}:"]
    for word in value.split():
        if len(lines[-1]) + 1 + len(word) > LINE_LENGTH and lines[-1] != f"{name}:":
            lines.append("")
        lines[-1] += " " + word
    return ("\r\n".join(lines) + "\r\n").encode("ascii")


def _qp(text: str) -> bytes:
    """Quoted-printable with LF line ends (CRLF is applied once the message is assembled)."""
    data = text.replace("\r\n", "\n").encode("utf-8")
    return binascii.b2a_qp(data, quotetabs=False, istext=True, header=False)


def _crlf(data: bytes) -> bytes:
    return data.replace(b"\n", b"\r\n")


class PieceEncoder:
    """Quoted-printable bodies made of pieces that recur across messages (a paper's block, a frame's
    text): each piece is encoded once and ends in a soft line break, so that encoded pieces join
    into valid quoted-printable and a 100 KB message costs a join instead of a 3 ms encoding.
    Pieces of a str subclass (per-subscriber links) are encoded every time and not kept."""

    def __init__(self) -> None:
        self.encoded: dict[str, bytes] = {}
        self.subjects: dict[str, bytes] = {}

    def encode(self, parts: Iterable[str], gaps: Collection[str] = ()) -> tuple[list[bytes], list[str]]:
        """The encoded parts joined into runs, cut at each part named in `gaps` (left out): n + 1
        runs around the n gaps found, in order."""
        if not gaps:
            return [self._joined(parts)], []
        runs: list[bytes] = []
        found: list[str] = []
        chunks: list[bytes] = []
        own: dict[str, bytes] = {}
        for part in parts:
            if part in gaps:
                runs.append(b"".join(chunks))
                found.append(str(part))
                chunks = []
            else:
                chunks.append(self._encoded(part, own))
        runs.append(b"".join(chunks))
        return runs, found

    def _joined(self, parts: Iterable[str]) -> bytes:
        """The parts encoded and joined: a dictionary lookup for each part seen before. A letter
        of its own has some 300 parts, so this loop is the encoder's whole cost."""
        kept = self.encoded
        # This message's own links, each encoded once: a reader's vote links repeat one link.
        own: dict[str, bytes] = {}
        return b"".join([kept.get(part) or own.get(part) or self._encoded(part, own) for part in parts])

    def _encoded(self, part: str, own: dict[str, bytes]) -> bytes:
        """A part's encoding, kept for the next message unless the part is a Link (a str subclass)."""
        encoded = self.encoded if type(part) is str else own
        chunk = encoded.get(part)
        if chunk is None:
            chunk = encoded[part] = encode_piece(part) if part else b""
        return chunk

    def body(
        self, subject: str, text_parts: Iterable[str], html_parts: Iterable[str], gaps: Collection[str] = ()
    ) -> EncodedBody:
        """A multipart/alternative body; parts named in `gaps` are left open for each message to fill."""
        header = self.subjects.get(subject)
        if header is None:
            header = self.subjects[subject] = fold_header("Subject", subject)
        return EncodedBody(header, self.encode(text_parts, gaps), self.encode(html_parts, gaps))


def encode_piece(text: str) -> bytes:
    """One piece as quoted-printable with CRLF line ends and a closing soft line break."""
    return _crlf(_qp(text)) + b"=\r\n"


class EncodedBody:
    """A multipart/alternative body, encoded already: runs of bytes around gaps named ("plain",
    slot) or ("html", slot) that each message fills with its own encoded links."""

    def __init__(self, subject_header: bytes, text: tuple[list[bytes], list[str]], html: tuple[list[bytes], list[str]]):
        self.subject_header = subject_header
        boundary = f"==paperboy-{uuid.uuid4().hex}"
        self.content_type = f'Content-Type: multipart/alternative; boundary="{boundary}"\r\n'.encode("ascii")
        self.runs: list[bytes] = []
        self.gaps: list[tuple[str, str]] = []
        run = [b"This is a multipart message in MIME format.\r\n"]
        for kind, (runs, gaps) in (("plain", text), ("html", html)):
            run.append(_part_header(boundary, kind))
            for chunk, gap in zip(runs, gaps, strict=False):
                self.runs.append(b"".join((*run, chunk)))
                self.gaps.append((kind, gap))
                run = []
            run.append(runs[-1])
        run.append(f"\r\n--{boundary}--\r\n".encode("ascii"))
        self.runs.append(b"".join(run))
        self.size = sum(map(len, self.runs))

    def chunks(self, fills: dict[tuple[str, str], bytes]) -> list[bytes]:
        """The body as chunks to join, each gap filled from `fills`."""
        chunks = [self.runs[0]]
        for gap, run in zip(self.gaps, self.runs[1:], strict=True):
            chunks += (fills[gap], run)
        return chunks


def _part_header(boundary: str, kind: str) -> bytes:
    return (
        f'\r\n--{boundary}\r\nContent-Type: text/{kind}; charset="utf-8"\r\n'
        "Content-Transfer-Encoding: quoted-printable\r\n\r\n"
    ).encode("ascii")


def _header(name: str, value: str) -> bytes:
    return str(HEADER_POLICY.fold(name, value)).encode("ascii")


URL_SAFE = re.compile(r"[A-Za-z0-9_.~-]*")
# A header value of one word that needs neither folding nor encoding (an address, a Message-ID).
PLAIN_WORD = re.compile(r"[!-~]+")


def _word_header(name: str, value: str) -> bytes:
    """`Name: value` as the email package writes it, without running it for the common case."""
    line = f"{name}: {value}\r\n"
    if len(line) <= LINE_LENGTH + 2 and PLAIN_WORD.fullmatch(value) and '"' not in value:
        return line.encode("ascii")
    return _header(name, value)


def message_id(config: Config, kind: str, *ids: int) -> str:
    """A Message-ID derived from the queue row a mail is sent for, e.g. <digest-3-1207@example.org>,
    so every attempt at one delivery carries the same id."""
    return f"<{kind}-{'-'.join(map(str, ids))}@{config.mail_from_domain}>"


class DigestHeaders:
    """The headers of digest messages: those every message of a run shares are encoded once, the
    addresses in them parsed once; each message adds its own To, Date, Message-ID and links."""

    def __init__(self, config: Config, signer: DkimSigner | None = None):
        self.domain = config.mail_from_domain
        self.mailto = f"mailto:{config.mail_from_address}"
        self.from_header = _header("From", config.mail_from)
        self.list_id = _header("List-Id", f"paperboy weekly digest <digest.{self.domain}>")
        self.signer = signer
        self.date: tuple[datetime | None, bytes] = (None, b"")

    def message_id(self, kind: str, *ids: int) -> str:
        """As message_id() makes it, with the domain parsed once."""
        return f"<{kind}-{'-'.join(map(str, ids))}@{self.domain}>"

    def message(
        self,
        body: EncodedBody,
        fills: dict[tuple[str, str], bytes],
        to: str,
        message_id: str,
        unsubscribe_url: str,
        now: datetime,
    ) -> bytes:
        """The complete message for one recipient, CRLF line ends, DKIM-signed when configured."""
        second = now.replace(microsecond=0)  # all the Date header shows
        if self.date[0] != second:
            self.date = (second, _header("Date", format_datetime(second)))
        token = unsubscribe_url.rsplit("/", 1)[-1]
        # A token is URL-safe already: only the space needs quoting, and quote() costs a lot more.
        subject = f"unsubscribe%20{token}" if URL_SAFE.fullmatch(token) else quote("unsubscribe " + token)
        mailto_unsubscribe = f"{self.mailto}?subject={subject}"
        message = b"".join(
            (
                self.from_header,
                _word_header("To", to),
                body.subject_header,
                self.date[1],
                _word_header("Message-ID", message_id),
                self.list_id,
                # URLs cannot be folded inside; the line may pass 78 characters, well within SMTP's 998.
                f"List-Unsubscribe: <{unsubscribe_url}>,\r\n <{mailto_unsubscribe}>\r\n".encode("ascii"),
                b"List-Unsubscribe-Post: List-Unsubscribe=One-Click\r\n",
                b"MIME-Version: 1.0\r\n",
                body.content_type,
                b"\r\n",
                *body.chunks(fills),
            )
        )
        if self.signer is not None:
            message = self.signer.sign(message)
        return message


SIGNED_HEADERS = (
    b"from",
    b"to",
    b"subject",
    b"date",
    b"message-id",
    b"list-id",
    b"list-unsubscribe",
    b"list-unsubscribe-post",
    b"mime-version",
    b"content-type",
)


class DkimSigner:
    """DKIM signatures (RSA-SHA256, relaxed/relaxed) with the key in PAPERBOY_DKIM_KEY_FILE."""

    def __init__(self, config: Config, selector: str, key_file: Path):
        self.selector = selector.encode("ascii")
        self.domain = (config.dkim_domain or config.mail_from_domain).encode("ascii")
        self.key = key_file.read_bytes()

    @classmethod
    def from_config(cls, config: Config) -> DkimSigner | None:
        if config.dkim_key_file and config.dkim_selector:
            return cls(config, config.dkim_selector, config.dkim_key_file)
        return None

    def sign(self, message: bytes) -> bytes:
        signature: bytes = dkim.sign(
            message,
            self.selector,
            self.domain,
            self.key,
            canonicalize=(b"relaxed", b"relaxed"),
            include_headers=list(SIGNED_HEADERS),
        )
        return signature.replace(b"\r\n", b"\n").replace(b"\n", b"\r\n") + message
