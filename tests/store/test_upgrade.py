"""Upgrades keep everything: a store written by an earlier landed version of paperboy (its own code,
checked out from git history into a scratch venv) goes through today's `paperboy init`, on SQLite
and on PostgreSQL, and every row keeps its meaning: week pages list the same papers, the export the
same subscribers, statuses and preferences, the old admin password signs in, the sent week is not
sent again, and the old unsubscribe and preferences links still work."""

from __future__ import annotations

import csv
import io
import json
import os
import subprocess
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text

from service import store
from service.config import load_config
from service.store import revisions
from service.web import create_app
from tests.store.earlier_versions import BUILDER, VERSIONS, install
from tests.support.forms import PASSWORD, sign_in
from tests.support.helpers import paperboy

WEEK = "2026-W47"
ADMIN = "admin@example.org"
TOPICS = """
[[topic]]
slug = "vla"
title = "Vision-Language-Action Models"
description = "Papers on VLAs and vision-language-action architectures for robotics."
query = 'abs:"vision-language-action" OR ti:VLA'

[[topic]]
slug = "testing"
title = "Software Testing"
description = "Testing, from unit tests to metamorphic testing."
query = 'all:testing'
"""
TOPIC_PAPERS = {"vla": [1, 2, 3, 4], "testing": [3, 4, 5, 6]}  # as tests/store/earlier_version.py links them
STATUSES = {
    "pending@example.org": "pending",
    "active@example.org": "active",
    "reader@example.org": "active",
    "left@example.org": "unsubscribed",
    "bounced@example.org": "bounced",
    "blocked@example.org": "blocked",
}


@pytest.fixture(scope="module")
def installed(tmp_path_factory):
    """Each earlier version's paperboy, installed once for the module."""
    done = {}

    def get(version: str) -> Path:
        if version not in done:
            done[version] = install(VERSIONS[version], tmp_path_factory.mktemp(version))
        return done[version]

    return get


def environment(database_url: str, work: Path) -> dict[str, str]:
    # No PAPERBOY_SECRET_KEY: the earlier version writes var/secret_key, which today's must read.
    return {
        "PATH": os.environ["PATH"],
        "HOME": str(work),
        "PAPERBOY_DATABASE_URL": database_url,
        "PAPERBOY_TOPICS_FILE": str(work / "topics.toml"),
        "PAPERBOY_BASE_URL": "http://paperboy.test",
        "PAPERBOY_RATE_LIMITS": "false",
        "PAPERBOY_ADMIN_PASSWORD": PASSWORD,
        "PAPERBOY_ARXIV_API_URL": "http://127.0.0.1:9/api/query",
    }


def build_with(paperboy_command: Path, environ: dict[str, str], work: Path) -> dict:
    python = paperboy_command.with_name("python")
    done = subprocess.run(
        [str(python), str(BUILDER)], env=environ, cwd=work, capture_output=True, text=True, timeout=600
    )
    assert done.returncode == 0, done.stderr[-3000:]
    return json.loads(done.stdout)


def ledger(database_url: str) -> list[tuple]:
    engine = create_engine(database_url)
    with engine.connect() as conn:
        rows = conn.execute(
            text(
                "SELECT d.week, s.email, l.state, l.attempts FROM delivery l "
                "JOIN digest d ON d.id = l.digest_id JOIN subscriber s ON s.id = l.subscriber_id "
                "ORDER BY d.week, s.email"
            )
        ).all()
    engine.dispose()
    return [tuple(row) for row in rows]


def papers_on(page: str) -> list[str]:
    """The arXiv ids a page links to, each once, in order."""
    import re

    return list(dict.fromkeys(re.findall(r"arxiv\.org/abs/(\d{4}\.\d{5})", page)))


def exported(csv_text: str) -> dict[str, dict[str, str]]:
    return {row["email"]: row for row in csv.DictReader(io.StringIO(csv_text))}


@pytest.mark.parametrize("version", sorted(VERSIONS))
def test_it_upgrades_a_store_written_by_an_earlier_version(version, database_url, installed, tmp_path):
    work = tmp_path / "site"
    work.mkdir()
    (work / "topics.toml").write_text(TOPICS)
    environ = environment(database_url, work)
    before = build_with(installed(version), environ, work)
    sent_before = ledger(database_url)
    outbox = work / "var" / "outbox"
    mails_before = sorted(outbox.iterdir())
    assert [state for _, _, state, _ in sent_before] == ["sent", "sent"] and len(mails_before) == 2

    upgraded = paperboy(environ, "init", cwd=work)
    assert upgraded.returncode == 0, upgraded.stderr

    # The export lists the same subscribers with the same statuses, topics and preferences.
    old_rows = exported(before["export"])
    new_rows = exported(paperboy(environ, "subscribers", "export", cwd=work).stdout)
    assert {email: row["status"] for email, row in new_rows.items()} == STATUSES
    for email, old in old_rows.items():
        assert {name: new_rows[email][name] for name in old} == old
    if "keywords_include" in old_rows["reader@example.org"]:
        assert new_rows["reader@example.org"]["keywords_include"] == "grasping; sim-to-real"

    # The sent week is not sent again.
    again = paperboy(environ, "digest", "send", "--week", WEEK, cwd=work)
    assert again.returncode == 0, again.stderr
    assert again.stdout.startswith(f"{WEEK}: 0 sent") and "0 new deliveries written" in again.stdout
    assert ledger(database_url) == sent_before and sorted(outbox.iterdir()) == mails_before

    client = create_app(load_config(environ, var_dir=work / "var")).test_client()
    client.environ_base["HTTP_HOST"] = "paperboy.test"
    # Week pages list the same papers: those the earlier version stored, as it listed them.
    for slug, numbers in TOPIC_PAPERS.items():
        stored = sorted(f"2611.{n:05d}" for n in numbers)
        if before["pages"][slug] is not None:
            assert sorted(dict.fromkeys(before["pages"][slug])) == stored
        page = client.get(f"/topics/{slug}/{WEEK}/")
        assert page.status_code == 200
        assert sorted(papers_on(page.get_data(True))) == stored
    # Search finds them through the index the upgrade built or kept.
    found = client.get("/search?q=Lovelace")
    assert found.status_code == 200 and len(papers_on(found.get_data(True))) == 6

    # The old admin password signs in.
    signed_in = sign_in(client, ADMIN, PASSWORD)
    assert signed_in.status_code == 302 and client.get("/admin/").status_code == 200
    client.get("/admin/sign-out")

    # Old links still work: the preferences page shows the subscriber's choices, and the
    # one-click unsubscribe ends the subscription.
    links = before["links"]["reader@example.org"]
    preferences = client.get(links["preferences"].removeprefix("http://paperboy.test"))
    assert preferences.status_code == 200 and "reader@example.org" in preferences.get_data(True)
    if "keywords_include" in old_rows["reader@example.org"]:
        assert "grasping" in preferences.get_data(True)
    unsubscribe = links["unsubscribe"].removeprefix("http://paperboy.test")
    assert client.get(unsubscribe).status_code == 200
    left = client.post(unsubscribe, data={"List-Unsubscribe": "One-Click"})
    assert left.status_code == 200
    after = exported(paperboy(environ, "subscribers", "export", cwd=work).stdout)
    assert after["reader@example.org"]["status"] == "unsubscribed"
    assert {email: row["status"] for email, row in after.items() if email != "reader@example.org"} == {
        email: status for email, status in STATUSES.items() if email != "reader@example.org"
    }


def test_it_refuses_a_store_newer_than_the_code(database_url, tmp_path):
    (tmp_path / "topics.toml").write_text(TOPICS)
    environ = environment(database_url, tmp_path)
    assert paperboy(environ, "init", cwd=tmp_path).returncode == 0
    engine = create_engine(database_url)
    with engine.begin() as conn:
        conn.execute(text("UPDATE alembic_version SET version_num = '0099'"))
    engine.dispose()
    head, _ = revisions.shipped(store.MIGRATIONS)
    refusal = (
        f"paperboy: store: the database is at migration 0099, newer than this paperboy's {head}: "
        "run the newer paperboy, or restore the backup taken before the upgrade\n"
    )
    for command in (["init"], ["subscribers", "export"]):
        done = paperboy(environ, *command, cwd=tmp_path)
        assert (done.returncode, done.stdout, done.stderr) == (2, "", refusal)
