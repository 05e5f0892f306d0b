"""The migrations build exactly the schema the code declares, on SQLite and PostgreSQL."""

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext

from service import store
from service.store.schema import metadata


def test_it_migrates_to_the_declared_schema(engine):
    with engine.connect() as connection:
        context = MigrationContext.configure(connection, opts={"compare_type": False})
        differences = [
            d
            for d in compare_metadata(context, metadata)
            # Search indexes are created by hand in migrations (FTS5 tables, tsvector indexes),
            # and so is PostgreSQL's stored tsvector column, which the code only reads in SQL.
            if not (d[0] in ("remove_table", "remove_index") and "search" in str(d[1]))
            and not (d[0] == "remove_column" and d[3].name == "search_vector")
        ]
    assert differences == []


def test_it_migrates_twice_without_change(engine):
    store.migrate(engine)
    assert store.is_reachable(engine)


def test_upgrading_counts_the_stems_of_the_papers_already_stored(tmp_path):
    from alembic import command
    from alembic.config import Config as AlembicConfig
    from sqlalchemy import select

    from service.arxiv.client import parse_feed
    from service.model.terms import paper_terms
    from service.store.schema import paper_terms as terms_table
    from tests.conftest import NOW, data_file
    from tests.support.arxiv_replay import HUNDRED

    engine = store.connect(f"sqlite:///{tmp_path}/old.sqlite3")
    config = AlembicConfig()
    config.set_main_option("script_location", str(store.MIGRATIONS))
    fetched = parse_feed(data_file(HUNDRED)).papers
    with engine.begin() as connection:
        config.attributes["connection"] = connection
        command.upgrade(config, "0007")
        connection.execute(
            metadata.tables["paper"].insert(),
            [{**paper.__dict__, "first_seen": NOW} for paper in fetched],
        )
    store.migrate(engine)
    with engine.connect() as connection:
        rows = {
            row.paper_id: (row.length, row.entries, row.linked, row.published)
            for row in connection.execute(select(terms_table))
        }
    assert rows == {
        paper.id: (paper_terms(paper).length, paper_terms(paper).entries, paper.has_links, paper.published)
        for paper in fetched
    }
    engine.dispose()
