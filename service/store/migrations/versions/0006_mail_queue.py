"""A queue for transactional mail (confirmations), sent by the scheduler like digest deliveries,
and the time a confirmation was last queued for each subscriber (the per-address wait).

Revision ID: 0006
"""

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("subscriber", sa.Column("confirm_mailed", sa.DateTime(timezone=True), nullable=True))
    op.create_table(
        "mail_queue",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("kind", sa.String(length=32), nullable=False),
        sa.Column("email", sa.String(length=320), nullable=True),
        sa.Column("subscriber_id", sa.Integer(), nullable=True),
        sa.Column("topics", sa.Text(), nullable=False),
        sa.Column("created", sa.DateTime(timezone=True), nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("next_attempt", sa.DateTime(timezone=True), nullable=True),
        sa.Column("claimed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("claimed_by", sa.String(length=64), nullable=True),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.Column("sent_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["subscriber_id"],
            ["subscriber.id"],
            name=op.f("fk_mail_queue_subscriber_id_subscriber"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_mail_queue")),
    )
    op.create_index("ix_mail_queue_state", "mail_queue", ["state"], unique=False)
    op.create_index("ix_mail_queue_subscriber_id", "mail_queue", ["subscriber_id"], unique=False)


def downgrade() -> None:
    op.drop_index("ix_mail_queue_subscriber_id", table_name="mail_queue")
    op.drop_index("ix_mail_queue_state", table_name="mail_queue")
    op.drop_table("mail_queue")
    with op.batch_alter_table("subscriber") as batch:
        batch.drop_column("confirm_mailed")
