"""Digest preferences per subscriber: length, keywords to include or exclude, authors to follow.

Revision ID: 0005
"""

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "digest_preference",
        sa.Column("subscriber_id", sa.Integer(), nullable=False),
        sa.Column("length", sa.String(length=16), nullable=False),
        sa.Column("keywords_in", sa.JSON(), nullable=False),
        sa.Column("keywords_out", sa.JSON(), nullable=False),
        sa.Column("authors", sa.JSON(), nullable=False),
        sa.ForeignKeyConstraint(
            ["subscriber_id"],
            ["subscriber.id"],
            ondelete="CASCADE",
            name=op.f("fk_digest_preference_subscriber_id_subscriber"),
        ),
        sa.PrimaryKeyConstraint("subscriber_id", name=op.f("pk_digest_preference")),
    )


def downgrade() -> None:
    op.drop_table("digest_preference")
