"""Each admin's sign-ins (and failed attempts, password settings), kept for the admin pages.

Revision ID: 0007
"""

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "admin_sign_in",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("admin_id", sa.Integer(), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("address", sa.String(length=64), nullable=False),
        sa.Column("outcome", sa.String(length=16), nullable=False),
        sa.ForeignKeyConstraint(
            ["admin_id"], ["admin_user.id"], name=op.f("fk_admin_sign_in_admin_id_admin_user"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_admin_sign_in")),
    )
    op.create_index("ix_admin_sign_in_admin_id_at", "admin_sign_in", ["admin_id", "at"], unique=False)


def downgrade() -> None:
    op.drop_index("ix_admin_sign_in_admin_id_at", table_name="admin_sign_in")
    op.drop_table("admin_sign_in")
