"""`paperboy subscribers import|export` on SQLite and PostgreSQL."""

from __future__ import annotations

import pytest
from click.testing import CliRunner

from service.cli import main
from service.store.subscribers import listing


@pytest.fixture
def run(tmp_path, monkeypatch, database_url, topics_file):
    monkeypatch.chdir(tmp_path)
    env = {
        "PAPERBOY_DATABASE_URL": database_url,
        "PAPERBOY_TOPICS_FILE": str(topics_file),
        "PAPERBOY_SECRET_KEY": "test-secret",
        "PAPERBOY_ADMIN_PASSWORD": None,
    }

    def run(*args, input=None):
        return CliRunner().invoke(main, list(args), env=env, input=input, catch_exceptions=False)

    return run


def counts(engine):
    with engine.connect() as conn:
        return {k: v for k, v in listing.status_counts(conn).items() if v}


def test_it_imports_then_exports_to_stdout_and_to_a_file(run, tmp_path, engine):
    source = tmp_path / "in.csv"
    source.write_bytes(
        b"\xef\xbb\xbfemail,topics,status\r\nbob@example.org,vla testing,\r\n+alice@example.org,vla,blocked\r\n"
    )
    imported = run("subscribers", "import", str(source))
    assert imported.exit_code == 0, imported.output
    assert "imported 2 rows: 2 new, 0 updated, 0 unchanged" in imported.output
    exported = run("subscribers", "export")
    assert exported.exit_code == 0
    assert exported.stdout_bytes == (
        b"email,topics,status,digest_length,keywords_include,keywords_exclude,authors,suggestions\r\n"
        b"'+alice@example.org,vla,blocked,,,,,yes\r\nbob@example.org,testing vla,active,,,,,yes\r\n"
    )
    target = tmp_path / "out.csv"
    to_file = run("subscribers", "export", str(target))
    assert to_file.exit_code == 0 and target.read_bytes() == exported.stdout_bytes
    again = run("subscribers", "import", str(target))
    assert "0 new, 0 updated, 2 unchanged" in again.output
    assert counts(engine) == {"active": 1, "blocked": 1}


def test_it_prints_row_errors_and_writes_nothing(run, tmp_path, engine):
    source = tmp_path / "bad.csv"
    source.write_text("email,topics\nalice@example.org,vla\nnot-an-address,vla\nbob@example.org,astro\n")
    result = run("subscribers", "import", str(source))
    assert result.exit_code == 1
    assert f"{source}: line 3: 'not-an-address': That is not a valid email address" in result.stderr
    assert f"{source}: line 4: unknown topic 'astro'" in result.stderr
    assert "paperboy: csv: 2 bad rows; nothing was imported" in result.stderr
    assert counts(engine) == {}


def test_it_checks_without_writing_on_dry_run(run, tmp_path, engine):
    source = tmp_path / "in.csv"
    source.write_bytes("email\nmaría@example.org\n".encode("latin-1"))
    result = run("subscribers", "import", "--dry-run", str(source))
    assert result.exit_code == 0
    assert "1 row is valid (read as windows-1252); dry run, nothing written" in result.output
    assert counts(engine) == {}


@pytest.mark.parametrize(
    "content, message",
    [
        (b"name,topics\nalice@example.org,vla\n", "paperboy: csv: no 'email' column"),
        (b"email\n\x81\x8d@x.org\n", "paperboy: csv: the file is neither UTF-8 nor Windows-1252"),
    ],
)
def test_it_refuses_a_bad_file_in_one_line(run, tmp_path, content, message):
    source = tmp_path / "in.csv"
    source.write_bytes(content)
    result = run("subscribers", "import", str(source))
    assert result.exit_code == 2 and result.stderr.startswith(message) and result.stderr.count("\n") == 1


def test_it_says_when_the_file_is_missing(run, tmp_path):
    result = run("subscribers", "import", str(tmp_path / "missing.csv"))
    assert result.exit_code == 2 and "paperboy: csv: cannot read" in result.stderr


def test_it_imports_100k_rows_all_or_nothing(tmp_path, monkeypatch, sqlite_engine, sqlite_url, topics_file):
    monkeypatch.chdir(tmp_path)
    env = {
        "PAPERBOY_DATABASE_URL": sqlite_url,
        "PAPERBOY_TOPICS_FILE": str(topics_file),
        "PAPERBOY_SECRET_KEY": "test-secret",
    }
    lines = ["email,topics,status"] + [f"reader{n:06d}@example.org,vla;testing,active" for n in range(100_000)]
    source = tmp_path / "big.csv"
    source.write_text("\n".join(lines) + "\nreader000007@example.org,vla,\n")
    refused = CliRunner().invoke(main, ["subscribers", "import", str(source)], env=env)
    assert refused.exit_code == 1
    assert "line 100002: reader000007@example.org appears twice (first on line 9)" in refused.stderr
    assert counts(sqlite_engine) == {}
    source.write_text("\n".join(lines) + "\n")
    imported = CliRunner().invoke(main, ["subscribers", "import", str(source)], env=env)
    assert imported.exit_code == 0 and "imported 100000 rows: 100000 new" in imported.output
    assert counts(sqlite_engine) == {"active": 100_000}


def test_it_keeps_the_preference_columns_of_an_import(run, tmp_path, engine):
    source = tmp_path / "in.csv"
    source.write_text(
        "email,topics,status,digest_length,keywords_include,keywords_exclude,authors\n"
        'carol@example.org,vla,active,7,diffusion; world model,survey,"LeCun, Yann; Finn"\n'
    )
    imported = run("subscribers", "import", str(source))
    assert imported.exit_code == 0, imported.output
    exported = run("subscribers", "export")
    assert exported.stdout_bytes.decode().splitlines()[1] == (
        'carol@example.org,vla,active,7,diffusion; world model,survey,"LeCun, Yann; Finn",yes'
    )
    source.write_text(
        "email,topics,digest_length,keywords_include,keywords_exclude,authors\ncarol@example.org,vla,titles,,,Finn\n"
    )
    updated = run("subscribers", "import", str(source))
    assert "0 new, 1 updated, 0 unchanged" in updated.output
    assert (
        run("subscribers", "export").stdout_bytes.decode().splitlines()[1]
        == "carol@example.org,vla,active,titles,,,Finn,yes"
    )
