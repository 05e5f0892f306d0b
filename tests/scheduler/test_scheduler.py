"""The clock process: one scheduler at a time, cron schedules from the settings, the weekly job."""

from __future__ import annotations

import asyncio
import threading
from collections import Counter
from datetime import UTC, datetime, timedelta

import pytest

from service.scheduler.scheduler import LOCK_TTL, Scheduler, SchedulerLock, deliveries_job, digest_job
from tests.conftest import NOW
from tests.support.digest_data import ALICE, BOB, CAROL, WEEK, FakeClock, add_subscribers, load_week, runtime_for
from tests.support.smtp_server import RecordingHandler, SmtpServer


def test_it_lets_one_scheduler_hold_the_lock_at_a_time(engine):
    first, second = SchedulerLock(engine, "first"), SchedulerLock(engine, "second")

    assert first.acquire(NOW)
    assert not second.acquire(NOW)
    assert first.renew(NOW + timedelta(seconds=30))
    assert not second.acquire(NOW + timedelta(seconds=31))
    first.release()
    assert second.acquire(NOW + timedelta(seconds=32))
    assert not first.acquire(NOW + timedelta(seconds=33))
    second.release()


def test_it_takes_over_a_row_lock_its_holder_stopped_renewing(sqlite_engine):
    first, second = SchedulerLock(sqlite_engine, "first"), SchedulerLock(sqlite_engine, "second")
    assert first.acquire(NOW)

    assert not second.acquire(NOW + LOCK_TTL - timedelta(seconds=1))
    assert second.acquire(NOW + LOCK_TTL + timedelta(seconds=1))
    assert not first.renew(NOW + LOCK_TTL + timedelta(seconds=2))  # the old holder learns it lost


def test_it_frees_the_advisory_lock_when_the_holders_session_ends(postgres_url):
    from service import store

    engine = store.connect(postgres_url)
    store.migrate(engine)
    first, second = SchedulerLock(engine, "first"), SchedulerLock(engine, "second")
    try:
        assert first.acquire() and not second.acquire()
        first._connection.invalidate()  # as if the process died: the server ends its session
        assert not first.renew()
        assert second.acquire()
    finally:
        second.release()
        engine.dispose()


def test_it_schedules_the_fetch_and_the_digest_from_the_cron_settings(config):
    runtime = runtime_for(config.with_overrides(fetch_cron="15 5 * * *", digest_cron="30 8 * * 2"))
    jobs = Scheduler(runtime).jobs()

    fetch, digest = jobs.get_job("fetch"), jobs.get_job("digest")

    assert fetch.trigger.get_next_fire_time(None, NOW) == datetime(2026, 2, 5, 5, 15, tzinfo=UTC)
    assert digest.trigger.get_next_fire_time(None, NOW) == datetime(2026, 2, 10, 8, 30, tzinfo=UTC)
    sweep = jobs.get_job("deliveries")  # queued and retrying deliveries go out between the weekly runs
    assert sweep.trigger.interval == timedelta(minutes=5)
    notices = jobs.get_job("notices")  # confirmations queued by the form go out within seconds
    assert notices.trigger.interval == timedelta(seconds=15)


def test_its_weekly_job_sends_the_last_complete_week(config, smtp_server):
    runtime = runtime_for(config.with_overrides(smtp_url=smtp_server.url))
    with runtime.engine.begin() as conn:
        load_week(conn)
        add_subscribers(conn, [ALICE, BOB], NOW)

    stats = digest_job(runtime, now=NOW, clock=FakeClock(NOW))

    assert stats.sent == 2
    assert Counter(smtp_server.handler.recipients()) == Counter([ALICE[0], BOB[0]])
    assert all(WEEK in message["Subject"] for message in smtp_server.messages)


@pytest.mark.parametrize("cron", ["0 6 * *", "61 * * * *", "0 7 * * 8", "0 7 * * 5-9", "0 7 * * x-y"])
def test_it_refuses_a_bad_cron_expression_with_one_line(cron):
    from service.config import ConfigError, load_config

    with pytest.raises(ConfigError, match="PAPERBOY_DIGEST_CRON"):
        load_config({"PAPERBOY_DIGEST_CRON": cron, "PAPERBOY_SECRET_KEY": "x"})


@pytest.mark.parametrize(
    "expression, expected",
    [
        ("0 7 * * 1", datetime(2026, 2, 9, 7, 0, tzinfo=UTC)),  # crontab's 1 is Monday
        ("0 7 * * 0", datetime(2026, 2, 8, 7, 0, tzinfo=UTC)),  # 0 and 7 are Sunday
        ("0 7 * * 7", datetime(2026, 2, 8, 7, 0, tzinfo=UTC)),
        ("0 7 * * 4-5", datetime(2026, 2, 5, 7, 0, tzinfo=UTC)),
        ("0 7 * * */3", datetime(2026, 2, 4, 7, 0, tzinfo=UTC) + timedelta(days=3)),
    ],
)
def test_it_reads_days_of_the_week_as_crontab_does(expression, expected):
    from service.scheduler.scheduler import cron_trigger

    assert cron_trigger(expression).get_next_fire_time(None, NOW) == expected


@pytest.mark.parametrize("cron", ["0 7 * * 7", "0 7 * * 5-7", "0 7 * * 1-7/2"])
def test_it_accepts_the_crontab_sunday_seven_in_the_settings(cron):
    from service.config import load_config

    assert load_config({"PAPERBOY_DIGEST_CRON": cron, "PAPERBOY_SECRET_KEY": "x"}).digest_cron == cron


def test_the_scheduler_command_holds_the_lock_and_releases_it_on_sigterm(tmp_path, sqlite_url, topics_file):
    import os
    import subprocess
    import sys
    import time
    from pathlib import Path

    from sqlalchemy import create_engine, text

    environ = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "PAPERBOY_DATABASE_URL": sqlite_url,
        "PAPERBOY_TOPICS_FILE": str(topics_file),
        "PAPERBOY_SECRET_KEY": "test-secret",
    }
    process = subprocess.Popen(
        [str(Path(sys.executable).parent / "paperboy"), "scheduler"],
        env=environ,
        cwd=tmp_path,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    engine = create_engine(sqlite_url)
    try:
        holder, deadline = None, time.monotonic() + 60
        while holder is None and process.poll() is None and time.monotonic() < deadline:
            try:
                with engine.connect() as conn:
                    holder = conn.execute(text("SELECT holder FROM scheduler_lock")).scalar()
            except Exception:  # the schema is still being created
                pass
            if holder is None:
                time.sleep(0.1)
        assert holder and f":{process.pid}:" in holder
        # Batch work yields the CPU to web processes on the same machine.
        assert os.getpriority(os.PRIO_PROCESS, process.pid) == min(19, os.getpriority(os.PRIO_PROCESS, 0) + 10)
        process.terminate()
        assert process.wait(timeout=30) == 0
        with engine.connect() as conn:
            assert conn.execute(text("SELECT count(*) FROM scheduler_lock")).scalar() == 0
    finally:
        engine.dispose()
        if process.poll() is None:
            process.kill()
            process.wait()


class HoldFirstMessage(RecordingHandler):
    """Keeps the first message's DATA waiting until `release` is set."""

    def __init__(self):
        super().__init__()
        self.holding, self.release = threading.Event(), threading.Event()

    async def handle_DATA(self, server, session, envelope):
        if not self.holding.is_set():
            self.holding.set()
            await asyncio.get_running_loop().run_in_executor(None, self.release.wait, 60)
        return await super().handle_DATA(server, session, envelope)


def test_its_delivery_sweep_waits_while_the_weekly_digest_is_being_sent(config):
    handler = HoldFirstMessage()
    server = SmtpServer(handler).start()
    try:
        # At this rate the weekly job claims one row at a time, so the last stays due meanwhile.
        runtime = runtime_for(config.with_overrides(smtp_url=server.url, smtp_concurrency=1, smtp_rate=0.01))
        people = [ALICE, BOB, CAROL, ("dave@example.org", ["testing"])]
        with runtime.engine.begin() as conn:
            load_week(conn)
            add_subscribers(conn, people, NOW)
        weekly = threading.Thread(target=digest_job, args=(runtime,), kwargs={"now": NOW, "clock": FakeClock(NOW)})
        weekly.start()
        assert handler.holding.wait(60)  # the weekly job is sending; the second row is due

        swept = deliveries_job(runtime, FakeClock(NOW))

        handler.release.set()
        weekly.join(60)
        assert swept == []  # a second sender would double the connections and the rate limit
        assert Counter(handler.recipients()) == Counter(email for email, _ in people)
    finally:
        handler.release.set()
        server.stop()


def test_it_waits_for_an_unreachable_database_instead_of_dying(config, caplog):
    import time

    from sqlalchemy import create_engine

    from tests.support.smtp_server import free_port

    # The database went away: nothing listens where the lock lives.
    gone = create_engine(f"postgresql+psycopg://postgres@127.0.0.1:{free_port()}/paperboy")
    clock = Scheduler(runtime_for(config), SchedulerLock(gone))
    thread = threading.Thread(target=clock.run_forever, daemon=True)
    thread.start()
    try:
        deadline = time.monotonic() + 30
        while not any("cannot take the scheduler lock" in r.getMessage() for r in caplog.records):
            assert thread.is_alive(), "the scheduler died with the database"
            assert time.monotonic() < deadline, "the scheduler said nothing about the database"
            time.sleep(0.05)
        assert thread.is_alive()  # waiting to try again, as `paperboy run`'s scheduler thread must
    finally:
        clock.stop()
        thread.join(30)
        gone.dispose()
    assert not thread.is_alive()


def test_it_says_once_that_another_scheduler_holds_the_lock_and_when_it_takes_over(config, caplog, monkeypatch):
    import service.scheduler.scheduler as scheduler_module

    runtime = runtime_for(config)
    from service import store

    store.migrate(runtime.engine)
    holder = SchedulerLock(runtime.engine, "other")
    assert holder.acquire()
    monkeypatch.setattr(scheduler_module, "RENEW_EVERY", timedelta(milliseconds=10))  # check often
    clock = Scheduler(runtime)
    checks = []
    original = clock.lock.acquire
    clock.lock.acquire = lambda: checks.append(1) or (len(checks) >= 20 and clock.stop()) or original()
    with caplog.at_level("INFO", logger="paperboy.scheduler"):
        clock.run_forever()
    waits = [r.message for r in caplog.records if "another scheduler holds the lock" in r.message]
    assert len(checks) >= 20
    assert len(waits) == 1
    assert "on SQLite 90 s after its last renewal" in waits[0]


MONDAY_0720 = datetime(2026, 2, 9, 7, 20, tzinfo=UTC)


def test_it_finds_the_ticks_no_scheduler_ran(config):
    from service.scheduler.scheduler import missed_ticks
    from service.store import digests, runs

    runtime = runtime_for(config.with_overrides(fetch_cron="0 6 * * *", digest_cron="0 7 * * 1"))
    half_past_six = MONDAY_0720.replace(hour=6, minute=30)
    # Nothing ran: the fetch's 06:00 tick is missed at 06:30, but past its hour of grace at 07:20;
    # the digest's Monday 07:00 tick, for week 2026-W06, is within its six hours.
    assert missed_ticks(runtime, half_past_six) == {"fetch": MONDAY_0720.replace(hour=6, minute=0)}
    assert missed_ticks(runtime, MONDAY_0720) == {"digest": MONDAY_0720.replace(hour=7, minute=0)}
    assert missed_ticks(runtime, MONDAY_0720.replace(hour=14)) == {}
    with runtime.engine.begin() as conn:
        runs.start_run(
            conn, "vla", half_past_six - timedelta(days=1), half_past_six, half_past_six - timedelta(minutes=25)
        )
        digests.create_digest(conn, "2026-W06", {}, MONDAY_0720.replace(hour=7, minute=1))
    assert missed_ticks(runtime, half_past_six) == {}
    assert missed_ticks(runtime, MONDAY_0720) == {}
    # A digest of another week does not count for this tick.
    assert missed_ticks(runtime, MONDAY_0720 + timedelta(days=7)) == {
        "digest": MONDAY_0720.replace(hour=7, minute=0) + timedelta(days=7)
    }


def test_a_scheduler_taking_the_lock_runs_the_ticks_its_predecessor_missed(config, caplog):
    from service.digest.digest import last_complete_week
    from service.scheduler.scheduler import utc_now
    from service.store import digests, runs

    tick = (utc_now() - timedelta(minutes=2)).replace(second=0, microsecond=0)
    cron = f"{tick.minute} {tick.hour} * * *"  # daily, two minutes ago: the clock that held the lock died
    runtime = runtime_for(config.with_overrides(fetch_cron=cron, digest_cron=cron, arxiv_retries=0))
    clock = Scheduler(runtime)
    thread = threading.Thread(target=clock.run_forever, daemon=True)
    with caplog.at_level("WARNING", logger="paperboy.scheduler"):
        thread.start()
        try:
            deadline = datetime.now(UTC) + timedelta(seconds=60)
            while datetime.now(UTC) < deadline:
                with runtime.engine.connect() as conn:
                    fetched = runs.fetch_started_since(conn, tick)
                    sent = digests.get_digest_for_week(conn, last_complete_week(tick)) is not None
                if fetched and sent:
                    break
                threading.Event().wait(0.2)
        finally:
            clock.stop()
            thread.join(60)
    assert fetched and sent
    said = [r.message for r in caplog.records if "did not run" in r.message]
    assert len(said) == 2 and all(f"{tick:%Y-%m-%d %H:%M}" in line for line in said), said
