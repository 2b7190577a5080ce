"""a sequence's fan-out progress: which pause/resume epoch, recipients reached, to reach

Revision ID: 0012
Revises: 0011
"""

import sqlalchemy as sa
from alembic import op

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("sequences", schema=None) as batch_op:
        for name in ("fan_out_epoch", "fan_out_reached", "fan_out_total"):
            batch_op.add_column(sa.Column(name, sa.Integer(), server_default="0", nullable=False))


def downgrade() -> None:
    with op.batch_alter_table("sequences", schema=None) as batch_op:
        for name in ("fan_out_total", "fan_out_reached", "fan_out_epoch"):
            batch_op.drop_column(name)
