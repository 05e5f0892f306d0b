"""Public pages are the same bytes for every visitor: no cookie, no token, public caching,
rendered once per change of their topic and answered like feeds (ETag, 304, gzip)."""

from __future__ import annotations

import gzip

import pytest

from tests.conftest import NOW
from tests.support.topic_data import fixture_papers, load, load_testing_topic

pytestmark = pytest.mark.app_options(clock=lambda: NOW, stamp_seconds=0)

PUBLIC = ("/", "/topics/testing/", "/topics/testing/?page=1", f"/topics/testing/{NOW:%G-W%V}/", "/topics/testing.md")


def test_two_anonymous_visitors_get_the_same_bytes_and_no_cookie(app, app_engine):
    load_testing_topic(app_engine)
    alice, bob = app.test_client(), app.test_client()
    for path in PUBLIC:
        first, second = alice.get(path), bob.get(path)
        assert first.status_code == second.status_code == 200, path
        assert first.data == second.data, path
        assert "Set-Cookie" not in first.headers and "Set-Cookie" not in second.headers, path
        assert b"csrf_token" not in first.data, path
        control = first.headers["Cache-Control"]
        assert control.startswith("public") and "stale-while-revalidate" in control, path
        assert first.headers["Vary"] == "Accept-Encoding", path


def test_public_pages_answer_conditional_gets_and_gzip(client, app_engine):
    load_testing_topic(app_engine)
    for path in PUBLIC:
        first = client.get(path)
        again = client.get(path, headers={"If-None-Match": first.headers["ETag"]})
        assert again.status_code == 304, path
        zipped = client.get(path, headers={"Accept-Encoding": "gzip"})
        assert zipped.headers["Content-Encoding"] == "gzip" and gzip.decompress(zipped.data) == first.data, path


def test_a_change_of_the_topic_gives_a_new_page(client, app_engine):
    load_testing_topic(app_engine)
    first = client.get("/topics/testing/")
    load(app_engine, "testing", fixture_papers()[50:51], matched=NOW)
    changed = client.get("/topics/testing/", headers={"If-None-Match": first.headers["ETag"]})
    assert changed.status_code == 200 and changed.data != first.data


def test_forms_that_need_a_session_keep_their_token(client):
    page = client.get("/subscribe")
    assert b'name="csrf_token"' in page.data and "Set-Cookie" in page.headers
    assert page.headers.get("Cache-Control", "") != "public"
