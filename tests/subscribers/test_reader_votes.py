"""A reader's votes on papers: recorded only by the POST, changed, undone, listed on their
preferences page, counted (not shown) for admins, never exported, kept across restarts and
erased with the reader; on SQLite and PostgreSQL."""

from __future__ import annotations

import pytest

from service import store
from service.store.subscribers import votes
from subscribers.erasure import erase_subscriber
from subscribers.tokens import preferences_url
from tests.conftest import NOW
from tests.support.digest_data import add_subscribers, load_week
from tests.support.forms import create_admin, csrf_token, sign_in


@pytest.fixture
def config(config, database_url):
    return config.with_overrides(database_url=database_url)


@pytest.fixture
def reader(app, app_engine):
    """A reader of "testing" with the week's papers stored; returns (id, their preferences path, papers)."""
    with app_engine.begin() as conn:
        testing, _ = load_week(conn)
        ids = add_subscribers(conn, [("reader@example.org", ["testing"])], NOW)
    path = preferences_url(app.extensions["paperboy"].config, ids["reader@example.org"]).removeprefix(
        "http://paperboy.test"
    )
    return ids["reader@example.org"], path, testing


def given(engine, subscriber_id):
    with engine.connect() as conn:
        return [(vote.paper.id, vote.vote) for vote in votes.votes_of(conn, subscriber_id)]


def test_it_records_a_vote_only_when_the_button_is_pressed(client, app_engine, reader):
    reader_id, path, papers = reader
    paper = papers[0]
    page = client.get(f"{path}/more/{paper.id}")
    assert page.status_code == 200 and paper.title.encode() in page.data
    assert page.headers["Cache-Control"] == "no-store" and page.headers["Referrer-Policy"] == "no-referrer"
    assert given(app_engine, reader_id) == []  # a mail scanner opening the link changes nothing
    pressed = client.post(f"{path}/more/{paper.id}", data={"csrf_token": csrf_token(page.data), "action": "vote"})
    assert pressed.status_code == 200 and b"Saved" in pressed.data
    assert given(app_engine, reader_id) == [(paper.id, votes.MORE)]


def test_it_changes_lists_and_undoes_votes(client, app_engine, reader):
    reader_id, path, papers = reader
    first, second = papers[0], papers[1]
    token = csrf_token(client.get(f"{path}/more/{first.id}").data)
    client.post(f"{path}/more/{first.id}", data={"csrf_token": token, "action": "vote"})
    client.post(f"{path}/more/{second.id}", data={"csrf_token": token, "action": "vote"})
    client.post(f"{path}/fewer/{first.id}", data={"csrf_token": token, "action": "vote"})  # changed
    assert sorted(given(app_engine, reader_id)) == sorted([(first.id, votes.FEWER), (second.id, votes.MORE)])

    listed = client.get(path).data.decode()
    assert first.title in listed and second.title in listed and "Fewer like this" in listed
    undone = client.post(
        f"{path}/more/{second.id}", data={"csrf_token": token, "action": "undo", "back": "preferences"}
    )
    assert undone.status_code == 303 and undone.headers["Location"].endswith(f"{path}#votes")
    assert given(app_engine, reader_id) == [(first.id, votes.FEWER)]
    assert second.title not in client.get(path).data.decode()


def test_it_refuses_a_bad_link_or_an_unknown_paper(client, reader):
    _, path, papers = reader
    assert client.get(f"{path}/more/0000.00000").status_code == 404
    assert client.get(f"{path}/sideways/{papers[0].id}").status_code == 404
    assert client.get(f"/preferences/not-a-token/more/{papers[0].id}").status_code == 400


def test_admins_see_how_many_votes_not_which(client, app_engine, reader):
    reader_id, path, papers = reader
    token = csrf_token(client.get(f"{path}/more/{papers[0].id}").data)
    for paper in papers[:3]:
        client.post(f"{path}/more/{paper.id}", data={"csrf_token": token, "action": "vote"})
    create_admin(app_engine)
    admin = client.application.test_client()
    sign_in(admin)
    page = admin.get(f"/admin/subscribers/{reader_id}").data.decode()
    assert 'Papers marked "More like this" or "Fewer like this": 3' in page
    assert not any(paper.title in page for paper in papers[:3])
    exported = admin.get("/admin/export.csv").data.decode()
    assert "reader@example.org" in exported and not any(paper.id in exported for paper in papers[:3])


def test_votes_survive_a_restart_and_go_with_the_reader(config, app_engine, client, reader):
    reader_id, path, papers = reader
    token = csrf_token(client.get(f"{path}/more/{papers[0].id}").data)
    client.post(f"{path}/fewer/{papers[0].id}", data={"csrf_token": token, "action": "vote"})
    restarted = store.connect(config.database_url)  # another process, later
    store.migrate(restarted)
    try:
        assert given(restarted, reader_id) == [(papers[0].id, votes.FEWER)]
        with store.write_transaction(restarted) as conn:
            erase_subscriber(conn, reader_id, NOW, "admin@example.org")
        assert given(restarted, reader_id) == []
        with restarted.connect() as conn:
            assert votes.vote_count(conn, reader_id) == 0
    finally:
        restarted.dispose()
