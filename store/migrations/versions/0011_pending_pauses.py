"""pending pauses: a bulk pause's barrier, until each recipient has taken its pause

Revision ID: 0011
Revises: 0010
"""

import sqlalchemy as sa
from alembic import op

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "pending_pauses",
        sa.Column("recipient_id", sa.String(length=40), nullable=False),
        sa.Column("bulk_id", sa.String(length=40), nullable=False),
        sa.ForeignKeyConstraint(["recipient_id"], ["recipients.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("recipient_id"),
    )


def downgrade() -> None:
    op.drop_table("pending_pauses")
