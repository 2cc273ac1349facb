"""BPMN timers waiting in cases, fired by the scheduler (issue 13)

Revision ID: 0007
Revises: 0006
"""

import sqlalchemy as sa  # noqa: F401 - used once the tables are filled in
from alembic import op  # noqa: F401

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    pass  # filled in by the work on issue 13


def downgrade() -> None:
    pass
