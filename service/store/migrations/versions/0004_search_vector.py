"""PostgreSQL: search through a stored tsvector column, so that ranking reads it instead of
recomputing every matching paper's vector.

paper.search_vector is generated from the same expression as the index of migration 0002
(POSTGRES_DOCUMENT in service/store/search.py); its GIN index replaces that expression index.
SQLite keeps its FTS5 table, which stores its index already.

Revision ID: 0004
"""

from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None

DOCUMENT = (
    "setweight(to_tsvector('english'::regconfig, title), 'A')"
    " || setweight(to_tsvector('english'::regconfig, paper_search_authors(authors)), 'B')"
    " || setweight(to_tsvector('english'::regconfig, abstract), 'D')"
)


def upgrade():
    if op.get_bind().dialect.name != "postgresql":
        return
    # IF NOT EXISTS: stores written on 2026-12-02 before the migrations were renumbered got this
    # column before the inbound tables of 0003 (service/store/revisions.py).
    op.execute(
        f"ALTER TABLE paper ADD COLUMN IF NOT EXISTS search_vector tsvector GENERATED ALWAYS AS ({DOCUMENT}) STORED"
    )
    op.execute("CREATE INDEX IF NOT EXISTS ix_paper_search_vector ON paper USING GIN (search_vector)")
    op.execute("DROP INDEX IF EXISTS ix_paper_search")


def downgrade():
    if op.get_bind().dialect.name != "postgresql":
        return
    op.execute(f"CREATE INDEX ix_paper_search ON paper USING GIN (({DOCUMENT}))")
    op.execute("DROP INDEX IF EXISTS ix_paper_search_vector")
    op.execute("ALTER TABLE paper DROP COLUMN search_vector")
