"""Ranking counts pairs of neighbouring stems as well as stems: the papers already held are counted
again. Indexes that hold what a topic's window and its change stamp read, so that neither reads
table rows, and the planner's statistics that make it use them.

Revision ID: 0012
"""

import sqlalchemy as sa
from alembic import op

from service.model.terms import Terms, stem_words, with_pairs

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None

BATCH = 1000


def upgrade() -> None:
    conn = op.get_bind()
    paper = sa.table("paper", sa.column("id", sa.String), sa.column("title", sa.Text), sa.column("abstract", sa.Text))
    terms = sa.table(
        "paper_terms",
        sa.column("paper_id", sa.String),
        sa.column("length", sa.Integer),
        sa.column("entries", sa.LargeBinary),
    )
    recount = (
        sa.update(terms)
        .where(terms.c.paper_id == sa.bindparam("counted_id"))
        .values(length=sa.bindparam("counted_length"), entries=sa.bindparam("counted_entries"))
    )
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
            counted = Terms.of(with_pairs(stem_words(f"{title}. {abstract}")))  # paper_terms(paper)
            values.append(
                {"counted_id": paper_id, "counted_length": counted.length, "counted_entries": counted.entries}
            )
        conn.execute(recount, values)
        last = rows[-1][0]
    op.drop_index("ix_topic_paper_topic_first_matched", table_name="topic_paper")
    op.create_index(
        "ix_topic_paper_topic_first_matched_paper_id", "topic_paper", ["topic", "first_matched", "paper_id"]
    )
    op.create_index(
        "ix_paper_terms_paper_id_version_published_linked_length",
        "paper_terms",
        ["paper_id", "version", "published", "linked", "length"],
    )
    op.create_index("ix_paper_id_version_updated_published", "paper", ["id", "version", "updated", "published"])
    # What the planner knows of the tables, as each fetch refreshes it (store.update_statistics).
    op.execute("ANALYZE" if conn.dialect.name == "sqlite" else "ANALYZE paper, paper_terms, topic_paper")


def downgrade() -> None:
    op.drop_index("ix_paper_id_version_updated_published", table_name="paper")
    op.drop_index("ix_paper_terms_paper_id_version_published_linked_length", table_name="paper_terms")
    op.drop_index("ix_topic_paper_topic_first_matched_paper_id", table_name="topic_paper")
    op.create_index("ix_topic_paper_topic_first_matched", "topic_paper", ["topic", "first_matched"])
    # The counts of pairs stay: a ranking reads the entries of the terms it asks for.
