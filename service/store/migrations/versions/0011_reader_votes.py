"""Readers' votes on papers ("More like this" / "Fewer like this"), and the choice of a few
suggested papers from outside their topics.

Revision ID: 0011
"""

import sqlalchemy as sa
from alembic import op

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "reader_vote",
        sa.Column("subscriber_id", sa.Integer(), nullable=False),
        sa.Column("paper_id", sa.String(length=64), nullable=False),
        sa.Column("vote", sa.Integer(), nullable=False),
        sa.Column("voted", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["subscriber_id"],
            ["subscriber.id"],
            name=op.f("fk_reader_vote_subscriber_id_subscriber"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["paper_id"], ["paper.id"], name=op.f("fk_reader_vote_paper_id_paper"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("subscriber_id", "paper_id", name=op.f("pk_reader_vote")),
    )
    with op.batch_alter_table("digest_preference") as batch:
        batch.add_column(sa.Column("suggestions", sa.Boolean(), server_default=sa.true(), nullable=False))


def downgrade() -> None:
    with op.batch_alter_table("digest_preference") as batch:
        batch.drop_column("suggestions")
    op.drop_table("reader_vote")
