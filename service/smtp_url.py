"""PAPERBOY_SMTP_URL read into SmtpSettings: smtp://user:pass@host:587?starttls=true&timeout=30.

Read once at start-up by load_config(), so a bad option stops start-up rather than a send.
"""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import parse_qs, unquote, urlsplit

# The query options a URL may carry, and what each accepts.
BOOLEAN_OPTIONS = ("tls", "starttls")
OPTIONS = (*BOOLEAN_OPTIONS, "timeout")


@dataclass(frozen=True)
class SmtpSettings:
    hostname: str
    port: int
    username: str | None
    password: str | None
    use_tls: bool
    start_tls: bool | None
    timeout: float

    @property
    def send_bound(self) -> float:
        """The longest one send may take: connect, MAIL, RCPT, DATA and the message, each
        bounded by the timeout. A sender's lease must outlast it."""
        return 5 * self.timeout

    @classmethod
    def from_url(cls, url: str) -> SmtpSettings:
        """smtp://user:pass@host:587?starttls=true, or smtps://host:465 for TLS from the start;
        raise ValueError naming a bad port or query option."""
        parts = urlsplit(url)
        query = {key: values[-1].lower() for key, values in parse_qs(parts.query, keep_blank_values=True).items()}
        unknown = sorted(set(query) - set(OPTIONS))
        if unknown:
            raise ValueError(f"unknown option {unknown[0]!r} (known: {', '.join(OPTIONS)})")
        for name in BOOLEAN_OPTIONS:
            if query.get(name, "true") not in ("true", "false"):
                raise ValueError(f"option {name} expects true or false, got {query[name]!r}")
        timeout = _timeout(query.get("timeout", "30"))
        try:
            port = parts.port
        except ValueError:
            raise ValueError("the port must be a number from 1 to 65535") from None
        use_tls = parts.scheme == "smtps" or query.get("tls") == "true"
        start_tls = {"true": True, "false": False}.get(query.get("starttls", ""))
        return cls(
            hostname=parts.hostname or "localhost",
            port=port or (465 if use_tls else 25),
            username=unquote(parts.username) if parts.username else None,
            password=unquote(parts.password) if parts.password else None,
            use_tls=use_tls,
            # None lets aiosmtplib use STARTTLS when the server offers it.
            start_tls=False if use_tls else start_tls,
            timeout=timeout,
        )


def _timeout(raw: str) -> float:
    try:
        seconds = float(raw)
    except ValueError:
        raise ValueError(f"option timeout expects seconds, got {raw!r}") from None
    if not seconds > 0 or seconds == float("inf"):
        raise ValueError(f"option timeout expects seconds above 0, got {raw!r}")
    return seconds
