"""BPMN timers waiting in cases, fired by the scheduler (issue 13)

Revision ID: 0007
Revises: 0006
"""

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "timers",
        sa.Column("task_id", sa.String(36), primary_key=True),
        sa.Column("case_id", sa.Integer(), sa.ForeignKey("cases.id"), nullable=False),
        sa.Column("step", sa.String(200), nullable=False),
        sa.Column("due_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_index("ix_timers_due", "timers", ["due_at"])
    op.create_index("ix_timers_case_id", "timers", ["case_id"])


def downgrade() -> None:
    op.drop_index("ix_timers_case_id", table_name="timers")
    op.drop_index("ix_timers_due", table_name="timers")
    op.drop_table("timers")
