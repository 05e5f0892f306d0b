"""`paperboy admin create EMAIL`: password from the terminal (twice) or PAPERBOY_ADMIN_PASSWORD."""

from __future__ import annotations

import pytest
from click.testing import CliRunner
from werkzeug.security import check_password_hash

from service import store as service_store
from service.cli import main
from service.store.subscribers import admins


@pytest.fixture
def env(tmp_path, monkeypatch, sqlite_url, topics_file):
    monkeypatch.chdir(tmp_path)
    return {
        "PAPERBOY_DATABASE_URL": sqlite_url,
        "PAPERBOY_TOPICS_FILE": str(topics_file),
        "PAPERBOY_SECRET_KEY": "test-secret",
        "PAPERBOY_ADMIN_PASSWORD": None,
    }


def admin(sqlite_url, email):
    engine = service_store.connect(sqlite_url)
    try:
        with engine.connect() as conn:
            return admins.admin_by_email(conn, email)
    finally:
        engine.dispose()


def test_it_reads_the_password_twice_from_the_terminal(env, sqlite_url):
    result = CliRunner().invoke(
        main, ["admin", "create", "Admin@Example.org"], env=env, input="long enough pw\nlong enough pw\n"
    )
    assert result.exit_code == 0, result.output
    assert "admin admin@example.org created" in result.output
    created = admin(sqlite_url, "admin@example.org")
    assert check_password_hash(created.password_hash, "long enough pw")
    assert "long enough pw" not in created.password_hash


def test_it_takes_the_password_from_the_environment(env, sqlite_url):
    result = CliRunner().invoke(
        main, ["admin", "create", "ops@example.org"], env={**env, "PAPERBOY_ADMIN_PASSWORD": "from the environment"}
    )
    assert result.exit_code == 0
    assert check_password_hash(admin(sqlite_url, "ops@example.org").password_hash, "from the environment")


def test_it_refuses_mismatched_short_or_duplicate_passwords_and_bad_addresses(env, sqlite_url):
    runner = CliRunner()
    mismatch = runner.invoke(
        main,
        ["admin", "create", "a@example.org"],
        env=env,
        input="long enough pw\nanother one\nlong enough pw\nlong enough pw\n",
    )
    assert "the two entered values do not match" in mismatch.output.lower() and mismatch.exit_code == 0
    short = runner.invoke(main, ["admin", "create", "b@example.org"], env={**env, "PAPERBOY_ADMIN_PASSWORD": "short"})
    assert short.exit_code == 2 and "at least 8 characters" in short.stderr
    duplicate = runner.invoke(
        main, ["admin", "create", "a@example.org"], env={**env, "PAPERBOY_ADMIN_PASSWORD": "long enough pw"}
    )
    assert duplicate.exit_code == 2 and "paperboy: admin: a@example.org already exists" in duplicate.stderr
    bad = runner.invoke(
        main, ["admin", "create", "not an address"], env={**env, "PAPERBOY_ADMIN_PASSWORD": "long enough pw"}
    )
    assert bad.exit_code == 2 and "paperboy: admin: That is not a valid email address" in bad.stderr
    assert admin(sqlite_url, "b@example.org") is None
