"""an index of the ledger's uncertain deliveries, which /metrics counts at every scrape

Revision ID: 0013
Revises: 0012
"""

import sqlalchemy as sa
from alembic import op

revision = "0013"
down_revision = "0012"
branch_labels = None
depends_on = None

UNCERTAIN_ONLY = sa.text("state = 'uncertain'")


def upgrade() -> None:
    op.create_index(
        "ix_deliveries_uncertain",
        "deliveries",
        ["state"],
        sqlite_where=UNCERTAIN_ONLY,
        postgresql_where=UNCERTAIN_ONLY,
    )


def downgrade() -> None:
    op.drop_index("ix_deliveries_uncertain", table_name="deliveries")
