"""Inbound mail rate: messages per second through `paperboy inbound` on loopback.

A store with active subscribers, each with a delivery of last week's digest; then --messages
messages over --connections SMTP connections, a third each of: DSNs of a subscriber's delivery,
sent to that delivery's signed VERP address as a relay would (each marks one subscriber bounced),
auto-replies (kept, nothing changes), and real bounces from flufl.bounce's corpus naming addresses
nobody has (logged, nothing changes). Before it prints the rate, it checks the work: every DSN's
subscriber bounced, and the log holds every message by kind.

    .venv/bin/python bench/inbound.py [--messages 6000] [--connections 4] [--database-url URL]
"""

from __future__ import annotations

import argparse
import os
import re
import signal
import smtplib
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
from sqlalchemy import select  # noqa: E402

from service import store  # noqa: E402
from service.config import Config  # noqa: E402
from service.digest.digest import build_digest, last_complete_week  # noqa: E402
from service.model.states import InboundKind  # noqa: E402
from service.model.topics import load_topics  # noqa: E402
from service.outbound.verp import EnvelopeSenders  # noqa: E402
from service.store.deliveries import add_deliveries  # noqa: E402
from service.store.inbound import kind_counts  # noqa: E402
from service.store.schema import delivery  # noqa: E402
from service.store.subscribers.imports import ImportRow  # noqa: E402
from service.store.subscribers.listing import status_counts  # noqa: E402
from service.store.subscribers.records import subscriber_by_email  # noqa: E402
from subscribers.imports import import_rows  # noqa: E402
from tests.support.smtp_server import free_port  # noqa: E402

CORPUS = ROOT / "tests" / "data" / "bounces"
BOUNCES = "bounces@paperboy.test"
TOPICS_FILE = Path(tempfile.gettempdir()) / "paperboy-bench-inbound-topics.toml"


def dsn(failed: str, to: str) -> bytes:
    return (
        f"From: Mail Delivery System <MAILER-DAEMON@mx.example.net>\r\nTo: {to}\r\n"
        "Subject: Undelivered Mail Returned to Sender\r\nAuto-Submitted: auto-replied\r\nMIME-Version: 1.0\r\n"
        'Content-Type: multipart/report; report-type=delivery-status; boundary="B"\r\n\r\n'
        f"--B\r\nContent-Type: text/plain\r\n\r\n<{failed}>: unknown user\r\n"
        "--B\r\nContent-Type: message/delivery-status\r\n\r\nReporting-MTA: dns; mx.example.net\r\n\r\n"
        f"Final-Recipient: rfc822; {failed}\r\nAction: failed\r\nStatus: 5.1.1\r\n"
        "Diagnostic-Code: smtp; 550 5.1.1 unknown user\r\n\r\n--B--\r\n"
    ).encode()


def auto_reply(n: int) -> bytes:
    return (
        f"From: reader{n}@example.org\r\nTo: {BOUNCES}\r\nAuto-Submitted: auto-replied\r\n"
        f"Subject: Out of office {n}\r\n\r\nI am away until Monday.\r\n"
    ).encode()


def prepare(database_url: str, subscribers: int) -> list[int]:
    """The subscribers, and one delivery of last week's digest each: their ids, reader0 first."""
    now = datetime.now(UTC)
    engine = store.connect(database_url)
    store.migrate(engine)
    with engine.begin() as conn:
        rows = [ImportRow(f"reader{n}@example.org", ["t"], "active") for n in range(subscribers)]
        import_rows(conn, rows, now, "cli")
        ids = [subscriber_by_email(conn, f"reader{n}@example.org").id for n in range(subscribers)]
        digest = build_digest(conn, load_topics(TOPICS_FILE), last_complete_week(now), now)
        add_deliveries(conn, digest.id, [(subscriber_id, "t") for subscriber_id in ids])
        query = select(delivery.c.subscriber_id, delivery.c.id).where(delivery.c.digest_id == digest.id)
        delivery_of = {subscriber_id: delivery_id for subscriber_id, delivery_id in conn.execute(query)}
    engine.dispose()
    return [delivery_of[subscriber_id] for subscriber_id in ids]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--messages", type=int, default=6000)
    parser.add_argument("--connections", type=int, default=4)
    parser.add_argument("--database-url", help="default: SQLite in a temporary directory")
    args = parser.parse_args()
    corpus = [
        re.sub(rb"\r?\n", b"\r\n", (CORPUS / name).read_bytes())
        for name in ("dsn_01.txt", "postfix_01.txt", "qmail_01.txt", "simple_01.txt")
    ]
    thirds = args.messages // 3

    with tempfile.TemporaryDirectory() as tmp:
        database_url = args.database_url or f"sqlite:///{tmp}/bench.sqlite3"
        TOPICS_FILE.write_text('[[topic]]\nslug = "t"\ntitle = "T"\ndescription = "d"\nquery = "all:t"\n')
        deliveries = prepare(database_url, thirds)
        signed = EnvelopeSenders(Config(secret_key="bench", mail_from="news@paperboy.test", bounce_address=BOUNCES))
        # (envelope recipient, message): a relay mails its report to the delivery's envelope sender.
        messages = (
            [(signed.of(d), dsn(f"reader{n}@example.org", signed.of(d))) for n, d in enumerate(deliveries)]
            + [(BOUNCES, auto_reply(n)) for n in range(thirds)]
            + [(BOUNCES, corpus[n % len(corpus)]) for n in range(thirds)]
        )
        port = free_port()
        env = {
            **os.environ,
            "PAPERBOY_DATABASE_URL": database_url,
            "PAPERBOY_SECRET_KEY": "bench",
            "PAPERBOY_TOPICS_FILE": str(TOPICS_FILE),
            "PAPERBOY_MAIL_FROM": "news@paperboy.test",
            "PAPERBOY_BOUNCE_ADDRESS": BOUNCES,
        }
        log = open(f"{tmp}/inbound.log", "wb")
        server = subprocess.Popen(
            [str(Path(sys.executable).with_name("paperboy")), "inbound", "--port", str(port)],
            env=env,
            cwd=tmp,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        try:
            deadline = time.monotonic() + 30
            while True:
                try:
                    smtplib.SMTP("127.0.0.1", port, timeout=5).quit()
                    break
                except OSError:
                    if server.poll() is not None or time.monotonic() > deadline:
                        sys.exit(f"bench: paperboy inbound did not start: {Path(tmp, 'inbound.log').read_text()}")
                    time.sleep(0.1)

            def send(share: list[tuple[str, bytes]]) -> None:
                with smtplib.SMTP("127.0.0.1", port, timeout=60) as smtp:
                    for to, raw in share:
                        smtp.sendmail("", [to], raw)

            started = time.perf_counter()
            with ThreadPoolExecutor(args.connections) as pool:
                list(pool.map(send, [messages[i :: args.connections] for i in range(args.connections)]))
            elapsed = time.perf_counter() - started
        finally:
            server.send_signal(signal.SIGTERM)
            server.wait(timeout=30)
            log.close()

        engine = store.connect(database_url)
        with engine.connect() as conn:
            counts = {kind: n for kind, n in kind_counts(conn).items() if n}
            bounced = status_counts(conn)["bounced"]
        engine.dispose()
    # The work named: every DSN bounced its subscriber, and every message is in the log.
    expected = {InboundKind.BOUNCE: 2 * thirds, InboundKind.AUTO_REPLY: thirds}
    if bounced != thirds or counts != expected:
        sys.exit(f"bench: {bounced} of {thirds} subscribers bounced; inbound log {counts}, expected {expected}")
    print(f"database: {database_url.split(':')[0]}; {len(messages)} messages over {args.connections} connections")
    print(f"inbound rate: {len(messages) / elapsed:.0f} messages/s ({elapsed:.1f} s)")
    print(f"inbound log: {counts}; subscribers bounced: {bounced} of {thirds}")


if __name__ == "__main__":
    main()
