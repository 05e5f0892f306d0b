"""`paperboy init` creates or migrates the database, on SQLite and PostgreSQL."""

from click.testing import CliRunner
from sqlalchemy import inspect

from service import store
from service.cli import main


def init(monkeypatch, tmp_path, database_url):
    monkeypatch.chdir(tmp_path)
    return CliRunner().invoke(
        main, ["init"], env={"PAPERBOY_DATABASE_URL": database_url, "PAPERBOY_SECRET_KEY": "test-secret"}
    )


def test_it_creates_the_schema(monkeypatch, tmp_path, database_url):
    result = init(monkeypatch, tmp_path, database_url)
    assert result.exit_code == 0, result.output
    assert result.output.startswith("paperboy: database ready at ")
    engine = store.connect(database_url)
    tables = set(inspect(engine).get_table_names())
    assert {"paper", "topic_paper", "fetch_run", "alembic_version"} <= tables
    assert not store.needs_migration(engine)
    engine.dispose()


def test_it_runs_twice_without_harm(monkeypatch, tmp_path, database_url):
    assert init(monkeypatch, tmp_path, database_url).exit_code == 0
    assert init(monkeypatch, tmp_path, database_url).exit_code == 0


def test_it_creates_the_sqlite_directory_and_uses_wal(monkeypatch, tmp_path):
    url = f"sqlite:///{tmp_path}/nested/dir/paperboy.sqlite3"
    assert init(monkeypatch, tmp_path, url).exit_code == 0
    engine = store.connect(url)
    with engine.connect() as conn:
        assert conn.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
    engine.dispose()


def test_it_says_in_one_line_when_the_database_does_not_connect(monkeypatch, tmp_path):
    result = init(monkeypatch, tmp_path, "postgresql+psycopg://postgres@127.0.0.1:1/paperboy")
    assert result.exit_code == 2
    (line,) = result.output.splitlines()
    assert line.startswith("paperboy: store: cannot migrate ")
