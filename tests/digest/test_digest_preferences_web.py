"""Digest preferences in the browser: the reader's preferences page and the admin subscriber page
save length, keywords and followed authors, and refuse bad values with a clear message, keeping
what was typed and changing nothing."""

from __future__ import annotations

import html

import lxml.html
import pytest

from service.model.preferences import DigestPreferences
from service.store.subscribers import preferences as preference_store
from service.store.subscribers import records
from service.store.subscribers.imports import ImportRow
from subscribers.imports import import_rows
from subscribers.tokens import preferences_url
from tests.conftest import NOW
from tests.support.forms import create_admin, csrf_token, sign_in

SAVED = DigestPreferences("5", ("robot", "grasping policy"), ("survey",), ("Yann LeCun", "Finn, Chelsea"))
BAD = [
    ({"keywords_include": "robot,,grasping"}, "Keywords to include: an empty entry"),
    ({"keywords_exclude": "; ".join(f"word{n}" for n in range(500))}, "Keywords to exclude: 500 entries; at most 50"),
    ({"keywords_include": "robo.*"}, "Keywords to include: &#39;robo.*&#39; looks like a pattern"),
    ({"authors": "^LeCun$"}, "Authors: &#39;^LeCun$&#39; looks like a pattern"),
    ({"digest_length": "number", "per_topic": "500"}, "Digest length &#39;500&#39;: use full, titles, or a number"),
    ({"digest_length": "number", "per_topic": ""}, "Papers per topic: give a number from 1 to 50."),
]


@pytest.fixture
def engine_of(app):
    return app.extensions["paperboy"].engine


@pytest.fixture
def alice(engine_of):
    with engine_of.begin() as conn:
        import_rows(conn, [ImportRow("alice@example.org", ["vla"], "active")], NOW, "cli")
        return records.subscriber_by_email(conn, "alice@example.org").id


def _form(**changes) -> dict:
    form = {
        "digest_length": "number",
        "per_topic": "5",
        "keywords_include": "robot\ngrasping policy",
        "keywords_exclude": "survey",
        "authors": "Yann LeCun\nFinn, Chelsea",
    }
    form.update(changes)
    return form


def _stored(engine, subscriber_id) -> DigestPreferences:
    with engine.connect() as conn:
        return preference_store.get_preferences(conn, subscriber_id)


def _field(page: bytes, name: str) -> str:
    return lxml.html.fromstring(page).get_element_by_id(name).text_content()


def test_a_reader_saves_length_keywords_and_authors(app, client, engine_of, alice):
    path = preferences_url(app.extensions["paperboy"].config, alice).split("paperboy.test", 1)[1]
    page = client.get(path)
    assert b'name="keywords_include"' in page.data and b"Usual: the 8 most relevant papers" in page.data

    saved = client.post(path, data={"csrf_token": csrf_token(page.data), "action": "digest", **_form()})
    assert saved.status_code == 200 and b"Your email preferences are saved." in saved.data
    assert _stored(engine_of, alice) == SAVED
    again = client.get(path)
    assert _field(again.data, "authors") == "Yann LeCun\nFinn, Chelsea"
    assert b'<option value="number" selected>' in again.data and b'value="5"' in again.data

    compact = client.post(
        path,
        data={
            "csrf_token": csrf_token(page.data),
            "action": "digest",
            **_form(digest_length="titles", keywords_include="", authors=""),
        },
    )
    assert compact.status_code == 200
    assert _stored(engine_of, alice) == DigestPreferences("titles", (), ("survey",), ())


@pytest.mark.parametrize("changes, message", BAD)
def test_a_reader_gets_a_clear_message_for_a_bad_value_and_keeps_what_was_typed(
    app, client, engine_of, alice, changes, message
):
    with engine_of.begin() as conn:
        preference_store.set_preferences(conn, alice, SAVED, NOW, "cli")
    path = preferences_url(app.extensions["paperboy"].config, alice).split("paperboy.test", 1)[1]
    page = client.get(path)
    form = _form(**changes)
    refused = client.post(path, data={"csrf_token": csrf_token(page.data), "action": "digest", **form})
    assert refused.status_code == 400
    assert message.encode() in refused.data, refused.data.decode()[:3000]
    for name in ("keywords_include", "keywords_exclude", "authors"):
        assert _field(refused.data, name) == form[name]  # nothing typed is lost
    assert _stored(engine_of, alice) == SAVED  # and nothing changed


def test_an_admin_sets_a_subscribers_preferences_and_the_history_says_so(client, engine_of, alice):
    create_admin(engine_of)
    sign_in(client)
    page = client.get(f"/admin/subscribers/{alice}")
    assert b'name="authors"' in page.data
    done = client.post(f"/admin/subscribers/{alice}/preferences", data={"csrf_token": csrf_token(page.data), **_form()})
    assert done.status_code == 302
    assert _stored(engine_of, alice) == SAVED
    shown = client.get(f"/admin/subscribers/{alice}")
    assert b"Email preferences saved." in shown.data
    assert _field(shown.data, "keywords_include") == "robot\ngrasping policy"
    history = lxml.html.fromstring(shown.data).cssselect("table.history td")
    assert any(
        html.unescape(td.text_content()).startswith("length 5; include robot; grasping policy") for td in history
    )


@pytest.mark.parametrize("changes, message", BAD[:3])
def test_an_admin_gets_a_clear_message_for_a_bad_value(client, engine_of, alice, changes, message):
    create_admin(engine_of)
    sign_in(client)
    page = client.get(f"/admin/subscribers/{alice}")
    form = _form(**changes)
    refused = client.post(f"/admin/subscribers/{alice}/preferences", data={"csrf_token": csrf_token(page.data), **form})
    assert refused.status_code == 400 and message.encode() in refused.data
    assert _field(refused.data, "keywords_exclude") == form["keywords_exclude"]
    assert _stored(engine_of, alice) == DigestPreferences()
