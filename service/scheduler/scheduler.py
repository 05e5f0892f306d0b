"""The clock process: fetch daily and send the digest weekly (APScheduler, cron expressions from
PAPERBOY_FETCH_CRON and PAPERBOY_DIGEST_CRON), mail queued confirmations every few seconds,
with one scheduler at a time across processes:
a PostgreSQL advisory lock, or on SQLite a lock row whose expiry the holder renews."""

from __future__ import annotations

import logging
import threading
from datetime import UTC, datetime, timedelta

from apscheduler.schedulers.background import BackgroundScheduler
from apscheduler.triggers.interval import IntervalTrigger

from service.arxiv.fetch import fetch_topics
from service.clock import utc_now
from service.digest.digest import last_complete_week
from service.errors import first_line
from service.inbound.imap import poll_mailbox
from service.model.cron import cron_trigger
from service.outbound.digests import send_digest, send_due
from service.outbound.notices import send_notices
from service.runtime import Runtime, process_identity
from service.store import digests, locks, runs, write_transaction
from service.store.locks import ADVISORY_KEY, LOCK_NAME

log = logging.getLogger("paperboy.scheduler")

LOCK_TTL = timedelta(seconds=90)
RENEW_EVERY = timedelta(seconds=30)
# A tick no scheduler ran (its clock died just before it) is run late by the one that takes over,
# within these graces; the jobs' own misfire grace times are the same.
FETCH_GRACE = timedelta(hours=1)
DIGEST_GRACE = timedelta(hours=6)
SWEEP_EVERY = timedelta(minutes=5)
# Confirmations are mailed this soon after the form is sent.
NOTICE_EVERY = timedelta(seconds=15)


class SchedulerLock:
    """Held by at most one scheduler process at a time."""

    def __init__(self, engine, holder: str | None = None, ttl: timedelta = LOCK_TTL):
        self.engine = engine
        self.holder = holder or process_identity()
        self.ttl = ttl
        self.postgres = engine.dialect.name == "postgresql"
        self._connection = None  # PostgreSQL: advisory locks belong to the session that took them

    @property
    def takeover(self) -> str:
        """When a scheduler that died stops holding the lock, for the log and the docs."""
        if self.postgres:
            return "at once when its database session ends, which a killed process's does"
        return (
            f"on SQLite {self.ttl.total_seconds():.0f} s after its last renewal, so "
            f"{self.ttl.total_seconds():.0f} to {(self.ttl + RENEW_EVERY).total_seconds():.0f} s after it died"
        )

    def acquire(self, now: datetime | None = None) -> bool:
        """Take the lock if it is free (or, on SQLite, expired); renew it if this holder has it."""
        if self.postgres:
            if self._connection is not None:
                return self.renew(now)
            connection = self.engine.connect()
            try:
                if locks.try_advisory_lock(connection, ADVISORY_KEY):
                    self._session = locks.backend_pid(connection)
                    connection.commit()
                    self._connection = connection
                    return True
                connection.rollback()
            finally:
                if self._connection is not connection:
                    connection.close()
            return False
        with write_transaction(self.engine) as conn:
            return locks.take_row_lock(conn, LOCK_NAME, self.holder, now or utc_now(), self.ttl)

    def renew(self, now: datetime | None = None) -> bool:
        """Keep the lock; False when it was lost (expired and taken, or the session died)."""
        if self.postgres:
            if self._connection is None:
                return False
            try:
                same_session = locks.backend_pid(self._connection) == self._session
                self._connection.commit()
            except Exception:  # the session, and with it the lock, is gone
                same_session = False
            if not same_session:
                self._connection.close()
                self._connection = None
            return same_session
        with write_transaction(self.engine) as conn:
            return locks.take_row_lock(conn, LOCK_NAME, self.holder, now or utc_now(), self.ttl)

    def release(self) -> None:
        if self.postgres:
            connection, self._connection = self._connection, None
            if connection is not None:
                try:
                    locks.advisory_unlock(connection, ADVISORY_KEY)
                    connection.commit()
                finally:
                    connection.close()
            return
        with write_transaction(self.engine) as conn:
            locks.release_row_lock(conn, LOCK_NAME, self.holder)


def fetch_job(runtime: Runtime, now: datetime | None = None) -> int:
    """The daily fetch of every topic; returns the fetch's exit code."""
    report = fetch_topics(runtime, runtime.topics, now=now)
    for result in report.results:
        log.info("scheduler: %s", result.summary())
    return report.exit_code


# One sender at a time in this process: the weekly job and the sweep each run their own pool of
# connections and their own rate limit, so two at once would double both (and the sweep would
# find the weekly digest's rows due while the weekly job is still sending them).
_sending = threading.Lock()


def digest_job(runtime: Runtime, now: datetime | None = None, clock=None):
    """The weekly digest of the last complete ISO week: write the ledger and send what is due."""
    with _sending:
        queued, stats = send_digest(runtime, now=now, clock=clock)
    if stats.error:
        log.error("scheduler: digest %s stopped: %s", queued.digest.week, stats.error)
    return stats


def deliveries_job(runtime: Runtime, clock=None):
    """Every few minutes: send deliveries queued from the admin pages or left due by a stopped run."""
    if not _sending.acquire(blocking=False):
        log.info("scheduler: a digest is being sent; the delivery sweep waits for its next turn")
        return []
    try:
        return send_due(runtime, clock)
    finally:
        _sending.release()


def inbound_job(runtime: Runtime):
    """Every few minutes when PAPERBOY_INBOUND_IMAP_URL is set: handle the mail in that mailbox."""
    try:
        polled = poll_mailbox(runtime)
    except Exception as error:  # the mailbox or the database is down: try again next time
        log.error("scheduler: %s", first_line(error, type(error).__name__))
        return None
    if polled.handled or polled.skipped:
        log.info(
            "scheduler: inbound mailbox: %d messages handled, %d too large and left there",
            polled.handled,
            polled.skipped,
        )
    return polled


def notices_job(runtime: Runtime, clock=None):
    """Every NOTICE_EVERY: mail the confirmations the form queued. It does not wait for a digest
    being sent (the mail queue has its own claims), so a sign-up is answered within seconds."""

    try:
        return send_notices(runtime, clock)
    except Exception as error:  # the database is down: the queue waits for the next run
        log.error("scheduler: mail queue: %s", first_line(error, type(error).__name__))
        return None


def last_tick(expression: str, now: datetime, grace: timedelta) -> datetime | None:
    """The latest time in (now - grace, now] that the crontab line `expression` names, if any."""
    trigger = cron_trigger(expression)
    tick, last = trigger.get_next_fire_time(None, now - grace), None
    while tick is not None and tick <= now:
        last = tick
        tick = trigger.get_next_fire_time(tick, tick + timedelta(microseconds=1))
    return last


def missed_ticks(runtime: Runtime, now: datetime, jobs=("fetch", "digest")) -> dict[str, datetime]:
    """The jobs whose latest tick (within its grace) did not run, by job id, with that tick: no
    fetch started since the fetch's tick; no digest exists for the week the digest's tick sends."""

    config = runtime.config
    ticks = {
        "fetch": last_tick(config.fetch_cron, now, FETCH_GRACE),
        "digest": last_tick(config.digest_cron, now, DIGEST_GRACE),
    }
    missed = {}
    with runtime.engine.connect() as conn:
        if "fetch" in jobs and ticks["fetch"] and not runs.fetch_started_since(conn, ticks["fetch"]):
            missed["fetch"] = ticks["fetch"]
        if (
            "digest" in jobs
            and ticks["digest"]
            and digests.get_digest_for_week(conn, last_complete_week(ticks["digest"])) is None
        ):
            missed["digest"] = ticks["digest"]
    return missed


class Scheduler:
    """Waits for the lock, then runs the jobs on their cron schedules while it holds it. On taking
    the lock it runs late what the previous holder missed (`catch_up`: which jobs may be)."""

    def __init__(self, runtime: Runtime, lock: SchedulerLock | None = None, catch_up=("fetch", "digest")):
        self.runtime = runtime
        self.catch_up = catch_up
        self.lock = lock or SchedulerLock(runtime.engine)
        self.stopping = threading.Event()
        self.lost = threading.Event()
        self.scheduler: BackgroundScheduler | None = None

    def jobs(self) -> BackgroundScheduler:
        """An APScheduler with the fetch, digest and lock-renewal jobs (not started)."""
        config = self.runtime.config
        scheduler = BackgroundScheduler(timezone=UTC)
        scheduler.add_job(
            fetch_job,
            cron_trigger(config.fetch_cron),
            args=[self.runtime],
            id="fetch",
            max_instances=1,
            coalesce=True,
            misfire_grace_time=int(FETCH_GRACE.total_seconds()),
        )
        scheduler.add_job(
            digest_job,
            cron_trigger(config.digest_cron),
            args=[self.runtime],
            id="digest",
            max_instances=1,
            coalesce=True,
            misfire_grace_time=int(DIGEST_GRACE.total_seconds()),
        )
        scheduler.add_job(
            deliveries_job,
            IntervalTrigger(seconds=SWEEP_EVERY.total_seconds()),
            args=[self.runtime],
            id="deliveries",
            max_instances=1,
            coalesce=True,
        )
        scheduler.add_job(
            notices_job,
            IntervalTrigger(seconds=NOTICE_EVERY.total_seconds()),
            args=[self.runtime],
            id="notices",
            max_instances=1,
            coalesce=True,
        )
        if config.inbound_imap_url:
            scheduler.add_job(
                inbound_job,
                IntervalTrigger(seconds=SWEEP_EVERY.total_seconds()),
                args=[self.runtime],
                id="inbound",
                max_instances=1,
                coalesce=True,
            )
        scheduler.add_job(self._renew, IntervalTrigger(seconds=RENEW_EVERY.total_seconds()), id="lock")
        return scheduler

    def _renew(self) -> None:
        if not self.lock.renew():
            log.error("scheduler: lost the scheduler lock; pausing the jobs until it is free again")
            self.lost.set()

    def run_forever(self) -> None:
        """Hold the lock and run the jobs until stop(); another scheduler holding it makes this one wait."""
        waiting = False  # said once that another scheduler holds the lock, until this one takes it
        try:
            while not self.stopping.is_set():
                try:
                    taken = self.lock.acquire()
                except Exception as error:  # the database is down: wait for it rather than die
                    log.error(
                        "scheduler: cannot take the scheduler lock (%s); trying again in %d s",
                        first_line(error, type(error).__name__),
                        RENEW_EVERY.total_seconds(),
                    )
                    self.stopping.wait(RENEW_EVERY.total_seconds())
                    continue
                if not taken:
                    if not waiting:
                        log.info(
                            "scheduler: another scheduler holds the lock; checking every %d s and "
                            "taking over once it is free (%s)",
                            RENEW_EVERY.total_seconds(),
                            self.lock.takeover,
                        )
                        waiting = True
                    self.stopping.wait(RENEW_EVERY.total_seconds())
                    continue
                waiting = False
                log.info(
                    "scheduler: lock taken; fetch at '%s', digest at '%s' (UTC)",
                    self.runtime.config.fetch_cron,
                    self.runtime.config.digest_cron,
                )
                self.lost.clear()
                self.scheduler = self.jobs()
                self.scheduler.start()
                self._run_missed()
                while not (self.stopping.is_set() or self.lost.is_set()):
                    self.stopping.wait(1.0)
                self.scheduler.shutdown(wait=True)
                self.scheduler = None
        finally:
            try:
                self.lock.release()
            except Exception as error:  # an SQLite lock row then expires on its own
                log.warning(
                    "scheduler: cannot release the scheduler lock (%s)", first_line(error, type(error).__name__)
                )

    def _run_missed(self) -> None:
        """Run now the ticks that passed while no scheduler held the lock (a clock that died just
        before its tick): APScheduler's own misfire handling only knows this process's ticks."""
        if self.scheduler is None:
            return  # no longer holding the lock
        try:
            missed = missed_ticks(self.runtime, utc_now(), self.catch_up)
        except Exception as error:  # the database is down: the regular ticks still come
            log.error("scheduler: cannot check for missed runs: %s", first_line(error, type(error).__name__))
            return
        for job_id, tick in missed.items():
            log.warning(
                "scheduler: the %s due at %s UTC did not run (no scheduler held the lock then); running it now",
                job_id,
                f"{tick:%Y-%m-%d %H:%M}",
            )
            self.scheduler.modify_job(job_id, next_run_time=utc_now())

    def stop(self) -> None:
        self.stopping.set()
