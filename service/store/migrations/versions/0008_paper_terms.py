"""What ranking reads of each paper (its stem counts, publication date and whether it links code
or a project page), counted once when the paper is stored; the papers already held are counted
here. Topic links carry the paper's publication date, indexed, for feeds' newest papers.

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
        sa.Column("published", sa.DateTime(timezone=True), nullable=False),
        sa.Column("linked", sa.Boolean(), nullable=False),
        sa.Column("length", sa.Integer(), nullable=False),
        sa.Column("entries", sa.LargeBinary(), nullable=False),
        sa.ForeignKeyConstraint(
            ["paper_id"], ["paper.id"], name=op.f("fk_paper_terms_paper_id_paper"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("paper_id", name=op.f("pk_paper_terms")),
    )
    op.add_column("topic_paper", sa.Column("published", sa.DateTime(timezone=True), nullable=True))
    op.create_index(
        "ix_topic_paper_topic_published_paper_id", "topic_paper", ["topic", "published", "paper_id"], unique=False
    )
    conn = op.get_bind()
    conn.execute(
        sa.text(
            "UPDATE topic_paper SET published = (SELECT paper.published FROM paper WHERE paper.id = topic_paper.paper_id)"
        )
    )
    paper = sa.table(
        "paper",
        sa.column("id", sa.String),
        sa.column("title", sa.Text),
        sa.column("abstract", sa.Text),
        sa.column("published", sa.DateTime(timezone=True)),
        sa.column("code_urls", sa.JSON),
        sa.column("project_urls", sa.JSON),
    )
    last = ""
    while True:
        rows = conn.execute(
            sa.select(
                paper.c.id, paper.c.title, paper.c.abstract, paper.c.published, paper.c.code_urls, paper.c.project_urls
            )
            .where(paper.c.id > last)
            .order_by(paper.c.id)
            .limit(BATCH)
        ).all()
        if not rows:
            break
        values = []
        for paper_id, title, abstract, published, code_urls, project_urls in rows:
            terms = Terms.of(stem_words(f"{title}. {abstract}"))
            linked = bool(code_urls or project_urls)  # Paper.has_links
            values.append(
                {
                    "paper_id": paper_id,
                    "published": published,
                    "linked": linked,
                    "length": terms.length,
                    "entries": terms.entries,
                }
            )
        conn.execute(table.insert(), values)
        last = rows[-1][0]


def downgrade() -> None:
    op.drop_index("ix_topic_paper_topic_published_paper_id", table_name="topic_paper")
    with op.batch_alter_table("topic_paper") as batch:
        batch.drop_column("published")
    op.drop_table("paper_terms")
