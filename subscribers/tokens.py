"""Signed tokens in mail links, salted per purpose so one kind can never stand in for another.

Confirmation tokens carry the topics asked for and expire after CONFIRM_MAX_AGE; unsubscribe and
preferences tokens do not expire (an old digest's footer must still work).
"""

from __future__ import annotations

import hmac
from datetime import datetime, timedelta
from typing import Any

from itsdangerous import (
    BadSignature,
    SignatureExpired,
    Signer,
    TimestampSigner,
    URLSafeSerializer,
    URLSafeTimedSerializer,
)
from itsdangerous.encoding import base64_encode

from service.config import Config
from service.errors import PaperboyError
from service.store.schema import MAX_ID

CONFIRM_MAX_AGE = timedelta(days=7)
CONFIRM_SALT = "paperboy.subscribers.confirm"
UNSUBSCRIBE_SALT = "paperboy.subscribers.unsubscribe"
PREFERENCES_SALT = "paperboy.subscribers.preferences"


class TokenError(PaperboyError):
    """A token is tampered with, of the wrong kind, or expired; the message says which for the reader."""


def _timed(config: Config, now: datetime) -> URLSafeTimedSerializer:
    # itsdangerous reads the wall clock; a signer pinned to `now` keeps expiry testable.
    class PinnedClock(TimestampSigner):
        def get_timestamp(self) -> int:
            return int(now.timestamp())

    return URLSafeTimedSerializer(config.secret_key, salt=CONFIRM_SALT, signer=PinnedClock)


def confirm_token(config: Config, subscriber_id: int, topics: list[str], now: datetime) -> str:
    """A token for the confirmation link, issued at `now`."""
    return _timed(config, now).dumps({"s": subscriber_id, "t": sorted(topics)})


def read_confirm_token(config: Config, token: str, now: datetime) -> tuple[int, list[str]]:
    """The subscriber id and topics in a confirmation token; TokenError if bad or older than 7 days."""
    subscriber_id, topics, _ = read_confirm_request(config, token, now)
    return subscriber_id, topics


def read_confirm_request(config: Config, token: str, now: datetime) -> tuple[int, list[str], datetime]:
    """Like read_confirm_token, plus when the token was issued (so a link older than a change can be refused)."""
    try:
        data, issued = _timed(config, now).loads(
            token, max_age=int(CONFIRM_MAX_AGE.total_seconds()), return_timestamp=True
        )
    except SignatureExpired:
        raise TokenError("This confirmation link has expired. Please subscribe again to get a new one.") from None
    except BadSignature:
        raise TokenError("This confirmation link is not valid. Please copy the whole link from the mail.") from None
    if not (isinstance(data, dict) and _is_id(data.get("s")) and isinstance(data.get("t"), list)):
        raise TokenError("This confirmation link is not valid. Please copy the whole link from the mail.")
    return data["s"], [str(topic) for topic in data["t"]], issued


def _is_id(value: object) -> bool:
    """Whether a token's value can be a row's id (a signed token from elsewhere could hold any number)."""
    return isinstance(value, int) and not isinstance(value, bool) and 1 <= value <= MAX_ID


def _plain(config: Config, salt: str) -> URLSafeSerializer:
    return URLSafeSerializer(config.secret_key, salt=salt)


def unsubscribe_token(config: Config, subscriber_id: int) -> str:
    return _plain(config, UNSUBSCRIBE_SALT).dumps(subscriber_id)


def preferences_token(config: Config, subscriber_id: int) -> str:
    return _plain(config, PREFERENCES_SALT).dumps(subscriber_id)


def _read_plain(config: Config, salt: str, token: str) -> int:
    try:
        data = _plain(config, salt).loads(token)
    except BadSignature:
        data = None
    if not _is_id(data):
        raise TokenError("This link is not valid. Please use the link from your most recent mail.")
    return data


def read_unsubscribe_token(config: Config, token: str) -> int:
    return _read_plain(config, UNSUBSCRIBE_SALT, token)


def read_preferences_token(config: Config, token: str) -> int:
    return _read_plain(config, PREFERENCES_SALT, token)


def confirm_url(config: Config, subscriber_id: int, topics: list[str], now: datetime) -> str:
    return f"{config.base_url}/confirm/{confirm_token(config, subscriber_id, topics, now)}"


def unsubscribe_url(config: Config, subscriber_id: int) -> str:
    """Absolute one-click unsubscribe link (for List-Unsubscribe and mail footers)."""
    return f"{config.base_url}/unsubscribe/{unsubscribe_token(config, subscriber_id)}"


def preferences_url(config: Config, subscriber_id: int) -> str:
    """Absolute link to the subscriber's preferences page."""
    return f"{config.base_url}/preferences/{preferences_token(config, subscriber_id)}"


class MailLinks:
    """The unsubscribe and preferences links of many subscribers, the same as unsubscribe_url() and
    preferences_url() make them, at a fraction of the cost: a sender makes one per run, so keys are
    derived and HMACs keyed once, and each subscriber's payload is dumped (and tried for
    compression) once for both links."""

    def __init__(self, config: Config):
        self.base_url = config.base_url
        self.serializer = _plain(config, UNSUBSCRIBE_SALT)
        self.unsubscribe = _keyed(self.serializer.make_signer(UNSUBSCRIBE_SALT))
        self.preferences = _keyed(_plain(config, PREFERENCES_SALT).make_signer(PREFERENCES_SALT))

    def of(self, subscriber_id: int) -> tuple[str, str]:
        """(unsubscribe URL, preferences URL) of one subscriber."""
        payload = self.serializer.dump_payload(subscriber_id)
        return (
            f"{self.base_url}/unsubscribe/{_sign(self.unsubscribe, payload)}",
            f"{self.base_url}/preferences/{_sign(self.preferences, payload)}",
        )


def _keyed(signer: Signer) -> tuple[Any, bytes]:
    # What Signer.sign() does for each value, done up to the message: derive the key, key the HMAC.
    return hmac.new(signer.derive_key(), digestmod=signer.digest_method), signer.sep


def _sign(keyed: tuple[Any, bytes], payload: bytes) -> str:
    mac, sep = keyed[0].copy(), keyed[1]
    mac.update(payload)
    return (payload + sep + base64_encode(mac.digest())).decode("ascii")
