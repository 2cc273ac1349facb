"""tasks.due_at and tasks.urgent (issue 13)

Revision ID: 0008
Revises: 0007
"""

import sqlalchemy as sa  # noqa: F401 - used once the tables are filled in
from alembic import op  # noqa: F401

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    pass  # filled in by the work on issue 13


def downgrade() -> None:
    pass
