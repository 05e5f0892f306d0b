"""`paperboy doctor`: one line per check of what a running paperboy needs (settings, topics, the
store and the scheduler's lock, the SMTP relay, the mail DNS records, its own site, arXiv)."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

from service.config import Config, ConfigError, load_config
from service.model.topics import TopicsError, load_topics
from service.operate.checks import Check, fail, ok
from service.operate.dns_checks import check_mail_dns
from service.operate.site_checks import check_arxiv, check_base_url
from service.operate.smtp_check import check_smtp
from service.operate.store_checks import check_store


def run_checks(environ: Mapping[str, str] | None = None, var_dir: Path = Path("var")) -> list[Check]:
    """Every check, in order; with settings that do not load, only that one."""
    try:
        config = load_config(environ, var_dir)
    except ConfigError as error:
        return [fail("settings", str(error))]
    return [
        _settings(config, var_dir),
        _topics(config),
        *check_store(config),
        check_smtp(config),
        *check_mail_dns(config),
        check_base_url(config),
        check_arxiv(config),
    ]


def exit_code(checks: list[Check]) -> int:
    return 1 if any(check.failed for check in checks) else 0


def _settings(config: Config, var_dir: Path) -> Check:
    if config.smtp_url is not None and config.mail_from_domain == "localhost":
        return fail(
            "settings",
            "PAPERBOY_MAIL_FROM is an address at localhost: receivers refuse such mail; set an address of your domain",
        )
    mail = "over SMTP" if config.smtp_url else f"to the folder {config.outbox_dir}"
    key = f"{var_dir / 'secret_key'} (back it up)" if _key_in_file(config, var_dir) else "PAPERBOY_SECRET_KEY"
    return ok(
        "settings", f"mail from {config.mail_from_address} {mail}; links at {config.base_url}; secret key from {key}"
    )


def _key_in_file(config: Config, var_dir: Path) -> bool:
    try:
        return (var_dir / "secret_key").read_text().strip() == config.secret_key
    except OSError:
        return False


def _topics(config: Config) -> Check:
    try:
        topics = load_topics(config.topics_file)
    except TopicsError as error:
        return fail("topics", str(error).removeprefix("topics: "))
    return ok("topics", f"{config.topics_file}: {len(topics)} topics ({', '.join(t.slug for t in topics)})")
