"""Every way subscriber data enters or leaves keeps every column, preferences included, on SQLite
and PostgreSQL: CLI import and export, the admin's CSV import and export, the reader's
preferences page and the admin's subscriber page."""

from __future__ import annotations

import io
import re

import lxml.html
import pytest
from click.testing import CliRunner

from service.cli import main
from service.model.preferences import DigestPreferences
from service.store.subscribers import listing, records
from service.store.subscribers import preferences as preference_store
from service.store.subscribers.imports import ImportRow
from subscribers.imports import import_rows
from subscribers.tokens import preferences_url
from tests.conftest import NOW
from tests.support.forms import create_admin, csrf_token, sign_in

HEADER = "email,topics,status,digest_length,keywords_include,keywords_exclude,authors,suggestions\r\n"
# One subscriber per status an import may set, with every kind of preference; the cells are
# written as an export writes them (a cell a spreadsheet would run as a formula starts with ').
SOURCE = HEADER + (
    "'+alice@example.org,testing vla,active,7,diffusion; world model,'-lidar; survey,\"LeCun, Yann; Chelsea Finn\",yes\r\n"
    "bob@example.org,vla,blocked,titles,,,,no\r\n"
    "carol@example.org,,unsubscribed,full,Émile; naïve bayes,,Émile Zola,yes\r\n"
    "dan@example.org,testing,pending,,,,,yes\r\n"
    "eve@example.org,vla,bounced,,robot,,,no\r\n"
    'frank@example.org,vla,complained,3,,,"O\'Neil, Cathy",yes\r\n'
)
# What the store must hold after SOURCE is imported: (status, topics, preferences) by address.
STORED = {
    "+alice@example.org": (
        "active",
        ["testing", "vla"],
        DigestPreferences("7", ("diffusion", "world model"), ("-lidar", "survey"), ("LeCun, Yann", "Chelsea Finn")),
    ),
    "bob@example.org": ("blocked", ["vla"], DigestPreferences("titles", suggestions=False)),
    "carol@example.org": (
        "unsubscribed",
        [],
        DigestPreferences("full", ("Émile", "naïve bayes"), (), ("Émile Zola",)),
    ),
    "dan@example.org": ("pending", ["testing"], DigestPreferences()),
    "eve@example.org": ("bounced", ["vla"], DigestPreferences("", ("robot",), suggestions=False)),
    "frank@example.org": ("complained", ["vla"], DigestPreferences("3", (), (), ("O'Neil, Cathy",))),
}


@pytest.fixture
def config(config, database_url):
    """The web app and the command line on the same database, SQLite or PostgreSQL."""
    return config.with_overrides(database_url=database_url)


@pytest.fixture
def run(tmp_path, monkeypatch, config):
    """`paperboy ARGS...` on the test's database; returns click's result."""
    monkeypatch.chdir(tmp_path)
    env = {
        "PAPERBOY_DATABASE_URL": config.database_url,
        "PAPERBOY_TOPICS_FILE": str(config.topics_file),
        "PAPERBOY_SECRET_KEY": config.secret_key,
        "PAPERBOY_ADMIN_PASSWORD": None,
    }

    def run(*args):
        result = CliRunner().invoke(main, list(args), env=env, catch_exceptions=False)
        assert result.exit_code == 0, result.output
        return result

    return run


@pytest.fixture
def admin_client(client, app_engine):
    create_admin(app_engine)
    sign_in(client)
    return client


def stored(engine) -> dict[str, tuple[str, list[str], DigestPreferences]]:
    """(status, topics, preferences) of every subscriber, by address, as the store holds them."""
    with engine.connect() as conn:
        found = listing.list_subscribers(conn, per_page=1000).subscribers
        preferences = {s.id: preference_store.get_preferences(conn, s.id) for s in found}
    return {s.email: (s.status, s.topics, preferences[s.id]) for s in found}


def add_alice(engine) -> int:
    """An active subscriber of vla with the default preferences; her id."""
    with engine.begin() as conn:
        import_rows(conn, [ImportRow("alice@example.org", ["vla"], "active")], NOW, "cli")
        return records.subscriber_by_email(conn, "alice@example.org").id


def shown(page: bytes) -> dict[str, object]:
    """What a page's topics and digest preferences forms show, field by field."""
    document = lxml.html.fromstring(page)
    return {
        "topics": sorted(box.get("value") for box in document.cssselect('input[name="topics"][checked]')),
        "digest_length": document.cssselect("#digest_length option[selected]")[0].get("value"),
        "per_topic": document.get_element_by_id("per_topic").get("value"),
        **{
            name: document.get_element_by_id(name).text_content()
            for name in ("keywords_include", "keywords_exclude", "authors")
        },
        "suggestions": "on" if document.cssselect('input[name="suggestions"][checked]') else "",
    }


def upload(client, data: bytes):
    """The admin's import: upload, preview, then the go-ahead, as a browser does."""
    token = csrf_token(client.get("/admin/import").data)
    preview = client.post(
        "/admin/import",
        data={"csrf_token": token, "file": (io.BytesIO(data), "subscribers.csv")},
        content_type="multipart/form-data",
    )
    assert preview.status_code == 200, preview.data.decode()[:2000]
    action = re.search(rb'action="(/admin/import/[0-9a-f]{32})"', preview.data).group(1).decode()
    return client.post(action, data={"csrf_token": csrf_token(preview.data)}, follow_redirects=True)


def test_it_round_trips_every_column_through_the_cli_import_and_export(run, tmp_path, engine):
    source = tmp_path / "in.csv"
    source.write_bytes(SOURCE.encode())
    assert "imported 6 rows: 6 new, 0 updated, 0 unchanged" in run("subscribers", "import", str(source)).output
    assert stored(engine) == STORED
    exported = run("subscribers", "export").stdout_bytes
    assert exported.decode() == SOURCE
    # The export read back changes nothing.
    source.write_bytes(exported)
    assert "0 new, 0 updated, 6 unchanged" in run("subscribers", "import", str(source)).output
    assert stored(engine) == STORED and run("subscribers", "export").stdout_bytes == exported


def test_it_round_trips_every_column_through_the_admin_import_and_export(admin_client, app_engine):
    done = upload(admin_client, SOURCE.encode())
    assert b"Imported 6 rows: 6 new, 0 updated, 0 unchanged." in done.data
    assert stored(app_engine) == STORED
    exported = admin_client.get("/admin/export.csv")
    assert exported.status_code == 200 and exported.data.decode() == SOURCE
    again = upload(admin_client, exported.data)
    assert b"0 new, 0 updated, 6 unchanged." in again.data
    assert stored(app_engine) == STORED and admin_client.get("/admin/export.csv").data == exported.data


def test_it_round_trips_the_preferences_page_to_the_export(app, client, app_engine, run):
    alice = add_alice(app_engine)
    path = preferences_url(app.extensions["paperboy"].config, alice).split("paperboy.test", 1)[1]
    typed = {
        "topics": ["testing", "vla"],
        "digest_length": "number",
        "per_topic": "7",
        "keywords_include": "diffusion\nworld model",
        "keywords_exclude": "-lidar",
        "authors": "LeCun, Yann\nÉmile Zola",
        "suggestions": "",  # the box unticked
    }
    page = client.get(path)
    saved = client.post(path, data={"csrf_token": csrf_token(page.data), "action": "save", "topics": typed["topics"]})
    assert saved.status_code == 200 and b"Your topics are saved." in saved.data
    digest_form = {"suggestions_shown": "1", **{name: value for name, value in typed.items() if name != "topics"}}
    saved = client.post(path, data={"csrf_token": csrf_token(page.data), "action": "digest", **digest_form})
    assert saved.status_code == 200 and b"Your email preferences are saved." in saved.data

    assert shown(client.get(path).data) == typed
    preferences = DigestPreferences(
        "7", ("diffusion", "world model"), ("-lidar",), ("LeCun, Yann", "Émile Zola"), suggestions=False
    )
    assert stored(app_engine) == {"alice@example.org": ("active", ["testing", "vla"], preferences)}
    assert run("subscribers", "export").stdout_bytes.decode() == HEADER + (
        'alice@example.org,testing vla,active,7,diffusion; world model,\'-lidar,"LeCun, Yann; Émile Zola",no\r\n'
    )


def test_it_round_trips_the_admin_subscriber_page_to_the_export(admin_client, app_engine):
    alice = add_alice(app_engine)
    page = admin_client.get(f"/admin/subscribers/{alice}")
    typed = {
        "topics": ["testing"],
        "digest_length": "full",
        "per_topic": "",
        "keywords_include": "robot\ngrasping policy",
        "keywords_exclude": "survey",
        "authors": "Finn, Chelsea",
        "suggestions": "on",
    }
    token = csrf_token(page.data)
    topics = admin_client.post(f"/admin/subscribers/{alice}/topics", data={"csrf_token": token, "topics": ["testing"]})
    assert topics.status_code == 302
    digest_form = {"suggestions_shown": "1", **{name: value for name, value in typed.items() if name != "topics"}}
    saved = admin_client.post(f"/admin/subscribers/{alice}/preferences", data={"csrf_token": token, **digest_form})
    assert saved.status_code == 302

    assert shown(admin_client.get(f"/admin/subscribers/{alice}").data) == typed
    blocked = admin_client.post(f"/admin/subscribers/{alice}/block", data={"csrf_token": token, "confirm": "yes"})
    assert blocked.status_code == 302
    preferences = DigestPreferences("full", ("robot", "grasping policy"), ("survey",), ("Finn, Chelsea",))
    assert stored(app_engine) == {"alice@example.org": ("blocked", ["testing"], preferences)}
    assert admin_client.get("/admin/export.csv").data.decode() == HEADER + (
        'alice@example.org,testing,blocked,full,robot; grasping policy,survey,"Finn, Chelsea",yes\r\n'
    )
