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
    config = load_config(
        {
            **BASE,
            "PAPERBOY_ARXIV_DELAY": "0.5",
            "PAPERBOY_ARXIV_RETRIES": "2",
            "PAPERBOY_DATABASE_URL": "postgresql+psycopg://u@db/paperboy",
            "PAPERBOY_BASE_URL": "https://papers.example.org/",
            "PAPERBOY_RATE_LIMITS": "off",
        },
        var_dir=tmp_path,
    )
    assert (config.arxiv_delay, config.arxiv_retries) == (0.5, 2)
    assert config.database_url == "postgresql+psycopg://u@db/paperboy"
    assert config.base_url == "https://papers.example.org"
    assert config.secure_cookies is True and config.rate_limits is False


def test_it_keeps_a_generated_secret_key_in_var(tmp_path):
    first = load_config({}, var_dir=tmp_path).secret_key
    assert first and load_config({}, var_dir=tmp_path).secret_key == first


@pytest.mark.parametrize(
    "name, value, message",
    [
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
        ("PAPERBOY_SEND_LEASE", "10m", "expected a whole number"),
        ("PAPERBOY_SEND_LEASE", "0", "must be at least 1"),
    ],
)
def test_it_names_the_bad_variable(tmp_path, name, value, message):
    with pytest.raises(ConfigError) as error:
        load_config({**BASE, name: value}, var_dir=tmp_path)
    assert str(error.value).startswith(f"{name}: ") and message in str(error.value)
    assert "\n" not in str(error.value)


@pytest.mark.parametrize(
    "name, value",
    [
        ("PAPERBOY_ARXIV_DELAY", "abc"),
        ("PAPERBOY_DATABASE_URL", "mysql://db/x"),
        ("PAPERBOY_ARXIV_RETRIES", "-3"),
    ],
)
def test_it_stops_the_command_line_with_one_line(tmp_path, monkeypatch, name, value):
    monkeypatch.chdir(tmp_path)
    result = CliRunner().invoke(main, ["fetch"], env={**BASE, name: value})
    assert result.exit_code == 2
    (line,) = result.output.splitlines()
    assert line.startswith(f"paperboy: {name}: ")


def test_it_reads_a_dotenv_file_that_the_environment_overrides(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / ".env").write_text("PAPERBOY_ARXIV_DELAY=soon\n")
    # None: unset during the call and afterwards, so the value .env sets does not outlive the test.
    result = CliRunner().invoke(main, ["fetch"], env={**BASE, "PAPERBOY_ARXIV_DELAY": None})
    assert result.exit_code == 2
    assert result.output == "paperboy: PAPERBOY_ARXIV_DELAY: expected a number, got 'soon'\n"
    # The environment wins over .env: here it sets a bad topics file, which is what fails now.
    result = CliRunner().invoke(
        main, ["fetch"], env={**BASE, "PAPERBOY_ARXIV_DELAY": "0", "PAPERBOY_TOPICS_FILE": str(tmp_path / "none.toml")}
    )
    assert result.exit_code == 2 and "PAPERBOY_ARXIV_DELAY" not in result.output
    assert "none.toml" in result.output


@pytest.mark.parametrize(
    "url, message",
    [
        ("smtp://mail.example.org?timeout=abc", "option timeout expects seconds, got 'abc'"),
        ("smtp://mail.example.org?timeout=0", "option timeout expects seconds above 0"),
        ("smtp://mail.example.org?starttls=maybe", "option starttls expects true or false"),
        ("smtps://mail.example.org?tls=yes", "option tls expects true or false"),
        ("smtp://mail.example.org?timout=5", "unknown option 'timout'"),
        ("smtp://user:secret@mail.example.org:99999", "the port must be a number from 1 to 65535"),
    ],
)
def test_it_checks_the_smtp_url_options_at_start_up(tmp_path, url, message):
    with pytest.raises(ConfigError) as error:
        load_config({**BASE, "PAPERBOY_SMTP_URL": url}, var_dir=tmp_path)
    assert str(error.value) == f"PAPERBOY_SMTP_URL: {message}" or str(error.value).startswith(
        f"PAPERBOY_SMTP_URL: {message}"
    )
    assert "secret" not in str(error.value)


def test_it_reads_the_smtp_url_options(tmp_path):
    from service.smtp_url import SmtpSettings

    url = "smtp://me%40example.org:p%2Fw@mail.example.org:587?starttls=true&timeout=2.5"
    assert load_config({**BASE, "PAPERBOY_SMTP_URL": url}, var_dir=tmp_path).smtp_url == url
    settings = SmtpSettings.from_url(url)
    assert (settings.hostname, settings.port, settings.username, settings.password) == (
        "mail.example.org",
        587,
        "me@example.org",
        "p/w",
    )
    assert (settings.use_tls, settings.start_tls, settings.timeout) == (False, True, 2.5)
    assert SmtpSettings.from_url("smtps://mail.example.org").port == 465


@pytest.mark.parametrize(
    "given, missing",
    [
        ({"PAPERBOY_DKIM_KEY_FILE": "KEY"}, "PAPERBOY_DKIM_SELECTOR"),
        ({"PAPERBOY_DKIM_KEY_FILE": "KEY", "PAPERBOY_DKIM_SELECTOR": "mail"}, "PAPERBOY_DKIM_DOMAIN"),
        ({"PAPERBOY_DKIM_SELECTOR": "mail", "PAPERBOY_DKIM_DOMAIN": "example.org"}, "PAPERBOY_DKIM_KEY_FILE"),
        ({"PAPERBOY_DKIM_DOMAIN": "example.org"}, "PAPERBOY_DKIM_KEY_FILE"),
    ],
)
def test_it_wants_dkim_settings_as_a_complete_set(tmp_path, given, missing):
    key = tmp_path / "dkim.pem"
    key.write_text("not read at start-up")
    environ = {**BASE, **{name: str(key) if value == "KEY" else value for name, value in given.items()}}
    with pytest.raises(ConfigError) as error:
        load_config(environ, var_dir=tmp_path)
    assert str(error.value).startswith(f"{missing}: DKIM signing needs PAPERBOY_DKIM_KEY_FILE, ")


def test_it_takes_a_complete_dkim_set(tmp_path):
    key = tmp_path / "dkim.pem"
    key.write_text("not read at start-up")
    config = load_config(
        {
            **BASE,
            "PAPERBOY_DKIM_KEY_FILE": str(key),
            "PAPERBOY_DKIM_SELECTOR": "mail",
            "PAPERBOY_DKIM_DOMAIN": "example.org",
        },
        var_dir=tmp_path,
    )
    assert (config.dkim_key_file, config.dkim_selector, config.dkim_domain) == (key, "mail", "example.org")
    with pytest.raises(ConfigError, match="^PAPERBOY_DKIM_KEY_FILE: no such file"):
        load_config(
            {
                **BASE,
                "PAPERBOY_DKIM_KEY_FILE": str(tmp_path / "gone.pem"),
                "PAPERBOY_DKIM_SELECTOR": "mail",
                "PAPERBOY_DKIM_DOMAIN": "example.org",
            },
            var_dir=tmp_path,
        )


def test_secure_cookies_follow_the_base_url_unless_set(tmp_path):
    assert load_config({**BASE, "PAPERBOY_BASE_URL": "http://127.0.0.1:8000"}, var_dir=tmp_path).secure_cookies is False
    assert load_config(BASE, var_dir=tmp_path).secure_cookies is Config().secure_cookies is False
    assert load_config({**BASE, "PAPERBOY_BASE_URL": "https://p.example.org"}, var_dir=tmp_path).secure_cookies is True
    assert (
        load_config(
            {**BASE, "PAPERBOY_BASE_URL": "https://p.example.org", "PAPERBOY_SECURE_COOKIES": "false"}, var_dir=tmp_path
        ).secure_cookies
        is False
    )


def test_the_send_lease_outlasts_the_longest_send(tmp_path):
    assert load_config(BASE, var_dir=tmp_path).send_lease == 600
    smtp = {**BASE, "PAPERBOY_SMTP_URL": "smtp://mail.example.org:25?timeout=30"}
    assert load_config({**smtp, "PAPERBOY_SEND_LEASE": "151"}, var_dir=tmp_path).send_lease == 151
    with pytest.raises(ConfigError) as error:
        load_config({**smtp, "PAPERBOY_SEND_LEASE": "150"}, var_dir=tmp_path)
    # A shorter lease would let another sender take over a row still being sent, and send it again.
    assert str(error.value) == (
        "PAPERBOY_SEND_LEASE: must be longer than 150 s, the longest one send may take "
        "(5 times PAPERBOY_SMTP_URL's timeout), got 150"
    )
    assert load_config({**BASE, "PAPERBOY_SEND_LEASE": "15"}, var_dir=tmp_path).send_lease == 15  # the outbox
