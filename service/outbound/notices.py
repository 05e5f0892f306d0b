"""Transactional mail (confirmations): the mail queue as a Ledger (service/outbound/ledger.py),
sent by the same engine as the digest, with the same claims, leases, retries and outcome rules
(service/outbound/engine.py, service/outbound/policy.py).

/subscribe only writes a request row, the same for every address, so its answer and its timing
never depend on who owns the address or on whether SMTP is up. The scheduler runs send_notices
every 15 s (NOTICE_EVERY in service/scheduler/scheduler.py): it admits the requests (a pending subscriber,
and a due confirmation unless the address is blocked or had one in the last 10 minutes), then
sends what is due.
"""

from __future__ import annotations

import asyncio
import logging
from datetime import datetime, timedelta
from email import policy
from email.message import EmailMessage

from service import store
from service.clock import Clock, SystemClock
from service.model.states import MailState
from service.outbound.engine import Engine, SendStats
from service.outbound.mime import DkimSigner, message_id
from service.outbound.verp import bounce_address
from service.runtime import Runtime
from service.store import Connection, mail_queue
from service.store.subscribers import admins, lifecycle
from subscribers import admin_access
from subscribers.emails import confirmation_message
from subscribers.tokens import CONFIRM_MAX_AGE, confirm_url

log = logging.getLogger("paperboy.notices")

ADMIT_BATCH = 200
HELD = "no confirmation mail: the address is blocked, or one was queued in the last 10 minutes"


def admit_requests(runtime: Runtime) -> int:
    """Turn sign-ups from the form into subscribers and due (or held) confirmations; returns how many."""
    admitted = 0
    while True:
        with store.write_transaction(runtime.engine) as conn:
            requests = mail_queue.requests(conn, ADMIT_BATCH)
            for request in requests:
                found, send = lifecycle.request_subscription(conn, request.email, request.topics, request.created)
                mail_queue.admit(conn, request.id, found.id, send, "" if send else HELD)
                if send:
                    lifecycle.record_confirmation_mailed(conn, found.id, request.created, request.id)
        admitted += len(requests)
        if len(requests) < ADMIT_BATCH:
            return admitted


class NoticeLedger:
    """The mail queue: every due mail, then done (retries wait for a later run)."""

    label = "the mail queue"

    def __init__(self, runtime: Runtime):
        self.runtime, self.config = runtime, runtime.config
        self.signer = DkimSigner.from_config(self.config)

    def pending(self, conn: Connection) -> int:
        return mail_queue.pending_count(conn)

    def held_elsewhere(self, conn: Connection, now: datetime, lease: timedelta) -> tuple[int, datetime | None]:
        # Mails left sending are due again after the lease; the next run (15 s on) takes them over.
        return mail_queue.state_counts(conn).get(MailState.SENDING, 0), None

    def retry_at(self, conn: Connection) -> datetime | None:
        return None

    def prepare(self) -> None:
        """Nothing to read up front: each notice is built from its own row."""

    def claim(
        self, conn: Connection, worker: str, now: datetime, lease: timedelta, limit: int
    ) -> list[mail_queue.QueuedMail]:
        return mail_queue.claim_mails(conn, worker, now, lease, limit)

    def message(self, job: mail_queue.QueuedMail, address: str, now: datetime) -> bytes:
        config = self.config
        if job.kind in mail_queue.ADMIN_KINDS or job.subscriber_id is None:
            return self._sign(self._admin_message(job, address, now))
        # The link carries the time of the request, so a mail sent again is the same confirmation.
        link = confirm_url(config, job.subscriber_id, list(job.topics), job.created)
        chosen = [topic for topic in self.runtime.topics if topic.slug in job.topics]
        mail = confirmation_message(config, address, link, chosen, now, message_id(config, job.kind, job.id))
        return self._sign(mail)

    def _admin_message(self, job: mail_queue.QueuedMail, address: str, now: datetime) -> EmailMessage:
        """An invitation or a password reset: the link is made now, for the admin's password of now,
        so setting a password through it (or any other way) ends it."""
        with self.runtime.engine.connect() as conn:
            admin = admins.admin_by_email(conn, address)
        current = admin.password_hash if admin else ""
        link = admin_access.password_url(self.config, job.kind, address, current, job.created)
        return admin_access.admin_message(
            self.config, job.kind, address, link, now, message_id(self.config, job.kind, job.id)
        )

    def _sign(self, mail: EmailMessage) -> bytes:
        data = mail.as_bytes(policy=policy.SMTP)
        return self.signer.sign(data) if self.signer else data

    def envelope_sender(self, job: mail_queue.QueuedMail) -> str:
        # The plain bounce address: VERP tags name deliveries, and a queued mail is not one. A bounce
        # of a confirmation finds its subscriber by the address it names.
        return bounce_address(self.config)

    def renew_lease(self, conn: Connection, job_id: int, worker: str, now: datetime) -> bool:
        return mail_queue.renew_lease(conn, job_id, worker, now)

    def mark_sent(self, conn: Connection, job_ids: list[int], worker: str, now: datetime) -> int:
        return mail_queue.mark_sent(conn, job_ids, worker, now)

    def mark_retrying(self, conn: Connection, job_id: int, worker: str, error: str, next_attempt: datetime) -> int:
        return mail_queue.mark_retrying(conn, job_id, worker, error, next_attempt)

    def mark_failed(self, conn: Connection, job_id: int, worker: str, error: str, state: str) -> int:
        return mail_queue.mark_failed(conn, job_id, worker, error, state)

    def release(self, conn: Connection, job_ids: list[int], worker: str) -> int:
        return mail_queue.release(conn, job_ids, worker)


def send_notices(runtime: Runtime, clock: Clock | None = None, lease: timedelta | None = None) -> SendStats:
    """Admit the form's sign-ups and send every due transactional mail once."""
    clock = clock or SystemClock()
    with runtime.engine.begin() as conn:
        expired = mail_queue.expire(conn, clock.now() - CONFIRM_MAX_AGE)
    if expired:
        log.warning(
            "notices: %d confirmations were not sent within %d days and are cancelled", expired, CONFIRM_MAX_AGE.days
        )
    admit_requests(runtime)
    stats = asyncio.run(Engine(runtime, NoticeLedger(runtime), clock, lease).run())
    if stats.total or stats.error:
        log.info(
            "notices: %d sent, %d retried, %d failed (%d bounced), %d cancelled%s",
            stats.sent,
            stats.retried,
            stats.failed,
            stats.bounced,
            stats.cancelled,
            f"; stopped: {stats.error}" if stats.error else "",
        )
    return stats
