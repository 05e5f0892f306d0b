"""The paper version each row of stem counts was counted from, so that a process holding counts
can tell which it must read again.

Revision ID: 0010
"""

import sqlalchemy as sa
from alembic import op

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("paper_terms", sa.Column("version", sa.Integer(), nullable=False, server_default="1"))
    op.get_bind().execute(
        sa.text(
            "UPDATE paper_terms SET version = (SELECT paper.version FROM paper WHERE paper.id = paper_terms.paper_id)"
        )
    )
    with op.batch_alter_table("paper_terms") as batch:
        batch.alter_column("version", server_default=None)


def downgrade() -> None:
    with op.batch_alter_table("paper_terms") as batch:
        batch.drop_column("version")
