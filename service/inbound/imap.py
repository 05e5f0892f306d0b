"""PAPERBOY_INBOUND_IMAP_URL: a mailbox the scheduler polls for the mail `paperboy inbound` would get,
for operators whose bounces and complaints land in a hosted mailbox (imaps://user:password@host/INBOX).

Each message is handled like one received over SMTP and deleted from the mailbox only after the
inbound log holds it (a crash in between handles it again on the next poll). A message larger than
the SMTP server's limit is flagged (\\Flagged) and left for a person; flagged messages are skipped.
"""

from __future__ import annotations

import imaplib
import logging
import re
from dataclasses import dataclass
from datetime import datetime
from urllib.parse import unquote, urlsplit

from service.errors import PaperboyError
from service.inbound.acting import handle_message
from service.inbound.smtp import MAX_MESSAGE_BYTES
from service.runtime import Runtime

log = logging.getLogger("paperboy.inbound")

TIMEOUT = 30  # seconds for any one IMAP exchange
SIZE = re.compile(rb"RFC822\.SIZE (\d+)")


class MailboxError(PaperboyError):
    """The mailbox cannot be reached or read; the message says why in one line."""


@dataclass
class Polled:
    handled: int = 0
    skipped: int = 0  # too large: flagged and left in the mailbox


def _open(url: str) -> tuple[imaplib.IMAP4, str]:
    parts = urlsplit(url)
    secure = parts.scheme == "imaps"
    connect = imaplib.IMAP4_SSL if secure else imaplib.IMAP4
    mailbox = unquote(parts.path.lstrip("/")) or "INBOX"
    imap = connect(parts.hostname or "localhost", parts.port or (993 if secure else 143), timeout=TIMEOUT)
    try:
        imap.login(unquote(parts.username or ""), unquote(parts.password or ""))
        status, answer = imap.select(_quoted(mailbox))
        if status != "OK":
            raise MailboxError(f"cannot open mailbox {mailbox!r}: {(answer[0] or b'').decode(errors='replace')}")
    except BaseException:
        imap.shutdown()
        raise
    return imap, mailbox


def _quoted(name: str) -> str:
    return '"' + name.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _check(answer: tuple, what: str) -> list:
    status, data = answer
    if status != "OK":
        raise MailboxError(f"{what} failed: {(data[0] or b'').decode(errors='replace')}")
    return data


def poll_mailbox(runtime: Runtime, now: datetime | None = None) -> Polled:
    """Handle every unflagged message in the mailbox and delete each one handled."""
    url = runtime.config.inbound_imap_url
    if url is None:
        raise MailboxError("inbound: PAPERBOY_INBOUND_IMAP_URL is not set")
    host = urlsplit(url).hostname
    polled = Polled()
    try:
        imap, mailbox = _open(url)
    except (OSError, imaplib.IMAP4.error, MailboxError) as error:
        raise MailboxError(f"inbound: cannot read the IMAP mailbox at {host}: {error}") from None
    try:
        uids = _check(imap.uid("SEARCH", "UNDELETED", "UNFLAGGED"), "SEARCH")[0].split()
        for uid in uids:
            size_line = _check(imap.uid("FETCH", uid, "(RFC822.SIZE)"), "FETCH")[0] or b""
            size = SIZE.search(size_line if isinstance(size_line, bytes) else size_line[0])
            if size and int(size.group(1)) > MAX_MESSAGE_BYTES:
                log.warning(
                    "inbound: IMAP message %s in %s is %s bytes, over the limit of %d; flagged and left there",
                    uid.decode(),
                    mailbox,
                    size.group(1).decode(),
                    MAX_MESSAGE_BYTES,
                )
                _check(imap.uid("STORE", uid, "+FLAGS", "(\\Flagged)"), "STORE")
                polled.skipped += 1
                continue
            data = _check(imap.uid("FETCH", uid, "(BODY.PEEK[])"), "FETCH")
            raw = next((item[1] for item in data if isinstance(item, tuple)), None)
            if raw is None:
                continue  # deleted by another client meanwhile
            handle_message(runtime, raw, "imap", now=now)
            _check(imap.uid("STORE", uid, "+FLAGS", "(\\Deleted)"), "STORE")
            polled.handled += 1
        imap.expunge()
    except (TimeoutError, OSError, imaplib.IMAP4.error) as error:
        raise MailboxError(
            f"inbound: the IMAP mailbox at {host} failed after {polled.handled} messages: {error}"
        ) from None
    finally:
        try:
            imap.logout()
        except (OSError, imaplib.IMAP4.error):
            pass
    return polled
