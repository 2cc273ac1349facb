"""cases.stalled_at: when an open case was left with no ready step and no waiting timer

A marker that listings can query (`meldcode cases --stuck`, the versions page) without
deserialising any workflow; the history holds the matching `case_stalled` event.

Revision ID: 0004
Revises: 0003
"""

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("cases", sa.Column("stalled_at", sa.DateTime(timezone=True), nullable=True))
    op.create_index("ix_cases_stalled_at", "cases", ["stalled_at"])


def downgrade() -> None:
    op.drop_index("ix_cases_stalled_at", table_name="cases")
    with op.batch_alter_table("cases") as batch:
        batch.drop_column("stalled_at")
