"""What the commands log: paperboy's own steps at INFO, no library's debug lines unless
PAPERBOY_LOG_LEVEL asks for them."""

from __future__ import annotations

import os

import pytest

from tests.support.digest_data import load_week, runtime_for
from tests.support.helpers import paperboy


@pytest.fixture
def environ(config):
    runtime = runtime_for(config)
    with runtime.engine.begin() as conn:
        load_week(conn)
    return {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "PAPERBOY_DATABASE_URL": config.database_url,
        "PAPERBOY_TOPICS_FILE": str(config.topics_file),
        "PAPERBOY_SECRET_KEY": config.secret_key,
    }


def test_export_logs_its_steps_and_no_library_debug_lines(environ, tmp_path):
    result = paperboy(environ, "export", str(tmp_path / "site"), cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert " INFO paperboy.export: export: testing:" in result.stderr
    assert " DEBUG " not in result.stderr, result.stderr[:500]


def test_paperboy_log_level_debug_shows_the_libraries_lines(environ, tmp_path):
    result = paperboy({**environ, "PAPERBOY_LOG_LEVEL": "debug"}, "export", str(tmp_path / "site"), cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    # The export's Markdown renderer logs its steps at DEBUG.
    assert " DEBUG markdown_it." in result.stderr


def test_paperboy_log_level_warning_keeps_info_lines_out(environ, tmp_path):
    result = paperboy({**environ, "PAPERBOY_LOG_LEVEL": "WARNING"}, "export", str(tmp_path / "site"), cwd=tmp_path)
    assert result.returncode == 0 and " INFO " not in result.stderr


def test_a_bad_paperboy_log_level_stops_with_one_line(environ, tmp_path):
    result = paperboy({**environ, "PAPERBOY_LOG_LEVEL": "loud"}, "export", str(tmp_path / "site"), cwd=tmp_path)
    assert result.returncode == 2
    assert result.stderr.strip().splitlines() == [
        "paperboy: PAPERBOY_LOG_LEVEL must be one of DEBUG, INFO, WARNING, ERROR, not 'LOUD'"
    ]
