"""The Ledger protocol: what the send engine (service/outbound/engine.py) needs from a kind of mail.

The engine claims, leases, sends, retries and settles; it knows this protocol, not the tables.
Each kind of mail is one implementation: digest deliveries (service/outbound/digests.py) and
confirmation mails (service/outbound/notices.py). A new kind of mail is a new Ledger.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Protocol, TypeVar

from service.store import Connection


class Job(Protocol):
    """A claimed row: the mail one sender now holds."""

    @property
    def id(self) -> int: ...
    @property
    def subscriber_id(self) -> int | None:
        """None for a mail to an admin, addressed by `email` alone."""

    @property
    def email(self) -> str | None:
        """The recipient, or None when the address may no longer be mailed (the mail is cancelled)."""

    @property
    def attempts(self) -> int:
        """Tries so far, this one included."""

    @property
    def claimed_at(self) -> datetime: ...


JobT = TypeVar("JobT", bound=Job)


class Unsendable(Exception):
    """This claimed mail has nothing to send (a digest the subscriber's keywords leave empty):
    it is cancelled with this reason, not retried."""


class Ledger(Protocol[JobT]):
    """The rows of one kind of mail, and how to write each of them."""

    @property
    def label(self) -> str:
        """What is being sent, for the log: the digest's week, or "the mail queue"."""

    # Reading: the run's counts and waits.
    def pending(self, conn: Connection) -> int:
        """Rows not yet settled (due, sending or retrying) when a run starts."""

    def held_elsewhere(self, conn: Connection, now: datetime, lease: timedelta) -> tuple[int, datetime | None]:
        """How many rows other senders hold under a running lease, and when the last lease runs out."""

    def retry_at(self, conn: Connection) -> datetime | None:
        """When the earliest retry is due, for a run that waits for its retries; None: a later run sends them."""

    # Claiming and writing mail.
    def prepare(self) -> None:
        """Work done once before the first message of a run (in a thread: it may read the store)."""

    def claim(self, conn: Connection, worker: str, now: datetime, lease: timedelta, limit: int) -> list[JobT]:
        """Take up to `limit` claimable rows for `worker` in the engine's write transaction."""

    def message(self, job: JobT, address: str, now: datetime) -> bytes:
        """The complete message for `address` (ASCII), CRLF line ends; raises Unsendable."""

    def envelope_sender(self, job: JobT) -> str:
        """The MAIL FROM address, where a bounce of this mail goes."""

    # Settling: each changes only rows `worker` still holds, and returns how many it changed.
    def renew_lease(self, conn: Connection, job_id: int, worker: str, now: datetime) -> bool: ...

    def mark_sent(self, conn: Connection, job_ids: list[int], worker: str, now: datetime) -> int: ...

    def mark_retrying(self, conn: Connection, job_id: int, worker: str, error: str, next_attempt: datetime) -> int: ...

    def mark_failed(self, conn: Connection, job_id: int, worker: str, error: str, state: str) -> int: ...

    def release(self, conn: Connection, job_ids: list[int], worker: str) -> int: ...
