"""Doctor: the SMTP relay of PAPERBOY_SMTP_URL answers, with TLS or STARTTLS and AUTH as the URL
says; nothing is sent (connect, EHLO, STARTTLS, AUTH, QUIT)."""

from __future__ import annotations

import asyncio

import aiosmtplib

from service.config import Config
from service.errors import first_line
from service.operate.checks import Check, fail, ok, skip
from service.smtp_url import SmtpSettings


def check_smtp(config: Config) -> Check:
    if config.smtp_url is None:
        return skip("smtp", f"PAPERBOY_SMTP_URL is unset: mail goes to the folder {config.outbox_dir}")
    settings = SmtpSettings.from_url(config.smtp_url)
    where = f"{settings.hostname}:{settings.port}"
    try:
        return ok("smtp", asyncio.run(_probe(settings)))
    except aiosmtplib.SMTPAuthenticationError as error:
        return fail("smtp", f"{where} refused the login of {settings.username}: {error.code} {first_line(error)}")
    except aiosmtplib.SMTPResponseException as error:
        return fail("smtp", f"{where} answered {error.code} {first_line(error)}")
    except (aiosmtplib.SMTPException, OSError, TimeoutError) as error:
        return fail("smtp", f"cannot use {where}: {first_line(error) or type(error).__name__}")


async def _probe(settings: SmtpSettings) -> str:
    # The same client as the mail transport's; with a username it logs in as it connects.
    client = aiosmtplib.SMTP(
        hostname=settings.hostname,
        port=settings.port,
        use_tls=settings.use_tls,
        start_tls=settings.start_tls,
        username=settings.username,
        password=settings.password,
        timeout=settings.timeout,
    )
    await client.connect()
    try:
        encrypted = client.get_transport_info("sslcontext") is not None
        steps = [f"{settings.hostname}:{settings.port} answers"]
        steps.append(("TLS" if settings.use_tls else "STARTTLS") if encrypted else "no TLS (none offered or asked)")
        steps.append(f"AUTH as {settings.username} accepted" if settings.username else "no AUTH (no user in the URL)")
        return ", ".join(steps)
    finally:
        await client.quit()
