"""/healthz: 200 while the database answers, 503 when it does not."""

from __future__ import annotations

from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from service.web import create_app


def test_it_answers_200_with_the_database_reachable(client):
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response.data == b"ok\n"
    assert response.headers["Cache-Control"] == "no-store"


def test_it_answers_200_on_postgresql(config, postgres_url):
    app = create_app(config.with_overrides(database_url=postgres_url))
    assert app.test_client().get("/healthz").status_code == 200
    app.extensions["paperboy"].engine.dispose()


def test_it_answers_503_without_a_database(config):
    # Nothing listens on port 1: the connection is refused at once.
    app = create_app(config.with_overrides(database_url="postgresql+psycopg://postgres@127.0.0.1:1/none"))
    response = app.test_client().get("/healthz")
    assert response.status_code == 503
    assert b"unreachable" in response.data


def test_it_answers_503_when_the_database_goes_away(config, postgres_url):
    app = create_app(config.with_overrides(database_url=postgres_url))
    client = app.test_client()
    assert client.get("/healthz").status_code == 200
    app.extensions["paperboy"].engine.dispose()
    name = make_url(postgres_url).database
    admin = create_engine(make_url(postgres_url).set(database="postgres"), isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(text(f'DROP DATABASE "{name}" WITH (FORCE)'))
    admin.dispose()
    assert client.get("/healthz").status_code == 503
