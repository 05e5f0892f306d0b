"""Full-text search over paper titles, abstracts and authors.

Authors are stored as a JSON list whose text escapes non-ASCII ("Ram\\u00edrez"); both
databases index the decoded names instead, so that "Ramírez" finds its papers.

SQLite: an FTS5 table with external content (a view over paper with the names decoded),
kept in sync by triggers. It follows paper's implicit rowid: paperboy never runs VACUUM, and
a later migration that rebuilds the paper table (batch mode) must recreate the triggers and
refill the index ('delete-all', then the INSERT ... SELECT below).
PostgreSQL: a GIN index on the same tsvector expression the search query uses
(service/store/search.py); the two must stay identical for the index to be used.

Revision ID: 0002
"""

from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def _sqlite_names(row: str) -> str:
    return f"(SELECT group_concat(value, ' ') FROM json_each({row}.authors))"


SQLITE_UPGRADE = [
    f"""CREATE VIEW paper_search_source AS
        SELECT rowid AS paper_rowid, title, abstract, {_sqlite_names("paper")} AS authors FROM paper""",
    """CREATE VIRTUAL TABLE paper_search USING fts5(
        title, abstract, authors, content='paper_search_source', content_rowid='paper_rowid',
        tokenize='unicode61 remove_diacritics 2'
    )""",
    f"""CREATE TRIGGER paper_search_insert AFTER INSERT ON paper BEGIN
        INSERT INTO paper_search(rowid, title, abstract, authors)
        VALUES (new.rowid, new.title, new.abstract, {_sqlite_names("new")});
    END""",
    f"""CREATE TRIGGER paper_search_delete AFTER DELETE ON paper BEGIN
        INSERT INTO paper_search(paper_search, rowid, title, abstract, authors)
        VALUES ('delete', old.rowid, old.title, old.abstract, {_sqlite_names("old")});
    END""",
    f"""CREATE TRIGGER paper_search_update AFTER UPDATE ON paper BEGIN
        INSERT INTO paper_search(paper_search, rowid, title, abstract, authors)
        VALUES ('delete', old.rowid, old.title, old.abstract, {_sqlite_names("old")});
        INSERT INTO paper_search(rowid, title, abstract, authors)
        VALUES (new.rowid, new.title, new.abstract, {_sqlite_names("new")});
    END""",
    # FTS5's 'rebuild' cannot read a view using json_each ("SQL logic error"); fill it directly.
    """INSERT INTO paper_search(rowid, title, abstract, authors)
        SELECT paper_rowid, title, abstract, authors FROM paper_search_source""",
]
SQLITE_DOWNGRADE = [
    "DROP TRIGGER IF EXISTS paper_search_update",
    "DROP TRIGGER IF EXISTS paper_search_delete",
    "DROP TRIGGER IF EXISTS paper_search_insert",
    "DROP TABLE IF EXISTS paper_search",
    "DROP VIEW IF EXISTS paper_search_source",
]

# Keep in step with POSTGRES_DOCUMENT in service/store/search.py.
POSTGRES_UPGRADE = [
    # Declared immutable so that an index may use it: it depends on its argument only.
    """CREATE FUNCTION paper_search_authors(names json) RETURNS text
        LANGUAGE sql IMMUTABLE PARALLEL SAFE
        AS $$ SELECT coalesce(string_agg(value, ' '), '') FROM json_array_elements_text(names) $$""",
    # Weighted so that ts_rank puts title matches first (A), then authors (B), then abstracts (D).
    """CREATE INDEX ix_paper_search ON paper USING GIN ((
        setweight(to_tsvector('english'::regconfig, title), 'A')
        || setweight(to_tsvector('english'::regconfig, paper_search_authors(authors)), 'B')
        || setweight(to_tsvector('english'::regconfig, abstract), 'D')
    ))""",
]
POSTGRES_DOWNGRADE = [
    "DROP INDEX IF EXISTS ix_paper_search",
    "DROP FUNCTION IF EXISTS paper_search_authors(json)",
]


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
