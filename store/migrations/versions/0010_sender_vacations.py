"""a sender's vacations

Revision ID: 0010
Revises: 0009
"""

import sqlalchemy as sa
from alembic import op

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("senders", schema=None) as batch_op:
        batch_op.add_column(sa.Column("vacations", sa.JSON(), nullable=False, server_default="[]"))
        batch_op.add_column(
            sa.Column("vacations_version", sa.Integer(), nullable=False, server_default="0")
        )


def downgrade() -> None:
    with op.batch_alter_table("senders", schema=None) as batch_op:
        batch_op.drop_column("vacations_version")
        batch_op.drop_column("vacations")
