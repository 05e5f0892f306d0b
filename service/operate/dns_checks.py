"""Doctor: the DNS records receivers read before they accept paperboy's mail (SPF, DKIM, DMARC
for the From domain) and the MX that brings bounces and mailto unsubscribes back to it."""

from __future__ import annotations

from typing import Any

import dkim
import dns.exception
import dns.resolver

from service.config import Config
from service.errors import first_line
from service.operate.checks import Check, fail, ok, skip

TIMEOUT = 5.0  # seconds per lookup
PROBE = (
    b"From: paperboy doctor <doctor@example.org>\r\nTo: <nobody@example.org>\r\nSubject: key check\r\n"
    b"Date: Thu, 03 Dec 2026 12:00:00 +0000\r\nMessage-ID: <doctor@example.org>\r\n\r\nNot sent.\r\n"
)


class DnsTrouble(Exception):
    """The resolver gave no answer at all (timeout, no name server): the record's state is unknown."""


def resolver(config: Config) -> dns.resolver.Resolver:
    """The system's resolver, or the name server of PAPERBOY_DNS_RESOLVER."""
    if config.dns_resolver is None:
        found = dns.resolver.Resolver()
    else:
        found = dns.resolver.Resolver(configure=False)
        found.nameservers = [config.dns_resolver[0]]
        found.port = config.dns_resolver[1]
    found.lifetime = TIMEOUT
    return found


def check_mail_dns(config: Config) -> list[Check]:
    names = ("spf", "dkim", "dmarc", "mx")
    if config.smtp_url is None:
        return [skip(name, "PAPERBOY_SMTP_URL is unset: no mail leaves this machine") for name in names]
    ask = resolver(config)
    checks = []
    for name, check in zip(names, (_spf, _dkim, _dmarc, _mx), strict=True):
        try:
            checks.append(check(ask, config))
        except DnsTrouble as error:
            checks.append(fail(name, str(error)))
    return checks


def _spf(ask: dns.resolver.Resolver, config: Config) -> Check:
    domain = config.mail_from_domain
    records = [r for r in _txt(ask, domain) if r.lower().startswith("v=spf1")]
    if not records:
        return fail("spf", f"no SPF record at {domain}: publish a TXT record like 'v=spf1 include:<your relay> -all'")
    if len(records) > 1:
        return fail("spf", f"{len(records)} SPF records at {domain}: receivers take that as an error; merge them")
    if records[0].split()[-1].lower() in ("+all", "all"):
        return fail("spf", f"{domain}'s SPF record lets every server send as it: {records[0]}")
    return ok("spf", f"{domain}: {records[0]}")


def _dkim(ask: dns.resolver.Resolver, config: Config) -> Check:
    if config.dkim_key_file is None or config.dkim_selector is None:
        return skip(
            "dkim",
            f"paperboy does not sign (PAPERBOY_DKIM_* unset): your relay must sign for {config.mail_from_domain}",
        )
    domain = config.dkim_domain or config.mail_from_domain
    name = f"{config.dkim_selector}._domainkey.{domain}"
    records = [r for r in _txt(ask, name) if "p=" in r]
    if not records:
        return fail("dkim", f"no DKIM key at {name}: publish the public key of {config.dkim_key_file} there")
    try:
        signed = dkim.sign(
            PROBE,
            config.dkim_selector.encode(),
            domain.encode(),
            config.dkim_key_file.read_bytes(),
            include_headers=[b"from", b"to", b"subject", b"date", b"message-id"],
        )
    except (OSError, dkim.DKIMException) as error:
        return fail("dkim", f"cannot sign with {config.dkim_key_file}: {first_line(error)}")
    # Verified as a receiver would, against the record just read.
    if not dkim.verify(signed + PROBE, dnsfunc=lambda _name, timeout=5: records[0].encode()):
        return fail(
            "dkim",
            f"the key at {name} is not the public half of {config.dkim_key_file}: "
            "publish the right one, or set the selector whose record holds it",
        )
    return ok("dkim", f"{name} holds the public key of {config.dkim_key_file}")


def _dmarc(ask: dns.resolver.Resolver, config: Config) -> Check:
    name = f"_dmarc.{config.mail_from_domain}"
    records = [r for r in _txt(ask, name) if r.startswith("v=DMARC1")]
    if not records:
        return fail(
            "dmarc",
            f"no DMARC record at {name}: Gmail and Yahoo refuse bulk mail without one; publish "
            "e.g. 'v=DMARC1; p=none; rua=mailto:<you>'",
        )
    return ok("dmarc", f"{name}: {records[0]}")


def _mx(ask: dns.resolver.Resolver, config: Config) -> Check:
    address = config.bounce_address or config.mail_from_address
    domain = address.rpartition("@")[2].lower()
    hosts = sorted((record.preference, record.exchange.to_text()) for record in _answer(ask, domain, "MX"))
    if not hosts:
        return fail(
            "mx", f"no MX for {domain}: bounces and mailto unsubscribes to {address} cannot reach paperboy inbound"
        )
    return ok("mx", f"{domain}: " + ", ".join(f"{preference} {host}" for preference, host in hosts))


def _txt(ask: dns.resolver.Resolver, name: str) -> list[str]:
    """The TXT records at `name`, each with its strings joined, as receivers read them."""
    return [b"".join(record.strings).decode("utf-8", "replace") for record in _answer(ask, name, "TXT")]


def _answer(ask: dns.resolver.Resolver, name: str, kind: str) -> list[Any]:
    try:
        return list(ask.resolve(name, kind, search=False))
    except (dns.resolver.NXDOMAIN, dns.resolver.NoAnswer):
        return []
    except dns.exception.Timeout:
        raise DnsTrouble(f"no answer for {kind} {name} from {_servers(ask)} within {TIMEOUT:g} s") from None
    except dns.exception.DNSException as error:
        raise DnsTrouble(f"no answer for {kind} {name} from {_servers(ask)}: {first_line(error)}") from None


def _servers(ask: dns.resolver.Resolver) -> str:
    return ", ".join(f"{server}:{ask.port}" for server in ask.nameservers)
