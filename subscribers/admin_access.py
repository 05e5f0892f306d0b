"""Admins who join or forget their password: signed links that set a password, and the mails
that carry them. A link names the admin's password hash of the moment it was made, so it works
once: setting any password ends it."""

from __future__ import annotations

import hashlib
from datetime import datetime, timedelta
from email.message import EmailMessage
from email.utils import format_datetime

from itsdangerous import BadSignature, SignatureExpired, TimestampSigner, URLSafeTimedSerializer

from service.config import Config
from service.errors import PaperboyError

INVITE = "admin-invite"
RESET = "admin-reset"
MAX_AGE = {INVITE: timedelta(days=7), RESET: timedelta(hours=1)}
SALT = "paperboy.admins.password"
MIN_PASSWORD = 12


class AccessError(PaperboyError):
    """A password link that is forged, expired or used already; the message says which."""


def _serializer(config: Config, now: datetime) -> URLSafeTimedSerializer:
    # The signer's clock is the given time, so a link made at send time dates from its request.
    class Signer(TimestampSigner):
        def get_timestamp(self) -> int:
            return int(now.timestamp())

    return URLSafeTimedSerializer(config.secret_key, salt=SALT, signer=Signer)


def fingerprint(password_hash: str) -> str:
    return hashlib.sha256(password_hash.encode()).hexdigest()[:16]


def password_token(config: Config, kind: str, email: str, password_hash: str, issued: datetime) -> str:
    return _serializer(config, issued).dumps([kind, email, fingerprint(password_hash)])


def password_url(config: Config, kind: str, email: str, password_hash: str, issued: datetime) -> str:
    return f"{config.base_url}/admin/password/{password_token(config, kind, email, password_hash, issued)}"


def read_password_token(config: Config, token: str, now: datetime) -> tuple[str, str, str]:
    """(kind, email, fingerprint) of a link still in time; AccessError otherwise."""
    serializer = _serializer(config, now)
    try:
        kind, _, _ = serializer.loads(token)
        kind_, email, mark = serializer.loads(token, max_age=int(MAX_AGE.get(kind, MAX_AGE[RESET]).total_seconds()))
    except SignatureExpired:
        raise AccessError("This link has expired; ask for a new one.") from None
    except (BadSignature, ValueError, TypeError):
        raise AccessError("This link is not valid.") from None
    return kind_, email, mark


def check_password(password: str, again: str) -> str | None:
    """Why the chosen password cannot be used, or None."""
    if len(password) < MIN_PASSWORD:
        return f"Choose a password of at least {MIN_PASSWORD} characters."
    if len(password) > 1000:
        return "That password is too long."
    if password != again:
        return "The two passwords differ."
    return None


def admin_message(config: Config, kind: str, to: str, link: str, now: datetime, message_id: str) -> EmailMessage:
    """The plain-text mail with an invitation or a password reset link."""
    if kind == INVITE:
        subject = "You are invited to run paperboy"
        text = (
            f"You were invited to manage the subscriber lists of paperboy at {config.base_url}.\n\n"
            f"Choose your password here (the link works once, for {MAX_AGE[INVITE].days} days):\n{link}\n"
        )
    else:
        subject = "Reset your paperboy password"
        hours = int(MAX_AGE[RESET].total_seconds() // 3600)
        text = (
            "Somebody, probably you, asked to reset the password of this paperboy admin account.\n\n"
            f"Choose a new password here (the link works once, for {hours} hour):\n{link}\n\n"
            "If it was not you, ignore this mail: your password stays as it is.\n"
        )
    message = EmailMessage()
    message["Subject"] = subject
    message["From"] = config.mail_from
    message["To"] = to
    message["Date"] = format_datetime(now)
    message["Message-ID"] = message_id
    message["Auto-Submitted"] = "auto-generated"
    message.set_content(text)
    return message
