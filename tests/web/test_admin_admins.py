"""Admins: invitations and password resets mailed through the mail queue, links that work once,
the same answer for any address, sign-in history, and removing an admin ends their sessions."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from service.store.schema import audit_log
from service.store.subscribers import admins as admin_store
from tests.support.forms import PASSWORD, create_admin, csrf_token, mailed_admin_link, sign_in

NEW_PASSWORD = "a long new password"


@pytest.fixture
def config(config, smtp_server):
    return config.with_overrides(smtp_url=smtp_server.url)


def set_password(client, link: str, password: str = NEW_PASSWORD):
    page = client.get(link)
    if page.status_code != 200:
        return page
    return client.post(link, data={"csrf_token": csrf_token(page.data), "password": password, "again": password})


def test_an_invited_admin_sets_a_password_once_and_signs_in(app, app_engine, client, smtp_server):
    create_admin(app_engine)
    sign_in(client)
    page = client.get("/admin/admins/").data
    client.post("/admin/admins/invite", data={"csrf_token": csrf_token(page), "email": "New@Example.org"})
    assert b"invited, no password yet" in client.get("/admin/admins/").data
    link = mailed_admin_link(app, smtp_server)
    assert smtp_server.messages[-1]["To"] == "new@example.org"

    visitor = app.test_client()
    assert sign_in(visitor, "new@example.org", "").status_code == 401  # no password yet
    assert set_password(visitor, link).status_code == 302
    assert visitor.get("/admin/").status_code == 200  # signed in by setting it
    assert set_password(app.test_client(), link).status_code == 400  # once only
    assert sign_in(app.test_client(), "new@example.org", NEW_PASSWORD).status_code == 302
    with app_engine.connect() as conn:
        actions = [row.action for row in conn.execute(select(audit_log.c.action, audit_log.c.actor))]
    assert "admin-invite" in actions and "admin-password" in actions


def test_forgot_password_answers_alike_and_its_link_works_once(app, app_engine, client, smtp_server):
    create_admin(app_engine)
    token = csrf_token(client.get("/admin/forgot").data)
    known = client.post("/admin/forgot", data={"csrf_token": token, "email": "admin@example.org"})
    unknown = client.post("/admin/forgot", data={"csrf_token": token, "email": "nobody@example.org"})
    assert known.status_code == unknown.status_code == 200
    assert known.data.replace(token.encode(), b"") == unknown.data.replace(token.encode(), b"")
    link = mailed_admin_link(app, smtp_server)
    assert len(smtp_server.messages) == 1

    signed_in_before = app.test_client()
    sign_in(signed_in_before)
    assert set_password(client, link).status_code == 302
    assert set_password(app.test_client(), link, "yet another password").status_code == 400
    assert sign_in(app.test_client(), "admin@example.org", PASSWORD).status_code == 401
    assert sign_in(app.test_client(), "admin@example.org", NEW_PASSWORD).status_code == 302
    # A new password ends the sessions that began with the old one.
    assert signed_in_before.get("/admin/").status_code == 302


def test_it_refuses_short_or_differing_passwords_and_forged_links(app, app_engine, client, smtp_server):
    create_admin(app_engine)
    token = csrf_token(client.get("/admin/forgot").data)
    client.post("/admin/forgot", data={"csrf_token": token, "email": "admin@example.org"})
    link = mailed_admin_link(app, smtp_server)
    page = client.get(link)
    short = client.post(link, data={"csrf_token": csrf_token(page.data), "password": "short", "again": "short"})
    assert short.status_code == 400 and b"at least 12 characters" in short.data
    assert client.get(link[:-3] + "xyz").status_code == 400


def test_sign_in_history_and_removing_an_admin_ends_their_sessions(app, app_engine, client):
    create_admin(app_engine)
    other = create_admin(app_engine, "other@example.org")
    sign_in(app.test_client(), "other@example.org", "wrong password")
    theirs = app.test_client()
    sign_in(theirs, "other@example.org")
    assert theirs.get("/admin/").status_code == 200
    sign_in(client)
    page = client.get(f"/admin/admins/{other.id}").data.decode()
    assert page.count("signed-in") == 1 and page.count("wrong-password") == 1
    client.post(f"/admin/admins/{other.id}/remove", data={"csrf_token": csrf_token(page.encode()), "confirm": "yes"})
    assert theirs.get("/admin/").status_code == 302
    with app_engine.connect() as conn:
        assert admin_store.admin_by_email(conn, "other@example.org") is None
    # Nobody removes themselves.
    me = client.get("/admin/admins/").data
    with app_engine.connect() as conn:
        my_id = admin_store.admin_by_email(conn, "admin@example.org").id
    client.post(f"/admin/admins/{my_id}/remove", data={"csrf_token": csrf_token(me), "confirm": "yes"})
    assert client.get("/admin/").status_code == 200
