"""`paperboy digest preview|send`, the real console script in a subprocess against real SMTP."""

from __future__ import annotations

import html
import os
import subprocess
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path

import pytest

from service.model.weeks import week_of
from service.store import deliveries, digests, papers
from tests.conftest import NOW
from tests.support.digest_data import ALICE, BOB, CAROL, WEEK, add_subscribers, load_week, runtime_for
from tests.support.helpers import PAPERBOY, paperboy


@pytest.fixture
def stored(config):
    runtime = runtime_for(config)
    with runtime.engine.begin() as conn:
        testing, vla = load_week(conn)
        add_subscribers(conn, [ALICE, BOB, CAROL], NOW)
    return runtime, testing, vla


@pytest.fixture
def environ(config, smtp_server):
    return {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "PAPERBOY_DATABASE_URL": config.database_url,
        "PAPERBOY_TOPICS_FILE": str(config.topics_file),
        "PAPERBOY_SMTP_URL": smtp_server.url,
        "PAPERBOY_SECRET_KEY": config.secret_key,
        "PAPERBOY_BASE_URL": config.base_url,
    }


def test_it_writes_a_preview_and_prints_its_paths(stored, environ, tmp_path):
    runtime, testing, _ = stored
    result = paperboy(environ, "digest", "preview", "--week", WEEK, "--topics", "testing", cwd=tmp_path)

    assert result.returncode == 0, result.stderr
    html_path, text_path = (Path(tmp_path, line) for line in result.stdout.split())
    assert html_path.suffix == ".html" and text_path.suffix == ".txt"
    body, text = html.unescape(html_path.read_text()), text_path.read_text()
    assert all(p.abs_url in body and p.title in text for p in testing)
    with runtime.engine.connect() as conn:
        assert digests.get_digest_for_week(conn, WEEK) is None  # a preview does not freeze the week


def test_it_sends_the_week_and_a_rerun_sends_nothing(stored, environ, tmp_path, smtp_server):
    runtime, _, _ = stored
    first = paperboy(environ, "digest", "send", "--week", WEEK, cwd=tmp_path)
    again = paperboy(environ, "digest", "send", "--week", WEEK, cwd=tmp_path)

    assert first.returncode == 0, first.stderr
    assert f"{WEEK}: 3 sent, 0 failed" in first.stdout
    assert "mailer: " in first.stderr  # one log line per step when not on a terminal
    assert again.returncode == 0 and f"{WEEK}: 0 sent" in again.stdout
    assert Counter(smtp_server.handler.recipients()) == Counter([ALICE[0], BOB[0], CAROL[0]])


def test_it_reports_a_dry_run_and_sends_nothing(stored, environ, tmp_path, smtp_server):
    runtime, _, _ = stored
    result = paperboy(environ, "digest", "send", "--week", WEEK, "--dry-run", cwd=tmp_path)

    assert result.returncode == 0, result.stderr
    assert "would send 3 messages (3 distinct topic sets); nothing sent" in result.stdout
    assert smtp_server.messages == []
    with runtime.engine.connect() as conn:
        assert digests.get_digest_for_week(conn, WEEK) is None


def test_it_exits_2_and_keeps_the_ledger_when_smtp_is_down(stored, environ, tmp_path):
    runtime, _, _ = stored
    from tests.support.smtp_server import free_port

    environ["PAPERBOY_SMTP_URL"] = f"smtp://127.0.0.1:{free_port()}"
    result = paperboy(environ, "digest", "send", "--week", WEEK, cwd=tmp_path)

    assert result.returncode == 2
    assert "cannot connect" in result.stderr and "rerun" in result.stderr
    with runtime.engine.connect() as conn:
        digest = digests.get_digest_for_week(conn, WEEK)
        assert deliveries.delivery_counts(conn, digest.id)["due"] == 3


@pytest.mark.parametrize(
    "args, message",
    [
        (["--week", "2026-W99"], "no such ISO week"),
        (["--week", "last week"], "not an ISO week"),
        # The command runs on the real clock: the week in progress is never over.
        (["--week", week_of(datetime.now(UTC))], "not over yet"),
    ],
)
def test_it_refuses_bad_weeks_with_one_line(stored, environ, tmp_path, args, message):
    result = paperboy(environ, "digest", "send", *args, cwd=tmp_path)
    assert result.returncode == 2 and message in result.stderr
    assert "Traceback" not in result.stderr


def test_it_previews_the_week_in_progress_without_keeping_it(stored, environ, tmp_path):
    runtime, testing, _ = stored
    this_week = week_of(datetime.now(UTC))
    with runtime.engine.begin() as conn:
        papers.link_topic_papers(conn, "vla", [testing[0].id], datetime.now(UTC))
    result = paperboy(environ, "digest", "preview", "--week", this_week, "--topics", "vla", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    html_path = Path(tmp_path, result.stdout.split()[0])
    body = html.unescape(html_path.read_text())
    assert testing[0].abs_url in body and "/digests/" not in body  # no page exists for it yet
    with runtime.engine.connect() as conn:
        assert digests.get_digest_for_week(conn, this_week) is None


def test_it_refuses_an_unknown_topic_in_a_preview(stored, environ, tmp_path):
    result = paperboy(environ, "digest", "preview", "--week", WEEK, "--topics", "testing,nope", cwd=tmp_path)
    assert result.returncode == 2 and "no topic 'nope'" in result.stderr


def test_it_counts_on_a_terminal_instead_of_logging_each_batch(stored, environ, tmp_path):
    import pty

    leader, follower = pty.openpty()
    process = subprocess.Popen(
        [str(PAPERBOY), "digest", "send", "--week", WEEK],
        env=environ,
        cwd=tmp_path,
        stdout=subprocess.PIPE,
        stderr=follower,
        text=True,
    )
    os.close(follower)
    stdout, _ = process.communicate(timeout=120)
    shown = b""
    while True:
        try:
            chunk = os.read(leader, 4096)
        except OSError:  # EIO: the terminal's other end is closed and everything has been read
            break
        if not chunk:
            break
        shown += chunk
    os.close(leader)

    assert process.returncode == 0 and f"{WEEK}: 3 sent" in stdout
    terminal = shown.decode()
    assert "\rsent 3/3, failed 0" in terminal
    assert "claimed" not in terminal  # the per-batch log lines would break the counter up


def test_it_says_how_many_deliveries_another_sender_holds_and_until_when(stored, environ, tmp_path, smtp_server):
    from service.digest.queue import LEASE, queue_digest

    runtime, _, _ = stored
    now = datetime.now(UTC)  # the command reads the real clock
    queued = queue_digest(runtime, WEEK, now)
    with runtime.engine.begin() as conn:  # a sender that was killed right after claiming two rows
        claimed = deliveries.claim_deliveries(conn, queued.digest.id, "killed-sender", now, LEASE, 2)
    until = f"{now + LEASE:%Y-%m-%d %H:%M}"

    planned = paperboy(environ, "digest", "send", "--week", WEEK, "--dry-run", cwd=tmp_path)
    assert planned.returncode == 0, planned.stderr
    assert "would send 1 message (1 distinct topic set)" in planned.stdout
    assert f"2 deliveries are held by another sender until {until}" in planned.stdout
    assert "(not counted above)" in planned.stdout

    sent = paperboy(environ, "digest", "send", "--week", WEEK, cwd=tmp_path)
    assert sent.returncode == 1
    assert f"{WEEK}: 1 sent, 0 failed" in sent.stdout
    assert f"2 deliveries are held by another sender until {until}" in sent.stdout
    assert "a rerun after then sends them" in sent.stdout
    assert len(claimed) == 2 and len(smtp_server.messages) == 1


def test_it_counts_one_delivery_in_the_singular(config, environ, tmp_path, smtp_server):
    runtime = runtime_for(config)
    with runtime.engine.begin() as conn:
        load_week(conn)
        add_subscribers(conn, [ALICE], NOW)
    result = paperboy(environ, "digest", "send", "--week", WEEK, cwd=tmp_path)

    assert result.returncode == 0, result.stderr
    assert result.stdout.rstrip().endswith("; 1 new delivery written")
    assert "1 new delivery written" in result.stderr and "deliveries" not in result.stderr
