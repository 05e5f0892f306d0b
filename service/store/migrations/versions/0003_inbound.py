"""Inbound mail: bounces, complaints, mailto unsubscribes and auto-replies that paperboy received.

Revision ID: 0003
"""

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "inbound_message",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("received", sa.DateTime(timezone=True), nullable=False),
        sa.Column("source", sa.String(8), nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("mail_from", sa.String(320)),
        sa.Column("rcpt_to", sa.Text),
        sa.Column("sender", sa.Text),
        sa.Column("subject", sa.Text),
        sa.Column(
            "subscriber_id",
            sa.Integer,
            sa.ForeignKey("subscriber.id", ondelete="SET NULL", name="fk_inbound_message_subscriber_id_subscriber"),
        ),
        sa.Column("delivery_id", sa.Integer),
        sa.Column("outcome", sa.Text, nullable=False),
        sa.Column("size", sa.Integer, nullable=False),
        sa.Column("raw", sa.LargeBinary),
        sa.PrimaryKeyConstraint("id", name="pk_inbound_message"),
    )
    op.create_index("ix_inbound_message_received", "inbound_message", ["received"])
    op.create_index("ix_inbound_message_kind", "inbound_message", ["kind"])
    op.create_index(
        "ix_inbound_message_subscriber_id_kind_received", "inbound_message", ["subscriber_id", "kind", "received"]
    )


def downgrade() -> None:
    op.drop_table("inbound_message")
