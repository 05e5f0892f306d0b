"""Shared fixtures: databases (SQLite always, PostgreSQL when PAPERBOY_TEST_DATABASE_URL is set),
a Runtime wired to them, and the real arXiv responses in tests/data."""

from __future__ import annotations

import os
import uuid
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from service import store
from service.config import Config
from service.runtime import Runtime

DATA = Path(__file__).parent / "data"
POSTGRES_URL = os.environ.get("PAPERBOY_TEST_DATABASE_URL")
REQUIRE_BROWSER = os.environ.get("PAPERBOY_REQUIRE_BROWSER") == "1"

# A fixed "now" for tests that need one: Wednesday of ISO week 2026-W06.
NOW = datetime(2026, 2, 4, 16, 50, tzinfo=UTC)


def data_file(name: str) -> bytes:
    return (DATA / name).read_bytes()


@pytest.fixture(autouse=True)
def close_runtimes():
    """After each test, close the runtimes tests.support.digest_data.runtime_for() made during it."""
    from tests.support.digest_data import close_runtimes

    yield
    close_runtimes()


@pytest.fixture
def sqlite_url(tmp_path) -> str:
    return f"sqlite:///{tmp_path}/paperboy.sqlite3"


@pytest.fixture
def postgres_url():
    """A fresh PostgreSQL database for one test, dropped afterwards."""
    if not POSTGRES_URL:
        pytest.skip(
            "PostgreSQL tests need PAPERBOY_TEST_DATABASE_URL (e.g. postgresql+psycopg://postgres@127.0.0.1/test)"
        )
    name = f"paperboy_test_{uuid.uuid4().hex[:12]}"
    admin = create_engine(POSTGRES_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(text(f'CREATE DATABASE "{name}"'))
    yield make_url(POSTGRES_URL).set(database=name).render_as_string(hide_password=False)
    with admin.connect() as connection:
        connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


@pytest.fixture(params=["sqlite", "postgres"])
def database_url(request) -> str:
    """Runs the test once on SQLite and once on PostgreSQL."""
    return request.getfixturevalue(f"{request.param}_url")


@pytest.fixture
def engine(database_url):
    """A migrated engine on SQLite and on PostgreSQL."""
    engine = store.connect(database_url)
    store.migrate(engine)
    yield engine
    engine.dispose()


@pytest.fixture
def sqlite_engine(sqlite_url):
    engine = store.connect(sqlite_url)
    store.migrate(engine)
    yield engine
    engine.dispose()


@pytest.fixture
def topics_file(tmp_path) -> Path:
    path = tmp_path / "topics.toml"
    path.write_text(
        """
[[topic]]
slug = "vla"
title = "Vision-Language-Action Models"
description = "Papers on VLAs and vision-language-action architectures for robotics."
query = 'abs:"vision-language-action" OR ti:"vision-language-action" OR ti:VLA'

[[topic]]
slug = "testing"
title = "Software Testing"
description = "Testing, from unit tests to metamorphic testing."
query = 'all:testing'
"""
    )
    return path


@pytest.fixture
def config(tmp_path, sqlite_url, topics_file) -> Config:
    """Settings for a test: SQLite in tmp_path, mail to tmp_path/outbox, no arXiv delay."""
    return Config(
        database_url=sqlite_url,
        topics_file=topics_file,
        arxiv_api_url="http://127.0.0.1:9/api/query",
        arxiv_delay=0.0,
        outbox_dir=tmp_path / "outbox",
        base_url="http://paperboy.test",
        secret_key="test-secret",
        rate_limits=False,
    )


@pytest.fixture
def runtime(config) -> Runtime:
    runtime = Runtime(config)
    yield runtime
    runtime.close()


@pytest.fixture
def smtp_server():
    """A real SMTP server on loopback; `.messages` holds what it accepted."""
    from tests.support.smtp_server import SmtpServer

    server = SmtpServer().start()
    yield server
    server.stop()


@pytest.fixture
def make_app(config):
    """create_app() for this test's settings, with create_app's keywords (clock, stamp_seconds);
    every app it made is closed after the test."""
    from service.web import create_app

    made = []

    def make(**options):
        app = create_app(config, **options)
        app.config["TESTING"] = True
        made.append(app)
        return app

    yield make
    for app in made:
        app.extensions["paperboy"].close()


@pytest.fixture
def app(request, make_app):
    """The web app; a test or module marked `pytest.mark.app_options(...)` gets those keywords."""
    marker = request.node.get_closest_marker("app_options")
    return make_app(**(marker.kwargs if marker else {}))


@pytest.fixture
def app_engine(app):
    """The database engine of `app`, migrated, for a test to fill before it asks the app."""
    return app.extensions["paperboy"].engine


@pytest.fixture
def admin(app_engine):
    """An admin account in the app's database (tests.support.forms.sign_in signs it in)."""
    from tests.support.forms import create_admin

    return create_admin(app_engine)


@pytest.fixture
def client(app):
    return app.test_client()


@pytest.fixture
def live_server(app):
    """The app served over real HTTP on loopback, for browsers and for raw HTTP clients."""
    import threading

    from werkzeug.serving import make_server

    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}"
    server.shutdown()
    thread.join()


CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


@pytest.fixture(scope="module")
def browser():
    """Headless Chromium driven by Playwright; never downloads a browser.

    Module scope: while Playwright's sync API is open, the main thread has a running event loop,
    and asyncio.run() in later non-browser tests (mail sending) would refuse to start."""
    if not CHROMIUM.exists():
        reason = "browser tests need Chromium at /usr/bin/chromium (apt-get install chromium)"
        if REQUIRE_BROWSER:
            pytest.fail(f"PAPERBOY_REQUIRE_BROWSER=1 but {reason}")
        pytest.skip(reason)
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        yield browser
        browser.close()


@pytest.fixture
def page(browser):
    context = browser.new_context()
    page = context.new_page()
    yield page
    context.close()
