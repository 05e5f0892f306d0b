"""Settings, read once from the environment (and a `.env` file) into a frozen Config.

Every helper fails loudly: a bad value raises ConfigError whose message is one line
naming the variable, and the command line prints just that line and exits.
"""

from __future__ import annotations

import ipaddress
import logging
import os
import secrets
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from email.utils import parseaddr
from pathlib import Path
from typing import overload
from urllib.parse import urlsplit

from service.errors import PaperboyError
from service.model.cron import cron_trigger
from service.smtp_url import SmtpSettings

# Files paperboy creates (the SQLite file, var/secret_key, the outbox) hold addresses and
# secrets: readable by their owner only, folders 0700 and files 0600.
PRIVATE_UMASK = 0o077


def keep_files_private() -> None:
    """Make every file and folder this process creates from now on private to its user."""
    os.umask(PRIVATE_UMASK)


class ConfigError(PaperboyError):
    """A setting is missing or malformed; the message names the variable."""


Environ = Mapping[str, str]


@overload
def env_str(environ: Environ, name: str, default: str) -> str: ...
@overload
def env_str(environ: Environ, name: str, default: None = None) -> str | None: ...
def env_str(environ: Environ, name: str, default: str | None = None) -> str | None:
    value = environ.get(name)
    if value is None or value.strip() == "":
        return default
    return value.strip()


def env_float(environ: Environ, name: str, default: float, minimum: float = 0.0) -> float:
    raw = env_str(environ, name)
    if raw is None:
        return default
    try:
        value = float(raw)
    except ValueError:
        raise ConfigError(f"{name}: expected a number, got {raw!r}") from None
    if value < minimum or value != value:
        raise ConfigError(f"{name}: must be at least {minimum}, got {raw!r}")
    return value


def env_int(environ: Environ, name: str, default: int, minimum: int = 0) -> int:
    raw = env_str(environ, name)
    if raw is None:
        return default
    try:
        value = int(raw)
    except ValueError:
        raise ConfigError(f"{name}: expected a whole number, got {raw!r}") from None
    if value < minimum:
        raise ConfigError(f"{name}: must be at least {minimum}, got {raw!r}")
    return value


def env_bool(environ: Environ, name: str, default: bool) -> bool:
    raw = env_str(environ, name)
    if raw is None:
        return default
    lowered = raw.lower()
    if lowered in ("1", "true", "yes", "on"):
        return True
    if lowered in ("0", "false", "no", "off"):
        return False
    raise ConfigError(f"{name}: expected true or false, got {raw!r}")


@overload
def env_url(environ: Environ, name: str, default: str, schemes: tuple[str, ...]) -> str: ...
@overload
def env_url(environ: Environ, name: str, default: None, schemes: tuple[str, ...]) -> str | None: ...
def env_url(environ: Environ, name: str, default: str | None, schemes: tuple[str, ...]) -> str | None:
    raw = env_str(environ, name, default)
    if raw is None:
        return None
    parts = urlsplit(raw)
    scheme = parts.scheme.split("+")[0]
    if scheme not in schemes or not (parts.netloc or parts.path):
        expected = ", ".join(f"{s}://..." for s in schemes)
        raise ConfigError(f"{name}: expected a URL like {expected}, got {raw!r}")
    return raw


def env_rate_limit_storage(environ: Environ) -> str:
    """PAPERBOY_RATE_LIMIT_STORAGE: memory:// (per process) or a Redis URL (shared)."""
    raw = env_str(environ, "PAPERBOY_RATE_LIMIT_STORAGE", Config.rate_limit_storage)
    if raw == "memory://":
        return raw
    return env_url(environ, "PAPERBOY_RATE_LIMIT_STORAGE", raw, ("redis", "rediss"))


def env_cron(environ: Environ, name: str, default: str) -> str:
    raw = env_str(environ, name, default)
    try:
        cron_trigger(raw)  # as the scheduler reads it: crontab's day numbers, 7 = Sunday included
    except ValueError as error:
        raise ConfigError(f"{name}: not a cron expression ({error}), got {raw!r}") from None
    return raw


def env_smtp_url(environ: Environ, name: str) -> str | None:
    raw = env_url(environ, name, None, ("smtp", "smtps"))
    if raw is not None:
        try:
            SmtpSettings.from_url(raw)
        except ValueError as error:  # the URL itself is not repeated: it may hold a password
            raise ConfigError(f"{name}: {error}") from None
    return raw


def env_send_lease(environ: Environ, smtp_url: str | None) -> int:
    """PAPERBOY_SEND_LEASE, seconds: longer than one send may take, or a live sender's row could be
    taken over by another sender while it is still being sent, and go out twice."""
    lease = env_int(environ, "PAPERBOY_SEND_LEASE", Config.send_lease, minimum=1)
    if smtp_url is not None:
        bound = SmtpSettings.from_url(smtp_url).send_bound
        if lease <= bound:
            raise ConfigError(
                f"PAPERBOY_SEND_LEASE: must be longer than {bound:g} s, the longest one send may "
                f"take (5 times PAPERBOY_SMTP_URL's timeout), got {lease}"
            )
    return lease


DKIM_SETTINGS = ("PAPERBOY_DKIM_KEY_FILE", "PAPERBOY_DKIM_SELECTOR", "PAPERBOY_DKIM_DOMAIN")


def env_dkim(environ: Environ) -> tuple[Path | None, str | None, str | None]:
    """(key file, selector, domain): all three set, or none. Part of a set would send unsigned
    mail while the operator believes it is signed."""
    values = [env_str(environ, name) for name in DKIM_SETTINGS]
    if any(values) and not all(values):
        missing = next(name for name, value in zip(DKIM_SETTINGS, values) if not value)
        raise ConfigError(f"{missing}: DKIM signing needs {', '.join(DKIM_SETTINGS)} set together")
    key_file, selector, domain = values
    if key_file and not Path(key_file).is_file():
        raise ConfigError(f"PAPERBOY_DKIM_KEY_FILE: no such file {key_file!r}")
    return (Path(key_file) if key_file else None), selector, domain


def env_dns_resolver(environ: Environ) -> tuple[str, int] | None:
    """PAPERBOY_DNS_RESOLVER: the name server `paperboy doctor` asks, 192.0.2.53, 192.0.2.53:5353 or
    [2001:db8::53]:53; unset: the system's (/etc/resolv.conf)."""
    raw = env_str(environ, "PAPERBOY_DNS_RESOLVER")
    if raw is None:
        return None
    host, port = raw, "53"
    if raw.startswith("["):
        host, _, port = raw[1:].partition("]")
        port = port.removeprefix(":") or "53"
    elif raw.count(":") == 1:
        host, _, port = raw.partition(":")
    try:
        ipaddress.ip_address(host)
        number = int(port)
    except ValueError:
        number = 0
    if not 0 < number < 65536:
        raise ConfigError(f"PAPERBOY_DNS_RESOLVER: expected an IP address and an optional port, got {raw!r}")
    return host, number


@overload
def env_email(environ: Environ, name: str, default: str) -> str: ...
@overload
def env_email(environ: Environ, name: str, default: None) -> str | None: ...
def env_email(environ: Environ, name: str, default: str | None) -> str | None:
    raw = env_str(environ, name, default)
    if raw is None:
        return None
    if "@" not in raw or "\n" in raw or "\r" in raw:
        raise ConfigError(f"{name}: expected an email address, got {raw!r}")
    return raw


@dataclass(frozen=True)
class Config:
    database_url: str = "sqlite:///var/paperboy.sqlite3"
    topics_file: Path = Path("topics.toml")
    arxiv_api_url: str = "http://export.arxiv.org/api/query"
    arxiv_delay: float = 3.0
    arxiv_timeout: float = 30.0
    arxiv_retries: int = 4
    smtp_url: str | None = None
    outbox_dir: Path = Path("var/outbox")
    mail_from: str = "paperboy <paperboy@localhost>"
    bounce_address: str | None = None  # envelope sender base for VERP; None: the From address
    inbound_imap_url: str | None = None  # a mailbox the scheduler polls for bounces and complaints
    base_url: str = "http://127.0.0.1:8000"
    secret_key: str = field(default="", repr=False)
    fetch_cron: str = "0 6 * * *"
    # How far behind its last complete run each fetch asks again: arXiv announces held,
    # reclassified and cross-listed papers days after their submission date.
    fetch_lookback_days: int = 21
    digest_cron: str = "0 7 * * 1"
    smtp_concurrency: int = 4
    smtp_rate: float = 0.0
    smtp_max_attempts: int = 5
    # Seconds a sender holds the deliveries it claimed; a dead sender's rows go to another after it.
    send_lease: int = 600
    dkim_key_file: Path | None = None
    dkim_selector: str | None = None
    dkim_domain: str | None = None
    # Cookies are Secure when the site is served over https; load_config() derives it from
    # PAPERBOY_BASE_URL, and the default base URL is http.
    secure_cookies: bool = False
    rate_limits: bool = True  # tests turn rate limits off; production keeps them on
    rate_limit_storage: str = "memory://"
    trusted_proxies: int = 0
    dns_resolver: tuple[str, int] | None = None  # (address, port) paperboy doctor asks; None: the system's

    def with_overrides(self, **changes) -> Config:
        return replace(self, **changes)

    @property
    def mail_from_address(self) -> str:
        """The bare address of PAPERBOY_MAIL_FROM: the envelope sender and arXiv's contact."""
        return parseaddr(self.mail_from)[1]

    @property
    def mail_from_domain(self) -> str:
        """The domain of PAPERBOY_MAIL_FROM, for Message-IDs, List-Id and the mailto unsubscribe."""
        return self.mail_from_address.rpartition("@")[2].lower() or "localhost"


LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR")


def log_level(environ: Environ | None = None) -> int:
    """PAPERBOY_LOG_LEVEL as a logging level (default INFO); ConfigError for an unknown name."""
    environ = os.environ if environ is None else environ
    name = (env_str(environ, "PAPERBOY_LOG_LEVEL") or "INFO").upper()
    if name not in LOG_LEVELS:
        raise ConfigError(f"PAPERBOY_LOG_LEVEL must be one of {', '.join(LOG_LEVELS)}, not {name[:20]!r}")
    return int(getattr(logging, name))


def load_config(environ: Environ | None = None, var_dir: Path = Path("var")) -> Config:
    """Build the Config from environment variables; raise ConfigError naming a bad one."""
    environ = os.environ if environ is None else environ
    base_url = env_url(environ, "PAPERBOY_BASE_URL", Config.base_url, ("http", "https"))
    dkim_key_file, dkim_selector, dkim_domain = env_dkim(environ)
    smtp_url = env_smtp_url(environ, "PAPERBOY_SMTP_URL")
    return Config(
        database_url=env_url(environ, "PAPERBOY_DATABASE_URL", Config.database_url, ("sqlite", "postgresql")),
        topics_file=Path(env_str(environ, "PAPERBOY_TOPICS_FILE", str(Config.topics_file))),
        arxiv_api_url=env_url(environ, "PAPERBOY_ARXIV_API_URL", Config.arxiv_api_url, ("http", "https")),
        arxiv_delay=env_float(environ, "PAPERBOY_ARXIV_DELAY", Config.arxiv_delay),
        arxiv_timeout=env_float(environ, "PAPERBOY_ARXIV_TIMEOUT", Config.arxiv_timeout, minimum=0.1),
        arxiv_retries=env_int(environ, "PAPERBOY_ARXIV_RETRIES", Config.arxiv_retries),
        smtp_url=smtp_url,
        outbox_dir=Path(env_str(environ, "PAPERBOY_OUTBOX_DIR", str(var_dir / "outbox"))),
        mail_from=env_email(environ, "PAPERBOY_MAIL_FROM", Config.mail_from),
        bounce_address=env_email(environ, "PAPERBOY_BOUNCE_ADDRESS", None),
        inbound_imap_url=env_url(environ, "PAPERBOY_INBOUND_IMAP_URL", None, ("imap", "imaps")),
        base_url=base_url.rstrip("/"),
        secret_key=env_str(environ, "PAPERBOY_SECRET_KEY") or _local_secret_key(var_dir),
        fetch_cron=env_cron(environ, "PAPERBOY_FETCH_CRON", Config.fetch_cron),
        fetch_lookback_days=env_int(environ, "PAPERBOY_FETCH_LOOKBACK_DAYS", Config.fetch_lookback_days, minimum=1),
        digest_cron=env_cron(environ, "PAPERBOY_DIGEST_CRON", Config.digest_cron),
        smtp_concurrency=env_int(environ, "PAPERBOY_SMTP_CONCURRENCY", Config.smtp_concurrency, minimum=1),
        smtp_rate=env_float(environ, "PAPERBOY_SMTP_RATE", Config.smtp_rate),
        smtp_max_attempts=env_int(environ, "PAPERBOY_SMTP_MAX_ATTEMPTS", Config.smtp_max_attempts, minimum=1),
        send_lease=env_send_lease(environ, smtp_url),
        dkim_key_file=dkim_key_file,
        dkim_selector=dkim_selector,
        dkim_domain=dkim_domain,
        secure_cookies=env_bool(environ, "PAPERBOY_SECURE_COOKIES", base_url.startswith("https://")),
        rate_limits=env_bool(environ, "PAPERBOY_RATE_LIMITS", True),
        rate_limit_storage=env_rate_limit_storage(environ),
        trusted_proxies=env_int(environ, "PAPERBOY_TRUSTED_PROXIES", Config.trusted_proxies),
        dns_resolver=env_dns_resolver(environ),
    )


def _local_secret_key(var_dir: Path) -> str:
    """A random key kept in var/ so that `make run` works without setting one and
    signed links survive a restart. Production sets PAPERBOY_SECRET_KEY."""
    path = var_dir / "secret_key"
    try:
        return path.read_text().strip()
    except FileNotFoundError:
        var_dir.mkdir(parents=True, exist_ok=True)
        key = secrets.token_urlsafe(32)
        path.write_text(key)
        return key
