"""`paperboy inbound` run as a real process for tests, and an SMTP client to feed it."""

from __future__ import annotations

import os
import re
import signal
import smtplib
import subprocess
import time
from pathlib import Path

from service.config import Config
from tests.conftest import NOW
from tests.support.digest_data import add_subscribers, load_week, runtime_for, send_with_deadline
from tests.support.helpers import PAPERBOY
from tests.support.smtp_server import free_port

MAIL_FROM = "paperboy <news@paperboy.test>"
BOUNCES = "bounces@paperboy.test"


def crlf(raw: bytes) -> bytes:
    """A message with CRLF line ends, as SMTP carries it (the corpus files have bare LF)."""
    return re.sub(rb"\r?\n", b"\r\n", raw)


def inbound_config(config: Config, database_url: str) -> Config:
    return config.with_overrides(database_url=database_url, mail_from=MAIL_FROM, bounce_address=BOUNCES)


def mail_digest(config: Config, database_url: str, smtp_url: str, people: list[tuple[str, list[str]]]):
    """This week's digest sent to `people` [(email, topics)] through `smtp_url`, with the inbound
    settings; returns the runtime, the subscriber ids by address and the send's stats."""
    runtime = runtime_for(inbound_config(config, database_url).with_overrides(smtp_url=smtp_url))
    with runtime.engine.begin() as conn:
        load_week(conn)
        ids = add_subscribers(conn, people, NOW)
    queued, stats = send_with_deadline(runtime)
    return runtime, ids, stats


class InboundProcess:
    """`paperboy inbound --port P` in a subprocess, with the settings of `config`."""

    def __init__(self, config: Config, cwd: Path):
        self.port = free_port()
        env = {
            **os.environ,
            "PAPERBOY_DATABASE_URL": config.database_url,
            "PAPERBOY_TOPICS_FILE": str(config.topics_file),
            "PAPERBOY_SECRET_KEY": config.secret_key,
            "PAPERBOY_MAIL_FROM": config.mail_from,
            "PAPERBOY_BASE_URL": config.base_url,
        }
        if config.bounce_address:
            env["PAPERBOY_BOUNCE_ADDRESS"] = config.bounce_address
        self.log_path = cwd / f"inbound-{self.port}.log"
        self.log_file = self.log_path.open("wb")
        self.process = subprocess.Popen(
            [str(PAPERBOY), "inbound", "--host", "127.0.0.1", "--port", str(self.port)],
            env=env,
            cwd=cwd,
            stdout=self.log_file,
            stderr=subprocess.STDOUT,
        )
        deadline = time.monotonic() + 30
        while True:
            try:
                smtplib.SMTP("127.0.0.1", self.port, timeout=5).quit()
                return
            except OSError:
                if self.process.poll() is not None or time.monotonic() > deadline:
                    self.stop()
                    raise AssertionError(f"paperboy inbound did not start: {self.log()}")
                time.sleep(0.1)

    def client(self) -> smtplib.SMTP:
        return smtplib.SMTP("127.0.0.1", self.port, timeout=60)

    def send(self, raw: bytes, rcpts: list[str] | str = BOUNCES, mail_from: str = "") -> None:
        """Deliver one message as an MTA would; raises smtplib's errors on a refusal."""
        with self.client() as smtp:
            smtp.sendmail(mail_from, [rcpts] if isinstance(rcpts, str) else rcpts, crlf(raw))

    def log(self) -> str:
        if not self.log_file.closed:
            self.log_file.flush()
        return self.log_path.read_text(errors="replace")

    def stop(self) -> int:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            self.process.wait(timeout=30)
        self.log_file.close()
        return self.process.returncode
