"""Per-delivery envelope senders (VERP): `local+<delivery id>-<signature>@domain`.

A bounce goes to the envelope sender, so the address it arrives at names the delivery even when
the report itself is mangled or names a forwarded address. The signature (an HMAC of the id under
the secret key) keeps anyone from bouncing a delivery they did not receive; it is lower-case base32
because some mail servers fold the case of local parts.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from email.utils import parseaddr

from service.config import Config

SIGNATURE_CHARS = 10  # 50 bits


def bounce_address(config: Config) -> str:
    """The bare address bounces go to: PAPERBOY_BOUNCE_ADDRESS, else the From address."""
    return parseaddr(config.bounce_address or config.mail_from)[1]


def _signature(config: Config, delivery_id: int) -> str:
    digest = hmac.new(config.secret_key.encode(), f"verp:{delivery_id}".encode(), hashlib.sha256).digest()
    return base64.b32encode(digest).decode().lower()[:SIGNATURE_CHARS]


def envelope_sender(config: Config, delivery_id: int) -> str:
    """The MAIL FROM address of one delivery."""
    return EnvelopeSenders(config).of(delivery_id)


class EnvelopeSenders:
    """The MAIL FROM addresses of many deliveries, with the bounce address parsed and the key
    set up once (a sender makes one per run)."""

    def __init__(self, config: Config):
        self.local, _, self.domain = bounce_address(config).rpartition("@")
        self.mac = hmac.new(config.secret_key.encode(), digestmod=hashlib.sha256)

    def of(self, delivery_id: int) -> str:
        mac = self.mac.copy()
        mac.update(f"verp:{delivery_id}".encode())
        signature = base64.b32encode(mac.digest()).decode().lower()[:SIGNATURE_CHARS]
        return f"{self.local}+{delivery_id}-{signature}@{self.domain}"


def delivery_of(config: Config, address: str) -> int | None:
    """The delivery id a VERP address names, or None when it is not one of ours or the signature is wrong."""
    local, _, domain = bounce_address(config).rpartition("@")
    their_local, _, their_domain = address.strip().strip("<>").rpartition("@")
    if their_domain.lower() != domain.lower() or not their_local.lower().startswith(local.lower() + "+"):
        return None
    tag = their_local[len(local) + 1 :].lower()
    number, _, signature = tag.partition("-")
    if not number.isdigit() or len(number) > 10:
        return None
    delivery_id = int(number)
    if not hmac.compare_digest(signature, _signature(config, delivery_id)):
        return None
    return delivery_id


def is_bounce_address(config: Config, address: str) -> bool:
    """Whether `address` is the bounce address itself or one of its `+tag` forms."""
    local, _, domain = bounce_address(config).rpartition("@")
    their_local, _, their_domain = address.strip().strip("<>").rpartition("@")
    their_local = their_local.lower()
    return their_domain.lower() == domain.lower() and (
        their_local == local.lower() or their_local.startswith(local.lower() + "+")
    )
