"""What a received message is: a bounce (RFC 3464 DSN or a non-standard one, read by flufl.bounce),
a spam complaint (ARF, RFC 5965), a mailto unsubscribe, an auto-reply (RFC 3834), or unrecognised;
and which deliveries, subscribers and addresses it names. Reading changes nothing.

A message is checked in that order: reports first (a DSN is itself marked Auto-Submitted), then
auto-replies (so that no automatic message ever unsubscribes anyone), then the unsubscribe token.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass, field
from email import message_from_bytes, message_from_string
from email.header import decode_header, make_header
from email.iterators import typed_subpart_iterator
from email.message import Message
from email.utils import getaddresses

from flufl.bounce import all_failures

from service.config import Config
from service.model.states import InboundKind
from service.outbound.verp import delivery_of
from subscribers.tokens import TokenError, read_unsubscribe_token

log = logging.getLogger("paperboy.inbound")

# Headers of a received message (or of the message it returns) that can carry our VERP address.
ADDRESS_HEADERS = ("Delivered-To", "X-Original-To", "Envelope-To", "To", "Return-Path")
UNSUBSCRIBE_LINK = re.compile(r"/unsubscribe/([A-Za-z0-9_.\-]+)")
AUTO_REPLY_SUBJECT = re.compile(
    r"^\s*(auto(matic)?[ -]?(reply|response)|auto:|out of (the )?office|vacation)", re.IGNORECASE
)


@dataclass
class Reading:
    kind: InboundKind
    sender: str | None = None
    subject: str | None = None
    permanent: list[str] = field(default_factory=list)  # addresses that failed for good
    temporary: list[str] = field(default_factory=list)  # addresses that failed for now
    delivery_ids: list[int] = field(default_factory=list)  # deliveries named by a signed VERP address
    subscriber_ids: list[int] = field(default_factory=list)  # named by a signed unsubscribe token
    addresses: list[str] = field(default_factory=list)  # the recipient a complaint names
    detail: str = ""  # what the report says, or why the message was not understood


def _text(value) -> str | None:
    """A header as text, whatever its encoding; None when absent."""
    if value is None:
        return None
    try:
        return str(make_header(decode_header(str(value))))[:998]
    except (LookupError, UnicodeError, ValueError, TypeError):
        # An unknown or broken charset: keep what can be read rather than fail the message.
        return str(value).encode("ascii", "replace").decode()[:998]


def _returned_headers(msg: Message) -> Message | None:
    """The headers of the message a report returns (message/rfc822 or text/rfc822-headers part)."""
    for part in msg.walk():
        kind = part.get_content_type()
        if kind == "message/rfc822" and part.is_multipart():
            returned = part.get_payload(0)
            return returned if isinstance(returned, Message) else None
        if kind == "text/rfc822-headers":
            payload = part.get_payload(decode=True)
            text = payload.decode("utf-8", "replace") if isinstance(payload, bytes) else ""
            return message_from_string(text)
    return None


def _verp_deliveries(config: Config, msg: Message, returned: Message | None, rcpts: list[str]) -> list[int]:
    candidates = list(rcpts)
    for headers in (msg, returned):
        if headers is not None:
            for name in ADDRESS_HEADERS:
                candidates += [address for _, address in getaddresses([str(v) for v in headers.get_all(name, [])])]
    found = []
    for address in candidates:
        delivery_id = delivery_of(config, address)
        if delivery_id is not None and delivery_id not in found:
            found.append(delivery_id)
    return found


def _token_subscribers(config: Config, words: list[str]) -> list[int]:
    found = []
    for word in words:
        try:
            subscriber_id = read_unsubscribe_token(config, word.strip("<>[]()\"'.,;"))
        except TokenError:
            continue
        if subscriber_id not in found:
            found.append(subscriber_id)
    return found


def _is_auto_reply(msg: Message, subject: str | None) -> bool:
    auto = (msg.get("Auto-Submitted") or "no").strip().lower()
    precedence = (msg.get("Precedence") or "").strip().lower()
    return (
        not auto.startswith("no")
        or precedence == "auto_reply"
        or any(msg.get(name) for name in ("X-Autoreply", "X-Autorespond", "X-Autoresponder"))
        or bool(subject and AUTO_REPLY_SUBJECT.match(subject))
    )


def _dsn_detail(msg: Message) -> str:
    """Status and diagnostic of each recipient in a DSN, for the history."""
    notes = []
    for part in typed_subpart_iterator(msg, "message", "delivery-status"):
        if not part.is_multipart():
            continue
        for block in part.get_payload():
            if not isinstance(block, Message):
                continue
            status, diagnostic = block.get("Status"), block.get("Diagnostic-Code")
            if status or diagnostic:
                notes.append(" ".join(str(v).strip() for v in (status, diagnostic) if v))
    return "; ".join(notes)[:500]


def _complaint(config: Config, reading: Reading, msg: Message, returned: Message | None) -> Reading:
    reading.kind = InboundKind.COMPLAINT
    report = next(typed_subpart_iterator(msg, "message", "feedback-report"), None)
    payload = report.get_payload(0) if report is not None and report.is_multipart() else None
    fields = payload if isinstance(payload, Message) else Message()
    reading.detail = f"feedback type {_text(fields.get('Feedback-Type')) or 'not given'}"
    named = [str(v) for v in fields.get_all("Original-Rcpt-To", [])]
    if returned is not None:
        named += [str(v) for v in returned.get_all("To", [])]
        links = " ".join(str(v) for v in returned.get_all("List-Unsubscribe", []))
        reading.subscriber_ids = _token_subscribers(config, UNSUBSCRIBE_LINK.findall(links))
    reading.addresses = [address for _, address in getaddresses(named) if "@" in address]
    return reading


def read_message(config: Config, raw: bytes, rcpts: list[str] | None = None) -> Reading:
    """Classify one received message; never raises (what cannot be read is `unrecognised`)."""
    try:
        msg = message_from_bytes(raw)
        subject = _text(msg.get("Subject"))
        reading = Reading(InboundKind.UNRECOGNISED, sender=_text(msg.get("From")), subject=subject)
        returned = _returned_headers(msg)
        reading.delivery_ids = _verp_deliveries(config, msg, returned, list(rcpts or []))
    except Exception as error:  # the email package is lenient; this is a last resort
        log.warning("inbound: cannot parse a %d-byte message: %s: %s", len(raw), type(error).__name__, error)
        return Reading(InboundKind.UNRECOGNISED, detail=f"cannot be parsed: {type(error).__name__}: {error}"[:500])
    if (
        msg.get_content_type() == "multipart/report"
        and str(msg.get_param("report-type", "")).lower() == "feedback-report"
    ):
        return _complaint(config, reading, msg, returned)
    try:
        temporary, permanent = all_failures(msg)
    except Exception as error:  # a detector tripped over broken MIME or an unknown charset
        log.warning(
            "inbound: the bounce detectors cannot read message %r: %s: %s", subject, type(error).__name__, error
        )
        temporary, permanent = frozenset(), frozenset()
        reading.detail = f"bounce detectors failed: {type(error).__name__}: {error}"[:500]
    if permanent or temporary:
        reading.kind = InboundKind.BOUNCE if permanent else InboundKind.SOFT_BOUNCE
        reading.permanent = sorted(a.decode("ascii", "replace") for a in permanent)
        reading.temporary = sorted(a.decode("ascii", "replace") for a in temporary)
        reading.detail = _dsn_detail(msg)
        return reading
    if _is_auto_reply(msg, subject):
        reading.kind = InboundKind.AUTO_REPLY
        return reading
    words = (subject or "").split()
    reading.subscriber_ids = _token_subscribers(config, words)
    if reading.subscriber_ids or (words and words[0].lower() == "unsubscribe"):
        reading.kind = InboundKind.UNSUBSCRIBE
        if not reading.subscriber_ids:
            reading.detail = "the subject carries no valid unsubscribe token"
    elif not reading.detail and msg.defects:
        reading.detail = "malformed: " + ", ".join(type(d).__name__ for d in msg.defects)[:400]
    return reading
