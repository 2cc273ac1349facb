"""Indexes for figures over a period (issue 14 point 6, the overview for toezicht)

The overview counts cases opened and closed and tasks completed between two dates; without
these indexes each figure read the whole table (about 10 s for a year of 100,000 cases on
SQLite).

Revision ID: 0013
Revises: 0012
"""

from alembic import op

revision = "0013"
down_revision = "0012"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index("ix_cases_started_at", "cases", ["started_at"])
    op.create_index("ix_cases_closed_at", "cases", ["closed_at"])
    op.create_index("ix_tasks_completed_at", "tasks", ["completed_at"])


def downgrade() -> None:
    op.drop_index("ix_tasks_completed_at", "tasks")
    op.drop_index("ix_cases_closed_at", "cases")
    op.drop_index("ix_cases_started_at", "cases")
