"""`paperboy backup FILE` while a writer adds subscribers, one transaction each, then `paperboy
restore FILE` into an empty store, on SQLite and on PostgreSQL: the restored store serves the same
pages, exports a consistent prefix of the writes and holds the same send ledger, and the links
signed before the backup work on it. A store with data is replaced only with --force."""

from __future__ import annotations

import csv
import io
import os
import re
import subprocess
import sys
import tarfile
import time
import uuid

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from service import store
from service.config import load_config
from service.store.subscribers.records import subscriber_by_email
from service.web import create_app
from subscribers import tokens
from tests.conftest import NOW, POSTGRES_URL
from tests.support.digest_data import ALICE, BOB, CAROL, WEEK, add_subscribers, load_week
from tests.support.helpers import paperboy

CSRF = re.compile(rb'name="csrf_token" value="[^"]*"')
WRITES_BEFORE = 20  # the writer has committed this many before the backup starts, as many after it ends
WRITER = """
import pathlib, sys
from datetime import UTC, datetime
from service import store
from service.store.subscribers.imports import ImportRow
from subscribers.imports import import_rows

engine = store.connect(sys.argv[1])
stop = pathlib.Path(sys.argv[2])
written = 0
while not stop.exists():
    written += 1
    with store.write_transaction(engine) as conn:
        import_rows(conn, [ImportRow(f"w{written:05d}@example.org", ["testing"], "active")], datetime.now(UTC), "cli")
"""


@pytest.fixture
def restored_url(database_url, tmp_path):
    """A second, empty database of the same kind to restore into."""
    if database_url.startswith("sqlite"):
        yield f"sqlite:///{tmp_path}/restored/var/paperboy.sqlite3"
        return
    name = f"paperboy_test_{uuid.uuid4().hex[:12]}"
    admin = create_engine(POSTGRES_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(text(f'CREATE DATABASE "{name}"'))
    yield make_url(POSTGRES_URL).set(database=name).render_as_string(hide_password=False)
    with admin.connect() as connection:
        connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


def environment(database_url, topics_file, **more) -> dict[str, str]:
    return {
        "PATH": os.environ["PATH"],
        "PAPERBOY_DATABASE_URL": database_url,
        "PAPERBOY_TOPICS_FILE": str(topics_file),
        "PAPERBOY_BASE_URL": "http://paperboy.test",
        "PAPERBOY_RATE_LIMITS": "false",
        **more,
    }


def run(environ, *args, cwd) -> str:
    done = paperboy(environ, *args, cwd=cwd)
    assert done.returncode == 0, done.stderr
    return done.stdout


def written(database_url) -> int:
    engine = create_engine(database_url)
    with engine.connect() as conn:
        count = conn.execute(text("SELECT count(*) FROM subscriber WHERE email LIKE 'w%'")).scalar_one()
    engine.dispose()
    return count


def wait_for_writes(database_url, at_least: int, writer: subprocess.Popen) -> None:
    while written(database_url) < at_least:
        assert writer.poll() is None, writer.stderr.read()
        time.sleep(0.05)


def ledger(database_url) -> list[tuple]:
    engine = create_engine(database_url)
    with engine.connect() as conn:
        rows = conn.execute(
            text(
                "SELECT d.week, s.email, l.state, l.attempts, l.sent_at FROM delivery l "
                "JOIN digest d ON d.id = l.digest_id JOIN subscriber s ON s.id = l.subscriber_id "
                "ORDER BY d.week, s.email"
            )
        ).all()
    engine.dispose()
    return [tuple(row) for row in rows]


def pages(environ, var_dir) -> dict[str, bytes]:
    client = create_app(load_config(environ, var_dir=var_dir)).test_client()
    client.environ_base["HTTP_HOST"] = "paperboy.test"
    paths = ["/", f"/topics/testing/{WEEK}/", f"/topics/vla/{WEEK}/", "/topics/testing.md", "/feed.atom"]
    # The subscribe form's CSRF token differs with each answer; everything else is the store's.
    return {path: CSRF.sub(b"", client.get(path).data) for path in paths}


def test_it_restores_a_backup_taken_while_writes_run(database_url, restored_url, topics_file, tmp_path):
    site, restored = tmp_path / "site", tmp_path / "restored"
    site.mkdir()
    restored.mkdir(exist_ok=True)
    environ = environment(database_url, topics_file)
    run(environ, "init", cwd=site)
    engine = store.connect(database_url)
    with engine.begin() as conn:
        load_week(conn)
        add_subscribers(conn, [ALICE, BOB, CAROL], NOW)
    run(environ, "digest", "send", "--week", WEEK, cwd=site)
    with engine.connect() as conn:
        alice = subscriber_by_email(conn, ALICE[0]).id
    engine.dispose()

    stop = tmp_path / "stop-writing"
    writer = subprocess.Popen(
        [sys.executable, "-c", WRITER, database_url, str(stop)], stderr=subprocess.PIPE, text=True
    )
    try:
        wait_for_writes(database_url, WRITES_BEFORE, writer)
        backup = tmp_path / "paperboy.backup"
        said = run(environ, "backup", str(backup), cwd=site)
        wait_for_writes(database_url, written(database_url) + WRITES_BEFORE, writer)
    finally:
        stop.touch()
        writer.wait(timeout=60)
    assert writer.returncode == 0, writer.stderr.read()
    assert f"paperboy: backup: wrote {backup}" in said and "var/secret_key is in it" in said
    with tarfile.open(backup) as archive:
        assert {"manifest.json", "secret_key"} <= set(archive.getnames())

    restored_environ = environment(restored_url, topics_file)
    said = run(restored_environ, "restore", str(backup), cwd=restored)
    assert "paperboy: restore: var/secret_key restored" in said
    assert (restored / "var" / "secret_key").read_text() == (site / "var" / "secret_key").read_text()

    # The same pages and ledger; the export holds what was there before and a prefix of the writes.
    assert pages(restored_environ, restored / "var") == pages(environ, site / "var")
    assert ledger(restored_url) == ledger(database_url) and len(ledger(database_url)) == 3
    source = list(csv.reader(io.StringIO(run(environ, "subscribers", "export", cwd=site))))
    copy = list(csv.reader(io.StringIO(run(restored_environ, "subscribers", "export", cwd=restored))))
    writes = [row[0] for row in copy if row[0].startswith("w")]
    assert len(writes) >= WRITES_BEFORE
    assert writes == [f"w{n:05d}@example.org" for n in range(1, len(writes) + 1)]
    assert copy == [row for row in source if not row[0].startswith("w") or row[0] in writes]
    assert len(source) > len(copy)

    # A link signed before the backup works on the restored store.
    config = load_config(restored_environ, var_dir=restored / "var")
    client = create_app(config).test_client()
    client.environ_base["HTTP_HOST"] = "paperboy.test"
    link = tokens.unsubscribe_url(load_config(environ, var_dir=site / "var"), alice)
    assert client.get(link.removeprefix("http://paperboy.test")).status_code == 200
    assert (
        client.post(link.removeprefix("http://paperboy.test"), data={"List-Unsubscribe": "One-Click"}).status_code
        == 200
    )

    # Now the restored store has data: restoring over it needs --force.
    refused = paperboy(restored_environ, "restore", str(backup), cwd=restored)
    assert refused.returncode == 2 and refused.stdout == ""
    assert refused.stderr.startswith("paperboy: restore: the database at ") and refused.stderr.count("\n") == 1
    assert "stop paperboy and add --force to replace it" in refused.stderr
    run(restored_environ, "restore", str(backup), "--force", cwd=restored)
    assert ledger(restored_url) == ledger(database_url)


def test_it_names_the_secret_key_it_does_not_hold(sqlite_url, topics_file, tmp_path):
    environ = environment(sqlite_url, topics_file, PAPERBOY_SECRET_KEY="kept-in-the-settings")
    run(environ, "init", cwd=tmp_path)
    said = run(environ, "backup", str(tmp_path / "b.tar"), cwd=tmp_path)
    assert "the secret key is PAPERBOY_SECRET_KEY in your settings, not in the archive" in said
    with tarfile.open(tmp_path / "b.tar") as archive:
        assert "secret_key" not in archive.getnames()


def test_it_refuses_a_file_that_is_not_a_backup(sqlite_url, topics_file, tmp_path):
    (tmp_path / "notes.txt").write_text("not a backup")
    done = paperboy(environment(sqlite_url, topics_file), "restore", str(tmp_path / "notes.txt"), cwd=tmp_path)
    assert done.returncode == 2
    assert done.stderr.startswith(f"paperboy: restore: {tmp_path / 'notes.txt'} is not a paperboy backup")


def test_it_says_what_to_run_without_a_pg_dump_for_the_server(postgres_url, topics_file, tmp_path):
    environ = environment(postgres_url, topics_file)
    run(environ, "init", cwd=tmp_path)
    # No pg_dump on the PATH at all, then one older than the server (PostgreSQL 9.6's answer).
    tools = tmp_path / "tools"
    tools.mkdir()
    missing = paperboy(dict(environ, PATH=str(tools)), "backup", str(tmp_path / "b.tar"), cwd=tmp_path)
    assert missing.returncode == 2 and missing.stderr.count("\n") == 1
    assert missing.stderr.startswith("paperboy: backup: pg_dump is not installed (Debian: postgresql-client)")
    assert f"run pg_dump --format=custom --file={tmp_path / 'b.tar'}.pgdump 'postgresql://" in missing.stderr
    old = tools / "pg_dump"
    old.write_text("#!/bin/sh\necho 'pg_dump (PostgreSQL) 9.6.24'\n")
    old.chmod(0o755)
    too_old = paperboy(dict(environ, PATH=str(tools)), "backup", str(tmp_path / "b.tar"), cwd=tmp_path)
    assert too_old.returncode == 2 and "paperboy: backup: pg_dump 9 cannot dump a PostgreSQL" in too_old.stderr
    assert not (tmp_path / "b.tar").exists()
