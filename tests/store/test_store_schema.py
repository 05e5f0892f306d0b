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
