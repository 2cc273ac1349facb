"""tasks.due_at and tasks.urgent (issue 13)

When a task is due (the end of a working day in Dutch time, stored in UTC; null for a step
without a due date) and whether it is urgent (a melding task of a case with acute unsafety),
CONTRACT section 5. Existing rows get no due date and are not urgent. The inbox index takes
the order of GET /api/v1/tasks (urgent first, then by due date, then by ready time) and
replaces the narrower index it starts with.

Revision ID: 0008
Revises: 0007
"""

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("tasks", sa.Column("due_at", sa.DateTime(timezone=True), nullable=True))
    op.add_column("tasks", sa.Column("urgent", sa.Boolean(), nullable=False,
                                     server_default=sa.false()))
    op.drop_index("ix_tasks_state_lane_owner", table_name="tasks")
    op.create_index("ix_tasks_inbox", "tasks",
                    ["state", "lane", "owner_id", "urgent", "due_at", "ready_at"])


def downgrade() -> None:
    op.drop_index("ix_tasks_inbox", table_name="tasks")
    op.create_index("ix_tasks_state_lane_owner", "tasks", ["state", "lane", "owner_id"])
    with op.batch_alter_table("tasks") as batch:
        batch.drop_column("urgent")
        batch.drop_column("due_at")
