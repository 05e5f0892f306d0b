"""Topics in the browser's forms: preview from the store, save, edit, retire, every change in the
audit log; the commands that import, export and compare the topics file."""

from __future__ import annotations

import re
from dataclasses import replace
from datetime import timedelta

import pytest
from click.testing import CliRunner
from sqlalchemy import select

from service.cli import main
from service.model.topics import load_topics
from service.store import topics as topic_store
from service.store.schema import audit_log
from service.store.subscribers import records
from service.store.subscribers.imports import ImportRow
from subscribers.imports import import_rows
from tests.conftest import NOW
from tests.support.forms import create_admin, csrf_token, sign_in
from tests.support.topic_data import load, many_papers_with_code

pytestmark = pytest.mark.app_options(clock=lambda: NOW, stamp_seconds=0)

ROBOTS = {
    "slug": "robot-learning",
    "title": "Robot Learning",
    "description": "Learning for robots.",
    "query": "all:testing OR all:test",
    "categories": "",
    "exemplars": "",
}


@pytest.fixture
def signed_in(app, client, app_engine):
    create_admin(app_engine)
    sign_in(client)
    return client


def post(client, path, fields, page="/admin/topics/new"):
    return client.post(path, data={"csrf_token": csrf_token(client.get(page).data), **fields})


def audit(engine):
    with engine.connect() as conn:
        return [tuple(row) for row in conn.execute(select(audit_log.c.actor, audit_log.c.action, audit_log.c.detail))]


def test_it_previews_saves_edits_and_retires_a_topic(app, signed_in, app_engine):
    runtime = app.extensions["paperboy"]
    # Thirty papers published in the last 7 days, eight older ones: the preview counts the first.
    recent = [replace(p, published=NOW - timedelta(hours=n + 1)) for n, p in enumerate(many_papers_with_code(38))]
    recent[30:] = [replace(p, published=NOW - timedelta(days=9)) for p in recent[30:]]
    load(app_engine, "vla", recent, matched=NOW - timedelta(days=2))
    shown = post(signed_in, "/admin/topics/preview", ROBOTS)
    assert shown.status_code == 200
    page = shown.get_data(as_text=True)
    heading = re.search(r"The query lists (\d+) papers in the last 7 days", page)
    assert heading and 0 < int(heading.group(1)) <= 30
    assert "Asked of the store" in page
    assert page.count('<li><a href="https://arxiv.org/abs/') == min(20, int(heading.group(1)))
    assert runtime.topic("robot-learning") is None  # a preview saves nothing

    saved = post(signed_in, "/admin/topics/save", ROBOTS)
    assert saved.status_code == 302
    assert [t.slug for t in runtime.topics] == ["vla", "testing", "robot-learning"]
    assert signed_in.get("/topics/robot-learning/").status_code == 200
    assert post(signed_in, "/admin/topics/save", ROBOTS).status_code == 400  # the slug is taken

    assert b"<title>Robot Learning (paperboy)</title>" in signed_in.get("/topics/robot-learning/feed.atom").data
    edited = {**ROBOTS, "title": "Robot Learning and Control", "editing": "yes"}
    assert post(signed_in, "/admin/topics/save", edited).status_code == 302
    assert runtime.topic("robot-learning").title == "Robot Learning and Control"
    # Pages and feeds rendered before the edit are made again with it.
    feed = signed_in.get("/topics/robot-learning/feed.atom").data
    assert b"<title>Robot Learning and Control (paperboy)</title>" in feed
    assert b"Robot Learning and Control" in signed_in.get("/topics/robot-learning/").data

    with app_engine.begin() as conn:
        import_rows(conn, [ImportRow("reader@example.org", ["robot-learning", "vla"], "active")], NOW, "cli")
    page = "/admin/topics/robot-learning/edit"
    assert post(signed_in, "/admin/topics/robot-learning/retire", {"confirm": "yes"}, page).status_code == 302
    assert "robot-learning" not in runtime.topic_slugs and runtime.topic("robot-learning").retired == NOW
    # Its page and feed still answer; its readers keep their other topics.
    assert signed_in.get("/topics/robot-learning/").status_code == 200
    assert signed_in.get("/topics/robot-learning/feed.atom").status_code == 200
    with app_engine.connect() as conn:
        assert records.subscriber_by_email(conn, "reader@example.org").topics == ["robot-learning", "vla"]
    assert b"retired 2026-02-04" in signed_in.get("/admin/topics/").data

    actions = [(actor, action) for actor, action, _ in audit(app_engine) if action.startswith("topic")]
    assert actions == [
        ("admin@example.org", "topic-add"),
        ("admin@example.org", "topic-edit"),
        ("admin@example.org", "topic-retire"),
    ]


def test_it_refuses_a_malformed_topic(signed_in):
    bad = post(signed_in, "/admin/topics/preview", {**ROBOTS, "slug": "Not A Slug"})
    assert bad.status_code == 400 and b"must be lowercase letters" in bad.data
    bad = post(signed_in, "/admin/topics/preview", {**ROBOTS, "exemplars": "not-an-id"})
    assert bad.status_code == 400 and b"is not an arXiv id" in bad.data


def cli(config, *args):
    environ = {
        "PAPERBOY_DATABASE_URL": config.database_url,
        "PAPERBOY_TOPICS_FILE": str(config.topics_file),
        "PAPERBOY_SECRET_KEY": "test-secret",
    }
    return CliRunner().invoke(main, list(args), env=environ)


def test_init_takes_the_file_once_and_the_commands_import_export_and_compare(config, tmp_path):
    done = cli(config, "init")
    assert done.exit_code == 0 and "2 topics taken from" in done.output
    assert "topics taken" not in cli(config, "init").output

    changed = tmp_path / "changed.toml"
    changed.write_text(config.topics_file.read_text().replace("Software Testing", "Testing Software"))
    config.topics_file.write_text(changed.read_text())
    differs = cli(config, "subscribers", "export", str(tmp_path / "list.csv"))
    assert differs.exit_code == 0
    assert [line for line in differs.output.splitlines() if "differs from the topics in the store" in line]

    imported = cli(config, "topics", "import", str(changed))
    assert imported.exit_code == 0 and "0 added, 1 changed, 0 retired" in imported.output
    assert "differs" not in cli(config, "subscribers", "export", str(tmp_path / "list.csv")).output

    out = tmp_path / "out.toml"
    assert cli(config, "topics", "export", str(out)).exit_code == 0
    assert [t.title for t in load_topics(out)] == ["Vision-Language-Action Models", "Testing Software"]
    only_vla = tmp_path / "vla.toml"
    only_vla.write_text(out.read_text().split("[[topic]]")[1].join(["[[topic]]", ""]))
    assert "0 added, 0 changed, 1 retired" in cli(config, "topics", "import", str(only_vla)).output
    from service import store as db

    engine = db.connect(config.database_url)
    with engine.connect() as conn:
        held = {t.slug: t.retired is not None for t in topic_store.load(conn)}
    engine.dispose()
    assert held == {"vla": False, "testing": True}
