"""Admin CSV import (preview, per-row errors, all or nothing) and export, through the admin pages."""

from __future__ import annotations

import csv
import io
import os
import re
import tempfile

import pytest

from service.store.subscribers import audit, listing, records
from service.store.subscribers.imports import ImportRow
from subscribers.imports import import_rows
from tests.conftest import NOW
from tests.support.forms import create_admin, csrf_token, sign_in


@pytest.fixture
def signed_in(client, app_engine):
    create_admin(app_engine)
    sign_in(client)
    return client


def upload(client, data: bytes, name="subscribers.csv"):
    token = csrf_token(client.get("/admin/import").data)
    return client.post(
        "/admin/import",
        data={"csrf_token": token, "file": (io.BytesIO(data), name)},
        content_type="multipart/form-data",
    )


def commit(client, preview):
    action = re.search(rb'action="(/admin/import/[0-9a-f]{32})"', preview.data).group(1).decode()
    return client.post(action, data={"csrf_token": csrf_token(preview.data)}, follow_redirects=True)


def counts(engine):
    with engine.connect() as conn:
        return {k: v for k, v in listing.status_counts(conn).items() if v}


def ten_thousand_rows() -> bytes:
    lines = ["email,topics,status"]
    statuses = ["active", "active", "active", "unsubscribed", "blocked"]
    for n in range(10_000):
        topics = ["vla", "testing", "vla;testing", ""][n % 4]
        email = f"=reader{n:05d}@example.org" if n % 1000 == 0 else f"reader{n:05d}@example.org"
        lines.append(f"{email},{topics},{statuses[n % 5]}")
    return ("\r\n".join(lines) + "\r\n").encode()


def test_it_imports_10000_rows_after_a_preview_and_exports_them_back_identically(signed_in, app_engine):
    preview = upload(signed_in, ten_thousand_rows())
    assert preview.status_code == 200 and b"10000 valid rows, 0 bad rows" in preview.data
    assert counts(app_engine) == {}
    done = commit(signed_in, preview)
    assert b"Imported 10000 rows: 10000 new, 0 updated, 0 unchanged." in done.data
    assert counts(app_engine) == {"active": 6000, "unsubscribed": 2000, "blocked": 2000}
    exported = signed_in.get("/admin/export.csv")
    assert exported.status_code == 200 and exported.mimetype == "text/csv"
    assert "attachment" in exported.headers["Content-Disposition"]
    rows = list(csv.reader(io.StringIO(exported.data.decode())))
    assert len(rows) == 10_001 and rows[1][0] == "'=reader00000@example.org"
    # Reading the export back changes nothing, and the next export is byte for byte the same.
    again = commit(signed_in, upload(signed_in, exported.data))
    assert b"0 new, 0 updated, 10000 unchanged." in again.data
    assert signed_in.get("/admin/export.csv").data == exported.data


def test_it_updates_existing_subscribers_and_writes_the_audit_log(signed_in, app_engine):
    with app_engine.begin() as conn:
        import_rows(conn, [ImportRow("alice@example.org", ["vla"], "active")], NOW, "cli")
    done = commit(signed_in, upload(signed_in, b"email,topics,status\nalice@example.org,testing,blocked\n"))
    assert b"0 new, 1 updated" in done.data
    with app_engine.connect() as conn:
        alice = records.subscriber_by_email(conn, "alice@example.org")
        last = audit.audit_entries(conn, alice.id)[-1]
    assert (alice.status, alice.topics) == ("blocked", ["testing"])
    assert (last.actor, last.action) == ("admin@example.org", "import")


def test_it_shows_row_errors_and_writes_nothing(signed_in, app_engine):
    data = (
        b"email,topics,status\nalice@example.org,vla,\nbob@example.org,astro,\nalice@example.org,vla,\n"
        b'=HYPERLINK("http://evil.example";"x"),vla,\n'
    )
    preview = upload(signed_in, data)
    assert preview.status_code == 400 and b"Nothing was imported." in preview.data
    assert b"line 3: unknown topic &#39;astro&#39;" in preview.data
    assert b"line 4: alice@example.org appears twice (first on line 2)" in preview.data
    assert b"line 5: &#39;=HYPERLINK(" in preview.data
    assert b"/admin/import/" not in preview.data
    assert counts(app_engine) == {}


@pytest.mark.parametrize(
    "data, message",
    [
        (b"address,topics\nalice@example.org,vla\n", b"no &#39;email&#39; column"),
        (b"", b"the file is empty"),
        (b"email\n\x81\x8d@example.org\n", b"neither UTF-8 nor Windows-1252"),
    ],
)
def test_it_refuses_a_bad_file_clearly(signed_in, app_engine, data, message):
    answer = upload(signed_in, data)
    assert answer.status_code == 400 and message in answer.data
    assert counts(app_engine) == {}


def test_it_reads_a_bom_and_latin1(signed_in, app_engine):
    bom = upload(signed_in, b"\xef\xbb\xbfemail,topics\nj\xc3\xb6rg@example.org,vla\n")
    assert b"read as utf-8" in bom.data
    commit(signed_in, bom)
    latin1 = upload(signed_in, "email,topics\nmaría@example.org,vla\n".encode("latin-1"))
    assert b"read as windows-1252" in latin1.data
    commit(signed_in, latin1)
    with app_engine.connect() as conn:
        assert records.subscriber_by_email(conn, "jörg@example.org").topics == ["vla"]
        assert records.subscriber_by_email(conn, "maría@example.org").status == "active"


def test_it_refuses_to_commit_an_unknown_or_used_upload(signed_in):
    token = csrf_token(signed_in.get("/admin/import").data)
    gone = signed_in.post("/admin/import/" + "0" * 32, data={"csrf_token": token}, follow_redirects=True)
    assert b"That upload is gone" in gone.data
    preview = upload(signed_in, b"email\nalice@example.org\n")
    commit(signed_in, preview)
    assert b"That upload is gone" in commit(signed_in, preview).data
    assert signed_in.post("/admin/import/../../etc/passwd", data={"csrf_token": token}).status_code == 404


def test_it_says_when_an_import_keeps_an_address_unsubscribed(signed_in, app_engine):
    with app_engine.begin() as conn:
        import_rows(conn, [ImportRow("gone@example.org", ["vla"], "unsubscribed")], NOW, "cli")
    done = commit(signed_in, upload(signed_in, b"email,topics,status\ngone@example.org,vla,active\n"))
    assert (
        b"1 addresses that unsubscribed or are blocked kept that status: an import never subscribes them again."
    ) in done.data
    assert counts(app_engine) == {"unsubscribed": 1}


def test_it_refuses_to_keep_an_upload_in_a_folder_other_users_can_open(signed_in, app_engine, tmp_path, monkeypatch):

    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    shared = tmp_path / f"paperboy-imports-{os.getuid()}"
    shared.mkdir()
    shared.chmod(0o777)
    answer = upload(signed_in, b"email\nalice@example.org\n")
    assert answer.status_code == 500 and b"is not private to this user" in answer.data
    assert list(shared.iterdir()) == [] and counts(app_engine) == {}
    shared.chmod(0o700)
    done = commit(signed_in, upload(signed_in, b"email\nalice@example.org\n"))
    assert b"Imported 1 rows: 1 new" in done.data
