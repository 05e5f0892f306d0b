"""`paperboy doctor` against real servers on loopback: a DNS server answering the mail records
(tests/support/dns_server.py), an SMTP server that checks a password (aiosmtpd), a web server
standing in for paperboy's site and arXiv, and a real store. A healthy installation gets only
"ok" lines and exit 0; each broken thing gets its own FAIL line and exit 1.
tests/data/dkim/ holds RSA keys made for these tests only."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult
from alembic import command
from alembic.config import Config as AlembicConfig
from sqlalchemy import text

from service import store
from service.runtime import process_identity
from service.store import locks
from tests.conftest import DATA, data_file
from tests.support.dns_server import DnsServer
from tests.support.helpers import paperboy
from tests.support.smtp_server import RecordingHandler, free_port

DOMAIN = "example.org"
SELECTOR = "paperboy"
SMTP_USER, SMTP_PASSWORD = "paperboy", "relay secret"


def dkim_record(public_key: Path) -> str:
    """The DKIM TXT record of a PEM public key, cut into strings of at most 255 bytes as DNS needs."""
    key = "".join(line for line in public_key.read_text().splitlines() if not line.startswith("-----"))
    record = f"v=DKIM1; k=rsa; p={key}"
    return " ".join(f'"{record[i : i + 250]}"' for i in range(0, len(record), 250))


def mail_records(dkim_key: str = "paperboy.pub", dmarc: bool = True) -> dict[tuple[str, str], list[str]]:
    records = {
        (DOMAIN, "TXT"): ['"v=spf1 ip4:127.0.0.1 -all"', '"google-site-verification=abc"'],
        (DOMAIN, "MX"): [f"10 mx.{DOMAIN}."],
        (f"{SELECTOR}._domainkey.{DOMAIN}", "TXT"): [dkim_record(DATA / "dkim" / dkim_key)],
    }
    if dmarc:
        records[(f"_dmarc.{DOMAIN}", "TXT")] = ['"v=DMARC1; p=quarantine; rua=mailto:dmarc@example.org"']
    return records


def checks_password(server, session, envelope, mechanism, auth_data):
    accepted = (auth_data.login, auth_data.password) == (SMTP_USER.encode(), SMTP_PASSWORD.encode())
    # handled=False: aiosmtpd answers 235 or 535 itself.
    return AuthResult(success=accepted, handled=False)


@pytest.fixture
def smtp_relay():
    """An SMTP server on loopback that asks for AUTH and accepts only SMTP_PASSWORD."""
    port = free_port()
    controller = Controller(
        RecordingHandler(),
        hostname="127.0.0.1",
        port=port,
        authenticator=checks_password,
        auth_required=True,
        auth_require_tls=False,
    )
    controller.start()
    yield port
    controller.stop()


@pytest.fixture
def site(httpserver):
    """paperboy's site (/healthz) and arXiv's API, on one local web server."""
    httpserver.expect_request("/healthz").respond_with_data("ok")
    httpserver.expect_request("/api/query").respond_with_data(
        data_file("api2026_idlist_0000.0000_empty.xml"), content_type="application/atom+xml"
    )
    return httpserver


@pytest.fixture
def scheduler_holds_the_lock(database_url):
    """The lock held as a running scheduler holds it: a PostgreSQL session's advisory lock, or on
    SQLite a lock row of this (live) process."""
    engine = store.connect(database_url)
    store.migrate(engine)
    with engine.connect() as conn:
        if conn.dialect.name == "postgresql":
            assert locks.try_advisory_lock(conn, locks.ADVISORY_KEY)
            conn.commit()
        else:
            from datetime import UTC, datetime, timedelta

            with engine.begin() as writer:
                locks.take_row_lock(
                    writer, locks.LOCK_NAME, process_identity(), datetime.now(UTC), timedelta(minutes=10)
                )
        yield engine
    engine.dispose()


def environment(database_url, topics_file, dns: DnsServer, smtp_port: int, site, password=SMTP_PASSWORD):
    return {
        "PATH": os.environ["PATH"],
        "PAPERBOY_DATABASE_URL": database_url,
        "PAPERBOY_TOPICS_FILE": str(topics_file),
        "PAPERBOY_MAIL_FROM": f"paperboy <paperboy@{DOMAIN}>",
        "PAPERBOY_SMTP_URL": f"smtp://{SMTP_USER}:{password.replace(' ', '%20')}@127.0.0.1:{smtp_port}?timeout=5",
        "PAPERBOY_DKIM_KEY_FILE": str(DATA / "dkim" / "paperboy.key"),
        "PAPERBOY_DKIM_SELECTOR": SELECTOR,
        "PAPERBOY_DKIM_DOMAIN": DOMAIN,
        "PAPERBOY_DNS_RESOLVER": dns.address,
        "PAPERBOY_BASE_URL": site.url_for("").rstrip("/"),
        "PAPERBOY_ARXIV_API_URL": site.url_for("/api/query"),
        "PAPERBOY_SECRET_KEY": "doctor-test-secret",
    }


def doctor(environ, cwd) -> tuple[int, dict[str, tuple[str, str]]]:
    """Exit status and {check: (status, line)}; every output line is one check."""
    done = paperboy(environ, "doctor", cwd=cwd)
    lines = done.stdout.splitlines()
    checks = {line[6:].partition(":")[0]: (line[:4].strip(), line) for line in lines}
    assert len(checks) == len(lines), done.stdout + done.stderr
    return done.returncode, checks


def test_it_passes_a_healthy_installation(
    database_url, topics_file, smtp_relay, site, scheduler_holds_the_lock, tmp_path
):
    with DnsServer(mail_records()) as dns:
        status, checks = doctor(environment(database_url, topics_file, dns, smtp_relay, site), tmp_path)
    assert list(checks) == [
        "settings",
        "topics",
        "database",
        "scheduler",
        "smtp",
        "spf",
        "dkim",
        "dmarc",
        "mx",
        "base url",
        "arxiv",
    ]
    assert {name for name, (state, _) in checks.items() if state != "ok"} == set(), checks
    assert status == 0
    assert "AUTH as paperboy accepted" in checks["smtp"][1]
    assert f"{SELECTOR}._domainkey.{DOMAIN} holds the public key" in checks["dkim"][1]
    assert "10 mx.example.org." in checks["mx"][1] and "v=spf1 ip4:127.0.0.1 -all" in checks["spf"][1]


def test_it_names_each_broken_check_in_one_line(
    database_url, topics_file, smtp_relay, site, scheduler_holds_the_lock, tmp_path
):
    # The store one migration behind the latest.
    head, _ = store.revisions.shipped(store.MIGRATIONS)
    previous = f"{int(head) - 1:04d}"
    with scheduler_holds_the_lock.begin() as conn:
        config = AlembicConfig()
        config.set_main_option("script_location", str(store.MIGRATIONS))
        config.attributes["connection"] = conn
        command.downgrade(config, previous)
        assert conn.execute(text("SELECT version_num FROM alembic_version")).scalar() == previous
    # A DKIM record holding another key, no DMARC record, and a wrong SMTP password.
    with DnsServer(mail_records(dkim_key="other.pub", dmarc=False)) as dns:
        environ = environment(database_url, topics_file, dns, smtp_relay, site, password="wrong password")
        status, checks = doctor(environ, tmp_path)
    failed = {name: line for name, (state, line) in checks.items() if state == "FAIL"}
    assert status == 1
    assert set(failed) == {"database", "smtp", "dkim", "dmarc"}, checks
    assert f"is at migration {previous}, the latest is {head}: run paperboy init" in failed["database"]
    assert "refused the login of paperboy: 535" in failed["smtp"]
    assert "is not the public half of" in failed["dkim"]
    assert f"no DMARC record at _dmarc.{DOMAIN}" in failed["dmarc"]


def test_it_names_a_setting_it_cannot_read_and_stops_there(tmp_path):
    done = paperboy({"PATH": os.environ["PATH"], "PAPERBOY_DNS_RESOLVER": "resolver.example"}, "doctor", cwd=tmp_path)
    assert done.returncode == 1
    assert done.stdout == (
        "FAIL  settings: PAPERBOY_DNS_RESOLVER: expected an IP address and an optional port, got 'resolver.example'\n"
    )


def test_it_fails_without_a_scheduler_or_a_store(topics_file, tmp_path):
    url = f"sqlite:///{tmp_path}/paperboy.sqlite3"
    done = paperboy(
        {
            "PATH": os.environ["PATH"],
            "PAPERBOY_DATABASE_URL": url,
            "PAPERBOY_TOPICS_FILE": str(topics_file),
            "PAPERBOY_BASE_URL": "http://127.0.0.1:9",
            "PAPERBOY_ARXIV_API_URL": "http://127.0.0.1:9/api",
        },
        "doctor",
        cwd=tmp_path,
    )
    lines = done.stdout.splitlines()
    assert done.returncode == 1
    assert f"FAIL  database: {url} has no paperboy store: run paperboy init" in lines
    assert "skip  scheduler: no store, so no lock" in lines
    assert "skip  smtp: PAPERBOY_SMTP_URL is unset: mail goes to the folder var/outbox" in lines
