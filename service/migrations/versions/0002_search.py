"""Full-text search over paper titles, abstracts and authors.

SQLite: an FTS5 table with external content (the paper table), kept in sync by triggers.
It follows paper's implicit rowid: paperboy never runs VACUUM, and a later migration that
rebuilds the paper table (batch mode) must recreate these triggers and run the 'rebuild'.
PostgreSQL: a GIN index on the same tsvector expression the search query uses
(service/store/search.py); the two must stay identical for the index to be used.

Revision ID: 0002
"""

from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

SQLITE_UPGRADE = [
    """CREATE VIRTUAL TABLE paper_search USING fts5(
        title, abstract, authors,
        content='paper', content_rowid='rowid', tokenize='unicode61 remove_diacritics 2'
    )""",
    """CREATE TRIGGER paper_search_insert AFTER INSERT ON paper BEGIN
        INSERT INTO paper_search(rowid, title, abstract, authors)
        VALUES (new.rowid, new.title, new.abstract, new.authors);
    END""",
    """CREATE TRIGGER paper_search_delete AFTER DELETE ON paper BEGIN
        INSERT INTO paper_search(paper_search, rowid, title, abstract, authors)
        VALUES ('delete', old.rowid, old.title, old.abstract, old.authors);
    END""",
    """CREATE TRIGGER paper_search_update AFTER UPDATE ON paper BEGIN
        INSERT INTO paper_search(paper_search, rowid, title, abstract, authors)
        VALUES ('delete', old.rowid, old.title, old.abstract, old.authors);
        INSERT INTO paper_search(rowid, title, abstract, authors)
        VALUES (new.rowid, new.title, new.abstract, new.authors);
    END""",
    "INSERT INTO paper_search(paper_search) VALUES ('rebuild')",
]
SQLITE_DOWNGRADE = [
    "DROP TRIGGER IF EXISTS paper_search_update",
    "DROP TRIGGER IF EXISTS paper_search_delete",
    "DROP TRIGGER IF EXISTS paper_search_insert",
    "DROP TABLE IF EXISTS paper_search",
]

# Keep in step with POSTGRES_DOCUMENT in service/store/search.py.
POSTGRES_UPGRADE = [
    """CREATE INDEX ix_paper_search ON paper USING GIN (
        to_tsvector('english'::regconfig, title || ' ' || abstract || ' ' || (authors)::text)
    )""",
]
POSTGRES_DOWNGRADE = ["DROP INDEX IF EXISTS ix_paper_search"]


def upgrade():
    for statement in _statements(SQLITE_UPGRADE, POSTGRES_UPGRADE):
        op.execute(statement)


def downgrade():
    for statement in _statements(SQLITE_DOWNGRADE, POSTGRES_DOWNGRADE):
        op.execute(statement)


def _statements(sqlite: list[str], postgres: list[str]) -> list[str]:
    dialect = op.get_bind().dialect.name
    if dialect == "sqlite":
        return sqlite
    if dialect == "postgresql":
        return postgres
    raise RuntimeError(f"store: no full-text search for the {dialect} dialect")
