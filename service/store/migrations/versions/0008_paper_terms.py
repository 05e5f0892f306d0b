"""Each paper's stem counts for relevance ranking, counted once when the paper is stored; the
papers already held are counted here.

Revision ID: 0008
"""

import sqlalchemy as sa
from alembic import op

from service.model.terms import Terms, stem_words

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None

BATCH = 1000


def upgrade() -> None:
    table = op.create_table(
        "paper_terms",
        sa.Column("paper_id", sa.String(length=64), nullable=False),
        sa.Column("length", sa.Integer(), nullable=False),
        sa.Column("entries", sa.LargeBinary(), nullable=False),
        sa.ForeignKeyConstraint(
            ["paper_id"], ["paper.id"], name=op.f("fk_paper_terms_paper_id_paper"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("paper_id", name=op.f("pk_paper_terms")),
    )
    conn = op.get_bind()
    paper = sa.table("paper", sa.column("id", sa.String), sa.column("title", sa.Text), sa.column("abstract", sa.Text))
    last = ""
    while True:
        rows = conn.execute(
            sa.select(paper.c.id, paper.c.title, paper.c.abstract)
            .where(paper.c.id > last)
            .order_by(paper.c.id)
            .limit(BATCH)
        ).all()
        if not rows:
            break
        values = []
        for paper_id, title, abstract in rows:
            terms = Terms.of(stem_words(f"{title}. {abstract}"))
            values.append({"paper_id": paper_id, "length": terms.length, "entries": terms.entries})
        conn.execute(table.insert(), values)
        last = rows[-1][0]


def downgrade() -> None:
    op.drop_table("paper_terms")
