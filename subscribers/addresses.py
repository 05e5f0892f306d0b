"""Email addresses as the public form, the CSV import and the CLI accept them."""

from __future__ import annotations

from email_validator import EmailNotValidError, validate_email

from service.errors import PaperboyError

# RFC 5321 caps a forward path at 256 octets including the angle brackets.
MAX_LENGTH = 254


class AddressError(PaperboyError, ValueError):
    """Not an address we can mail; the message is meant for the person who typed it."""


def normalize_address(raw: str) -> str:
    """The address checked for syntax and lowercased; AddressError says what is wrong."""
    if raw is None or not raw.strip():
        raise AddressError("Please enter an email address.")
    if "\r" in raw or "\n" in raw:
        # A line break in an address would let it add headers to the mail we send.
        raise AddressError("An email address cannot contain line breaks.")
    address = raw.strip()
    if len(address) > MAX_LENGTH:
        raise AddressError(f"That email address is too long (at most {MAX_LENGTH} characters).")
    try:
        checked = validate_email(address, check_deliverability=False)
    except EmailNotValidError as error:
        raise AddressError(f"That is not a valid email address: {error}") from None
    return checked.normalized.lower()
