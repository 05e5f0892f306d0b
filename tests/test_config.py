"""Settings from the environment: defaults that run, and one line naming a bad variable."""

import pytest
from click.testing import CliRunner

from service.cli import main
from service.config import Config, ConfigError, load_config

BASE = {"PAPERBOY_SECRET_KEY": "test-secret"}


def test_it_has_defaults_that_run(tmp_path):
    config = load_config(BASE, var_dir=tmp_path)
    assert config.database_url == "sqlite:///var/paperboy.sqlite3"
    assert config.arxiv_api_url == "http://export.arxiv.org/api/query"
    assert (config.arxiv_delay, config.arxiv_timeout, config.arxiv_retries) == (3.0, 30.0, 4)
    assert str(config.topics_file) == "topics.toml"


def test_it_reads_typed_values(tmp_path):
    config = load_config({**BASE, "PAPERBOY_ARXIV_DELAY": "0.5", "PAPERBOY_ARXIV_RETRIES": "2",
                          "PAPERBOY_DATABASE_URL": "postgresql+psycopg://u@db/paperboy",
                          "PAPERBOY_BASE_URL": "https://papers.example.org/", "PAPERBOY_RATE_LIMITS": "off"},
                         var_dir=tmp_path)
    assert (config.arxiv_delay, config.arxiv_retries) == (0.5, 2)
    assert config.database_url == "postgresql+psycopg://u@db/paperboy"
    assert config.base_url == "https://papers.example.org"
    assert config.secure_cookies is True and config.rate_limits is False


def test_it_keeps_a_generated_secret_key_in_var(tmp_path):
    first = load_config({}, var_dir=tmp_path).secret_key
    assert first and load_config({}, var_dir=tmp_path).secret_key == first


@pytest.mark.parametrize("name, value, message", [
    ("PAPERBOY_ARXIV_DELAY", "abc", "expected a number, got 'abc'"),
    ("PAPERBOY_ARXIV_DELAY", "-1", "must be at least 0.0"),
    ("PAPERBOY_ARXIV_DELAY", "nan", "must be at least 0.0"),
    ("PAPERBOY_ARXIV_RETRIES", "2.5", "expected a whole number"),
    ("PAPERBOY_ARXIV_TIMEOUT", "0", "must be at least 0.1"),
    ("PAPERBOY_ARXIV_API_URL", "export.arxiv.org/api/query", "expected a URL like http://..., https://..."),
    ("PAPERBOY_DATABASE_URL", "mysql://db/paperboy", "expected a URL like sqlite://..., postgresql://..."),
    ("PAPERBOY_RATE_LIMITS", "maybe", "expected true or false"),
    ("PAPERBOY_FETCH_CRON", "every day", "not a cron expression"),
    ("PAPERBOY_MAIL_FROM", "nobody", "expected an email address"),
    ("PAPERBOY_BOUNCE_ADDRESS", "bounces", "expected an email address"),
    ("PAPERBOY_INBOUND_IMAP_URL", "pop3://mail.example.org/INBOX", "expected a URL like imap://..., imaps://..."),
])
def test_it_names_the_bad_variable(tmp_path, name, value, message):
    with pytest.raises(ConfigError) as error:
        load_config({**BASE, name: value}, var_dir=tmp_path)
    assert str(error.value).startswith(f"{name}: ") and message in str(error.value)
    assert "\n" not in str(error.value)


@pytest.mark.parametrize("name, value", [
    ("PAPERBOY_ARXIV_DELAY", "abc"), ("PAPERBOY_DATABASE_URL", "mysql://db/x"), ("PAPERBOY_ARXIV_RETRIES", "-3"),
])
def test_it_stops_the_command_line_with_one_line(tmp_path, monkeypatch, name, value):
    monkeypatch.chdir(tmp_path)
    result = CliRunner().invoke(main, ["fetch"], env={**BASE, name: value})
    assert result.exit_code == 2
    (line,) = result.output.splitlines()
    assert line.startswith(f"paperboy: {name}: ")


def test_it_can_override_settings_for_tests():
    config = Config().with_overrides(arxiv_delay=0.0)
    assert config.arxiv_delay == 0.0 and Config().arxiv_delay == 3.0
